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
#[path = "support/clip_checks.rs"]
mod clip_checks;
mod common;
use clip_checks::tensor4;
use common::*;
use vladapt::methods::config::*;
use vladapt::methods::MethodConfig;
use vladapt::models::grounding::NoHook as NoHookG;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, Layout, TransVg, Weights};
use vladapt::tensor::{Device, Tensor};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};

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

/// The CLIP towers on LibTorch with clip_parity.rs's checks and bounds (support/clip_checks.rs).
fn check_clip(name: &str) {
    assert_ne!(tch(), Device::flex(), "`tch` must not resolve to Flex");
    clip_checks::check_clip(name, &tch());
}

#[test]
fn tch_clip_hugging_face_layout_matches_transformers() {
    check_clip("tiny-hf");
}

#[test]
fn tch_clip_open_clip_layout_matches_open_clip() {
    check_clip("tiny-openclip");
}

/// One method's forward/backward step on LibTorch with method_parity.rs's checks and bounds
/// (support/clip_checks.rs).
fn check_method(case: &str, config: MethodConfig) {
    assert_ne!(tch(), Device::flex(), "`tch` must not resolve to Flex");
    clip_checks::check_method(case, config, &tch());
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
