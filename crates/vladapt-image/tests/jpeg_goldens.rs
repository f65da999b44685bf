//! JPEG decoding against Pillow: every case of `fixtures/image/jpeg/manifest.json` (made by
//! `tools/image/make_jpeg_goldens.py`) decodes to exactly the pixels of
//! `PIL.Image.open(p).convert("RGB")` — 0 differing bytes — or, where Pillow raised, to an error
//! naming the file.
mod common;

use common::fixture;
use vladapt_image::{load_rgb, ImageError, ImageLimits};

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("jpeg/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn jpeg_pixels_are_bit_identical_to_pillow() {
    let m = manifest();
    let cases = m["cases"].as_array().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for c in cases {
        let Some(expected) = c.get("expected").and_then(|e| e.as_str()) else {
            continue;
        };
        let file = c["file"].as_str().unwrap();
        let want = load_rgb(
            &fixture(&format!("jpeg/{expected}")),
            &ImageLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{expected}: {e}"));
        match load_rgb(&fixture(&format!("jpeg/{file}")), &ImageLimits::default()) {
            Ok(got) => {
                if got.dimensions() != want.dimensions() {
                    failures.push(format!(
                        "{file}: size {:?}, PIL {:?}",
                        got.dimensions(),
                        want.dimensions()
                    ));
                    continue;
                }
                let diff = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .filter(|(a, b)| a != b)
                    .count();
                let max = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap_or(0);
                if diff != 0 {
                    failures.push(format!("{file}: {diff} bytes differ (max {max} levels)"));
                }
            }
            Err(e) => failures.push(format!("{file}: PIL decodes it, we fail: {e}")),
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} golden cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn jpegs_pillow_refuses_are_errors_naming_the_file() {
    let m = manifest();
    let mut checked = 0;
    for c in m["cases"].as_array().unwrap() {
        let Some(pil_error) = c.get("error").and_then(|e| e.as_str()) else {
            continue;
        };
        let file = c["file"].as_str().unwrap();
        match load_rgb(&fixture(&format!("jpeg/{file}")), &ImageLimits::default()) {
            Err(e @ ImageError::Decode { .. }) => {
                assert!(e.to_string().contains(file), "{e}");
            }
            Ok(img) => panic!(
                "{file}: PIL raises `{pil_error}`, we decode {:?}",
                img.dimensions()
            ),
            Err(e) => panic!("{file}: PIL raises `{pil_error}`, we return {e:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} refused cases");
}

#[test]
fn exif_orientation_is_not_applied_like_pil_open() {
    // PIL.Image.open(..).convert("RGB") keeps the stored pixel grid: the 61x45 picture stays
    // 61x45 although its EXIF says "rotate 90° clockwise".
    let img = load_rgb(
        &fixture("jpeg/exif_orientation_6.jpg"),
        &ImageLimits::default(),
    )
    .unwrap();
    assert_eq!(img.dimensions(), (61, 45));
}
