//! The Rust CLIP against reference outputs computed by Hugging Face transformers and open_clip
//! (tools/fixtures/make_fixtures.py): token ids, preprocessing, embeddings within 1e-5.
#[path = "support/clip_checks.rs"]
mod clip_checks;
mod common;
use common::*;
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};

/// One CLIP on the default (Flex) device; the checks and tolerances are
/// support/clip_checks.rs's, shared with tch_backend.rs.
fn check_model(name: &str) {
    clip_checks::check_clip(name, &vladapt::device::default_device());
}

#[test]
fn hugging_face_layout_matches_transformers() {
    check_model("tiny-hf");
}

#[test]
fn open_clip_layout_matches_open_clip() {
    check_model("tiny-openclip");
}

/// End to end on JPEG files (4:2:0/4:2:2/4:4:4, progressive, restart markers, CMYK, grey, odd
/// sizes, EXIF-rotated): our decode + preprocessing + model against the reference library's
/// `Image.open` + processor + model (tools/fixtures/build_jpeg_expected.py).
fn check_jpeg(name: &str) {
    let fx = fixtures();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join(format!("expected/jpeg-{name}.json"))).unwrap(),
    )
    .unwrap();
    let exp = SafetensorsFile::open(&fx.join(format!("expected/jpeg-{name}.safetensors"))).unwrap();
    let device = vladapt::device::default_device();
    let p = ClipPipeline::load(&fx.join(format!("models/{name}")), &device).unwrap();
    let files: Vec<_> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| fx.join("image/jpeg").join(f.as_str().unwrap()))
        .collect();
    // Pixels: the same integer pipeline, so only float rounding of the normalisation differs.
    let ours_px = to_vec_f32(&p.load_pixels(&files).unwrap());
    let (want_px, _) = read_f32(&exp, "pixel_values");
    let px_err = max_abs_diff(&ours_px, &want_px);
    eprintln!("jpeg {name}: pixel_values max abs err {px_err:.2e}");
    assert!(
        px_err < 1e-5,
        "jpeg {name}: preprocessing differs by {px_err}"
    );
    let emb = p.embed_images(&files, 4).unwrap().concat();
    let (want, _) = read_f32(&exp, "image_embeds");
    let err = max_abs_diff(&emb, &want);
    eprintln!("jpeg {name}: image embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "jpeg {name}: image embeddings differ by {err}");
}

#[test]
fn jpeg_inputs_match_transformers() {
    check_jpeg("tiny-hf");
}

#[test]
fn jpeg_inputs_match_open_clip() {
    check_jpeg("tiny-openclip");
}
