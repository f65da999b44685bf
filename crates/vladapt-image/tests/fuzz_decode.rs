//! Fuzzing on stable Rust: mutated real files of every supported format (PNG, JPEG, WebP, BMP,
//! GIF) through `decode_rgb` + CLIP preprocessing. Property: never a panic, every error names
//! the input. Deterministic (xorshift seeded per iteration); bounded by `VLADAPT_FUZZ_ITERS`
//! (default 3000 here, a few seconds). Long run:
//! `VLADAPT_FUZZ_ITERS=1000000 cargo test --release -p vladapt-image --test fuzz_decode`.
mod common;

use common::fixture;
use vladapt_image::{decode_rgb, ImageLimits, Preprocess};

/// xorshift64*: a tiny deterministic generator (no dependency needed for mutation).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation: bit flips, byte overwrites (often with 0x00/0xFF/size-like values),
/// truncation, insertion, chunk duplication.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        match rng.below(6) {
            0 => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(b.len());
                b[i] = [0x00, 0xFF, 0x7F, 0x80, rng.next() as u8][rng.below(5)];
            }
            2 => {
                let n = rng.below(b.len());
                b.truncate(n);
            }
            3 => {
                let i = rng.below(b.len() + 1);
                let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                b.splice(i..i, extra);
            }
            4 => {
                // Header-size fields live early: hit the first 64 bytes more often.
                let i = rng.below(b.len().min(64));
                b[i] = rng.next() as u8;
            }
            _ => {
                let i = rng.below(b.len());
                let n = rng.below(b.len() - i).min(256);
                let chunk = b[i..i + n].to_vec();
                let j = rng.below(b.len() + 1);
                b.splice(j..j, chunk);
            }
        }
    }
    b
}

fn iterations(default: usize) -> usize {
    std::env::var("VLADAPT_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutated_images_never_panic_and_errors_name_the_input() {
    let seeds: Vec<(String, Vec<u8>)> = [
        "in_rgb_37x23.png",
        "in_grey16.png",
        "in_palette_trns.png",
        "in_rgb.webp",
        "in_rgb.bmp",
        "in_two_frames.gif",
        "exif_6.jpg",
        "jpeg/progressive_420.jpg",
        "jpeg/cmyk.jpg",
        "jpeg/restart_blocks_420.jpg",
        "jpeg/grayscale.jpg",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(fixture(n)).unwrap()))
    .collect();
    // A small pixel budget keeps every decode cheap and exercises the refusal path.
    let limits = ImageLimits {
        max_pixels: 1 << 20,
    };
    let pre = Preprocess::clip(16);
    let n = iterations(3000);
    let (mut ok, mut err) = (0usize, 0usize);
    for it in 0..n {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (it as u64).wrapping_mul(0x1234_5678_9ABC_DEF1));
        let (seed_name, seed) = &seeds[it % seeds.len()];
        let data = mutate(seed, &mut rng);
        let name = format!("case{it}-{}", seed_name.replace('/', "_"));
        let r = std::panic::catch_unwind(|| {
            decode_rgb(&data, &name, &limits).map(|img| pre.apply(&img).map(|v| v.len()))
        });
        match r {
            Err(_) => panic!(
                "panic on iteration {it} (seed {seed_name}, {} bytes)",
                data.len()
            ),
            Ok(Ok(Ok(len))) => {
                assert_eq!(len, 3 * 16 * 16);
                ok += 1
            }
            Ok(Ok(Err(e))) => panic!("{name}: preprocessing failed: {e}"),
            Ok(Err(e)) => {
                assert!(
                    e.to_string().contains(&name),
                    "error does not name {name}: {e}"
                );
                err += 1
            }
        }
    }
    eprintln!("fuzz_decode: {n} executions, {ok} decoded, {err} refused, 0 panics");
}
