//! Extreme aspect ratios: the resize computes only the centre-crop window, so memory and time
//! stay those of the crop, and the pixels equal a full PIL-exact resize followed by the crop.
mod common;

use common::fixture;
use vladapt_image::{
    center_crop, decode_rgb, resize_bicubic, resized_size, ImageError, ImageLimits, Preprocess,
    RgbImage,
};

fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 + y * 3) as u8, (y * 13) as u8, ((x ^ y) * 5) as u8])
    })
}

#[test]
fn windowed_resize_equals_full_resize_then_crop() {
    // The full resize is bit-exact with Pillow (pil_fixtures.rs), so it is the reference here.
    for (w, h, size, crop) in [
        (1, 300, 32, (32, 32)),
        (300, 1, 32, (32, 32)),
        (7, 900, 24, (20, 24)),
        (97, 131, 36, (32, 30)),
        (37, 23, 20, (25, 21)),
        (640, 9, 16, (16, 16)),
    ] {
        let img = gradient(w, h);
        let (nw, nh) = resized_size(w, h, size);
        let want = center_crop(&resize_bicubic(&img, nw, nh), crop.0, crop.1);
        let p = Preprocess {
            crop,
            ..Preprocess::clip(size)
        };
        let got = p.resize_and_crop(&img).unwrap();
        assert_eq!(got.dimensions(), want.dimensions(), "{w}x{h} → {size}");
        assert!(
            got.as_raw() == want.as_raw(),
            "{w}x{h} → {size}: pixels differ"
        );
    }
}

#[test]
fn one_by_a_million_png_is_cheap() {
    // A 1×1,000,000 PNG (a few KB): resizing its shorter side to 224 means a
    // 224×224,000,000 image (150 GB); only the 224×224 centre crop is computed.
    let img = gradient(1, 1_000_000);
    for (im, name) in [
        (img.clone(), "1x1000000"),
        (image::imageops::rotate90(&img), "1000000x1"),
    ] {
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(im)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let t = std::time::Instant::now();
        let dec = decode_rgb(&png, name, &ImageLimits::default()).unwrap();
        let out = Preprocess::clip(224).apply(&dec).unwrap();
        assert_eq!(out.len(), 3 * 224 * 224, "{name}");
        assert!(out.iter().all(|v| v.is_finite()));
        // Generous bound (debug machines, shared CPUs); the unbounded resize took 24 s.
        assert!(t.elapsed().as_secs_f64() < 5.0, "{name}: {:?}", t.elapsed());
    }
}

#[test]
fn resize_beyond_32_bits_is_refused_by_size() {
    // 1 × 100,000,000 resized to shorter side 224 → 22.4e9 pixels long: no PIL image can be
    // that long either.
    let img = RgbImage::new(1, 20_000_000);
    let e = Preprocess::clip(224).apply(&img).unwrap_err();
    assert!(matches!(e, ImageError::AspectRatio { .. }), "{e}");
    assert!(e.to_string().contains("aspect ratio"), "{e}");
}

#[test]
fn load_names_the_file_on_preprocessing_errors() {
    let e = Preprocess::clip(224)
        .load(&fixture("no-such-file.png"), &ImageLimits::default())
        .unwrap_err();
    assert!(e.to_string().contains("no-such-file.png"), "{e}");
}
