//! A run directory: `run_config.json`, `log.txt`, `metrics.jsonl`, `checkpoint/` (resumable
//! state, replaced atomically) and the final adapter (`adapter.safetensors` +
//! `adapter_config.json`, PEFT-style: only trainable tensors).
use super::config::RunConfig;
use super::optim::Optimizer;
use crate::io::{complete_dir, write_dir_atomic, write_json_atomic};
use crate::methods::{MethodConfig, Params};
use crate::models::clip::ClipModel;
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, write_atomic, SafetensorsFile};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Appends human-readable lines to `log.txt` (mirrored to `tracing`) and JSON lines to
/// `metrics.jsonl`.
pub struct RunLog {
    dir: PathBuf,
    log: Mutex<std::fs::File>,
    metrics: Mutex<std::fs::File>,
}

impl RunLog {
    /// Open (append) the logs of `dir`, creating it.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| VladaptError::io(dir, e))?;
        let open = |name: &str| {
            let p = dir.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| VladaptError::io(p, e))
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            log: Mutex::new(open("log.txt")?),
            metrics: Mutex::new(open("metrics.jsonl")?),
        })
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Log a line (info level) to stderr via tracing and to `log.txt`.
    pub fn info(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        tracing::info!("{msg}");
        if let Ok(mut f) = self.log.lock() {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let _ = writeln!(f, "[{secs}] {msg}");
        }
    }

    /// Drop the `metrics.jsonl` lines of epochs `>= epoch` (keys `epoch` / `epoch_end`), so that
    /// a run resumed from the checkpoint after `epoch` epochs logs each step once however often
    /// it was interrupted. Lines without an epoch are kept.
    pub fn forget_metrics_from_epoch(&self, epoch: usize) -> Result<()> {
        let path = self.dir.join("metrics.jsonl");
        let Ok(f) = self.metrics.lock() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&path).map_err(|e| VladaptError::io(&path, e))?;
        let keep = |line: &str| {
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) => return false, // a line cut by the interruption
            };
            let ep = v
                .get("epoch")
                .or_else(|| v.get("epoch_end"))
                .and_then(|e| e.as_u64());
            ep.is_none_or(|e| (e as usize) < epoch)
        };
        let kept: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
        if kept.len() == text.lines().count() {
            return Ok(());
        }
        let mut out = kept.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        // Same handle (append mode): truncate, then the next writes land after `out`.
        f.set_len(0).map_err(|e| VladaptError::io(&path, e))?;
        (&*f)
            .write_all(out.as_bytes())
            .map_err(|e| VladaptError::io(&path, e))?;
        Ok(())
    }

    /// Append one JSON object to `metrics.jsonl`.
    pub fn metric(&self, value: serde_json::Value) {
        if let Ok(mut f) = self.metrics.lock() {
            let _ = writeln!(f, "{value}");
        }
    }
}

/// Identity of a base model: FNV-1a 64 over its configuration and its projection tensors and
/// logit scale (these differ between any two differently trained checkpoints).
pub fn fingerprint(clip: &ClipModel) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut cfg = clip.config.clone();
    cfg.layout = crate::models::clip::Layout::HuggingFace;
    eat(serde_json::to_string(&cfg).unwrap_or_default().as_bytes());
    for t in [&clip.text.projection, &clip.vision.projection()] {
        for v in to_vec_f32(t) {
            eat(&v.to_le_bytes());
        }
    }
    eat(&clip.logit_scale.to_le_bytes());
    format!("{h:016x}")
}

/// `adapter_config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// vladapt version that wrote it.
    pub vladapt_version: String,
    /// Method with resolved hyper-parameters.
    pub method: MethodConfig,
    /// The whole resolved run configuration.
    pub run: RunConfig,
    /// Class names the adapter was trained on (label order).
    pub classnames: Vec<String>,
    /// Dataset template.
    pub template: String,
    /// Dataset name.
    pub dataset: String,
    /// Base model directory as given.
    pub base_model: PathBuf,
    /// [`fingerprint`] of the base model.
    pub base_model_fingerprint: String,
}

impl AdapterConfig {
    /// Read `dir/adapter_config.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let p = dir.join("adapter_config.json");
        let text = std::fs::read_to_string(&p).map_err(|e| VladaptError::io(&p, e))?;
        let cfg: Self =
            serde_json::from_str(&text).map_err(|e| VladaptError::config(&p, e.to_string()))?;
        // The same ranges as a run config given to `train`, for the method the adapter is built with.
        let mut run = cfg.run.clone();
        run.method = cfg.method.clone();
        run.validate().map_err(|e| e.in_file(&p))?;
        Ok(cfg)
    }

    /// Check that `clip` is the base model this adapter was trained on.
    pub fn check_base(&self, clip: &ClipModel, dir: &Path) -> Result<()> {
        let fp = fingerprint(clip);
        if fp != self.base_model_fingerprint {
            return Err(VladaptError::config(
                dir.join("adapter_config.json"),
                format!("base_model_fingerprint {} does not match the loaded model ({fp}): this adapter was trained on {}", self.base_model_fingerprint, self.base_model.display()),
            ));
        }
        Ok(())
    }
}

/// Write the final adapter files into `dir`.
pub fn save_adapter(dir: &Path, params: &Params, config: &AdapterConfig) -> Result<()> {
    params.save(&dir.join("adapter.safetensors"))?;
    let json = serde_json::to_vec_pretty(config)
        .map_err(|e| VladaptError::serialize("adapter_config.json", e))?;
    write_atomic(&dir.join("adapter_config.json"), &json)
}

/// Resumable training state (`checkpoint/state.json`); `C` is the task's run configuration
/// (classification: [`RunConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState<C = RunConfig> {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub steps: u64,
    /// The run configuration (a resume with a different one is refused).
    pub run: C,
}

/// Save `checkpoint/` (params, optimiser state, state.json) so that an interruption at any
/// moment leaves either the previous or the new checkpoint complete.
pub fn save_checkpoint<C: Serialize>(
    dir: &Path,
    params: &Params,
    opt: &Optimizer,
    state: &TrainState<C>,
) -> Result<()> {
    write_dir_atomic(&dir.join("checkpoint"), |new| {
        params.save(&new.join("adapter.safetensors"))?;
        let (opt_tensors, _) = opt.state();
        save_safetensors_atomic(&new.join("optimizer.safetensors"), &opt_tensors, None)?;
        write_json_atomic(&new.join("state.json"), state)
    })
}

/// Load the latest complete checkpoint of `dir`, if any: returns the state after restoring
/// `params` and `opt`.
pub fn load_checkpoint<C: serde::de::DeserializeOwned>(
    dir: &Path,
    params: &mut Params,
    opt: &mut Optimizer,
) -> Result<Option<TrainState<C>>> {
    let Some(ck) = complete_dir(&dir.join("checkpoint"), "state.json") else {
        return Ok(None);
    };
    let sp = ck.join("state.json");
    let state: TrainState<C> =
        serde_json::from_str(&std::fs::read_to_string(&sp).map_err(|e| VladaptError::io(&sp, e))?)
            .map_err(|e| VladaptError::config(&sp, e.to_string()))?;
    let device = params
        .entries()
        .first()
        .map(|p| p.value.device())
        .unwrap_or_default();
    params.load_values(&ck.join("adapter.safetensors"), &device)?;
    let f = SafetensorsFile::open(&ck.join("optimizer.safetensors"))?;
    let mut tensors = Vec::new();
    for n in f.names()? {
        if let Some((v, _)) = f.read_f32(&n)? {
            tensors.push((n, v));
        }
    }
    opt.load_state(tensors, state.steps, params)?;
    Ok(Some(state))
}

/// Load a trained method from a run (or adapter) directory onto the frozen model of `pipe`:
/// checks the base-model fingerprint, rebuilds the class buffers for the training classes and
/// loads `adapter.safetensors`. Returns the method (frozen for inference) and its config.
pub fn load_adapter(
    dir: &Path,
    pipe: &crate::models::clip::ClipPipeline,
) -> Result<(Box<dyn crate::methods::AdaptMethod>, AdapterConfig)> {
    let cfg = AdapterConfig::load(dir)?;
    cfg.check_base(&pipe.model, dir)?;
    let mut method =
        crate::methods::build(&cfg.method, &pipe.model, &pipe.tokenizer, &pipe.device)?;
    method.set_classes(&crate::methods::ClassSet {
        clip: &pipe.model,
        tokenizer: &pipe.tokenizer,
        classnames: &cfg.classnames,
        template: &cfg.template,
    })?;
    method
        .params_mut()
        .load_values(&dir.join("adapter.safetensors"), &pipe.device)?;
    method.freeze_for_inference(&pipe.model)?;
    Ok((method, cfg))
}

#[cfg(test)]
mod metrics_tests {
    use super::*;

    #[test]
    fn resumed_epochs_are_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::open(dir.path()).unwrap();
        // Epoch 0 finished (checkpoint after 1 epoch), epoch 1 interrupted after two steps.
        for (e, step) in [(0, 1), (0, 2)] {
            log.metric(serde_json::json!({"epoch": e, "step": step}));
        }
        log.metric(serde_json::json!({"epoch_end": 0}));
        log.metric(serde_json::json!({"epoch": 1, "step": 3}));
        log.metric(serde_json::json!({"epoch": 1, "step": 4}));
        drop(log);
        // Resume from the checkpoint: epoch 1 runs again from its first step.
        let log = RunLog::open(dir.path()).unwrap();
        log.forget_metrics_from_epoch(1).unwrap();
        log.metric(serde_json::json!({"epoch": 1, "step": 3}));
        log.metric(serde_json::json!({"epoch": 1, "step": 4}));
        log.metric(serde_json::json!({"epoch_end": 1}));
        let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        let steps: Vec<u64> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("step").and_then(|s| s.as_u64()))
            .collect();
        assert_eq!(steps, vec![1, 2, 3, 4], "{text}");
        assert_eq!(text.matches("epoch_end").count(), 2, "{text}");
    }
}
