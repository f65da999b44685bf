//! Each method's logits, loss and gradients against an independent PyTorch implementation
//! written from the spec (tools/fixtures/methods_ref.py), on the tiny HF CLIP: within 1e-4
//! relative. Also checks the official trainable-parameter counts for ViT-B/16 shapes.
mod common;
use common::*;
use vladapt::methods::config::*;
use vladapt::methods::{build, MethodConfig};
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor::{Tensor, TensorData};
use vladapt::tensor_io::SafetensorsFile;
use vladapt::train::inspect::inspect_step;

fn run_case(case: &str, config: MethodConfig) {
    let fx = fixtures();
    let dir = fx.join("methods").join(case);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let device = vladapt::device::default_device();
    let p = ClipPipeline::load(&fx.join("models/tiny-hf"), &device).unwrap();
    let classnames: Vec<String> = meta["classnames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let labels: Vec<usize> = meta["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let files: Vec<_> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| fx.join("images").join(f.as_str().unwrap()))
        .collect();
    let exp = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
    // Pixels from our own preprocessing of the PNGs (checked against the reference below).
    let pixels = p.load_pixels(&files).unwrap();
    let (ref_px, s) = read_f32(&exp, "pixel_values");
    assert!(max_abs_diff(&vladapt::tensor_io::to_vec_f32(&pixels), &ref_px) < 1e-5);
    let _ = Tensor::<4>::from_data(TensorData::new(ref_px, [s[0], s[1], s[2], s[3]]), &device);

    let mut method = build(&config, &p.model, &p.tokenizer, &device).unwrap();
    // Class-dependent tensors (CSC context, probe weights) exist after set_classes.
    method
        .set_classes(&vladapt::methods::ClassSet {
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
    eprintln!("{case}: logits rel err {e:.2e}, loss rel err {le:.2e}");
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
        eprintln!("{case}: grad.{name} rel err {ge:.2e}");
        assert!(ge < 1e-4, "{case}: grad.{name} differs (rel {ge})");
    }
}

#[test]
fn linear_probe_matches_reference() {
    run_case(
        "linear_probe",
        MethodConfig::LinearProbe(LinearProbeConfig::default()),
    );
}

#[test]
fn coop_matches_reference() {
    run_case(
        "coop",
        MethodConfig::Coop(CoopConfig {
            n_ctx: 4,
            ctx_init: None,
            csc: false,
            class_token_position: ClassTokenPosition::End,
        }),
    );
}

#[test]
fn coop_class_specific_middle_matches_reference() {
    run_case(
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
fn cocoop_matches_reference() {
    run_case("cocoop", MethodConfig::Cocoop(CocoopConfig::default()));
}

#[test]
fn clip_adapter_matches_reference() {
    run_case(
        "clip_adapter",
        MethodConfig::ClipAdapter(ClipAdapterConfig::default()),
    );
}

#[test]
fn maple_matches_reference() {
    run_case(
        "maple",
        MethodConfig::Maple(MapleConfig {
            n_ctx: 2,
            ctx_init: "a photo of a".into(),
            depth: 3,
        }),
    );
}

#[test]
fn mma_matches_reference() {
    run_case(
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

#[test]
fn mma_official_alpha_matches_reference() {
    run_case(
        "mma_official_alpha",
        MethodConfig::Mma(MmaConfig {
            adapter_start: 3,
            adapter_end: 0,
            dim: 8,
            alpha: 0.001,
            template: "a photo of a {}.".into(),
        }),
    );
}

/// Trainable-parameter counts of the methods built on a ViT-B/16-shaped CLIP equal the
/// official ones (methods.md §5).
#[test]
fn official_parameter_counts_for_vit_b16() {
    use vladapt::models::clip::{
        Activation, ClipConfig, ClipModel, Layout, TextConfig, VisionConfig,
    };
    let cfg = ClipConfig {
        text: TextConfig {
            vocab_size: 49408,
            width: 512,
            layers: 12,
            heads: 8,
            intermediate: 2048,
            context_length: 77,
            activation: Activation::QuickGelu,
            eps: 1e-5,
        },
        vision: VisionConfig {
            width: 768,
            layers: 12,
            heads: 12,
            intermediate: 3072,
            image_size: 224,
            patch_size: 16,
            activation: Activation::QuickGelu,
            eps: 1e-5,
        },
        projection_dim: 512,
        layout: Layout::HuggingFace,
        image_mean: None,
        image_std: None,
    };
    let device = vladapt::device::default_device();
    let clip = ClipModel::random_init(&cfg, 0, &device).unwrap();
    let tok = vladapt_tokenizer::ClipTokenizer::openai().unwrap();
    let classes: Vec<String> = ["cat", "dog"].iter().map(|s| s.to_string()).collect();
    let count = |c: MethodConfig| {
        let mut m = build(&c, &clip, &tok, &device).unwrap();
        m.set_classes(&vladapt::methods::ClassSet {
            clip: &clip,
            tokenizer: &tok,
            classnames: &classes,
            template: "a photo of a {}.",
        })
        .unwrap();
        m.params().numel()
    };
    assert_eq!(count(MethodConfig::Mma(MmaConfig::default())), 674_560);
    assert_eq!(
        count(MethodConfig::Maple(MapleConfig::default())),
        3_555_072
    );
    assert_eq!(count(MethodConfig::Cocoop(CocoopConfig::default())), 35_360);
    assert_eq!(count(MethodConfig::Coop(CoopConfig::default())), 8_192);
    assert_eq!(
        count(MethodConfig::Coop(CoopConfig {
            ctx_init: Some("a photo of a".into()),
            ..Default::default()
        })),
        2_048
    );
    assert_eq!(
        count(MethodConfig::ClipAdapter(ClipAdapterConfig::default())),
        131_072
    );
    // Bad configurations are clear errors, not panics.
    let build_err = |m: MethodConfig| build(&m, &clip, &tok, &device).err().unwrap().to_string();
    let err = build_err(MethodConfig::Maple(MapleConfig {
        depth: 13,
        ..Default::default()
    }));
    assert!(err.contains("depth"), "{err}");
    // ... and say how to fix it for this model (12 layers here).
    assert!(err.contains("--set maple:method.depth=12"), "{err}");
    let err = build_err(MethodConfig::Mma(MmaConfig {
        adapter_start: 14,
        ..Default::default()
    }));
    assert!(err.contains("adapter_start"), "{err}");
}
