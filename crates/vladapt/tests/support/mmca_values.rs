//! The deterministic tensors of the MMCA fixtures (tools/fixtures/build_mmca.py `values`,
//! `image`): every weight is a function of its name, the images a closed form. Shared by
//! crates/vladapt/tests/mmca.rs and crates/vladapt-cli/tests/ground_inspect.rs.
#![allow(dead_code)]

fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// splitmix64 of `fnv1a64(name) + (i + 1)·0x9E3779B97F4A7C15`, top 53 bits → [0, 1).
fn uniform01(name: &str, n: usize) -> Vec<f64> {
    let seed = fnv1a64(name);
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E3779B97F4A7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^= z >> 31;
            (z >> 11) as f64 * 2f64.powi(-53)
        })
        .collect()
}

/// The fixture's value rule (tools/fixtures/build_mmca.py `values`).
pub fn values(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let normish = [".bn", "downsample.1", "norm", "LayerNorm"]
        .iter()
        .any(|k| name.contains(k));
    uniform01(name, n)
        .into_iter()
        .map(|u| {
            let s = 2.0 * u - 1.0;
            let v = match leaf {
                "running_var" => 0.5 + u,
                "running_mean" => 0.2 * s,
                "text_linear_b" => 1.0 + 0.5 * s,
                "text_linear_w" => (3.0 / shape[0] as f64).sqrt() * s,
                "weight" if shape.len() == 1 && normish => 0.7 + 0.6 * u,
                _ if shape.len() == 1 => 0.1 * s,
                _ => {
                    let fan_in: usize = shape[1..].iter().product();
                    (3.0 / fan_in as f64).sqrt() * s
                }
            };
            v as f32
        })
        .collect()
}

/// The fixture's image values (f64 closed form, then f32).
pub fn pattern(b: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(h * w);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf, bf, cf) = (x as f64, y as f64, b as f64, c as f64);
            let v = (0.05 * (cf + 1.0) * xf + 0.07 * yf + bf).sin()
                * (0.03 * (cf + 2.0) * yf - 0.02 * xf + 0.5 * bf).cos();
            out.push(v as f32);
        }
    }
    out
}
