//! End-to-end training on the tiny CLIP and a small generated task: every method learns its
//! training batch, resume is bit-identical, divergence keeps the last checkpoint, and adapters
//! reload only onto their base model.
mod common;
use common::fixtures;
#[path = "support/train_setup.rs"]
mod train_setup;
use std::path::Path;
use train_setup::{small_method_overrides, step_values, tiny_clip, tiny_task};
use vladapt::methods::MethodKind;
use vladapt::models::clip::ClipPipeline;
use vladapt::protocols::{run_one, RunSpec};
use vladapt::train::{train, Protocol, RunConfig, TrainData, TrainOptions};

/// Config for a fast run: no augmentation, few epochs, constant lr.
fn quick(kind: MethodKind, epochs: usize, lr: f64) -> RunConfig {
    let mut c = RunConfig::preset(kind, Protocol::FewShot, 2, 3);
    let mut sets = vec![
        format!("train.schedule.max_epoch={epochs}"),
        format!("train.schedule.base_lr={lr}"),
        "train.schedule.warmup_epochs=0".into(),
        "train.schedule.kind=\"constant\"".into(),
        "train.augment=false".into(),
        "train.batch_size=4".into(),
        "train.cache_views=0".into(),
    ];
    sets.extend(small_method_overrides(kind));
    c.apply_overrides(&sets).unwrap();
    c
}

fn first_loss_and_last_loss(run: &Path) -> (f64, f64) {
    let losses = step_values(run, "loss");
    (losses[0], *losses.last().unwrap())
}

#[test]
fn every_trainable_method_overfits_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 3);
    let p = tiny_clip(&vladapt::device::default_device());
    // One batch: the first training image of each class, the same batch every step.
    let train_set: Vec<_> = (0..3)
        .map(|c| {
            ds.split
                .train
                .iter()
                .find(|s| s.label == c)
                .unwrap()
                .clone()
        })
        .collect();
    for (kind, lr) in [
        (MethodKind::Coop, 0.05),
        (MethodKind::Cocoop, 0.01),
        (MethodKind::ClipAdapter, 0.5),
        (MethodKind::Maple, 0.05),
        (MethodKind::Mma, 0.002),
    ] {
        let run = tmp.path().join(kind.name());
        let cfg = quick(kind, 100, lr);
        let data = TrainData {
            dataset: "tiny_task",
            classnames: &ds.classnames,
            template: &ds.template,
            train: &train_set,
            val: &[],
        };
        train(
            &p,
            &cfg,
            &data,
            &run,
            TrainOptions {
                progress: false,
                ..Default::default()
            },
        )
        .unwrap();
        let (first, last) = first_loss_and_last_loss(&run);
        eprintln!("{kind}: loss {first:.3} -> {last:.4}");
        assert!(
            last < 0.05 && last < first / 20.0,
            "{kind}: loss {first} -> {last} did not fall to near zero"
        );
        assert!(
            run.join("adapter.safetensors").is_file() && run.join("adapter_config.json").is_file()
        );
    }
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 3);
    let p = tiny_clip(&vladapt::device::default_device());
    let mut cfg = quick(MethodKind::Coop, 3, 0.01);
    cfg.apply_overrides(&[
        "train.augment=true".into(),
        "train.batch_size=2".into(),
        "train.schedule.kind=\"cosine\"".into(),
    ])
    .unwrap();
    let data = TrainData {
        dataset: "tiny_task",
        classnames: &ds.classnames,
        template: &ds.template,
        train: &ds.split.train,
        val: &[],
    };
    let a = tmp.path().join("a");
    train(
        &p,
        &cfg,
        &data,
        &a,
        TrainOptions {
            progress: false,
            ..Default::default()
        },
    )
    .unwrap();
    let b = tmp.path().join("b");
    let err = train(
        &p,
        &cfg,
        &data,
        &b,
        TrainOptions {
            progress: false,
            resume: true,
            stop_after_epochs: Some(1),
        },
    );
    assert!(
        err.is_err(),
        "the interrupted run must report it stopped early"
    );
    assert!(!b.join("adapter.safetensors").exists());
    train(
        &p,
        &cfg,
        &data,
        &b,
        TrainOptions {
            progress: false,
            resume: true,
            stop_after_epochs: None,
        },
    )
    .unwrap();
    let fa = std::fs::read(a.join("adapter.safetensors")).unwrap();
    let fb = std::fs::read(b.join("adapter.safetensors")).unwrap();
    assert_eq!(fa, fb, "resumed run differs from the uninterrupted one");
    // The cheap part of the check: training did change the context.
    let init = tmp.path().join("init");
    let mut c0 = cfg.clone();
    // Zero epochs (the initial adapter): refused from the command line, set directly here.
    c0.train.schedule.max_epoch = 0;
    train(
        &p,
        &c0,
        &data,
        &init,
        TrainOptions {
            progress: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(std::fs::read(init.join("adapter.safetensors")).unwrap(), fa);
}

#[test]
fn diverging_loss_stops_with_a_clear_error_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 3);
    let p = tiny_clip(&vladapt::device::default_device());
    let data = TrainData {
        dataset: "tiny_task",
        classnames: &ds.classnames,
        template: &ds.template,
        train: &ds.split.train,
        val: &[],
    };
    // Epoch 0 at a sane lr; from epoch 1 on a huge lr blows the adapter up.
    let mut cfg = quick(MethodKind::ClipAdapter, 4, 1e30);
    cfg.apply_overrides(&[
        "train.schedule.warmup_epochs=1".into(),
        "train.schedule.warmup_lr=0.001".into(),
    ])
    .unwrap();
    let run = tmp.path().join("nan");
    let err = train(
        &p,
        &cfg,
        &data,
        &run,
        TrainOptions {
            progress: false,
            ..Default::default()
        },
    )
    .err()
    .expect("training must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("diverged") && msg.contains("checkpoint"),
        "{msg}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap())
            .unwrap();
    assert!(state["epochs_done"].as_u64().unwrap() >= 1);
}

#[test]
fn base_to_novel_run_writes_results_and_adapters_check_their_base_model() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 4, 3);
    let p = tiny_clip(&vladapt::device::default_device());
    let mut cfg = quick(MethodKind::Mma, 2, 0.001);
    cfg.protocol = Protocol::Base2novel;
    let out = tmp.path().join("b2n");
    let spec = RunSpec {
        config: cfg,
        output: out.clone(),
        split_file: None,
        allow_fewer: false,
        max_test: None,
        progress: false,
    };
    let r = run_one(&p, &ds, &spec).unwrap();
    // Base = first ceil(4/2) = 2 classes, 3 test images each; novel the other 2.
    assert_eq!(r.base.count, 6);
    assert_eq!(r.novel.as_ref().unwrap().count, 6);
    let (b, n) = (r.base.accuracy, r.novel.as_ref().unwrap().accuracy);
    assert!(
        (r.hm.unwrap()
            - if b + n > 0.0 {
                2.0 * b * n / (b + n)
            } else {
                0.0
            })
        .abs()
            < 1e-9
    );
    assert!(
        out.join("results.json").is_file()
            && out.join("split.json").is_file()
            && out.join("log.txt").is_file()
    );
    // The adapter refuses another base model (the OpenCLIP tiny model has other weights).
    let other = ClipPipeline::load(
        &fixtures().join("models/tiny-openclip"),
        &vladapt::device::default_device(),
    )
    .unwrap();
    let err = vladapt::train::run_dir::load_adapter(&out, &other)
        .err()
        .expect("must refuse")
        .to_string();
    assert!(err.contains("fingerprint"), "{err}");
    vladapt::train::run_dir::load_adapter(&out, &p).unwrap();
    // Re-running skips the finished run and returns the same numbers.
    let again = run_one(
        &p,
        &ds,
        &RunSpec {
            config: spec.config.clone(),
            output: out.clone(),
            split_file: None,
            allow_fewer: false,
            max_test: None,
            progress: false,
        },
    )
    .unwrap();
    assert_eq!(again.base.accuracy, b);
}

#[test]
fn few_shot_curve_and_transfer_protocols_write_their_results() {
    use vladapt::protocols::suite::{few_shot_curve, transfer, SuiteOptions};
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 3);
    let other = tiny_task(&tmp.path().join("data2"), 2, 3);
    let p = tiny_clip(&vladapt::device::default_device());
    let out = tmp.path().join("fs");
    let o = SuiteOptions {
        output: &out,
        max_test: None,
        allow_fewer: false,
        progress: false,
    };
    let cfg = |m: MethodKind, k: usize, s: u64| -> vladapt::Result<RunConfig> {
        let mut c = quick(m, 1, 0.01);
        c.shots = k;
        c.seed = s;
        Ok(c)
    };
    let curve = few_shot_curve(&p, &ds, MethodKind::Coop, &[1, 2], &[1, 2], &cfg, &o).unwrap();
    assert_eq!(curve.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2]);
    // Mean and std recomputed from the per-run results.json files.
    for &(k, mean, std) in &curve {
        let accs: Vec<f64> = [1, 2]
            .iter()
            .map(|s| {
                let r: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(
                        out.join(format!("coop/shots{k}_seed{s}/results.json")),
                    )
                    .unwrap(),
                )
                .unwrap();
                r["base"]["accuracy"].as_f64().unwrap()
            })
            .collect();
        let m = (accs[0] + accs[1]) / 2.0;
        assert!((mean - m).abs() < 1e-9 && (std - (accs[0] - m).abs()).abs() < 1e-9);
    }
    assert!(out.join("few_shot.png").is_file() && out.join("results.md").is_file());
    assert!(out.join("few_shot.svg").is_file());
    // Transfer: the source run plus one row per target, evaluated with the target's classes.
    let xd = tmp.path().join("xd");
    let o = SuiteOptions {
        output: &xd,
        max_test: None,
        allow_fewer: false,
        progress: false,
    };
    let rows = transfer(
        &p,
        &ds,
        std::slice::from_ref(&other),
        quick(MethodKind::Coop, 1, 0.01),
        &o,
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].0, other.name);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(xd.join("results.json")).unwrap()).unwrap();
    assert!((r["targets_mean"].as_f64().unwrap() - rows[1].1).abs() < 1e-9);
}
