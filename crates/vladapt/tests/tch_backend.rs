//! The LibTorch backend on the CPU (`--device tch`, cargo feature `tch`) against the same
//! independent reference fixtures as the Flex tests: the CLIP towers of Hugging Face
//! transformers and open_clip (tools/fixtures/make_fixtures.py; clip_parity.rs), every method's
//! logits, loss and gradients from the PyTorch implementations written from the spec
//! (tools/fixtures/methods_ref.py; method_parity.rs) and the TransVG forward of the PyTorch
//! reference (tools/fixtures/build_grounding.py; grounding_parity.rs), with the same tolerances.
//!
//! Build and run against a LibTorch 2.9.0 (tools/libtorch/setup.sh prints the environment):
//! `cargo test --release -p vladapt --features tch --test tch_backend`.
#![cfg(feature = "tch")]
mod common;
use common::*;
use vladapt::methods::config::*;
use vladapt::methods::{build, ClassSet, MethodConfig};
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::models::grounding::NoHook as NoHookG;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, Layout, TransVg, Weights};
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};
use vladapt::train::inspect::inspect_step;

/// The device the CLI's `--device tch` selects.
fn tch() -> Device {
    vladapt::device::parse_device("tch").expect("the `tch` feature is compiled in")
}

/// Fails unless `t` really lives on LibTorch (not on Flex, which the rest of the suite uses).
fn assert_on_libtorch<const D: usize>(t: &Tensor<D>, what: &str) {
    assert!(
        t.device() == tch() && t.device() != Device::flex(),
        "{what} is on {:?}, not on LibTorch",
        t.device()
    );
}

fn read_i64(f: &SafetensorsFile, name: &str) -> Vec<i64> {
    f.read_i64(name)
        .unwrap()
        .unwrap_or_else(|| panic!("fixture lacks {name}"))
        .0
}

fn tensor4(f: &SafetensorsFile, name: &str, dev: &Device) -> Tensor<4> {
    let (v, s) = read_f32(f, name);
    Tensor::from_data(TensorData::new(v, [s[0], s[1], s[2], s[3]]), dev)
}

/// Text embeddings, raw image embeddings from the reference pixels and end-to-end image
/// embeddings from the files, on LibTorch, within clip_parity.rs's bounds (1e-5 absolute).
fn check_clip(name: &str) {
    let fx = fixtures();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join(format!("expected/{name}.json"))).unwrap(),
    )
    .unwrap();
    let exp = SafetensorsFile::open(&fx.join(format!("expected/{name}.safetensors"))).unwrap();
    let device = tch();
    let p = ClipPipeline::load(&fx.join(format!("models/{name}")), &device).unwrap();
    let texts: Vec<String> = meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();

    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let text = p.text_features(&refs).unwrap();
    assert_on_libtorch(&text, "text features");
    let ours = p.embed_texts(&texts, 5).unwrap().concat();
    let (want, _) = read_f32(&exp, "text_embeds");
    let err = max_abs_diff(&ours, &want);
    eprintln!("tch {name}: text embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "tch {name}: text embeddings differ by {err}");

    let pixels = tensor4(&exp, "pixel_values", &device);
    let raw = p.model.encode_image(pixels, &NoHook).unwrap();
    assert_on_libtorch(&raw, "image embeddings");
    let (want_raw, _) = read_f32(&exp, "image_embeds_raw");
    let err = max_abs_diff(&to_vec_f32(&raw), &want_raw);
    eprintln!("tch {name}: raw image embeds max abs err {err:.2e}");
    assert!(err < 1e-5, "tch {name}: image embeddings differ by {err}");

    // From the files: our preprocessing then the model (cosine ≥ 0.999, as on Flex).
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
    let emb = p.embed_images(&files, 4).unwrap();
    let (want, _) = read_f32(&exp, "image_embeds");
    let mut worst = 1.0f32;
    for (i, e) in emb.iter().enumerate() {
        let cos: f32 = e
            .iter()
            .zip(&want[i * e.len()..(i + 1) * e.len()])
            .map(|(a, b)| a * b)
            .sum();
        worst = worst.min(cos);
    }
    eprintln!("tch {name}: end-to-end image embeds min cosine {worst:.6}");
    assert!(worst >= 0.999, "tch {name}: image cosine {worst}");
}

#[test]
fn tch_clip_hugging_face_layout_matches_transformers() {
    check_clip("tiny-hf");
}

#[test]
fn tch_clip_open_clip_layout_matches_open_clip() {
    check_clip("tiny-openclip");
}

/// One method's forward/backward step on LibTorch against the reference logits, loss and
/// gradients (1e-4 relative, as in method_parity.rs).
fn check_method(case: &str, config: MethodConfig) {
    let fx = fixtures();
    let dir = fx.join("methods").join(case);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let device = tch();
    let p = ClipPipeline::load(&fx.join("models/tiny-hf"), &device).unwrap();
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
    let pixels = p.load_pixels(&files).unwrap();
    assert_on_libtorch(&pixels, "pixels");

    let mut method = build(&config, &p.model, &p.tokenizer, &device).unwrap();
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
        .load_values(&dir.join("init.safetensors"), &device)
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
    let names: Vec<String> = exp
        .names()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("grad."))
        .collect();
    assert_eq!(
        names.len(),
        out.grads.len(),
        "tch {case}: number of trainable tensors"
    );
    let mut worst_grad = 0.0f32;
    for (name, _, g) in &out.grads {
        let (want, _) = read_f32(&exp, &format!("grad.{name}"));
        let ge = max_rel_diff(g, &want);
        assert!(ge < 1e-4, "tch {case}: grad.{name} differs (rel {ge})");
        worst_grad = worst_grad.max(ge);
    }
    eprintln!(
        "tch {case}: logits rel err {e:.2e}, loss rel err {le:.2e}, worst grad rel err \
         {worst_grad:.2e} over {} tensors",
        out.grads.len()
    );
    assert!(e < 1e-4, "tch {case}: logits differ (rel {e})");
    assert!(le < 1e-4, "tch {case}: loss {} vs {}", out.loss, loss[0]);
}

#[test]
fn tch_linear_probe_matches_reference() {
    check_method(
        "linear_probe",
        MethodConfig::LinearProbe(LinearProbeConfig::default()),
    );
}

#[test]
fn tch_coop_class_specific_middle_matches_reference() {
    check_method(
        "coop_csc_middle",
        MethodConfig::Coop(CoopConfig {
            n_ctx: 4,
            ctx_init: None,
            csc: true,
            class_token_position: ClassTokenPosition::Middle,
        }),
    );
}

#[test]
fn tch_cocoop_matches_reference() {
    check_method("cocoop", MethodConfig::Cocoop(CocoopConfig::default()));
}

#[test]
fn tch_clip_adapter_matches_reference() {
    check_method(
        "clip_adapter",
        MethodConfig::ClipAdapter(ClipAdapterConfig::default()),
    );
}

#[test]
fn tch_maple_matches_reference() {
    check_method(
        "maple",
        MethodConfig::Maple(MapleConfig {
            n_ctx: 2,
            ctx_init: "a photo of a".into(),
            depth: 3,
        }),
    );
}

#[test]
fn tch_mma_matches_reference() {
    check_method(
        "mma",
        MethodConfig::Mma(MmaConfig {
            adapter_start: 3,
            adapter_end: 0,
            dim: 8,
            alpha: 0.1,
            template: "a photo of a {}.".into(),
        }),
    );
}

/// TransVG on LibTorch: ResNet trunk, DETR memory and boxes against the PyTorch reference
/// (float64 reference; 1e-4 absolute, as in grounding_parity.rs), on the inference and the
/// autodiff device.
#[test]
fn tch_transvg_forward_matches_the_pytorch_reference() {
    let gdir = fixtures().join("grounding").join("transvg");
    let cfg = GroundingConfig::from_json_file(&gdir.join("config.json")).unwrap();
    let io = SafetensorsFile::open(&gdir.join("io.safetensors")).unwrap();
    for dev in [tch(), tch().autodiff()] {
        let w = Weights::open(&gdir.join("model.safetensors"), Layout::TransVg).unwrap();
        let model = TransVg::load(&w.root(), &cfg, &dev).unwrap();
        w.ensure_all_used().unwrap();
        let batch = GroundingBatch {
            images: tensor4(&io, "images", &dev),
            pixel_mask: read_i64(&io, "pixel_mask")
                .iter()
                .map(|&v| v != 0)
                .collect(),
            ids: read_i64(&io, "ids"),
            text_mask: read_i64(&io, "text_mask"),
        };
        let trunk = model
            .visual
            .backbone
            .forward(batch.images.clone(), &NoHookG);
        let d_trunk = max_abs_diff(&to_vec_f32(&trunk), &read_f32(&io, "trunk").0);
        let mem = model.encode_visual(batch.images.clone(), &batch.pixel_mask, &NoHookG);
        let d_mem = max_abs_diff(&to_vec_f32(&mem.tokens), &read_f32(&io, "memory").0);
        let boxes = model.forward(&batch).unwrap();
        assert_on_libtorch(&boxes, "boxes");
        let d_box = max_abs_diff(&to_vec_f32(&boxes), &read_f32(&io, "boxes").0);
        let mode = if dev.is_autodiff() {
            "autodiff"
        } else {
            "inference"
        };
        eprintln!(
            "tch transvg ({mode}): trunk {d_trunk:.2e}, memory {d_mem:.2e}, boxes {d_box:.2e}"
        );
        assert!(d_trunk < 1e-4, "tch: ResNet trunk differs by {d_trunk}");
        assert!(d_mem < 1e-4, "tch: DETR memory differs by {d_mem}");
        assert!(d_box < 1e-4, "tch: boxes differ by {d_box}");
    }
}
