//! The grounding trainer with data parallelism (TransVG and MMCA): the same seeded run — batches
//! of 3 split 2 + 1, the official augmentation drawn once per batch and then split — on one
//! replica, on two replicas of one device, and on two distinct burn devices (Flex + NdArray,
//! `ndarray` enabled for test builds only) ends with the same parameters within float
//! tolerance; the NdArray replica's tensors live on NdArray.
mod common;
#[path = "support/train_setup.rs"]
mod train_setup;
use std::path::Path;
use train_setup::{rel_diff, step_values, tiny_grounding_model, world, Host};
use vladapt::methods::grounding::{GroundingMethod, GroundingMethodConfig};
use vladapt::tensor::Device;
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::grounding::{train_grounding, EncodedSet, GroundingStart};
use vladapt::train::grounding_config::GroundingRunConfig;
use vladapt::train::TrainOptions;

/// TransVG, or MMCA with adapters sized as `vladapt ground train --method mmca` sizes them.
fn method(name: &str, d: usize) -> GroundingMethodConfig {
    match GroundingMethodConfig::preset(name).unwrap() {
        GroundingMethodConfig::Mmca(mut c) => {
            c.rank = (d / 4).max(1);
            c.embed_dim = (d / 2).max(1);
            c.gate_hidden = (d / 8).max(1);
            c.init_seed = 3;
            GroundingMethodConfig::Mmca(c)
        }
        other => other,
    }
}

fn config(m: GroundingMethodConfig, epochs: usize, extra: &[&str]) -> GroundingRunConfig {
    let mut c = GroundingRunConfig::preset("tiny", m, 7).unwrap();
    let mut sets = vec![
        format!("train.epochs={epochs}"),
        format!("train.lr_drop={epochs}"),
        "train.batch_size=3".to_string(),
        // The official augmentation: drawn once per batch on the master, then split.
        "train.augment=true".to_string(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    c.apply_overrides(&sets).unwrap();
    c
}

/// `(loss, grad_norm)` of every step in `metrics.jsonl`.
fn steps(run: &Path) -> Vec<(f64, f64)> {
    let losses = step_values(run, "loss");
    losses
        .into_iter()
        .zip(step_values(run, "grad_norm"))
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(1e-12)
}

#[test]
fn transvg_and_mmca_train_alike_on_one_device_two_replicas_and_two_devices() {
    let t = tempfile::tempdir().unwrap();
    let mut samples = world(&t.path().join("w"), 3);
    samples.truncate(6);
    assert_eq!(samples.len(), 6);
    let mdir = tiny_grounding_model(&t.path().join("m"), 1);
    let d_model = GroundingStart::from_model_dir(&mdir)
        .unwrap()
        .model
        .detr
        .d_model;
    let dev = Device::flex();
    for name in ["transvg", "mmca"] {
        let run = |tag: &str, epochs: usize, extra: &[&str]| -> (Host, String, Vec<(f64, f64)>) {
            let start = GroundingStart::from_model_dir(&mdir).unwrap();
            let data = EncodedSet::new(samples.clone(), &start.model, &start.tokenizer).unwrap();
            let dir = t.path().join(format!("{name}-{tag}"));
            let cfg = config(method(name, d_model), epochs, extra);
            let opts = TrainOptions {
                resume: false,
                progress: false,
                stop_after_epochs: None,
            };
            let m = train_grounding(start, &cfg, &data, &dir, &dev, opts).unwrap();
            let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
            (m.params().to_host(), log, steps(&dir))
        };
        let (one, _, s1) = run("one", 2, &[]);
        let (two, log2, s2) = run("two", 2, &["train.data_parallel=2"]);
        let (nd, log_nd, sn) = run("flex-ndarray", 2, &["train.devices=[\"cpu\", \"ndarray\"]"]);
        let start = GroundingStart::from_model_dir(&mdir).unwrap();
        let init = GroundingMethod::new(&start.model, &start.weights, method(name, d_model), &dev)
            .unwrap()
            .params()
            .to_host();
        assert!(log2.contains("data parallel: 2 replicas"), "{log2}");
        assert!(log_nd.contains("NdArray"), "{log_nd}");
        let moved = rel_diff(&one, &init);
        let d2 = rel_diff(&one, &two);
        let dn = rel_diff(&one, &nd);
        eprintln!(
            "{name}: training moved the parameters by {moved:.3e}; 2 replicas vs 1: {d2:.3e}; flex+ndarray vs 1: {dn:.3e}"
        );
        assert!(moved > 1e-4, "{name}: training did not move the parameters");
        // 6 expressions in batches of 3: 2 steps per epoch.
        assert_eq!((s1.len(), s2.len(), sn.len()), (4, 4, 4));
        for (tag, s) in [("2 replicas", &s2), ("flex+ndarray", &sn)] {
            for (k, (a, b)) in s1.iter().zip(s.iter()).enumerate() {
                let (dl, dg) = (rel(a.0, b.0), rel(a.1, b.1));
                eprintln!("{name} {tag}: step {k} loss {:.7} vs {:.7} ({dl:.1e}), grad norm {:.6e} vs {:.6e} ({dg:.1e})", a.0, b.0, a.1, b.1);
                // Step 0 sees the same parameters and batch: the loss and the whole gradient
                // (through its norm) agree up to summation order.
                if k == 0 {
                    assert!(dl <= 1e-6, "{name} {tag}: step 0 loss {} vs {}", a.0, b.0);
                    assert!(
                        dg <= 1e-5,
                        "{name} {tag}: step 0 gradient norm {} vs {}",
                        a.1,
                        b.1
                    );
                }
                assert!(dl <= 1e-4, "{name} {tag}: step {k} loss {} vs {}", a.0, b.0);
            }
        }
        // AdamW divides by √v: components whose gradient is ~0 move by ~lr in a direction set by
        // rounding noise, so the final parameters agree to a fraction of lr (3e-4) only.
        assert!(d2 <= 1e-3, "{name}: 2 replicas differ from 1 by {d2:e}");
        assert!(
            dn <= 1e-3,
            "{name}: flex+ndarray differs from 1 device by {dn:e}"
        );
    }
}

#[test]
fn a_grounding_method_moved_to_ndarray_lives_there_and_predicts_the_same_boxes() {
    let t = tempfile::tempdir().unwrap();
    let samples = world(&t.path().join("w"), 2);
    let mdir = tiny_grounding_model(&t.path().join("m"), 2);
    let start = GroundingStart::from_model_dir(&mdir).unwrap();
    let d = start.model.detr.d_model;
    let data = EncodedSet::new(samples, &start.model, &start.tokenizer).unwrap();
    #[allow(deprecated)] // burn-ndarray: the second distinct CPU device, for this test only
    let nd = Device::ndarray();
    for name in ["transvg", "mmca"] {
        let m = GroundingMethod::new(
            &start.model,
            &start.weights,
            method(name, d),
            &Device::flex(),
        )
        .unwrap();
        let m_nd = m.to_device(&nd);
        assert!(
            m_nd.frozen().iter().all(|(_, _, t)| t.device() == nd),
            "{name}"
        );
        assert!(
            m_nd.params()
                .entries()
                .iter()
                .all(|e| e.value.device() == nd),
            "{name}"
        );
        let idx: Vec<usize> = (0..data.len().min(4)).collect();
        let (b, _) = data.batch(&idx, &Device::flex());
        let (b_nd, _) = data.batch(&idx, &nd);
        let p = to_vec_f32(&m.forward(&b).unwrap());
        let q = m_nd.forward(&b_nd).unwrap();
        assert_eq!(q.device(), nd);
        let q = to_vec_f32(&q);
        let diff = p
            .iter()
            .zip(&q)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: boxes NdArray vs Flex {diff:.2e}");
        assert!(diff < 1e-4, "{name}: boxes differ by {diff}");
    }
}
