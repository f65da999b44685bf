//! One training run under a protocol, evaluated as the papers do.
use crate::methods::{ClassSet, MethodKind};
use crate::models::clip::ClipPipeline;

use crate::train::run_dir::RunLog;
use crate::train::{evaluate, train, EvalResult, Protocol, RunConfig, TrainData, TrainOptions};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vladapt_data::metrics::harmonic_mean;
use vladapt_data::{base_novel, filter_to_base, Dataset, FewShotSplit};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Resolved run configuration (method, optimiser, protocol, shots, seed).
    pub config: RunConfig,
    /// Output directory.
    pub output: PathBuf,
    /// Reuse a saved few-shot split instead of sampling.
    pub split_file: Option<PathBuf>,
    /// Allow classes with fewer than K training images.
    pub allow_fewer: bool,
    /// Evaluate at most this many test images per split (quick runs; `None` = all).
    pub max_test: Option<usize>,
    /// Progress bars.
    pub progress: bool,
}

/// Results of one run (`results.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Method.
    pub method: MethodKind,
    /// Dataset name.
    pub dataset: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Shots.
    pub shots: usize,
    /// Seed.
    pub seed: u64,
    /// Few-shot: accuracy on all classes. Base-to-novel: base accuracy among base classes.
    pub base: EvalResult,
    /// Base-to-novel: novel accuracy among novel classes (`None` when the method cannot
    /// classify unseen classes, e.g. the linear probe or class-specific CoOp).
    pub novel: Option<EvalResult>,
    /// Harmonic mean of base and novel accuracy.
    pub hm: Option<f64>,
    /// Seconds spent training.
    pub train_seconds: f64,
}

fn subsample(samples: &[vladapt_data::Sample], max: Option<usize>) -> Vec<vladapt_data::Sample> {
    match max {
        Some(m) if samples.len() > m => {
            // Deterministic stride keeps the class balance of the original order.
            let step = samples.len() as f64 / m as f64;
            (0..m)
                .map(|i| samples[(i as f64 * step) as usize].clone())
                .collect()
        }
        _ => samples.to_vec(),
    }
}

/// A finished run in `out` is reused only when it was made with the same resolved
/// configuration, base model and dataset; otherwise its old result would be reported as the
/// answer to a different question.
fn check_same_run(
    out: &Path,
    cfg: &crate::train::RunConfig,
    clip: &crate::models::clip::ClipModel,
    dataset: &str,
) -> Result<()> {
    let how = "use another --output for the new run, or pass --overwrite to replace this one";
    let cfg_path = out.join("run_config.json");
    let old: Option<crate::train::RunConfig> = std::fs::read_to_string(&cfg_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    match old {
        Some(old) if old == *cfg => {}
        Some(old) => {
            let diff = config_diff(&old, cfg);
            return Err(VladaptError::config(
                &cfg_path,
                format!("{} holds a finished run with a different configuration ({diff}); {how}", out.display()),
            ));
        }
        None => {
            return Err(VladaptError::config(
                &cfg_path,
                format!("{} holds results.json but no readable run_config.json, so it cannot be matched to this run; {how}", out.display()),
            ))
        }
    }
    if out.join("adapter_config.json").is_file() {
        let ac = crate::train::run_dir::AdapterConfig::load(out)?;
        ac.check_base(clip, out).map_err(|e| VladaptError::RunDir {
            dir: out.to_path_buf(),
            reason: format!("holds a finished run on another base model: {e}; {how}"),
        })?;
        if ac.dataset != dataset {
            return Err(VladaptError::RunDir {
                dir: out.to_path_buf(),
                reason: format!(
                    "holds a finished run on dataset {}, not {dataset}; {how}",
                    ac.dataset
                ),
            });
        }
    }
    Ok(())
}

/// `key: old → new` for the leaves that differ between two configurations (at most 5).
pub fn config_diff<T: Serialize>(old: &T, new: &T) -> String {
    fn walk(p: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                let null = serde_json::Value::Null;
                for k in keys {
                    let key = if p.is_empty() {
                        k.clone()
                    } else {
                        format!("{p}.{k}")
                    };
                    walk(
                        &key,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => out.push(format!("{p}: {a} → {b}")),
            _ => {}
        }
    }
    let (a, b) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    let mut out = Vec::new();
    walk("", &a, &b, &mut out);
    let n = out.len();
    out.truncate(5);
    if n > 5 {
        out.push(format!("and {} more", n - 5));
    }
    out.join(", ")
}

/// Run `spec` on `dataset` (already loaded). Skips and returns the saved result when
/// `results.json` exists.
pub fn run_one(pipe: &ClipPipeline, dataset: &Dataset, spec: &RunSpec) -> Result<RunResult> {
    let out = &spec.output;
    let res_path = out.join("results.json");
    if res_path.is_file() {
        let text =
            std::fs::read_to_string(&res_path).map_err(|e| VladaptError::io(&res_path, e))?;
        if let Ok(r) = serde_json::from_str::<RunResult>(&text) {
            check_same_run(out, &spec.config, &pipe.model, &dataset.name)?;
            tracing::info!("{}: already finished, skipping", out.display());
            return Ok(r);
        }
    }
    std::fs::create_dir_all(out).map_err(|e| VladaptError::io(out, e))?;
    let cfg = &spec.config;
    let log = RunLog::open(out)?;
    // Few-shot sampling happens on the full train split, before base/novel filtering.
    let split = match &spec.split_file {
        Some(p) => {
            let s = FewShotSplit::load(p)?;
            s.check_matches(dataset, p)?;
            s
        }
        None => FewShotSplit::sample(dataset, cfg.shots, cfg.seed, spec.allow_fewer)?,
    };
    split.save(&out.join("split.json"))?;
    log.info(format!(
        "few-shot split: {} train / {} val images ({} shots, seed {}) saved to split.json",
        split.train.len(),
        split.val.len(),
        cfg.shots,
        cfg.seed
    ));
    let val_all = split.val_samples(dataset).to_vec();
    let (train_set, val_set, train_ds, novel_ds) = match cfg.protocol {
        Protocol::FewShot => (split.train.clone(), val_all, dataset.clone(), None),
        Protocol::Base2novel => {
            let (base, novel) = base_novel(dataset);
            let n = dataset.num_classes();
            (
                filter_to_base(&split.train, n),
                filter_to_base(&val_all, n),
                base,
                Some(novel),
            )
        }
    };
    let t0 = std::time::Instant::now();
    let data = TrainData {
        dataset: &dataset.name,
        classnames: &train_ds.classnames,
        template: &train_ds.template,
        train: &train_set,
        val: &val_set,
    };
    let mut method = train(
        pipe,
        cfg,
        &data,
        out,
        TrainOptions {
            resume: true,
            progress: spec.progress,
            stop_after_epochs: None,
        },
    )?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let eb = cfg.train.eval_batch_size;
    let base = evaluate(
        method.as_ref(),
        pipe,
        &subsample(&train_ds.split.test, spec.max_test),
        &train_ds.classnames,
        eb,
        spec.progress,
    )?;
    log.info(format!(
        "{} accuracy: {:.2}% on {} images",
        if novel_ds.is_some() { "base" } else { "test" },
        base.accuracy,
        base.count
    ));
    let novel = match &novel_ds {
        Some(nd) => {
            let classes = ClassSet {
                clip: &pipe.model,
                tokenizer: &pipe.tokenizer,
                classnames: &nd.classnames,
                template: &nd.template,
            };
            match method.set_classes(&classes) {
                Ok(()) => {
                    method.freeze_for_inference(&pipe.model)?;
                    let r = evaluate(
                        method.as_ref(),
                        pipe,
                        &subsample(&nd.split.test, spec.max_test),
                        &nd.classnames,
                        eb,
                        spec.progress,
                    )?;
                    log.info(format!(
                        "novel accuracy: {:.2}% on {} images",
                        r.accuracy, r.count
                    ));
                    Some(r)
                }
                Err(e) => {
                    log.info(format!("novel classes cannot be evaluated: {e}"));
                    None
                }
            }
        }
        None => None,
    };
    let hm = novel
        .as_ref()
        .map(|n| harmonic_mean(base.accuracy, n.accuracy));
    let result = RunResult {
        method: cfg.method.kind(),
        dataset: dataset.name.clone(),
        protocol: cfg.protocol,
        shots: cfg.shots,
        seed: cfg.seed,
        base,
        novel,
        hm,
        train_seconds,
    };
    // The heat map is a by-product: a failure to draw it does not fail the run.
    let cm = &result.base.confusion;
    if let Err(e) = vladapt_plot::write_png_and_svg(&out.join("confusion.png"), |p| {
        vladapt_plot::heatmap(
            p,
            &format!("{} {}", result.method, dataset.name),
            &cm.normalised(),
            &cm.labels,
        )
    }) {
        tracing::warn!("confusion heat map not written: {e}");
    }
    crate::io::write_json_atomic(&res_path, &result)?;
    Ok(result)
}

/// `dir/<method>/seed<seed>` for a protocol's sub-runs.
pub fn run_dir(root: &Path, method: MethodKind, shots: usize, seed: u64) -> PathBuf {
    root.join(method.name())
        .join(format!("shots{shots}_seed{seed}"))
}

#[cfg(test)]
mod diff_tests {
    use crate::methods::MethodKind;
    use crate::train::{Protocol, RunConfig};

    #[test]
    fn config_diff_names_the_changed_keys() {
        let a = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1);
        let mut b = a.clone();
        b.seed = 2;
        b.train.batch_size = 8;
        let d = super::config_diff(&a, &b);
        assert!(d.contains("seed: 1 → 2"), "{d}");
        assert!(
            d.contains("train.batch_size: 32 → 8") || d.contains("train.batch_size"),
            "{d}"
        );
        assert_eq!(super::config_diff(&a, &a), "");
    }
}
