//! Callers can act on an error by its variant, not only read its message: real bad input
//! (configuration values, names, arguments, shapes, run directories, checkpoints, class
//! counts, models a method cannot run on, tokenizer files) gives the typed variant with the
//! key / name / file filled in.
mod common;
use common::fixtures;
use vladapt::methods::config::{CoopConfig, LinearProbeConfig, MapleConfig};
use vladapt::methods::{build, ClassSet, MethodConfig, MethodKind};
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor::{Tensor, TensorData};
use vladapt::train::{Protocol, RunConfig};
use vladapt::VladaptError;

fn device() -> vladapt::tensor::Device {
    vladapt::device::default_device()
}

fn tiny(name: &str) -> ClipPipeline {
    ClipPipeline::load(&fixtures().join("models").join(name), &device()).unwrap()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn config_values_name_the_key_the_value_and_the_range() {
    let mut c = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1);
    let e = c
        .apply_overrides(&["train.batch_size=0".into()])
        .unwrap_err();
    assert!(
        matches!(&e, VladaptError::ConfigValue { file: None, key, value, allowed }
            if key == "train.batch_size" && value == "0" && allowed == "1..=1048576"),
        "{e:?}"
    );
    // From a file: the same variant, with the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let mut v = serde_json::to_value(RunConfig::preset(
        MethodKind::Coop,
        Protocol::FewShot,
        16,
        1,
    ))
    .unwrap();
    v["train"]["batch_size"] = 0.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = RunConfig::from_file(&path).unwrap_err();
    assert!(
        matches!(&e, VladaptError::ConfigValue { file: Some(f), key, value, .. }
            if f == &path && key == "train.batch_size" && value == "0"),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    // A model-dependent range, checked when the method is built.
    let p = tiny("tiny-openclip");
    let layers = p.model.config.text.layers.min(p.model.config.vision.layers);
    let e = build(
        &MethodConfig::Maple(MapleConfig {
            depth: layers + 1,
            ..Default::default()
        }),
        &p.model,
        &p.tokenizer,
        &device(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, VladaptError::ConfigValue { key, value, .. }
            if key == "method.depth" && *value == (layers + 1).to_string()),
        "{e:?}"
    );
    let e = vladapt::pretrain::PretrainConfig {
        batch_size: 1,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(
        matches!(&e, VladaptError::ConfigValue { key, .. } if key == "batch_size"),
        "{e:?}"
    );
}

#[test]
fn unknown_names_list_the_known_ones() {
    let e = MethodKind::parse("cop").unwrap_err();
    assert!(
        matches!(&e, VladaptError::UnknownName { kind: "method", name, known }
            if name == "cop" && known.contains(&"coop".to_string())),
        "{e:?}"
    );
    let e = Protocol::parse("five-shot").unwrap_err();
    assert!(
        matches!(&e, VladaptError::UnknownName { kind: "protocol", known, .. }
            if *known == names(&["few-shot", "base2novel"])),
        "{e:?}"
    );
    let e = vladapt::pretrain::model_preset("huge").unwrap_err();
    assert!(
        matches!(&e, VladaptError::UnknownName { kind: "pretraining preset", known, .. }
            if known.iter().map(String::as_str).eq(vladapt::pretrain::PRESETS.iter().copied())),
        "{e:?}"
    );
    let mut c = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1);
    let e = c
        .apply_overrides(&["train.batchsize=8".into()])
        .unwrap_err();
    assert!(
        matches!(&e, VladaptError::UnknownName { kind: "configuration key", name, known }
            if name == "train.batchsize" && known.contains(&"train.batch_size".to_string())),
        "{e:?}"
    );
}

#[test]
fn bad_arguments_and_shapes_name_the_input() {
    let e = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1)
        .apply_overrides(&["train.batch_size".into()])
        .unwrap_err();
    assert!(
        matches!(&e, VladaptError::Argument { name, reason }
            if name == "--set train.batch_size" && reason.contains("key=value")),
        "{e:?}"
    );
    let logits = Tensor::<2>::from_data(TensorData::new(vec![0f32; 6], [2, 3]), &device());
    let e = vladapt::train::loss::cross_entropy(logits.clone(), &[0, 3]).unwrap_err();
    assert!(
        matches!(&e, VladaptError::Argument { name, reason }
            if name == "labels" && reason.contains("label 3")),
        "{e:?}"
    );
    let e = vladapt::train::loss::cross_entropy(logits, &[0, 1, 2]).unwrap_err();
    assert!(
        matches!(&e, VladaptError::Shape { what, expected, actual }
            if what == "labels" && expected.starts_with("[2]") && actual == "[3]"),
        "{e:?}"
    );
    let p = tiny("tiny-openclip");
    let s = p.model.config.vision.image_size;
    let px = Tensor::<4>::zeros([1, 3, s + 1, s], &device());
    let e = p
        .model
        .encode_image(px, &vladapt::models::clip::NoHook)
        .err()
        .unwrap();
    assert!(
        matches!(&e, VladaptError::Shape { what, actual, .. }
            if what == "pixel tensor" && *actual == format!("[1, 3, {}, {s}]", s + 1)),
        "{e:?}"
    );
}

#[test]
fn methods_refuse_wrong_class_counts_wrong_towers_and_wrong_call_order() {
    let p = tiny("tiny-openclip");
    let classes = names(&["cat", "dog"]);
    let set = |m: &mut Box<dyn vladapt::methods::AdaptMethod>, c: &[String]| {
        m.set_classes(&ClassSet {
            clip: &p.model,
            tokenizer: &p.tokenizer,
            classnames: c,
            template: "a photo of a {}.",
        })
    };
    let coop = build(
        &MethodConfig::Coop(CoopConfig::default()),
        &p.model,
        &p.tokenizer,
        &device(),
    )
    .unwrap();
    let feats = Tensor::<2>::zeros([1, p.model.config.projection_dim], &device());
    let e = coop.logits(&p.model, feats).unwrap_err();
    assert!(
        matches!(
            e,
            VladaptError::CallOrder {
                method: "coop",
                call: "set_classes"
            }
        ),
        "{e:?}"
    );
    let mut probe = build(
        &MethodConfig::LinearProbe(LinearProbeConfig::default()),
        &p.model,
        &p.tokenizer,
        &device(),
    )
    .unwrap();
    set(&mut probe, &classes).unwrap();
    let e = set(&mut probe, &names(&["cat", "dog", "bee"])).unwrap_err();
    assert!(
        matches!(
            e,
            VladaptError::ClassCount {
                trained: 2,
                given: 3,
                ..
            }
        ),
        "{e:?}"
    );
    let rn = tiny("tiny-openclip-rn");
    let e = build(
        &MethodConfig::Maple(MapleConfig::default()),
        &rn.model,
        &rn.tokenizer,
        &device(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, VladaptError::Unsupported { what, reason }
            if what == "maple" && reason.contains("ViT")),
        "{e:?}"
    );
}

#[test]
fn run_directories_in_the_way_or_without_a_checkpoint_are_run_dir_errors() {
    let cfg = vladapt::pretrain::model_preset("tiny").unwrap();
    let train = vladapt::pretrain::PretrainConfig::default();
    let run = tempfile::tempdir().unwrap();
    let none = run.path().join("no-data");
    let go = |resume| {
        vladapt::pretrain::pretrain(
            &cfg,
            &train,
            &none,
            run.path(),
            resume,
            &device(),
            &mut |_| {},
        )
        .err()
        .unwrap()
    };
    let e = go(true);
    assert!(
        matches!(&e, VladaptError::RunDir { dir, reason }
            if dir == run.path() && reason.contains("--resume")),
        "{e:?}"
    );
    std::fs::create_dir(run.path().join("checkpoint")).unwrap();
    let e = go(false);
    assert!(
        matches!(&e, VladaptError::RunDir { dir, reason }
            if dir == &run.path().join("checkpoint") && reason.contains("--resume")),
        "{e:?}"
    );
}

#[test]
fn checkpoints_with_foreign_tensors_and_broken_tokenizer_files_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("adapter.safetensors");
    let mut saved = vladapt::methods::Params::new();
    saved.push("a", &[2], vec![1.0, 2.0], &device());
    saved.push("stray", &[1], vec![3.0], &device());
    saved.save(&f).unwrap();
    let mut want = vladapt::methods::Params::new();
    want.push("a", &[2], vec![0.0, 0.0], &device());
    let e = want.load_values(&f, &device()).unwrap_err();
    assert!(
        matches!(&e, VladaptError::Checkpoint { source_name, reason }
            if *source_name == f.display().to_string() && reason.contains("\"stray\"")),
        "{e:?}"
    );
    // A model directory whose tokenizer file is not JSON: the tokenizer crate's error, typed.
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for e in std::fs::read_dir(fixtures().join("models/tiny-hf")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), model.join(e.file_name())).unwrap();
    }
    std::fs::write(model.join("vocab.json"), "{ not json").unwrap();
    let e = ClipPipeline::load(&model, &device()).err().unwrap();
    assert!(
        matches!(
            &e,
            VladaptError::TokenizerFile(vladapt_tokenizer::TokenizerError::Json { path, .. })
                if path == &model.join("vocab.json")
        ),
        "{e:?}"
    );
}

#[test]
fn grounding_runs_models_methods_and_devices_are_typed() {
    use vladapt::methods::grounding::GroundingMethodConfig;
    use vladapt::train::grounding::{check_run_dir, GroundingStart};
    let t = tempfile::tempdir().unwrap();
    // A directory with none of the model files is not a grounding model.
    let e = GroundingStart::from_model_dir(t.path()).err().unwrap();
    assert!(
        matches!(&e, VladaptError::NotAModel { kind: "grounding", dir, reason }
            if dir == t.path() && reason.contains("grounding_config.json is missing")),
        "{e:?}"
    );
    // A `ground train` run that stopped before its last epoch has no model.safetensors.
    let run = t.path().join("run");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    std::fs::write(run.join("run_config.json"), "{}").unwrap();
    let e = check_run_dir(&run).unwrap_err();
    assert!(
        matches!(&e, VladaptError::RunDir { dir, reason }
            if dir == &run && reason.contains("has not finished")
                && reason.contains("checkpoint/ holds its progress")),
        "{e:?}"
    );
    // An unknown grounding method lists the known ones.
    let e = GroundingMethodConfig::preset("transvgg").unwrap_err();
    assert!(
        matches!(&e, VladaptError::UnknownName { kind: "grounding method", name, known }
            if name == "transvgg" && known.iter().any(|k| k == "transvg")
                && known.iter().any(|k| k == "mmca-official")),
        "{e:?}"
    );
    // An unknown --device names the flag and the device.
    let e = vladapt::device::parse_device("tpu").unwrap_err();
    assert!(
        matches!(&e, VladaptError::Device { field, name, .. } if field == "--device" && name == "tpu"),
        "{e:?}"
    );
}
