//! The resumable contrastive training loop.
//!
//! Run directory:
//! ```text
//! run_dir/pretrain.json        model + training config of the run
//! run_dir/checkpoint/          params.safetensors, optimizer.safetensors, state.json
//!                              (replaced atomically after every epoch)
//! run_dir/metrics.jsonl        one JSON object per step
//! run_dir/log.txt              one line per epoch
//! run_dir/loss.png             loss curve
//! run_dir/model/               the final model, Hugging Face layout
//! ```
use super::config::PretrainConfig;
use super::data::PairData;
use super::schedule::WarmupCosine;
use crate::io::{complete_dir, write_dir_atomic};
use crate::models::clip::{l2_normalize, ClipConfig, ClipModel, NoHook};
use crate::params::Params;
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, write_atomic, SafetensorsFile};
use crate::train::loss::cross_entropy;
use crate::train::optim::{OptimConfig, Optimizer, OptimizerKind};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vladapt_tokenizer::ClipTokenizer;

/// CLIP clamps the learned log logit scale to `ln(100)`.
pub const MAX_LOGIT_SCALE: f32 = 4.605_170_2;

/// Progress reports of [`pretrain`].
#[derive(Debug, Clone)]
pub enum Event {
    /// Data loaded; training starts at `start_step` of `total_steps`.
    Start {
        /// Images.
        images: usize,
        /// Caption rows.
        captions: usize,
        /// Steps of the whole run.
        total_steps: usize,
        /// First step to run (> 0 on resume).
        start_step: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
    },
    /// One optimisation step done.
    Step {
        /// 0-based global step just taken.
        step: usize,
        /// 0-based epoch.
        epoch: usize,
        /// Contrastive loss of the step.
        loss: f32,
        /// Learning rate used.
        lr: f64,
        /// `logit_scale` after the step (log space).
        logit_scale: f32,
    },
    /// Epoch finished and checkpointed.
    Epoch {
        /// 0-based epoch.
        epoch: usize,
        /// Mean loss over the epoch.
        mean_loss: f64,
    },
}

/// What [`pretrain`] produced.
#[derive(Debug, Clone)]
pub struct PretrainOutcome {
    /// The final model directory (`run_dir/model`), absent when stopped early.
    pub model_dir: Option<PathBuf>,
    /// Global steps completed.
    pub steps: usize,
    /// Epochs completed.
    pub epochs: usize,
    /// Mean loss of the last epoch run.
    pub last_epoch_loss: f64,
    /// Mean loss of the first epoch of the run (from metrics; includes earlier sessions).
    pub first_epoch_loss: f64,
    /// Final `logit_scale`.
    pub logit_scale: f32,
    /// The final parameters.
    pub params: Params,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunFile {
    model: ClipConfig,
    train: PretrainConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    epochs_done: usize,
    step: usize,
    optimizer_steps: u64,
    model: ClipConfig,
    train: PretrainConfig,
    epoch_losses: Vec<f64>,
}

/// Symmetric InfoNCE: mean of cross-entropy over image→text rows and text→image rows of
/// `exp(logit_scale) · norm(img) · norm(txt)ᵀ`, the matching pair on the diagonal.
/// `logit_scale` is a `[1]` tensor (may be an autodiff leaf).
pub fn contrastive_loss(
    image_features: Tensor<2>,
    text_features: Tensor<2>,
    logit_scale: Tensor<1>,
) -> Result<Tensor<1>> {
    let b = image_features.dims()[0];
    let scale = logit_scale.exp().reshape([1, 1]);
    let logits =
        l2_normalize(image_features).matmul(l2_normalize(text_features).transpose()) * scale;
    let labels: Vec<usize> = (0..b).collect();
    let li = cross_entropy(logits.clone(), &labels)?;
    let lt = cross_entropy(logits.transpose(), &labels)?;
    Ok((li + lt).div_scalar(2.0))
}

/// Clamp the `logit_scale` parameter to `[0, ln 100]` in place (CLIP's clamp after each
/// optimiser step); returns the value after clamping.
pub fn clamp_logit_scale(params: &mut Params, device: &Device) -> f32 {
    let v = to_vec_f32(&params.get::<1>("logit_scale"))[0];
    let c = v.clamp(0.0, MAX_LOGIT_SCALE);
    if c != v {
        if let Some(e) = params
            .entries_mut()
            .iter_mut()
            .find(|p| p.name == "logit_scale")
        {
            e.value = Tensor::from_data(TensorData::new(vec![c], [1]), device);
        }
    }
    c
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| VladaptError::io(path, e))
}

fn json_string<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| VladaptError::serialize("a checkpoint file", e))
}

/// Load a checkpoint: state, parameters and optimiser state (from `dir`, or the complete
/// `dir.old` an interrupted save left).
fn load_checkpoint(
    dir: &Path,
    model_cfg: &ClipConfig,
    train: &PretrainConfig,
    device: &Device,
) -> Result<(CheckpointState, Params, Optimizer)> {
    let dir = &complete_dir(dir, "state.json").unwrap_or_else(|| dir.to_path_buf());
    let sp = dir.join("state.json");
    let text = io(&sp, std::fs::read_to_string(&sp))?;
    let state: CheckpointState = serde_json::from_str(&text)
        .map_err(|e| VladaptError::config(&sp, format!("invalid checkpoint state: {e}")))?;
    if &state.model != model_cfg {
        return Err(VladaptError::config(
            &sp,
            "the checkpoint's model config differs from this run's (resume with the same \
             --preset/--config)",
        ));
    }
    let same_train = PretrainConfig {
        epochs: train.epochs,
        stop_after_epochs: train.stop_after_epochs,
        ..state.train.clone()
    };
    if &same_train != train {
        return Err(VladaptError::config(
            &sp,
            format!(
                "the checkpoint was trained with other settings ({}); only --epochs may change \
                 on resume",
                serde_json::to_string(&state.train).unwrap_or_default()
            ),
        ));
    }
    let mut params = ClipModel::random_init(model_cfg, train.seed, device)?.to_params()?;
    params.load_values(&dir.join("params.safetensors"), device)?;
    let mut opt = Optimizer::new(optim_config(train), &params);
    let op = dir.join("optimizer.safetensors");
    let file = SafetensorsFile::open(&op)?;
    let mut tensors = Vec::new();
    for n in file.names()? {
        let (v, _) = file.read_f32(&n)?.unwrap_or_default();
        tensors.push((n, v));
    }
    opt.load_state(tensors, state.optimizer_steps, &params)?;
    Ok((state, params, opt))
}

fn optim_config(t: &PretrainConfig) -> OptimConfig {
    OptimConfig {
        kind: OptimizerKind::Adamw,
        momentum: 0.0,
        weight_decay: t.weight_decay,
        beta1: t.beta1,
        beta2: t.beta2,
        eps: t.eps,
        grad_clip: t.grad_clip,
    }
}

fn save_checkpoint(
    dir: &Path,
    state: &CheckpointState,
    params: &Params,
    opt: &Optimizer,
) -> Result<()> {
    write_dir_atomic(dir, |tmp| {
        params.save(&tmp.join("params.safetensors"))?;
        let (tensors, _) = opt.state();
        save_safetensors_atomic(&tmp.join("optimizer.safetensors"), &tensors, None)?;
        write_atomic(&tmp.join("state.json"), json_string(state)?.as_bytes())
    })
}

/// Metrics rows kept from an earlier session: those with `step < keep_below`.
fn reload_metrics(path: &Path, keep_below: usize) -> Result<Vec<(usize, f64)>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = io(path, std::fs::read_to_string(path))?;
    let mut kept = String::new();
    let mut points = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(step), Some(loss)) = (
            v.get("step").and_then(|s| s.as_u64()),
            v.get("loss").and_then(|s| s.as_f64()),
        ) else {
            continue;
        };
        if (step as usize) < keep_below {
            kept.push_str(line);
            kept.push('\n');
            points.push((step as usize, loss));
        }
    }
    write_atomic(path, kept.as_bytes())?;
    Ok(points)
}

fn plot_loss(run_dir: &Path, points: &[(usize, f64)], steps_per_epoch: usize) {
    if points.len() < 2 {
        return;
    }
    // Smoothed per-step loss (window ≈ a tenth of an epoch) plus per-epoch means.
    let w = (steps_per_epoch / 10).max(1);
    let mut smooth = Vec::with_capacity(points.len());
    let mut acc = 0.0;
    for (i, &(s, l)) in points.iter().enumerate() {
        acc += l;
        if i >= w {
            acc -= points[i - w].1;
        }
        smooth.push((s as f64, acc / (i + 1).min(w) as f64));
    }
    let series = vec![("loss (smoothed)".to_string(), smooth)];
    if let Err(e) = vladapt_plot::write_png_and_svg(&run_dir.join("loss.png"), |p| {
        vladapt_plot::line_plot(
            p,
            "contrastive pretraining",
            &series,
            "step",
            "symmetric InfoNCE loss",
        )
    }) {
        tracing::warn!("loss plot not written: {e}");
    }
}

/// Train a CLIP with `model_cfg` contrastively on the pairs at `data` (world directory or CSV)
/// into `run_dir`. With `resume`, continue from `run_dir/checkpoint`; without it, an existing
/// checkpoint is an error. `on_event` receives progress reports.
pub fn pretrain(
    model_cfg: &ClipConfig,
    train: &PretrainConfig,
    data: &Path,
    run_dir: &Path,
    resume: bool,
    device: &Device,
    on_event: &mut dyn FnMut(&Event),
) -> Result<PretrainOutcome> {
    train.validate()?;
    model_cfg.validate(Path::new("<model config>"))?;
    let tokenizer = ClipTokenizer::openai()?;
    if tokenizer.vocab_size() != model_cfg.text.vocab_size {
        return Err(VladaptError::config_value(
            "text_cfg.vocab_size",
            model_cfg.text.vocab_size,
            format!(
                "{}, the CLIP tokenizer's vocabulary",
                tokenizer.vocab_size()
            ),
        ));
    }
    let ckpt = run_dir.join("checkpoint");
    let found = complete_dir(&ckpt, "state.json");
    if !resume && (found.is_some() || ckpt.exists()) {
        return Err(VladaptError::RunDir {
            dir: ckpt.clone(),
            reason: "a checkpoint exists; pass --resume to continue it or choose another output \
                     directory"
                .into(),
        });
    }
    if resume && found.is_none() {
        return Err(VladaptError::RunDir {
            dir: run_dir.to_path_buf(),
            reason: "--resume: no checkpoint/state.json to resume".into(),
        });
    }
    let pairs = PairData::load(
        data,
        model_cfg.vision.image_size,
        model_cfg.text.context_length,
        &tokenizer,
    )?;
    let spe = pairs.len() / train.batch_size;
    if spe == 0 {
        return Err(VladaptError::config_value(
            "batch_size",
            train.batch_size,
            format!(
                "at most the {} images of {}",
                pairs.len(),
                pairs.csv.display()
            ),
        ));
    }
    io(run_dir, std::fs::create_dir_all(run_dir))?;
    let (mut params, mut opt, start_epoch, mut step, mut epoch_losses) = if resume {
        let (st, p, o) = load_checkpoint(&ckpt, model_cfg, train, device)?;
        (p, o, st.epochs_done, st.step, st.epoch_losses)
    } else {
        let p = ClipModel::random_init(model_cfg, train.seed, device)?.to_params()?;
        let o = Optimizer::new(optim_config(train), &p);
        (p, o, 0, 0, Vec::new())
    };
    write_atomic(
        &run_dir.join("pretrain.json"),
        json_string(&RunFile {
            model: model_cfg.clone(),
            train: train.clone(),
        })?
        .as_bytes(),
    )?;
    let metrics_path = run_dir.join("metrics.jsonl");
    let mut points = reload_metrics(&metrics_path, if resume { step } else { 0 })?;
    let mut metrics = io(
        &metrics_path,
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path),
    )?;
    let log_path = run_dir.join("log.txt");
    let mut log = io(
        &log_path,
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path),
    )?;
    let total_steps = spe * train.epochs;
    let sched = WarmupCosine {
        base_lr: train.lr,
        min_lr: train.min_lr,
        warmup_steps: train.warmup_steps.min(total_steps / 2),
        total_steps,
    };
    let _ = writeln!(
        log,
        "{} images, {} captions from {}; {} steps/epoch x {} epochs, batch {}, lr {}, {} params{}",
        pairs.len(),
        pairs.num_captions(),
        pairs.csv.display(),
        spe,
        train.epochs,
        train.batch_size,
        train.lr,
        params.numel(),
        if resume {
            format!(" (resumed at epoch {start_epoch}, step {step})")
        } else {
            String::new()
        }
    );
    on_event(&Event::Start {
        images: pairs.len(),
        captions: pairs.num_captions(),
        total_steps,
        start_step: step,
        steps_per_epoch: spe,
    });
    let s = model_cfg.vision.image_size;
    let stop = train
        .stop_after_epochs
        .unwrap_or(train.epochs)
        .min(train.epochs);
    let t0 = Instant::now();
    let mut logit_scale = to_vec_f32(&params.get::<1>("logit_scale"))[0];
    let mut epoch = start_epoch;
    while epoch < stop {
        let plan = pairs.epoch_plan(train.seed, epoch);
        let mut sum = 0.0;
        for batch in PairData::batch_plan(train.seed, train.batch_size).cut(&plan) {
            let idx: Vec<usize> = batch.iter().map(|&(i, _)| i).collect();
            let ids: Vec<Vec<u32>> = batch
                .iter()
                .map(|&(i, c)| pairs.captions[i][c].clone())
                .collect();
            let px = pairs.pixels(&idx, train.augment.then_some((train.seed, epoch)));
            let pixels: Tensor<4> =
                Tensor::from_data(TensorData::new(px, [idx.len(), 3, s, s]), device);
            let lr = sched.lr(step);
            params.track();
            let model = ClipModel::from_params(model_cfg, &params)?;
            let img = model.encode_image(pixels, &NoHook)?;
            let txt = model.encode_text(&ids, &NoHook)?;
            let loss = contrastive_loss(img, txt, params.get::<1>("logit_scale"))?;
            let loss_value = to_vec_f32(&loss)[0];
            if !loss_value.is_finite() {
                let _ = writeln!(log, "step {step}: non-finite loss {loss_value}; stopped");
                return Err(VladaptError::NonFiniteLoss {
                    loss: loss_value,
                    epoch: epoch + 1,
                    epochs: train.epochs,
                    step: step.saturating_sub(epoch * spe) + 1,
                    steps: spe,
                    kept: format!(
                        "the last good checkpoint is kept in {} — lower --lr or check the data",
                        ckpt.display()
                    ),
                });
            }
            let grads = loss.backward();
            let g = params
                .grads(&grads)
                .into_iter()
                .zip(params.entries())
                .map(|(g, p)| {
                    g.ok_or_else(|| VladaptError::NoGradient {
                        tensor: p.name.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            drop(model);
            let gnorm = opt.step(&mut params, g, lr)?;
            // Clamp the log scale to [0, ln 100] as CLIP does after each step.
            logit_scale = clamp_logit_scale(&mut params, device);
            sum += loss_value as f64;
            points.push((step, loss_value as f64));
            let row = serde_json::json!({
                "step": step, "epoch": epoch, "loss": loss_value, "lr": lr,
                "logit_scale": logit_scale, "grad_norm": gnorm,
                "elapsed_s": (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            });
            let _ = writeln!(metrics, "{row}");
            on_event(&Event::Step {
                step,
                epoch,
                loss: loss_value,
                lr,
                logit_scale,
            });
            step += 1;
        }
        let mean = sum / spe as f64;
        epoch_losses.push(mean);
        epoch += 1;
        let state = CheckpointState {
            epochs_done: epoch,
            step,
            optimizer_steps: opt.steps,
            model: model_cfg.clone(),
            train: train.clone(),
            epoch_losses: epoch_losses.clone(),
        };
        save_checkpoint(&ckpt, &state, &params, &opt)?;
        let _ = writeln!(
            log,
            "epoch {epoch}/{}: mean loss {mean:.4}, logit scale {:.2}, step {step}, {:.1}s",
            train.epochs,
            logit_scale.exp(),
            t0.elapsed().as_secs_f64()
        );
        let _ = metrics.flush();
        plot_loss(run_dir, &points, spe);
        on_event(&Event::Epoch {
            epoch: epoch - 1,
            mean_loss: mean,
        });
    }
    let model_dir = if epoch >= train.epochs {
        let dir = run_dir.join("model");
        let model = ClipModel::from_params(model_cfg, &params)?;
        model.save_hf(&dir, &tokenizer)?;
        let _ = writeln!(log, "model saved to {}", dir.display());
        Some(dir)
    } else {
        let _ = writeln!(log, "stopped after epoch {epoch} (resume with --resume)");
        None
    };
    Ok(PretrainOutcome {
        model_dir,
        steps: step,
        epochs: epoch,
        last_epoch_loss: epoch_losses.last().copied().unwrap_or(f64::NAN),
        first_epoch_loss: epoch_losses.first().copied().unwrap_or(f64::NAN),
        logit_scale,
        params,
    })
}
