//! The CLIP tower and method checks against the reference fixtures, shared by the Flex tests
//! (clip_parity.rs, method_parity.rs) and the LibTorch ones (tch_backend.rs): one body, one set of
//! tolerances, the device a parameter. Needs `mod common;` in the including test crate.
#![allow(dead_code)]
use crate::common::*;
use vladapt::methods::{build, ClassSet, MethodConfig};
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};
use vladapt::train::inspect::inspect_step;

/// Fails unless `t` lives on `device` (so a parity run really exercised that backend).
pub fn assert_on<const D: usize>(t: &Tensor<D>, device: &Device, what: &str) {
    assert!(
        t.device() == *device,
        "{what} is on {:?}, not on {device:?}",
        t.device()
    );
}

/// A rank-4 fixture tensor on `dev`.
pub fn tensor4(f: &SafetensorsFile, name: &str, dev: &Device) -> Tensor<4> {
    let (v, s) = read_f32(f, name);
    Tensor::from_data(TensorData::new(v, [s[0], s[1], s[2], s[3]]), dev)
}

/// The CLIP `name` (tiny-hf / tiny-openclip) on `device` against the reference library's
/// outputs (tools/fixtures/make_fixtures.py): token ids equal, text embeddings and image
/// embeddings from the reference pixels within 1e-5 absolute, our preprocessing of the files
/// within 1/255, end-to-end image embeddings cosine ≥ 0.999, logits_per_image within 1e-3.
pub fn check_clip(name: &str, device: &Device) {
    let fx = fixtures();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join(format!("expected/{name}.json"))).unwrap(),
    )
    .unwrap();
    let exp = SafetensorsFile::open(&fx.join(format!("expected/{name}.safetensors"))).unwrap();
    let p = ClipPipeline::load(&fx.join(format!("models/{name}")), device).unwrap();

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
    let text = p.text_features(&refs).unwrap();
    assert_on(&text, device, "text features");
    let ours = p.embed_texts(&texts, 5).unwrap().concat();
    let (want, _) = read_f32(&exp, "text_embeds");
    let err = max_abs_diff(&ours, &want);
    eprintln!("{device:?} {name}: text embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "{name}: text embeddings differ by {err}");

    // Image embeddings from the reference pixel values (model input size) within 1e-5.
    let (px, shape) = read_f32(&exp, "pixel_values");
    let pixels = tensor4(&exp, "pixel_values", device);
    let raw = p.model.encode_image(pixels, &NoHook).unwrap();
    assert_on(&raw, device, "image embeddings");
    let (want_raw, _) = read_f32(&exp, "image_embeds_raw");
    let err = max_abs_diff(&to_vec_f32(&raw), &want_raw);
    eprintln!("{device:?} {name}: raw image embeds max abs err {err:.2e}");
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
    eprintln!(
        "{device:?} {name}: preprocessing max err {:.3} / 255",
        px_err * 255.0
    );
    assert!(
        px_err <= 1.0 / 255.0 + 1e-6,
        "{name}: preprocessing differs by {px_err}"
    );
    let emb = p.embed_images(&files, 4).unwrap();
    let (want, _) = read_f32(&exp, "image_embeds");
    let mut worst = 1.0f32;
    for (i, e) in emb.iter().enumerate() {
        let cos: f32 = e
            .iter()
            .zip(&want[i * e.len()..(i + 1) * e.len()])
            .map(|(a, b)| a * b)
            .sum();
        assert!(cos >= 0.999, "{name}: image {i} cosine {cos}");
        worst = worst.min(cos);
    }
    eprintln!("{device:?} {name}: end-to-end image embeds min cosine {worst:.6}");

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

/// One method's forward/backward step on `device` (the tiny HF CLIP, the case's initial
/// values) against the PyTorch implementation written from the spec
/// (tools/fixtures/methods_ref.py): pixels within 1e-5, logits, loss and every gradient within
/// 1e-4 relative.
pub fn check_method(case: &str, config: MethodConfig, device: &Device) {
    let fx = fixtures();
    let dir = fx.join("methods").join(case);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let p = ClipPipeline::load(&fx.join("models/tiny-hf"), device).unwrap();
    let strings = |key: &str| -> Vec<String> {
        meta[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    let classnames = strings("classnames");
    let labels: Vec<usize> = meta["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let files: Vec<_> = strings("images")
        .iter()
        .map(|f| fx.join("images").join(f))
        .collect();
    let exp = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
    // Pixels from our own preprocessing of the PNGs, checked against the reference's.
    let pixels = p.load_pixels(&files).unwrap();
    assert_on(&pixels, device, "pixels");
    let (ref_px, _) = read_f32(&exp, "pixel_values");
    let px_err = max_abs_diff(&to_vec_f32(&pixels), &ref_px);
    assert!(px_err < 1e-5, "{case}: pixels differ by {px_err}");

    let mut method = build(&config, &p.model, &p.tokenizer, device).unwrap();
    // Class-dependent tensors (CSC context, probe weights) exist after set_classes.
    method
        .set_classes(&ClassSet {
            clip: &p.model,
            tokenizer: &p.tokenizer,
            classnames: &classnames,
            template: "a photo of a {}.",
        })
        .unwrap();
    method
        .params_mut()
        .load_values(&dir.join("init.safetensors"), device)
        .unwrap();
    let out = inspect_step(
        method.as_mut(),
        &p.model,
        &p.tokenizer,
        &classnames,
        "a photo of a {}.",
        pixels,
        &labels,
    )
    .unwrap();

    let (logits, _) = read_f32(&exp, "logits");
    let e = max_rel_diff(&out.logits, &logits);
    let (loss, _) = read_f32(&exp, "loss");
    let le = (out.loss - loss[0]).abs() / loss[0].abs().max(1e-6);
    eprintln!("{device:?} {case}: logits rel err {e:.2e}, loss rel err {le:.2e}");
    assert!(e < 1e-4, "{case}: logits differ (rel {e})");
    assert!(le < 1e-4, "{case}: loss {} vs {}", out.loss, loss[0]);
    let names: Vec<String> = exp
        .names()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("grad."))
        .collect();
    assert_eq!(
        names.len(),
        out.grads.len(),
        "{case}: number of trainable tensors"
    );
    for (name, _, g) in &out.grads {
        let (want, _) = read_f32(&exp, &format!("grad.{name}"));
        let ge = max_rel_diff(g, &want);
        eprintln!("{device:?} {case}: grad.{name} rel err {ge:.2e}");
        assert!(ge < 1e-4, "{case}: grad.{name} differs (rel {ge})");
    }
}
