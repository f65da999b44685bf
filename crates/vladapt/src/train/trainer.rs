//! The training loop shared by every method: epoch-level schedule, seeded shuffling and
//! augmentation, SGD/AdamW, NaN guard, resumable checkpoints, logs and metrics.
use super::config::RunConfig;
use super::loss::cross_entropy;
use super::optim::Optimizer;
use super::progress;
use super::run_dir::{
    fingerprint, load_checkpoint, save_adapter, save_checkpoint, AdapterConfig, RunLog, TrainState,
};
use crate::methods::linear_probe::{self, BIAS, WEIGHT};
use crate::methods::{build, AdaptMethod, ClassSet, MethodKind};
use crate::models::clip::pipeline::rows;
use crate::models::clip::{l2_normalize, ClipPipeline, NoHook};
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::Path;
use vladapt_data::{open_rgb, RgbImage, Sample};
use vladapt_image::{augment_rng, TrainAugment};

/// The data of one training run.
pub struct TrainData<'a> {
    /// Dataset name (for the adapter config).
    pub dataset: &'a str,
    /// Class names in label order.
    pub classnames: &'a [String],
    /// Dataset template.
    pub template: &'a str,
    /// Training samples (labels in `0..classnames.len()`).
    pub train: &'a [Sample],
    /// Validation samples (used by the linear probe to choose λ).
    pub val: &'a [Sample],
}

/// Options that do not change the result.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Continue from `run_dir/checkpoint` when present.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Stop after this many epochs of this invocation (tests of interruption).
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

/// Decode every training image once (few-shot sets are small), in parallel.
fn decode_all(samples: &[Sample], pipe: &ClipPipeline) -> Result<Vec<RgbImage>> {
    samples
        .par_iter()
        .map(|s| {
            let img = open_rgb(&s.image, &pipe.limits)?;
            // The only preprocessing failure depends on the size: report it with the file.
            pipe.preprocess
                .check_size(img.width(), img.height())
                .map_err(|e| vladapt_data::DataError::Image {
                    image: s.image.to_string(),
                    reason: e.to_string(),
                })?;
            Ok(img)
        })
        .collect::<std::result::Result<_, vladapt_data::DataError>>()
        .map_err(VladaptError::from)
}

fn images_to_pixels(
    pipe: &ClipPipeline,
    imgs: &[&RgbImage],
    aug: Option<(&TrainAugment, u64, u64, &[usize])>,
) -> Result<Tensor<4>> {
    let chw: Vec<Vec<f32>> = imgs
        .par_iter()
        .enumerate()
        .map(|(j, img)| match aug {
            Some((a, seed, epoch, idx)) => {
                Ok(a.apply(img, &mut augment_rng(seed, epoch, idx[j] as u64)))
            }
            None => pipe.preprocess.apply(img),
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(pipe.pixels_from_chw(chw))
}

/// Train `cfg.method` on `data` into `run_dir`; returns the trained method (classes set to
/// the training classes, frozen for inference). Writes `run_config.json`, `log.txt`,
/// `metrics.jsonl`, `checkpoint/`, `adapter.safetensors` and `adapter_config.json`.
pub fn train(
    pipe: &ClipPipeline,
    cfg: &RunConfig,
    data: &TrainData<'_>,
    run_dir: &Path,
    opts: TrainOptions,
) -> Result<Box<dyn AdaptMethod>> {
    let log = RunLog::open(run_dir)?;
    let cfg_json =
        serde_json::to_string_pretty(cfg).map_err(|e| VladaptError::Invalid(e.to_string()))?;
    crate::tensor_io::write_atomic(&run_dir.join("run_config.json"), cfg_json.as_bytes())?;
    log.info(format!(
        "vladapt {} | method {} | dataset {} | {} classes | {} training images | model {}",
        env!("CARGO_PKG_VERSION"),
        cfg.method.kind(),
        data.dataset,
        data.classnames.len(),
        data.train.len(),
        pipe.dir.display()
    ));
    log.info(format!(
        "environment: {} {} | {} threads | backend {:?}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        rayon::current_num_threads(),
        pipe.device
    ));
    log.info(format!(
        "config: {}",
        serde_json::to_string(cfg).unwrap_or_default()
    ));
    if data.train.is_empty() && cfg.method.kind() != MethodKind::Zeroshot {
        return Err(VladaptError::Invalid("no training images".into()));
    }
    for s in data.train {
        if s.label >= data.classnames.len() {
            return Err(VladaptError::Invalid(format!(
                "training image {} has label {} but there are {} classes",
                s.image,
                s.label,
                data.classnames.len()
            )));
        }
    }
    pipe.device.seed(cfg.seed);
    let clip = &pipe.model;
    let mut method = build(&cfg.method, clip, &pipe.tokenizer, &pipe.device)?;
    let classes = ClassSet {
        clip,
        tokenizer: &pipe.tokenizer,
        classnames: data.classnames,
        template: data.template,
    };
    method.set_classes(&classes)?;
    log.info(format!("trainable parameters: {}", method.params().numel()));
    let adapter_cfg = AdapterConfig {
        vladapt_version: env!("CARGO_PKG_VERSION").into(),
        method: cfg.method.clone(),
        run: cfg.clone(),
        classnames: data.classnames.to_vec(),
        template: data.template.to_string(),
        dataset: data.dataset.to_string(),
        base_model: pipe.dir.clone(),
        base_model_fingerprint: fingerprint(clip),
    };
    match cfg.method.kind() {
        MethodKind::Zeroshot => {}
        MethodKind::LinearProbe => {
            let crate::methods::MethodConfig::LinearProbe(pc) = &cfg.method else {
                unreachable!("kind is linear-probe")
            };
            fit_probe(pipe, pc, method.as_mut(), data, &log)?
        }
        _ => gradient_training(pipe, cfg, method.as_mut(), data, run_dir, &log, opts)?,
    }
    method.freeze_for_inference(clip)?;
    save_adapter(run_dir, method.params(), &adapter_cfg)?;
    log.info(format!(
        "saved {}",
        run_dir.join("adapter.safetensors").display()
    ));
    Ok(method)
}

fn features(pipe: &ClipPipeline, samples: &[Sample]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(64) {
        let imgs = decode_all(chunk, pipe)?;
        let refs: Vec<&RgbImage> = imgs.iter().collect();
        let px = images_to_pixels(pipe, &refs, None)?;
        out.extend(rows(&l2_normalize(pipe.model.encode_image(px, &NoHook)?)));
    }
    Ok(out)
}

/// CoOp's linear probe: features with the test transform, λ chosen on val.
fn fit_probe(
    pipe: &ClipPipeline,
    probe_cfg: &crate::methods::config::LinearProbeConfig,
    method: &mut dyn AdaptMethod,
    data: &TrainData<'_>,
    log: &RunLog,
) -> Result<()> {
    let tx = features(pipe, data.train)?;
    let ty: Vec<usize> = data.train.iter().map(|s| s.label).collect();
    let vx = features(pipe, data.val)?;
    let vy: Vec<usize> = data.val.iter().map(|s| s.label).collect();
    let fit = linear_probe::fit(probe_cfg, (&tx, &ty), (&vx, &vy), data.classnames.len())?;
    log.info(format!(
        "linear probe: λ = {} (val accuracy per λ: {:?})",
        fit.lambda, fit.val_accuracy
    ));
    let device = pipe.device.clone();
    for p in method.params_mut().entries_mut() {
        let vals = if p.name == WEIGHT {
            fit.weight.clone()
        } else if p.name == BIAS {
            fit.bias.clone()
        } else {
            continue;
        };
        let n = vals.len();
        p.value = Tensor::from_data(TensorData::new(vals, [n]), &device);
    }
    Ok(())
}

fn gradient_training(
    pipe: &ClipPipeline,
    cfg: &RunConfig,
    method: &mut dyn AdaptMethod,
    data: &TrainData<'_>,
    run_dir: &Path,
    log: &RunLog,
    opts: TrainOptions,
) -> Result<()> {
    let clip = &pipe.model;
    let tc = &cfg.train;
    let epochs = cfg.epochs();
    let n = data.train.len();
    let bs = tc.batch_size.max(1);
    let drop_last = n >= bs;
    let steps_per_epoch = if drop_last { n / bs } else { 1 };
    let mut opt = Optimizer::new(tc.optim.clone(), method.params());
    let mut start_epoch = 0;
    if opts.resume {
        if let Some(state) = load_checkpoint(run_dir, method.params_mut(), &mut opt)? {
            if state.run != *cfg {
                return Err(VladaptError::config(
                    run_dir.join("checkpoint/state.json"),
                    format!(
                        "{} holds an interrupted run with a different configuration ({}); use another --output for the new run, or pass --overwrite to replace this one",
                        run_dir.display(),
                        crate::protocols::run::config_diff(&state.run, cfg)
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
    let images = decode_all(data.train, pipe)?;
    let size = clip.config.vision.image_size as u32;
    let aug = TrainAugment {
        mean: pipe.preprocess.mean,
        std: pipe.preprocess.std,
        ..TrainAugment::clip(size)
    };
    let labels: Vec<usize> = data.train.iter().map(|s| s.label).collect();

    // Frozen image tower: optionally pre-compute features of a fixed number of views.
    let cache: Option<Vec<Tensor<2>>> = if method.frozen_image_features() && tc.cache_views > 0 {
        log.info(format!(
            "caching frozen image features of {} view(s) per image",
            tc.cache_views
        ));
        let mut views = Vec::new();
        for v in 0..tc.cache_views {
            let mut feats = Vec::new();
            for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
                let imgs: Vec<&RgbImage> = chunk.iter().map(|&i| &images[i]).collect();
                let px = images_to_pixels(
                    pipe,
                    &imgs,
                    if tc.augment {
                        Some((&aug, cfg.seed, v as u64, chunk))
                    } else {
                        None
                    },
                )?;
                feats.push(method.image_features(clip, px)?);
            }
            views.push(Tensor::cat(feats, 0));
        }
        Some(views)
    } else {
        None
    };

    let total = (epochs - start_epoch) * steps_per_epoch;
    let bar = progress::bar(total as u64, "train", opts.progress);
    let mut epochs_run = 0;
    for epoch in start_epoch..epochs {
        let lr = tc.schedule.lr(epoch);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
            cfg.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        let t0 = std::time::Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        for s in 0..steps_per_epoch {
            let idx: Vec<usize> = if drop_last {
                order[s * bs..(s + 1) * bs].to_vec()
            } else {
                order.clone()
            };
            let y: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            let input = match &cache {
                Some(views) => {
                    let v = &views[epoch % views.len()];
                    let ids: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
                    let it = Tensor::<1, burn::tensor::Int>::from_data(
                        TensorData::new(ids, [idx.len()]),
                        &pipe.device,
                    );
                    StepInput::Features(v.clone().select(0, it))
                }
                None => {
                    let imgs: Vec<&RgbImage> = idx.iter().map(|&i| &images[i]).collect();
                    StepInput::Pixels(images_to_pixels(
                        pipe,
                        &imgs,
                        if tc.augment {
                            Some((&aug, cfg.seed, epoch as u64, &idx))
                        } else {
                            None
                        },
                    )?)
                }
            };
            let out = train_step(pipe, method, &mut opt, input, &y, lr)?;
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
                return Err(VladaptError::Diverged(format!("{msg}; {kept}")));
            }
            let gnorm = out.grad_norm;
            let lv = out.logits;
            let c = logits_dims(&lv, y.len());
            let batch_correct = y
                .iter()
                .enumerate()
                .filter(|(i, &t)| argmax(&lv[i * c..(i + 1) * c]) == t)
                .count();
            loss_sum += loss_v as f64 * y.len() as f64;
            correct += batch_correct;
            seen += y.len();
            log.metric(serde_json::json!({"epoch": epoch, "step": opt.steps, "lr": lr, "loss": loss_v, "acc": 100.0 * batch_correct as f64 / y.len() as f64, "grad_norm": gnorm}));
            bar.set_message(format!(
                "ep {}/{epochs} loss {:.4} acc {:.1}% lr {lr:.2e}",
                epoch + 1,
                loss_sum / seen as f64,
                100.0 * correct as f64 / seen as f64
            ));
            bar.inc(1);
        }
        let (el, ea) = (
            loss_sum / seen.max(1) as f64,
            100.0 * correct as f64 / seen.max(1) as f64,
        );
        log.info(format!(
            "epoch {}/{epochs}: loss {el:.4} acc {ea:.2}% lr {lr:.3e} ({:.1}s)",
            epoch + 1,
            t0.elapsed().as_secs_f64()
        ));
        log.metric(serde_json::json!({"epoch_end": epoch, "loss": el, "acc": ea, "lr": lr, "seconds": t0.elapsed().as_secs_f64()}));
        save_checkpoint(
            run_dir,
            method.params(),
            &opt,
            &TrainState {
                epochs_done: epoch + 1,
                steps: opt.steps,
                run: cfg.clone(),
            },
        )?;
        epochs_run += 1;
        if opts.stop_after_epochs.is_some_and(|k| epochs_run >= k) && epoch + 1 < epochs {
            bar.finish_and_clear();
            return Err(VladaptError::Invalid(format!(
                "stopped after {epochs_run} epoch(s) as requested; resume to continue"
            )));
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// "loss is NaN at epoch 3/10, step 2/4" with the 1-based numbers the progress log uses
/// (`epoch` and `step` are 0-based indices).
fn diverged_message(loss: f32, epoch: usize, epochs: usize, step: usize, steps: usize) -> String {
    format!(
        "loss is {loss} at epoch {}/{epochs}, step {}/{steps}",
        epoch + 1,
        step + 1
    )
}

/// What one training step consumes.
pub enum StepInput {
    /// Preprocessed pixels `[B, 3, S, S]` (the method's image tower runs on them; outside
    /// autodiff when it is frozen).
    Pixels(Tensor<4>),
    /// Image features already computed by the method's frozen image tower (a cache).
    Features(Tensor<2>),
}

/// What one training step produced.
pub struct StepOutput {
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f32,
    /// Host copy of the logits `[B × C]` (empty when the loss is not finite).
    pub logits: Vec<f32>,
    /// Global gradient norm before clipping (NaN when the loss is not finite).
    pub grad_norm: f64,
}

/// One optimisation step exactly as [`train`] runs it: image features (frozen towers without
/// autodiff), logits, cross-entropy, backward, the optimiser update at `lr`. When the loss is
/// not finite nothing is updated and the caller decides what to do.
pub fn train_step(
    pipe: &ClipPipeline,
    method: &mut dyn AdaptMethod,
    opt: &mut Optimizer,
    input: StepInput,
    labels: &[usize],
    lr: f64,
) -> Result<StepOutput> {
    let clip = &pipe.model;
    let input = match input {
        StepInput::Pixels(px) if method.frozen_image_features() => {
            StepInput::Features(method.image_features(clip, px)?)
        }
        other => other,
    };
    method.params_mut().track();
    let feats = match input {
        StepInput::Features(f) => f,
        StepInput::Pixels(px) => method.image_features(clip, px)?,
    };
    let logits = method.logits(clip, feats)?;
    let loss = cross_entropy(logits.clone(), labels)?;
    let loss_v = to_vec_f32(&loss)[0];
    if !loss_v.is_finite() {
        method.params_mut().untrack();
        return Ok(StepOutput {
            loss: loss_v,
            logits: Vec::new(),
            grad_norm: f64::NAN,
        });
    }
    let grads = loss.backward();
    let gs = method.params().grads(&grads);
    let gs: Vec<Tensor<1>> = gs
        .into_iter()
        .zip(method.params().entries())
        .map(|(g, p)| {
            g.unwrap_or_else(|| Tensor::zeros([p.shape.iter().product::<usize>()], &pipe.device))
        })
        .collect();
    method.params_mut().untrack();
    let grad_norm = opt.step(method.params_mut(), gs, lr)?;
    Ok(StepOutput {
        loss: loss_v,
        logits: to_vec_f32(&logits.detach()),
        grad_norm,
    })
}

fn logits_dims(v: &[f32], b: usize) -> usize {
    v.len() / b.max(1)
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .unwrap_or(0)
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
