//! The Rust CLIP against reference outputs computed by Hugging Face transformers and open_clip
//! (tools/fixtures/make_fixtures.py): token ids, preprocessing, embeddings within 1e-5.
mod common;
use common::*;
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::tensor::{Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};

fn check_model(name: &str) {
    let fx = fixtures();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join(format!("expected/{name}.json"))).unwrap(),
    )
    .unwrap();
    let exp = SafetensorsFile::open(&fx.join(format!("expected/{name}.safetensors"))).unwrap();
    let device = vladapt::device::default_device();
    let p = ClipPipeline::load(&fx.join(format!("models/{name}")), &device).unwrap();

    // Token ids equal the reference tokenizer's.
    let texts: Vec<String> = meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let ids = p.tokenize(&refs);
    let (ref_ids, _) = exp.read_i64("input_ids").unwrap().unwrap();
    let ours: Vec<i64> = ids.iter().flatten().map(|&v| v as i64).collect();
    assert_eq!(ours, ref_ids, "{name}: token ids differ");

    // Text embeddings (normalised) within 1e-5.
    let ours = p.embed_texts(&texts, 5).unwrap().concat();
    let (want, _) = read_f32(&exp, "text_embeds");
    let err = max_abs_diff(&ours, &want);
    eprintln!("{name}: text embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "{name}: text embeddings differ by {err}");

    // Image embeddings from the reference pixel values (model input size) within 1e-5.
    let (px, shape) = read_f32(&exp, "pixel_values");
    let pixels = Tensor::<4>::from_data(
        TensorData::new(px.clone(), [shape[0], shape[1], shape[2], shape[3]]),
        &device,
    );
    let raw = to_vec_f32(&p.model.encode_image(pixels, &NoHook).unwrap());
    let (want_raw, _) = read_f32(&exp, "image_embeds_raw");
    let err = max_abs_diff(&raw, &want_raw);
    eprintln!("{name}: raw image embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "{name}: image embeddings differ by {err}");

    // Our preprocessing of the files gives the reference pixels (≤ 1/255 in pixel units) and
    // the end-to-end embeddings agree (cosine ≥ 0.999 after resizing).
    let dir = fx.join(
        meta["image_dir"]
            .as_str()
            .unwrap()
            .trim_start_matches("fixtures/"),
    );
    let files: Vec<_> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| dir.join(f.as_str().unwrap()))
        .collect();
    let ours_px = to_vec_f32(&p.load_pixels(&files).unwrap());
    let std = p.preprocess.std;
    let plane = shape[2] * shape[3];
    let px_err = ours_px
        .iter()
        .zip(&px)
        .enumerate()
        .map(|(i, (a, b))| (a - b).abs() * std[(i / plane) % 3])
        .fold(0.0f32, f32::max);
    eprintln!("{name}: preprocessing max err {:.3} / 255", px_err * 255.0);
    assert!(
        px_err <= 1.0 / 255.0 + 1e-6,
        "{name}: preprocessing differs by {px_err}"
    );
    let emb = p.embed_images(&files, 4).unwrap();
    let (want, _) = read_f32(&exp, "image_embeds");
    for (i, e) in emb.iter().enumerate() {
        let cos: f32 = e
            .iter()
            .zip(&want[i * e.len()..(i + 1) * e.len()])
            .map(|(a, b)| a * b)
            .sum();
        assert!(cos >= 0.999, "{name}: image {i} cosine {cos}");
    }

    // logits_per_image = exp(logit_scale) · cos.
    let (lpi, _) = read_f32(&exp, "logits_per_image");
    let tf = p.embed_texts(&texts, 16).unwrap();
    let (img, _) = read_f32(&exp, "image_embeds");
    let d = tf[0].len();
    let scale = p.model.scale() as f32;
    let mine: Vec<f32> = (0..shape[0])
        .flat_map(|i| {
            tf.iter()
                .map(|t| {
                    scale
                        * t.iter()
                            .zip(&img[i * d..(i + 1) * d])
                            .map(|(a, b)| a * b)
                            .sum::<f32>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(max_abs_diff(&mine, &lpi) < 1e-3);
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
