//! Inputs that used to give a wrong answer with exit 0: unimplemented checkpoint config fields,
//! non-finite weights. Each must now be an error naming the field / tensor and the value.
mod common;
use common::fixtures;
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor_io::{save_safetensors_atomic, SafetensorsFile};

/// A copy of a fixture model directory in a temp dir.
fn copy_model(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixtures().join("models").join(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn load_err(dir: &std::path::Path) -> String {
    let device = vladapt::device::default_device();
    match ClipPipeline::load(dir, &device) {
        Ok(_) => panic!("{}: loaded without error", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_json(path: &std::path::Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn open_clip_fields_that_change_the_computation_are_refused_by_name() {
    for (section, key, value, shown) in [
        (
            "vision_cfg",
            "pool_type",
            serde_json::json!("avg"),
            "pool_type = \"avg\"",
        ),
        (
            "vision_cfg",
            "no_ln_pre",
            serde_json::json!(true),
            "no_ln_pre = true",
        ),
        (
            "vision_cfg",
            "ls_init_value",
            serde_json::json!(1e-5),
            "ls_init_value = 0.00001",
        ),
        (
            "text_cfg",
            "proj_bias",
            serde_json::json!(true),
            "proj_bias = true",
        ),
        (
            "text_cfg",
            "pool_type",
            serde_json::json!("eos"),
            "pool_type = \"eos\"",
        ),
        (
            "vision_cfg",
            "mystery_knob",
            serde_json::json!(3),
            "mystery_knob = 3",
        ),
    ] {
        let dir = copy_model("tiny-openclip");
        let cfg = dir.path().join("open_clip_config.json");
        edit_json(&cfg, |v| {
            v["model_cfg"][section][key] = value.clone();
        });
        let e = load_err(dir.path());
        assert!(
            e.contains(&format!("model_cfg.{section}.")) && e.contains(shown),
            "{section}.{key}: {e}"
        );
        assert!(e.contains("open_clip_config.json"), "{e}");
        assert!(!e.contains("missing tensor"), "misleading message: {e}");
    }
}

#[test]
fn open_clip_preprocess_settings_are_checked() {
    let dir = copy_model("tiny-openclip");
    edit_json(&dir.path().join("open_clip_config.json"), |v| {
        v["preprocess_cfg"]["resize_mode"] = serde_json::json!("squash");
    });
    let e = load_err(dir.path());
    assert!(e.contains("preprocess_cfg.resize_mode = \"squash\""), "{e}");
}

#[test]
fn transformers_fields_that_change_the_computation_are_refused_by_name() {
    for (section, key, value, shown) in [
        (
            "vision_config",
            "num_channels",
            serde_json::json!(1),
            "vision_config.num_channels = 1",
        ),
        (
            "text_config",
            "eos_token_id",
            serde_json::json!(7),
            "text_config.eos_token_id = 7",
        ),
        (
            "vision_config",
            "attention_dropout",
            serde_json::json!(0.1),
            "vision_config.attention_dropout = 0.1",
        ),
    ] {
        let dir = copy_model("tiny-hf");
        edit_json(&dir.path().join("config.json"), |v| {
            v[section][key] = value.clone();
        });
        let e = load_err(dir.path());
        assert!(e.contains(shown), "{section}.{key}: {e}");
    }
}

/// Rewrite `file` with the first value of tensor `name` replaced by `bad`.
fn poison(file: &std::path::Path, name: &str, bad: f32) {
    let src = SafetensorsFile::open(file).unwrap();
    let mut tensors = Vec::new();
    for n in src.names().unwrap() {
        if let Some((mut vals, shape)) = src.read_f32(&n).unwrap() {
            if n == name {
                vals[0] = bad;
            }
            tensors.push((n, shape, vals));
        }
    }
    drop(src);
    save_safetensors_atomic(file, &tensors, None).unwrap();
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    for (bad, shown) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let dir = copy_model("tiny-openclip");
        let w = dir.path().join("open_clip_model.safetensors");
        poison(&w, "visual.proj", bad);
        let e = load_err(dir.path());
        assert!(e.contains("`visual.proj`") && e.contains(shown), "{e}");
        assert!(e.contains("open_clip_model.safetensors"), "{e}");
    }
}

#[test]
fn a_file_given_as_model_is_reported_as_a_file() {
    let e = load_err(&fixtures().join("models/tiny-hf/config.json"));
    assert!(
        e.contains("is a file") || e.contains("this is a file"),
        "{e}"
    );
    assert!(!e.contains("does not exist"), "{e}");
}
