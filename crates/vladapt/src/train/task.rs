//! One training loop for every task. A task (classification with an [`AdaptMethod`], grounding
//! with a [`GroundingMethod`]) says what a batch is and how one optimisation step on it goes;
//! [`run_epochs`] owns everything else: the seeded batch plan, learning rates per epoch,
//! resumable checkpoints (bit-identical resume), the NaN guard, `metrics.jsonl`, `log.txt` and
//! progress.
//!
//! [`AdaptMethod`]: crate::methods::AdaptMethod
//! [`GroundingMethod`]: crate::methods::grounding::GroundingMethod
use super::batches::{epoch_batches, steps_per_epoch};
use super::optim::{OptimConfig, Optimizer};
use super::progress;
use super::run_dir::{load_checkpoint, save_checkpoint, RunLog, TrainState};
use crate::methods::Params;
use crate::{Result, VladaptError};
use burn::tensor::Tensor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// What one optimisation step measured.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    /// Mean loss of the batch (before the update). Not finite = the step was not applied.
    pub loss: f32,
    /// Global gradient norm before clipping (NaN when the loss is not finite).
    pub grad_norm: f64,
    /// Samples in the batch.
    pub count: usize,
    /// Samples counted as right (classification: argmax = label; grounding: IoU ≥ 0.5); logged
    /// as `acc` in percent.
    pub hits: usize,
    /// Further per-batch means logged under their names (grounding: `l1`, `giou`).
    pub extra: Vec<(&'static str, f64)>,
}

/// Learning rates of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLr {
    /// The rate shown in logs and metrics (the main group's).
    pub shown: f64,
    /// One rate per trainable tensor, in `params().entries()` order.
    pub per_param: Vec<f64>,
}

impl EpochLr {
    /// The same rate for all `n` tensors.
    pub fn uniform(lr: f64, n: usize) -> Self {
        Self {
            shown: lr,
            per_param: vec![lr; n],
        }
    }
}

/// A task the loop can train.
pub trait TrainTask {
    /// Training samples (the batch plan permutes `0..samples()`).
    fn samples(&self) -> usize;
    /// Trainable tensors.
    fn params(&self) -> &Params;
    /// Mutable trainable tensors (optimiser, checkpoint loading).
    fn params_mut(&mut self) -> &mut Params;
    /// Learning rates of 0-based `epoch`.
    fn lr(&self, epoch: usize) -> EpochLr;
    /// Called once before the first epoch that runs (after a resume is resolved): decode data,
    /// fill caches.
    fn prepare(&mut self, _start_epoch: usize, _log: &RunLog) -> Result<()> {
        Ok(())
    }
    /// One optimisation step on the samples `batch` of 0-based `epoch` (use [`apply_gradients`]
    /// for the backward pass and the update). A non-finite loss must leave the tensors unchanged.
    fn step(
        &mut self,
        batch: &[usize],
        epoch: usize,
        opt: &mut Optimizer,
        lr: &EpochLr,
    ) -> Result<StepStats>;
}

/// The loop's settings; `C` is the task's run configuration, saved in every checkpoint (a resume
/// with a different configuration is refused, naming the difference).
pub struct LoopSpec<'a, C> {
    /// The resolved run configuration.
    pub config: &'a C,
    /// Human-readable difference of two configurations (for the refusal).
    pub config_diff: fn(&C, &C) -> String,
    /// Seed of the batch plan.
    pub seed: u64,
    /// Epochs in all.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Optimiser.
    pub optim: OptimConfig,
}

/// Options of one invocation of a training run.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Continue from `run_dir/checkpoint` when present.
    pub resume: bool,
    /// Report progress (to the sink the front end installed).
    pub progress: bool,
    /// Stop after this many epochs of this invocation, returning an error that says so (tests
    /// of interruption; the run is then unfinished until resumed).
    pub stop_after_epochs: Option<usize>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            resume: true,
            progress: true,
            stop_after_epochs: None,
        }
    }
}

/// Backward of `loss` (a one-element tensor) through the tracked `params`, then one optimiser
/// update with the per-tensor rates `lrs`; tensors that got no gradient get a zero one.
/// Untracks `params`. Returns the global gradient norm before clipping.
pub fn apply_gradients(
    params: &mut Params,
    loss: Tensor<1>,
    opt: &mut Optimizer,
    lrs: &[f64],
) -> Result<f64> {
    let grads = loss.backward();
    let gs = params.grads(&grads);
    let gs: Vec<Tensor<1>> = gs
        .into_iter()
        .zip(params.entries())
        .map(|(g, p)| {
            g.unwrap_or_else(|| {
                Tensor::zeros([p.shape.iter().product::<usize>()], &p.value.device())
            })
        })
        .collect();
    params.untrack();
    opt.step_per_param(params, gs, lrs)
}

/// "loss is NaN at epoch 3/10, step 2/4" with the 1-based numbers the progress log uses
/// (`epoch` and `step` are 0-based indices).
pub(crate) fn diverged_message(
    loss: f32,
    epoch: usize,
    epochs: usize,
    step: usize,
    steps: usize,
) -> String {
    format!(
        "loss is {loss} at epoch {}/{epochs}, step {}/{steps}",
        epoch + 1,
        step + 1
    )
}

/// Train `task` for `spec.epochs` epochs into `run_dir` (checkpoint after every epoch, resumed
/// from when `opts.resume`). Returns `Ok` when every epoch has run.
pub fn run_epochs<T: TrainTask + ?Sized, C>(
    task: &mut T,
    spec: &LoopSpec<'_, C>,
    run_dir: &Path,
    log: &RunLog,
    opts: TrainOptions,
) -> Result<()>
where
    C: Serialize + DeserializeOwned + PartialEq + Clone,
{
    let epochs = spec.epochs;
    let n = task.samples();
    let steps_per_epoch = steps_per_epoch(n, spec.batch_size);
    let mut opt = Optimizer::new(spec.optim.clone(), task.params());
    let mut start_epoch = 0;
    if opts.resume {
        if let Some(state) = load_checkpoint::<C>(run_dir, task.params_mut(), &mut opt)? {
            if state.run != *spec.config {
                return Err(VladaptError::config(
                    run_dir.join("checkpoint/state.json"),
                    format!(
                        "{} holds an interrupted run with a different configuration ({}); use another --output for the new run, or pass --overwrite to replace this one",
                        run_dir.display(),
                        (spec.config_diff)(&state.run, spec.config)
                    ),
                ));
            }
            start_epoch = state.epochs_done;
            log.info(format!(
                "resumed from epoch {start_epoch} (step {})",
                state.steps
            ));
        }
    }
    if start_epoch >= epochs {
        return Ok(());
    }
    log.forget_metrics_from_epoch(start_epoch)?;
    task.prepare(start_epoch, log)?;

    let total = (epochs - start_epoch) * steps_per_epoch;
    let bar = progress::bar(total as u64, "train", opts.progress);
    let mut epochs_run = 0;
    for epoch in start_epoch..epochs {
        let lr = task.lr(epoch);
        let t0 = std::time::Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        for (s, idx) in epoch_batches(spec.seed, epoch, n, spec.batch_size)
            .into_iter()
            .enumerate()
        {
            let out = task.step(&idx, epoch, &mut opt, &lr)?;
            let loss_v = out.loss;
            if !loss_v.is_finite() {
                let msg = diverged_message(loss_v, epoch, epochs, s, steps_per_epoch);
                log.info(format!("{msg}; stopping"));
                let kept = if epoch == 0 {
                    "no checkpoint was written yet".to_string()
                } else {
                    format!(
                        "the last good checkpoint (after epoch {epoch}/{epochs}) is kept in {}",
                        run_dir.join("checkpoint").display()
                    )
                };
                bar.finish();
                return Err(VladaptError::NonFiniteLoss {
                    loss: loss_v,
                    epoch: epoch + 1,
                    epochs,
                    step: s + 1,
                    steps: steps_per_epoch,
                    kept,
                });
            }
            let count = out.count.max(1);
            loss_sum += loss_v as f64 * out.count as f64;
            correct += out.hits;
            seen += out.count;
            let mut m = serde_json::Map::new();
            m.insert("epoch".into(), epoch.into());
            m.insert("step".into(), opt.steps.into());
            m.insert("lr".into(), lr.shown.into());
            m.insert("loss".into(), loss_v.into());
            m.insert(
                "acc".into(),
                (100.0 * out.hits as f64 / count as f64).into(),
            );
            m.insert("grad_norm".into(), out.grad_norm.into());
            for (k, v) in &out.extra {
                m.insert((*k).into(), (*v).into());
            }
            log.metric(serde_json::Value::Object(m));
            bar.set_message(format!(
                "ep {}/{epochs} loss {:.4} acc {:.1}% lr {:.2e}",
                epoch + 1,
                loss_sum / seen.max(1) as f64,
                100.0 * correct as f64 / seen.max(1) as f64,
                lr.shown
            ));
            bar.inc(1);
        }
        let (el, ea) = (
            loss_sum / seen.max(1) as f64,
            100.0 * correct as f64 / seen.max(1) as f64,
        );
        let lr = lr.shown;
        log.info(format!(
            "epoch {}/{epochs}: loss {el:.4} acc {ea:.2}% lr {lr:.3e} ({:.1}s)",
            epoch + 1,
            t0.elapsed().as_secs_f64()
        ));
        log.metric(serde_json::json!({"epoch_end": epoch, "loss": el, "acc": ea, "lr": lr, "seconds": t0.elapsed().as_secs_f64()}));
        save_checkpoint(
            run_dir,
            task.params(),
            &opt,
            &TrainState {
                epochs_done: epoch + 1,
                steps: opt.steps,
                run: spec.config.clone(),
            },
        )?;
        epochs_run += 1;
        if opts.stop_after_epochs.is_some_and(|k| epochs_run >= k) && epoch + 1 < epochs {
            bar.finish();
            return Err(VladaptError::RunDir {
                dir: run_dir.to_path_buf(),
                reason: format!(
                    "stopped after {epochs_run} epoch(s) as requested; resume to continue"
                ),
            });
        }
    }
    bar.finish();
    Ok(())
}

#[cfg(test)]
mod diverged_tests {
    #[test]
    fn epoch_numbers_match_the_one_based_log() {
        // The log prints "epoch 1/5: loss ..." for the first epoch (index 0).
        let m = super::diverged_message(f32::NAN, 0, 5, 2, 4);
        assert_eq!(m, "loss is NaN at epoch 1/5, step 3/4");
    }
}
