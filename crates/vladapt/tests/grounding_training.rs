//! Grounding on the shared trainer (spec `mmca.md` §6.3 check 4 and the bad inputs):
//! a tiny TransVG overfits a few world expressions (Acc@0.5 100 %, L1 + GIoU near 0), resume is
//! bit-identical, a diverging loss stops with the last checkpoint kept, a changed configuration
//! is refused, and bad samples are named.
mod common;
#[path = "support/train_setup.rs"]
mod train_setup;
use std::path::Path;
use train_setup::{tiny_grounding_model, world};
use vladapt::methods::grounding::GroundingMethodConfig;
use vladapt::models::grounding::GroundingConfig;
use vladapt::train::grounding::{load_trained, train_grounding, EncodedSet, GroundingStart};
use vladapt::train::grounding_config::GroundingRunConfig;
use vladapt::train::grounding_eval::{predict_boxes, score};
use vladapt::train::TrainOptions;
use vladapt_data::grounding::GroundingSample;

fn config(epochs: usize, batch: usize, lr: f64) -> GroundingRunConfig {
    let mut c = GroundingRunConfig::preset("tiny", GroundingMethodConfig::Transvg, 7).unwrap();
    c.apply_overrides(&[
        format!("train.epochs={epochs}"),
        format!("train.lr_drop={epochs}"),
        format!("train.batch_size={batch}"),
        format!("train.lr.rest={lr}"),
        format!("train.lr.visu_cnn={lr}"),
        format!("train.lr.visu_tra={lr}"),
        format!("train.lr.text={lr}"),
        "train.augment=false".into(),
    ])
    .unwrap();
    c
}

fn quiet() -> TrainOptions {
    TrainOptions {
        resume: true,
        progress: false,
        stop_after_epochs: None,
    }
}

fn dev() -> vladapt::tensor::Device {
    vladapt::device::default_device()
}

fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tiny_transvg_overfits_world_expressions() {
    let t = tempfile::tempdir().unwrap();
    let mut samples = world(&t.path().join("w"), 16);
    samples.truncate(32);
    assert!(samples.len() >= 24, "{} expressions", samples.len());
    let start =
        GroundingStart::from_model_dir(&tiny_grounding_model(&t.path().join("m"), 1)).unwrap();
    let data = EncodedSet::new(samples, &start.model, &start.tokenizer).unwrap();
    let run = t.path().join("run");
    let mut cfg = config(150, 8, 1e-3);
    cfg.train.lr_drop = 100;
    train_grounding(start, &cfg, &data, &run, &dev(), quiet()).unwrap();
    let m = metrics(&run);
    let ends: Vec<&serde_json::Value> = m.iter().filter(|v| v.get("epoch_end").is_some()).collect();
    let first = ends[0]["loss"].as_f64().unwrap();
    let last = ends.last().unwrap()["loss"].as_f64().unwrap();
    eprintln!("L1 + GIoU {first:.3} -> {last:.4}");
    // Evaluate the saved model directory (not the in-memory method) on the training samples.
    let trained = load_trained(&run, &dev()).unwrap();
    let pred = predict_boxes(&trained.method, &data, 64, &dev(), false).unwrap();
    let s = score("train", &pred, &data).unwrap();
    eprintln!("Acc@0.5 {:.1}% mIoU {:.1}%", s.acc_at_05, s.miou);
    assert!(last < 0.15 && last < first / 8.0, "loss {first} -> {last}");
    assert_eq!(s.acc_at_05, 100.0, "{s:?}");
}

/// MMCA (the corrected preset) sized for the tiny model: rank d/4, embedding d/2, gate d/8.
fn tiny_mmca() -> GroundingMethodConfig {
    let mut c = vladapt::methods::mmca_config::MmcaConfig::preset("mmca").unwrap();
    (c.rank, c.embed_dim, c.gate_hidden) = (8, 16, 4);
    GroundingMethodConfig::Mmca(c)
}

#[test]
fn resume_is_bit_identical_and_changed_configs_are_refused() {
    for method in [GroundingMethodConfig::Transvg, tiny_mmca()] {
        resume_case(method);
    }
}

/// MMCA runs with the official augmentation: its per-(seed, epoch, sample) streams must replay
/// on resume too.
fn resume_case(method: GroundingMethodConfig) {
    let t = tempfile::tempdir().unwrap();
    let samples = world(&t.path().join("w"), 6);
    let mdir = tiny_grounding_model(&t.path().join("m"), 2);
    let mut cfg = config(3, 4, 1e-3);
    cfg.train.augment = !matches!(method, GroundingMethodConfig::Transvg);
    cfg.method = method;
    let run = |dir: &Path, cfg: &GroundingRunConfig, stop: Option<usize>| {
        let start = GroundingStart::from_model_dir(&mdir).unwrap();
        let data = EncodedSet::new(samples.clone(), &start.model, &start.tokenizer).unwrap();
        train_grounding(
            start,
            cfg,
            &data,
            dir,
            &dev(),
            TrainOptions {
                stop_after_epochs: stop,
                ..quiet()
            },
        )
        .map(|_| ())
    };
    let a = t.path().join("a");
    run(&a, &cfg, None).unwrap();
    let b = t.path().join("b");
    let e = run(&b, &cfg, Some(1)).unwrap_err().to_string();
    assert!(e.contains("stopped after 1 epoch"), "{e}");
    assert!(!b.join("model.safetensors").exists());
    // A different configuration on the interrupted run is refused, naming the key.
    let mut other = cfg.clone();
    other.train.lr.rest = 5e-4;
    let e = run(&b, &other, None).unwrap_err().to_string();
    assert!(
        e.contains("different configuration") && e.contains("train.lr.rest"),
        "{e}"
    );
    run(&b, &cfg, None).unwrap();
    let fa = std::fs::read(a.join("model.safetensors")).unwrap();
    let fb = std::fs::read(b.join("model.safetensors")).unwrap();
    assert_eq!(fa, fb, "resumed run differs from the uninterrupted one");
    // Training changed the weights.
    assert_ne!(fa, std::fs::read(mdir.join("model.safetensors")).unwrap());
    // Each step is logged once in metrics.jsonl despite the interruption.
    let steps: Vec<u64> = metrics(&b)
        .iter()
        .filter_map(|v| v.get("step").and_then(|s| s.as_u64()))
        .collect();
    let want: Vec<u64> = (1..=steps.len() as u64).collect();
    assert_eq!(steps, want);
}

#[test]
fn diverging_loss_names_epoch_and_step_and_keeps_the_checkpoint() {
    let t = tempfile::tempdir().unwrap();
    let samples = world(&t.path().join("w"), 4);
    let start =
        GroundingStart::from_model_dir(&tiny_grounding_model(&t.path().join("m"), 3)).unwrap();
    let data = EncodedSet::new(samples, &start.model, &start.tokenizer).unwrap();
    // One step per epoch; lr 1e30 blows the weights up after the first step.
    let cfg = config(4, 64, 1e30);
    let run = t.path().join("nan");
    let e = train_grounding(start, &cfg, &data, &run, &dev(), quiet())
        .err()
        .expect("training must fail")
        .to_string();
    assert!(
        e.contains("loss is NaN") || e.contains("loss is inf"),
        "{e}"
    );
    assert!(e.contains("at epoch 2/4, step 1/1"), "{e}");
    assert!(e.contains("last good checkpoint (after epoch 1/4)"), "{e}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["epochs_done"], 1);
    assert!(!run.join("model.safetensors").exists());
}

#[test]
fn bad_samples_are_named() {
    let t = tempfile::tempdir().unwrap();
    let samples = world(&t.path().join("w"), 3);
    let start =
        GroundingStart::from_model_dir(&tiny_grounding_model(&t.path().join("m"), 4)).unwrap();
    let enc = |s: Vec<GroundingSample>| {
        EncodedSet::new(s, &start.model, &start.tokenizer)
            .err()
            .expect("must be refused")
            .to_string()
    };
    let mut s = samples.clone();
    s[1].bbox = [10.0, 10.0, 10.0, 30.0];
    let e = enc(s);
    assert!(e.contains("sample 1") && e.contains("zero area"), "{e}");
    let mut s = samples.clone();
    s[2].expression = "  ".into();
    let e = enc(s);
    assert!(e.contains("sample 2") && e.contains("empty"), "{e}");
    let mut s = samples.clone();
    s[0].image = t.path().join("w/images/missing.png");
    let e = enc(s);
    assert!(e.contains("missing.png"), "{e}");
    let mut s = samples.clone();
    s[0].bbox = [0.0, 0.0, 80.0, 20.0];
    let e = enc(s);
    assert!(e.contains("sample 0") && e.contains("outside"), "{e}");
    let mut s = samples;
    s[0].size = (64, 80);
    let e = enc(s);
    assert!(e.contains("sample 0") && e.contains("64×64"), "{e}");
}

#[test]
fn official_start_from_detr_and_bert_files_trains() {
    // The DETR and BERT fixtures of the parity tests (transformers' naming), assembled with a
    // fresh fusion and head into the fixture TransVG's shape.
    let g = common::fixtures().join("grounding");
    let mut cfg = GroundingConfig::from_json_file(&g.join("transvg/config.json")).unwrap();
    cfg.resnet.layers = [1, 1, 2, 1];
    let start = GroundingStart::from_detr_bert(
        cfg.clone(),
        &g.join("detr/model.safetensors"),
        &g.join("bert/model.safetensors"),
        Some(&g.join("transvg-pth/vocab.txt")),
        9,
        &dev(),
    )
    .unwrap();
    let tensors = start.weights.materialise(&dev()).unwrap();
    let get = |n: &str| {
        let (_, _, t) = tensors
            .iter()
            .find(|(k, _, _)| k == n)
            .unwrap_or_else(|| panic!("{n}"));
        vladapt::tensor_io::to_vec_f32(t)
    };
    // DETR's and BERT's tensors arrive unchanged under the TransVG names.
    let detr = vladapt::models::grounding::Weights::open(
        &g.join("detr/model.safetensors"),
        vladapt::models::grounding::Layout::Detr,
    )
    .unwrap();
    let d = detr.materialise(&dev()).unwrap();
    let (n0, _, t0) = d
        .iter()
        .find(|(n, _, _)| n.contains("encoder.layers.1.linear2.weight"))
        .unwrap();
    assert_eq!(
        get(&format!("visumodel.{n0}")),
        vladapt::tensor_io::to_vec_f32(t0)
    );
    // §1.4 init: LayerNorm 1/0, attention biases 0, xavier bound on fusion matrices, N(0,1) [REG].
    assert!(get("vl_transformer.encoder.layers.0.norm1.weight")
        .iter()
        .all(|&v| v == 1.0));
    assert!(
        get("vl_transformer.encoder.layers.0.self_attn.in_proj_bias")
            .iter()
            .all(|&v| v == 0.0)
    );
    let bound = (6.0f32 / (32.0 + 96.0)).sqrt();
    let w = get("vl_transformer.encoder.layers.0.self_attn.in_proj_weight");
    assert!(w.iter().all(|v| v.abs() <= bound) && w.iter().any(|v| v.abs() > bound / 2.0));
    let pos = get("vl_pos_embed.weight");
    let var = pos.iter().map(|v| v * v).sum::<f32>() / pos.len() as f32;
    assert!((0.7..1.3).contains(&var), "vl_pos_embed variance {var}");
    // It trains on world expressions (64-px images on the 96² canvas).
    let t = tempfile::tempdir().unwrap();
    let samples = world(&t.path().join("w"), 3);
    let data = EncodedSet::new(samples, &start.model, &start.tokenizer).unwrap();
    let run = t.path().join("run");
    train_grounding(start, &config(1, 4, 1e-4), &data, &run, &dev(), quiet()).unwrap();
    assert!(run.join("model.safetensors").is_file());
}
