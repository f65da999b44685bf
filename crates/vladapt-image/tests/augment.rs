//! TrainAugment / augment_rng: determinism, flip, crop geometry (torchvision algorithm).
mod common;

use common::fixture;
use vladapt_image::{
    augment_rng, load_rgb, to_chw_normalised, CropBox, ImageLimits, RgbImage, TrainAugment,
    CLIP_MEAN, CLIP_STD,
};

fn textured() -> RgbImage {
    load_rgb(&fixture("in_rgb_97x131.png"), &ImageLimits::default()).unwrap()
}

#[test]
fn same_key_same_output_different_key_different_output() {
    let img = textured();
    let aug = TrainAugment::clip(32);
    let a = aug.apply(&img, &mut augment_rng(1, 3, 17));
    let b = aug.apply(&img, &mut augment_rng(1, 3, 17));
    assert_eq!(a.len(), 3 * 32 * 32);
    assert_eq!(a, b);
    for (s, e, i) in [(2, 3, 17), (1, 4, 17), (1, 3, 18)] {
        let c = aug.apply(&img, &mut augment_rng(s, e, i));
        assert_ne!(a, c, "key ({s},{e},{i}) gave the same output");
    }
}

#[test]
fn output_independent_of_thread_scheduling() {
    let img = textured();
    let aug = TrainAugment::clip(24);
    let serial: Vec<Vec<f32>> = (0..8u64)
        .map(|i| aug.apply(&img, &mut augment_rng(7, 0, i)))
        .collect();
    // Reverse order on separate threads.
    let parallel: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u64)
            .rev()
            .map(|i| {
                let (img, aug) = (&img, &aug);
                s.spawn(move || (i, aug.apply(img, &mut augment_rng(7, 0, i))))
            })
            .collect();
        let mut v: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, t)| t).collect()
    });
    assert_eq!(serial, parallel);
}

#[test]
fn flip_only_config_equals_hand_mirrored_image() {
    let full = textured();
    let img = image::imageops::crop_imm(&full, 10, 20, 40, 40).to_image();
    let aug = TrainAugment {
        size: 40,
        scale: (1.0, 1.0),
        ratio: (1.0, 1.0),
        flip_p: 1.0,
        mean: CLIP_MEAN,
        std: CLIP_STD,
    };
    let got = aug.apply(&img, &mut augment_rng(0, 0, 0));
    // Mirror by hand: out[c][y][x] = (img[y][39 - x][c] / 255 - mean) / std.
    let mut want = vec![0f32; 3 * 40 * 40];
    for c in 0..3 {
        for y in 0..40u32 {
            for x in 0..40u32 {
                let v = f32::from(img.get_pixel(39 - x, y)[c]);
                want[c * 1600 + (y * 40 + x) as usize] = (v / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
            }
        }
    }
    assert_eq!(got, want);
    // flip_p = 0: identity.
    let no_flip = TrainAugment { flip_p: 0.0, ..aug };
    let got = no_flip.apply(&img, &mut augment_rng(0, 0, 0));
    assert_eq!(got, to_chw_normalised(&img, &CLIP_MEAN, &CLIP_STD));
}

#[test]
fn crop_box_always_inside_and_within_ratio() {
    let aug = TrainAugment::clip(224);
    for (w, h) in [
        (1u32, 1u32),
        (1, 500),
        (500, 1),
        (7, 3),
        (450, 655),
        (4000, 300),
        (224, 224),
    ] {
        for i in 0..500u64 {
            let b = aug.crop_params(w, h, &mut augment_rng(3, 1, i));
            assert!(b.width > 0 && b.height > 0, "{w}x{h}: {b:?}");
            assert!(
                b.left + b.width <= w && b.top + b.height <= h,
                "{w}x{h}: {b:?}"
            );
            if w >= 100 && h >= 100 {
                // Rounded sides keep the ratio within [3/4, 4/3] up to one pixel of rounding.
                let r_lo = f64::from(b.width) / f64::from(b.height + 1);
                let r_hi = f64::from(b.width + 1) / f64::from(b.height.max(2) - 1);
                assert!(r_hi >= 0.75 && r_lo <= 4.0 / 3.0, "{w}x{h}: {b:?}");
                let frac = f64::from(b.width) * f64::from(b.height) / (f64::from(w) * f64::from(h));
                assert!(frac <= 1.0 + 1e-9, "{w}x{h}: area fraction {frac}");
            }
        }
    }
}

#[test]
fn fallback_is_torchvision_central_crop() {
    // 1000×10 with scale (0.9, 1) and ratio 1: a ~97-pixel square never fits in 10 rows, so all
    // 10 attempts fail; in_ratio 100 > 1 ⇒ h = 10, w = round(10 * 1) = 10,
    // top = 0, left = (1000 - 10) // 2 = 495.
    let aug = TrainAugment {
        scale: (0.9, 1.0),
        ratio: (1.0, 1.0),
        ..TrainAugment::clip(8)
    };
    let b = aug.crop_params(1000, 10, &mut augment_rng(0, 0, 0));
    assert_eq!(
        b,
        CropBox {
            top: 0,
            left: 495,
            height: 10,
            width: 10
        }
    );
    // Tall image, ratio range (3/4, 4/3): in_ratio 0.01 < 3/4 ⇒ w = 10, h = round(10 / 0.75) = 13,
    // top = (1000 - 13) // 2 = 493.
    let aug = TrainAugment {
        scale: (0.9, 1.0),
        ..TrainAugment::clip(8)
    };
    let b = aug.crop_params(10, 1000, &mut augment_rng(0, 0, 0));
    assert_eq!(
        b,
        CropBox {
            top: 493,
            left: 0,
            height: 13,
            width: 10
        }
    );
}

#[test]
fn flip_rate_and_scale_statistics() {
    // Flip frequency ≈ 0.5, and the mean crop area fraction on a 1000×1000 image matches a
    // 400k-sample Monte Carlo of torchvision's get_params written in numpy (0.4779; lower than
    // E[U(0.08, 1)] = 0.54 because large crops with extreme ratios are rejected). 4000 keys:
    // standard error ≈ 0.004.
    let aug = TrainAugment::clip(8);
    let img = RgbImage::from_fn(16, 16, |x, _| image::Rgb([(x * 16) as u8, 0, 0]));
    let mut flips = 0;
    for i in 0..2000u64 {
        let out = aug.augment_image(&img, &mut augment_rng(11, 0, i));
        // The red ramp increases left→right unless flipped.
        if out.get_pixel(0, 4)[0] > out.get_pixel(7, 4)[0] {
            flips += 1;
        }
    }
    let rate = f64::from(flips) / 2000.0;
    assert!((0.45..0.55).contains(&rate), "flip rate {rate}");
    let mut area = 0.0;
    for i in 0..4000u64 {
        let b = aug.crop_params(1000, 1000, &mut augment_rng(5, 2, i));
        area += f64::from(b.width) * f64::from(b.height) / 1e6;
    }
    let mean = area / 4000.0;
    assert!((mean - 0.4779).abs() < 0.015, "mean area fraction {mean}");
}
