//! Fuzzing on stable Rust: mutated real files of every supported format (PNG, JPEG, WebP, BMP,
//! GIF) through `decode_rgb` + CLIP preprocessing. Property: never a panic, every error names
//! the input. Deterministic (xorshift seeded per iteration); bounded by `VLADAPT_FUZZ_ITERS`
//! (default 3000 here, a few seconds). Long run:
//! `VLADAPT_FUZZ_ITERS=1000000 cargo test --release -p vladapt-image --test fuzz_decode`.
mod common;

use common::fixture;
use vladapt_image::{decode_rgb, ImageLimits, Preprocess};

use vladapt_testkit::fuzz::{iterations, mutate, Mutations, Rng};

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
        let mut rng = Rng::for_iteration(0x9E37_79B9_7F4A_7C15, it);
        let (seed_name, seed) = &seeds[it % seeds.len()];
        let data = mutate(seed, &mut rng, &Mutations::BINARY);
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
