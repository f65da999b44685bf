//! Comparisons with Pillow outputs made by `tools/image/make_image_fixtures.py`.
mod common;

use common::{fixture, level_error, Npy};
use vladapt_image::{
    load_rgb, resize_bicubic, resize_bicubic_ordered, ImageLimits, PassOrder, Preprocess, RgbImage,
    CLIP_STD,
};

fn load(name: &str) -> RgbImage {
    load_rgb(&fixture(name), &ImageLimits::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// `(max abs difference, count of differing bytes)` between an image and a H×W×3 uint8 array.
fn compare_u8(img: &RgbImage, want: &Npy, what: &str) -> (u8, usize) {
    assert_eq!(
        want.shape,
        vec![img.height() as usize, img.width() as usize, 3],
        "{what}: shape"
    );
    let w = want.u8s();
    let mut max = 0u8;
    let mut n = 0;
    for (a, b) in img.as_raw().iter().zip(&w) {
        let d = a.abs_diff(*b);
        max = max.max(d);
        n += usize::from(d != 0);
    }
    (max, n)
}

#[test]
fn decode_matches_pil_convert_rgb_for_every_colour_type() {
    let cases = [
        ("in_rgb_37x23.png", "rgb_rgb_37x23_png.npy"),
        ("in_rgb_97x131.png", "rgb_rgb_97x131_png.npy"),
        ("in_grey.png", "rgb_grey_png.npy"),
        ("in_grey_alpha.png", "rgb_grey_alpha_png.npy"),
        ("in_rgba.png", "rgb_rgba_png.npy"),
        ("in_palette.png", "rgb_palette_png.npy"),
        ("in_palette_trns.png", "rgb_palette_trns_png.npy"),
        ("in_rgb16.png", "rgb_rgb16_png.npy"),
        ("in_rgba16.png", "rgb_rgba16_png.npy"),
        ("in_grey16.png", "rgb_grey16_png.npy"),
        ("in_rgb.bmp", "rgb_rgb_bmp.npy"),
        ("in_rgb.webp", "rgb_rgb_webp.npy"),
        ("in_two_frames.gif", "rgb_two_frames_gif.npy"),
    ];
    for (input, expected) in cases {
        let (max, n) = compare_u8(&load(input), &Npy::read(expected), input);
        assert_eq!(
            (max, n),
            (0, 0),
            "{input}: max diff {max}, {n} bytes differ"
        );
    }
}

#[test]
fn resize_bicubic_is_bit_exact_with_pil() {
    let small = load("in_rgb_37x23.png");
    let big = load("in_rgb_97x131.png");
    let small_sizes = [
        (17, 11),
        (80, 50),
        (37, 60),
        (12, 23),
        (5, 100),
        (1, 1),
        (200, 3),
        (60, 10),
    ];
    let big_sizes = [
        (32, 43),
        (13, 131),
        (97, 20),
        (150, 203),
        (100, 100),
        (40, 9),
    ];
    for (tag, img, sizes) in [
        ("", &small, &small_sizes[..]),
        ("big_", &big, &big_sizes[..]),
    ] {
        for &(w, h) in sizes {
            let name = format!("resize_{tag}{w}x{h}.npy");
            let (max, n) = compare_u8(&resize_bicubic(img, w, h), &Npy::read(&name), &name);
            assert_eq!((max, n), (0, 0), "{name}: max diff {max}, {n} bytes differ");
        }
    }
}

#[test]
fn pillow13_pass_order_is_bit_exact() {
    let small = load("in_rgb_37x23.png");
    let big = load("in_rgb_97x131.png");
    let cases = [
        ("", &small, 200, 3),
        ("", &small, 60, 10),
        ("big_", &big, 100, 100),
        ("big_", &big, 40, 9),
        ("big_", &big, 97, 20),
    ];
    for (tag, img, w, h) in cases {
        let name = format!("resize_p13_{tag}{w}x{h}.npy");
        let got = resize_bicubic_ordered(img, w, h, PassOrder::Pillow13);
        let (max, n) = compare_u8(&got, &Npy::read(&name), &name);
        assert_eq!((max, n), (0, 0), "{name}: max diff {max}, {n} bytes differ");
    }
}

#[test]
fn clip_preprocessing_matches_pil_torchvision_reference() {
    for input in ["rgb_37x23", "rgb_97x131"] {
        let img = load(&format!("in_{input}.png"));
        for (s, ch, cw) in [(32, 32, 32), (36, 32, 30), (16, 16, 16), (20, 25, 21)] {
            let name = format!("prep_{input}_{s}_{ch}x{cw}.npy");
            let want = Npy::read(&name);
            assert_eq!(want.shape, vec![3, ch as usize, cw as usize], "{name}");
            let p = Preprocess {
                crop: (ch, cw),
                ..Preprocess::clip(s)
            };
            let (max, frac) = level_error(&p.apply(&img).unwrap(), &want.f32s(), &CLIP_STD);
            // Same integer pipeline, same f32 arithmetic: only float rounding may differ.
            assert!(max < 1e-3, "{name}: max error {max} levels ({frac})");
        }
    }
}

#[test]
fn kafka_pil_decode_through_our_resize_is_exact() {
    // PIL's own decode of franz-kafka.jpg: isolates the resize/crop/normalise stages.
    let img = load("kafka_pil.png");
    let want = Npy::read("expected_preprocessed_image.npy");
    let (max, frac) = level_error(
        &Preprocess::clip(224).apply(&img).unwrap(),
        &want.f32s(),
        &CLIP_STD,
    );
    eprintln!("kafka (PIL decode): max error {max:.6} levels, fraction > 0.5: {frac}");
    assert!(max < 1e-3, "max error {max} levels");
}

#[test]
fn kafka_jpeg_decode_vs_pil_decode() {
    let ours = load("franz-kafka.jpg");
    let pil = load("kafka_pil.png");
    assert_eq!(ours.dimensions(), pil.dimensions());
    let mut max = 0u8;
    let mut n = 0usize;
    for (a, b) in ours.as_raw().iter().zip(pil.as_raw()) {
        let d = a.abs_diff(*b);
        max = max.max(d);
        n += usize::from(d != 0);
    }
    let frac = n as f64 / ours.as_raw().len() as f64;
    // libjpeg-turbo with Pillow's settings: bit-identical to Pillow's own decode.
    assert_eq!((max, n), (0, 0), "decode differs by {max} levels on {frac}");
}

#[test]
fn exif_orientations_are_ignored_like_pil_open() {
    // `PIL.Image.open(p).convert("RGB")` does not apply the EXIF orientation tag: every
    // orientation decodes to the stored 48x32 grid, which is what exif_1.npy holds (orientation
    // 1 is the identity, so exif_transpose changed nothing there).
    let want = Npy::read("exif_1.npy");
    for k in 1..=8 {
        let img = load(&format!("exif_{k}.jpg"));
        assert_eq!(img.dimensions(), (48, 32), "orientation {k}");
        let (max, n) = compare_u8(&img, &want, &format!("exif_{k}"));
        assert_eq!(
            (max, n),
            (0, 0),
            "orientation {k}: max diff {max}, {n} bytes differ"
        );
    }
}

#[test]
fn bilinear_resize_matches_pil_bit_for_bit() {
    for (src, stem, w, h) in [
        ("in_rgb_37x23.png", "rgb_37x23", 64, 40),
        ("in_rgb_37x23.png", "rgb_37x23", 20, 13),
        ("in_rgb_97x131.png", "rgb_97x131", 47, 64),
        ("in_rgb_97x131.png", "rgb_97x131", 128, 100),
    ] {
        let got = vladapt_image::resize_bilinear(&load(src), w, h);
        let name = format!("bilinear_{stem}_{w}x{h}.npy");
        let (max, n) = compare_u8(&got, &Npy::read(&name), &name);
        assert_eq!(
            (max, n),
            (0, 0),
            "{name}: max level error {max} on {n} bytes"
        );
        // Bicubic differs from bilinear on these sizes (the filter is really switched).
        let cubic = resize_bicubic(&load(src), w, h);
        assert_ne!(cubic.as_raw(), got.as_raw(), "{name}");
    }
}
