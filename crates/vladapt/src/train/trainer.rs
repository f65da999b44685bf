//! Classification training: an [`AdaptMethod`] on a frozen CLIP as a [`TrainTask`] of the
//! shared loop ([`run_epochs`]: epoch-level schedule, seeded batches, NaN guard, resumable
//! checkpoints, logs and metrics), with seeded augmentation and optional caching of frozen
//! image features. Methods fitted in closed form (the linear probe) are fitted on features
//! instead.
use super::config::RunConfig;
use super::data_parallel::DataParallel;
use super::loss::cross_entropy;
use super::optim::Optimizer;
use super::run_dir::{fingerprint, save_adapter, AdapterConfig, RunLog};
pub use super::task::TrainOptions;
use super::task::{apply_gradients, run_epochs, EpochLr, LoopSpec, StepStats, TrainTask};
use crate::methods::{build, AdaptMethod, ClassSet, Params};
use crate::models::clip::pipeline::rows;
use crate::models::clip::{l2_normalize, ClipModel, ClipPipeline, NoHook};
use crate::models::ToDevice;
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Mutex;
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
    let cfg_json = serde_json::to_string_pretty(cfg)
        .map_err(|e| VladaptError::serialize("run_config.json", e))?;
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
    for s in data.train {
        if s.label >= data.classnames.len() {
            return Err(VladaptError::argument(
                format!("training image {}", s.image),
                format!(
                    "has label {} but there are {} classes",
                    s.label,
                    data.classnames.len()
                ),
            ));
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
    // A method with nothing to train (zero-shot) needs no training images.
    let trains = method.fits_in_closed_form() || method.params().numel() > 0;
    if data.train.is_empty() && trains {
        return Err(VladaptError::argument("training set", "no training images"));
    }
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
    if method.fits_in_closed_form() {
        let tx = features(pipe, data.train)?;
        let ty: Vec<usize> = data.train.iter().map(|s| s.label).collect();
        let vx = features(pipe, data.val)?;
        let vy: Vec<usize> = data.val.iter().map(|s| s.label).collect();
        let line = method.fit_features((&tx, &ty), (&vx, &vy), data.classnames.len())?;
        log.info(line);
    } else if trains {
        // Data parallelism: one replica per device of `train.devices` (the frozen CLIP copied
        // there, the method built and its class buffers computed there), or `data_parallel`
        // replicas on the pipeline's device. The replicas' parameters are overwritten by the
        // master's at every step.
        let replicas = if cfg.train.replicas() > 1 {
            let dp = DataParallel::for_training(
                &cfg.train.devices,
                cfg.train.data_parallel,
                &pipe.device,
            )?;
            log.info(dp.describe());
            Some((dp.clone(), build_replicas(&dp, pipe, cfg, data)?))
        } else {
            None
        };
        let mut task = ClassificationTask {
            pipe,
            cfg,
            method: method.as_mut(),
            data,
            images: Vec::new(),
            labels: data.train.iter().map(|s| s.label).collect(),
            aug: None,
            cache: None,
            replicas,
        };
        let spec = LoopSpec {
            config: cfg,
            config_diff: crate::protocols::run::config_diff,
            seed: cfg.seed,
            epochs: cfg.epochs(),
            batch_size: cfg.train.batch_size,
            optim: cfg.train.optim.clone(),
        };
        run_epochs(&mut task, &spec, run_dir, &log, opts)?;
    }
    method.freeze_for_inference(clip)?;
    save_adapter(run_dir, method.params(), &adapter_cfg)?;
    log.info(format!(
        "saved {}",
        run_dir.join("adapter.safetensors").display()
    ));
    Ok(method)
}

/// L2-normalised image features (test preprocessing), one host row per sample.
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

/// A classification method as a task of the shared loop.
struct ClassificationTask<'a> {
    pipe: &'a ClipPipeline,
    cfg: &'a RunConfig,
    method: &'a mut dyn AdaptMethod,
    data: &'a TrainData<'a>,
    images: Vec<RgbImage>,
    labels: Vec<usize>,
    aug: Option<TrainAugment>,
    /// Frozen image features of a fixed number of augmented views (`[n, proj]` per view).
    cache: Option<Vec<Tensor<2>>>,
    /// Data parallelism (`train.data_parallel > 1`): the devices and one method per device.
    replicas: Option<(DataParallel, Replicas)>,
}

/// One data-parallel replica: the frozen CLIP on its device (`None`: the pipeline's own, when
/// the replica shares its device) and a method whose class buffers live there.
pub struct Replica {
    /// The frozen CLIP copied to the replica's device.
    pub clip: Option<ClipModel>,
    /// The method, used by one device thread at a time.
    pub method: Mutex<Box<dyn AdaptMethod>>,
}

/// One replica per device.
type Replicas = Vec<Replica>;

/// Build one replica per device of `dp`: the frozen CLIP moved there
/// ([`ToDevice`](crate::models::ToDevice)) unless it is the pipeline's device, and the method
/// built and given its classes there (its buffers — prompt token embeddings, frozen text
/// features — are computed on that device).
pub fn build_replicas(
    dp: &DataParallel,
    pipe: &ClipPipeline,
    cfg: &RunConfig,
    data: &TrainData<'_>,
) -> Result<Vec<Replica>> {
    dp.devices()
        .iter()
        .map(|dev| {
            let clip = (*dev != pipe.device).then(|| pipe.model.to_device(dev));
            let c = clip.as_ref().unwrap_or(&pipe.model);
            let mut m = build(&cfg.method, c, &pipe.tokenizer, dev)?;
            m.set_classes(&ClassSet {
                clip: c,
                tokenizer: &pipe.tokenizer,
                classnames: data.classnames,
                template: data.template,
            })?;
            Ok(Replica {
                clip,
                method: Mutex::new(m),
            })
        })
        .collect()
}

impl ClassificationTask<'_> {
    fn pixels(&self, idx: &[usize], view: u64) -> Result<Tensor<4>> {
        let imgs: Vec<&RgbImage> = idx.iter().map(|&i| &self.images[i]).collect();
        images_to_pixels(
            self.pipe,
            &imgs,
            self.aug.as_ref().map(|a| (a, self.cfg.seed, view, idx)),
        )
    }
}

impl TrainTask for ClassificationTask<'_> {
    fn samples(&self) -> usize {
        self.data.train.len()
    }
    fn params(&self) -> &Params {
        self.method.params()
    }
    fn params_mut(&mut self) -> &mut Params {
        self.method.params_mut()
    }
    fn lr(&self, epoch: usize) -> EpochLr {
        EpochLr::uniform(
            self.cfg.train.schedule.lr(epoch),
            self.method.params().entries().len(),
        )
    }

    fn prepare(&mut self, _start_epoch: usize, log: &RunLog) -> Result<()> {
        let pipe = self.pipe;
        let tc = &self.cfg.train;
        self.images = decode_all(self.data.train, pipe)?;
        let size = pipe.model.config.vision.image_size as u32;
        self.aug = tc.augment.then(|| TrainAugment {
            mean: pipe.preprocess.mean,
            std: pipe.preprocess.std,
            ..TrainAugment::clip(size)
        });
        // Frozen image tower: optionally pre-compute features of a fixed number of views.
        if self.method.frozen_image_features() && tc.cache_views > 0 {
            log.info(format!(
                "caching frozen image features of {} view(s) per image",
                tc.cache_views
            ));
            let n = self.images.len();
            let mut views = Vec::new();
            for v in 0..tc.cache_views {
                let mut feats = Vec::new();
                for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
                    let px = self.pixels(chunk, v as u64)?;
                    feats.push(self.method.image_features(&pipe.model, px)?);
                }
                views.push(Tensor::cat(feats, 0));
            }
            self.cache = Some(views);
        }
        Ok(())
    }

    fn step(
        &mut self,
        idx: &[usize],
        epoch: usize,
        opt: &mut Optimizer,
        lr: &EpochLr,
    ) -> Result<StepStats> {
        let y: Vec<usize> = idx.iter().map(|&i| self.labels[i]).collect();
        let input = match &self.cache {
            Some(views) => {
                let v = &views[epoch % views.len()];
                let ids: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
                let it = Tensor::<1, burn::tensor::Int>::from_data(
                    TensorData::new(ids, [idx.len()]),
                    &self.pipe.device,
                );
                StepInput::Features(v.clone().select(0, it))
            }
            None => StepInput::Pixels(self.pixels(idx, epoch as u64)?),
        };
        let out = match &self.replicas {
            None => train_step_lrs(self.pipe, self.method, opt, input, &y, &lr.per_param)?,
            Some((dp, replicas)) => {
                train_step_parallel(self.pipe, dp, replicas, self.method, opt, input, &y, lr)?
            }
        };
        let hits = if out.loss.is_finite() {
            let c = out.logits.len() / y.len().max(1);
            y.iter()
                .enumerate()
                .filter(|(i, &t)| argmax(&out.logits[i * c..(i + 1) * c]) == t)
                .count()
        } else {
            0
        };
        Ok(StepStats {
            loss: out.loss,
            grad_norm: out.grad_norm,
            count: y.len(),
            hits,
            extra: Vec::new(),
        })
    }
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
    let lrs = vec![lr; method.params().entries().len()];
    train_step_lrs(pipe, method, opt, input, labels, &lrs)
}

fn train_step_lrs(
    pipe: &ClipPipeline,
    method: &mut dyn AdaptMethod,
    opt: &mut Optimizer,
    input: StepInput,
    labels: &[usize],
    lrs: &[f64],
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
    let grad_norm = apply_gradients(method.params_mut(), loss, opt, lrs)?;
    Ok(StepOutput {
        loss: loss_v,
        logits: to_vec_f32(&logits.detach()),
        grad_norm,
    })
}

/// One data-parallel optimisation step: the batch (drawn and augmented exactly as on one
/// device) is split by [`DataParallel::split`]; replica `k` takes the master's parameters,
/// computes the mean cross-entropy of its rows and backpropagates on its own thread; the
/// weighted mean of the gradients (= the full-batch gradient up to summation order) feeds the
/// one optimiser update of the master's parameters. A non-finite loss updates nothing.
#[allow(clippy::too_many_arguments)]
fn train_step_parallel(
    pipe: &ClipPipeline,
    dp: &DataParallel,
    replicas: &[Replica],
    master: &mut dyn AdaptMethod,
    opt: &mut Optimizer,
    input: StepInput,
    labels: &[usize],
    lr: &EpochLr,
) -> Result<StepOutput> {
    let n = labels.len();
    let logits_parts: Mutex<Vec<Vec<f32>>> = Mutex::new(vec![Vec::new(); replicas.len()]);
    let poisoned = || VladaptError::Device {
        field: "data parallel".into(),
        name: "replica".into(),
        reason: "a replica's lock is poisoned (its thread panicked)".into(),
    };
    let (loss, grads) = dp.grads(master.params(), n, |k, rows, p, dev| {
        let clip = replicas[k].clip.as_ref().unwrap_or(&pipe.model);
        let mut m = replicas[k].method.lock().map_err(|_| poisoned())?;
        *m.params_mut() = p.clone();
        let (start, len) = (rows.start, rows.len());
        // The batch was drawn (and augmented) once on the master's device; each replica
        // takes its rows to its own device.
        let feats = match &input {
            StepInput::Features(f) => f.clone().narrow(0, start, len).to_device(dev),
            StepInput::Pixels(px) => {
                m.image_features(clip, px.clone().narrow(0, start, len).to_device(dev))?
            }
        };
        let logits = m.logits(clip, feats)?;
        let loss = cross_entropy(logits.clone(), &labels[rows])?;
        logits_parts.lock().map_err(|_| poisoned())?[k] = to_vec_f32(&logits.detach());
        Ok(loss)
    })?;
    let loss_v = loss as f32;
    if !loss_v.is_finite() {
        return Ok(StepOutput {
            loss: loss_v,
            logits: Vec::new(),
            grad_norm: f64::NAN,
        });
    }
    // The reduced gradient lives on the first device; the master's parameters on the pipeline's.
    let grads = grads
        .into_iter()
        .map(|g| g.to_device(&pipe.device))
        .collect();
    let grad_norm = opt.step_per_param(master.params_mut(), grads, &lr.per_param)?;
    let logits = logits_parts.into_inner().map_err(|_| poisoned())?.concat();
    Ok(StepOutput {
        loss: loss_v,
        logits,
        grad_norm,
    })
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .unwrap_or(0)
}
