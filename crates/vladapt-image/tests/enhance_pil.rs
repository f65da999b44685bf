//! Brightness / contrast / saturation equal Pillow's `ImageEnhance` (fixtures made by Pillow:
//! tools/fixtures/build_grounding_jitter.py), single ops and random-order sequences.
use std::path::PathBuf;

use vladapt_image::{adjust_brightness, adjust_contrast, adjust_saturation, RgbImage};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grounding-data/jitter")
}

fn png(name: &str) -> RgbImage {
    image::open(dir().join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_rgb8()
}

#[test]
fn enhancers_equal_pillow_within_one_grey_level() {
    let input = png("input.png");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("cases.json")).unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 27);
    let (mut exact, mut total) = (0usize, 0usize);
    for c in cases {
        let mut img = input.clone();
        for op in c["ops"].as_array().unwrap() {
            let f = op[1].as_f64().unwrap() as f32;
            img = match op[0].as_str().unwrap() {
                "brightness" => adjust_brightness(&img, f),
                "contrast" => adjust_contrast(&img, f),
                "saturation" => adjust_saturation(&img, f),
                other => panic!("unknown op {other}"),
            };
        }
        let want = png(c["output"].as_str().unwrap());
        assert_eq!(img.dimensions(), want.dimensions());
        let max = img
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max <= 1, "{}: max difference {max}", c["ops"]);
        exact += img
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .filter(|(a, b)| a == b)
            .count();
        total += img.as_raw().len();
    }
    // Pillow's arithmetic is reproduced, so nearly every byte is identical.
    assert!(
        exact * 1000 >= total * 999,
        "{exact} of {total} bytes identical"
    );
}
