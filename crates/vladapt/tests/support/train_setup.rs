//! Set-up shared by the training tests (training.rs, data_parallel_training.rs,
//! data_parallel_devices.rs, grounding_training.rs, data_parallel_grounding.rs): the generated
//! classification task and grounding world, the tiny CLIP and TransVG, the small-method
//! overrides, and reading back what a run wrote. Needs `mod common;` in the including crate.
#![allow(dead_code)]
use crate::common::fixtures;
use std::path::{Path, PathBuf};
use vladapt::methods::MethodKind;
use vladapt::models::clip::ClipPipeline;
use vladapt::models::grounding::pipeline::write_random_model;
use vladapt::models::grounding::GroundingConfig;
use vladapt::tensor::Device;
use vladapt_data::grounding::{load_world_grounding, GroundingSample};
use vladapt_data::{load_dataset, Dataset};

/// Host copies of named tensors: `(name, shape, values)`, as `ParamStore::to_host` gives them.
pub type Host = Vec<(String, Vec<usize>, Vec<f32>)>;

/// A generated task of `classes` classes, 32-px images: 4 training, 1 validation and
/// `test_per_class` test images per class (world seed 7).
pub fn tiny_task(dir: &Path, classes: usize, test_per_class: usize) -> Dataset {
    let spec = vladapt_world::TaskSpec {
        name: "tiny_task".into(),
        num_classes: classes,
        train_per_class: 4,
        val_per_class: 1,
        test_per_class,
        image_size: 32,
        supersample: 2,
        ..Default::default()
    };
    vladapt_world::generate_task(dir, 7, &spec).unwrap();
    load_dataset("vladapt", dir).unwrap()
}

/// The tiny Hugging Face-layout CLIP fixture on `device`.
pub fn tiny_clip(device: &Device) -> ClipPipeline {
    ClipPipeline::load(&fixtures().join("models/tiny-hf"), device).unwrap()
}

/// Overrides that shrink MaPLe (depth 3) and MMA (adapters from layer 3, width 8) to the tiny
/// CLIP's 4 layers; nothing for the other methods.
pub fn small_method_overrides(kind: MethodKind) -> Vec<String> {
    match kind {
        MethodKind::Maple => vec!["method.depth=3".into()],
        MethodKind::Mma => vec!["method.adapter_start=3".into(), "method.dim=8".into()],
        _ => vec![],
    }
}

/// A world of `n` 64-px images with 2–3 objects and their referring expressions (seed 5).
pub fn world(dir: &Path, n: usize) -> Vec<GroundingSample> {
    let opts = vladapt_world::WorldOptions {
        image_size: 64,
        min_objects: 2,
        max_objects: 3,
        supersample: 2,
        ..Default::default()
    };
    vladapt_world::generate_pretrain(dir, 5, n, &opts).unwrap();
    load_world_grounding(dir).unwrap()
}

/// The tiny TransVG preset on a 64² canvas (2×2 visual tokens), random weights of `seed`,
/// written to `dir`.
pub fn tiny_grounding_model(dir: &Path, seed: u64) -> PathBuf {
    let mut cfg = GroundingConfig::preset("tiny").unwrap();
    cfg.image_size = 64;
    cfg.max_query_len = 12;
    write_random_model(dir, &cfg, None, seed).unwrap();
    dir.to_path_buf()
}

/// `key` (e.g. `loss`) of every step record in the run's `metrics.jsonl`.
pub fn step_values(run: &Path, key: &str) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("step").is_some())
        .map(|v| v[key].as_f64().unwrap())
        .collect()
}

/// Largest |a − b| over all values, relative to the largest |a|; names and shapes must match.
pub fn rel_diff(a: &Host, b: &Host) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut diff, mut scale) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
        for (u, v) in x.2.iter().zip(&y.2) {
            diff = diff.max((*u as f64 - *v as f64).abs());
            scale = scale.max((*u as f64).abs());
        }
    }
    diff / scale.max(f64::MIN_POSITIVE)
}
