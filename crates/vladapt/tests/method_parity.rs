//! Each method's logits, loss and gradients against an independent PyTorch implementation
//! written from the spec (tools/fixtures/methods_ref.py), on the tiny HF CLIP: within 1e-4
//! relative. Also checks the official trainable-parameter counts for ViT-B/16 shapes.
#[path = "support/clip_checks.rs"]
mod clip_checks;
mod common;
use vladapt::methods::config::*;
use vladapt::methods::{build, MethodConfig};

/// One method on the default (Flex) device; the checks and tolerances are
/// support/clip_checks.rs's, shared with tch_backend.rs.
fn run_case(case: &str, config: MethodConfig) {
    clip_checks::check_method(case, config, &vladapt::device::default_device());
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
