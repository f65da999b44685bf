//! Grounding training on the shared loop ([`run_epochs`]): a [`GroundingMethod`] (TransVG or an
//! MMCA variant) as a [`TrainTask`] — batches of (image, expression, box), the L1 + GIoU loss of
//! spec `mmca.md` §1.6 ([`l1_giou_loss`]), AdamW with the official per-group learning rates and StepLR
//! ([`GroundingRunConfig`]). Checkpoints, bit-identical resume, the NaN guard, `metrics.jsonl`,
//! `log.txt` and progress are the loop's, exactly as for classification.
//!
//! A finished run directory is also a model directory: `grounding_config.json`,
//! `model.safetensors` (every tensor under its official name), `vocab.txt`, plus
//! `grounding_method.json` (which method built it).
use super::grounding_config::GroundingRunConfig;
use super::grounding_loss::l1_giou_loss;
use super::optim::Optimizer;
use super::run_dir::RunLog;
use super::task::{
    apply_gradients, run_epochs, EpochLr, LoopSpec, StepStats, TrainOptions, TrainTask,
};
use crate::methods::grounding::{GroundingMethod, GroundingMethodConfig, ParamGroup};
use crate::methods::Params;
use crate::models::grounding::pipeline::{
    Prediction, SingleInput, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE,
};
use crate::models::grounding::preprocess::{prepare, Prepared};
use crate::models::grounding::{GroundingBatch, GroundingConfig, Layout, Weights};
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, write_atomic};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vladapt_data::grounding::{cxcywh_to_xyxy, iou, GroundingAugment, GroundingSample};
use vladapt_image::{ImageLimits, RgbImage};
use vladapt_tokenizer::wordpiece::WordPiece;

/// Which method a grounding model directory was trained with (absent: plain TransVG).
pub const METHOD_FILE: &str = "grounding_method.json";

/// One expression, ready for the model.
#[derive(Debug, Clone)]
struct Item {
    /// Index into [`EncodedSet::images`].
    image: usize,
    /// `[CLS] … [SEP]` ids padded to `max_query_len`.
    ids: Vec<i64>,
    /// 1 = real token.
    mask: Vec<i64>,
    /// Target: normalised `(cx, cy, w, h)` on the padded canvas.
    target: [f32; 4],
}

/// Samples with their images decoded and preprocessed once (evaluation transform: letterbox
/// onto the canvas, ImageNet normalisation) and their expressions tokenised.
pub struct EncodedSet {
    /// The samples, in order.
    pub samples: Vec<GroundingSample>,
    images: Vec<Prepared>,
    items: Vec<Item>,
    canvas: usize,
    max_len: usize,
}

/// `sample i (image, "expression")` for error messages.
fn name_sample(i: usize, s: &GroundingSample) -> String {
    format!("sample {i} ({}, {:?})", s.image.display(), s.expression)
}

impl EncodedSet {
    /// Decode (in parallel, each image once) and check every sample: the image must open and
    /// have the recorded size, the box must lie inside it with a positive area, the expression
    /// must have at least one word piece. Errors name the sample and its file.
    pub fn new(
        samples: Vec<GroundingSample>,
        cfg: &GroundingConfig,
        tok: &WordPiece,
    ) -> Result<Self> {
        let canvas = cfg.image_size;
        let mut index: HashMap<PathBuf, usize> = HashMap::new();
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut items = Vec::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            let [x1, y1, x2, y2] = s.bbox;
            let (w, h) = (s.size.0 as f32, s.size.1 as f32);
            if !(x1.is_finite() && y1.is_finite() && x2.is_finite() && y2.is_finite()) {
                return Err(VladaptError::argument(
                    name_sample(i, s),
                    format!("box {:?} is not finite", s.bbox),
                ));
            }
            if !(x2 > x1 && y2 > y1) {
                return Err(VladaptError::argument(
                    name_sample(i, s),
                    format!("box {:?} has zero area", s.bbox),
                ));
            }
            if x1 < 0.0 || y1 < 0.0 || x2 > w || y2 > h {
                return Err(VladaptError::argument(
                    name_sample(i, s),
                    format!(
                        "box {:?} lies outside the {}×{} image",
                        s.bbox, s.size.0, s.size.1
                    ),
                ));
            }
            if tok.piece_ids(&s.expression).is_empty() {
                return Err(VladaptError::argument(
                    name_sample(i, s),
                    "the expression is empty (no word pieces)",
                ));
            }
            let enc = tok.encode(&s.expression, cfg.max_query_len);
            let image = *index.entry(s.image.clone()).or_insert_with(|| {
                paths.push(s.image.clone());
                paths.len() - 1
            });
            items.push(Item {
                image,
                ids: enc.ids,
                mask: enc.attention_mask,
                target: [0.0; 4],
            });
        }
        let limits = ImageLimits::default();
        let images: Vec<Prepared> = paths
            .par_iter()
            .map(|p| {
                let bad = |e: &dyn std::fmt::Display| {
                    VladaptError::argument(format!("image {}", p.display()), e.to_string())
                };
                let img = vladapt_image::load_rgb(p, &limits).map_err(|e| bad(&e))?;
                prepare(&img, canvas as u32).map_err(|e| bad(&e))
            })
            .collect::<Result<_>>()?;
        for (i, (s, it)) in samples.iter().zip(items.iter_mut()).enumerate() {
            let lb = &images[it.image].letterbox;
            if lb.original != s.size {
                return Err(VladaptError::argument(
                    name_sample(i, s),
                    format!(
                        "the annotation says {}×{} but the image is {}×{}",
                        s.size.0, s.size.1, lb.original.0, lb.original.1
                    ),
                ));
            }
            it.target = lb.box_to_canvas(s.bbox);
        }
        Ok(Self {
            samples,
            images,
            items,
            canvas,
            max_len: cfg.max_query_len,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The target of sample `i`: normalised `(cx, cy, w, h)` on the canvas.
    pub fn target(&self, i: usize) -> [f32; 4] {
        self.items[i].target
    }

    /// The preprocessed image of sample `i` (with its letterbox).
    pub fn prepared(&self, i: usize) -> &Prepared {
        &self.images[self.items[i].image]
    }

    /// The model batch of samples `idx` and their targets `[B, 4]`.
    pub fn batch(&self, idx: &[usize], device: &Device) -> (GroundingBatch, Tensor<2>) {
        let (b, s, l) = (idx.len(), self.canvas, self.max_len);
        let mut px = Vec::with_capacity(b * 3 * s * s);
        let mut pm = Vec::with_capacity(b * s * s);
        let (mut ids, mut tm, mut tg) = (
            Vec::with_capacity(b * l),
            Vec::with_capacity(b * l),
            Vec::with_capacity(b * 4),
        );
        for &i in idx {
            let it = &self.items[i];
            let p = &self.images[it.image];
            px.extend_from_slice(&p.pixels);
            pm.extend_from_slice(&p.mask);
            ids.extend_from_slice(&it.ids);
            tm.extend_from_slice(&it.mask);
            tg.extend_from_slice(&it.target);
        }
        (
            GroundingBatch {
                images: Tensor::from_data(TensorData::new(px, [b, 3, s, s]), device),
                pixel_mask: pm,
                ids,
                text_mask: tm,
            },
            Tensor::from_data(TensorData::new(tg, [b, 4]), device),
        )
    }
}

impl EncodedSet {
    /// The training batch of samples `idx` through the augmentation pipeline of spec §3.3
    /// (`aug`): each image is read again and transformed with its own stream
    /// `augment_rng(seed, epoch, sample)` — so a resumed run sees the same views — and the
    /// (possibly left↔right-swapped) expression is tokenised afterwards.
    pub fn augmented_batch(
        &self,
        idx: &[usize],
        aug: &GroundingAugment,
        tok: &WordPiece,
        seed: u64,
        epoch: usize,
        device: &Device,
    ) -> Result<(GroundingBatch, Tensor<2>)> {
        let limits = ImageLimits::default();
        let outs: Vec<vladapt_data::grounding::AugmentedSample> = idx
            .par_iter()
            .map(|&i| {
                let s = &self.samples[i];
                let img = vladapt_image::load_rgb(&s.image, &limits).map_err(|e| {
                    VladaptError::argument(format!("image {}", s.image.display()), e.to_string())
                })?;
                let mut rng = vladapt_image::augment_rng(seed, epoch as u64, i as u64);
                aug.apply(&img, &s.expression, s.bbox, &mut rng)
                    .map_err(|e| VladaptError::argument(name_sample(i, s), e.to_string()))
            })
            .collect::<Result<_>>()?;
        let (b, sz, l) = (idx.len(), self.canvas, self.max_len);
        let mut px = Vec::with_capacity(b * 3 * sz * sz);
        let mut pm = Vec::with_capacity(b * sz * sz);
        let (mut ids, mut tm, mut tg) = (Vec::new(), Vec::new(), Vec::new());
        for o in outs {
            if o.chw.len() != 3 * sz * sz {
                return Err(VladaptError::config_value(
                    "augmentation canvas",
                    aug.canvas,
                    format!("the model's image_size {sz}"),
                ));
            }
            px.extend_from_slice(&o.chw);
            pm.extend_from_slice(&o.mask);
            let enc = tok.encode(&o.expression, l);
            ids.extend_from_slice(&enc.ids);
            tm.extend_from_slice(&enc.attention_mask);
            tg.extend_from_slice(&o.box_cxcywh);
        }
        Ok((
            GroundingBatch {
                images: Tensor::from_data(TensorData::new(px, [b, 3, sz, sz]), device),
                pixel_mask: pm,
                ids,
                text_mask: tm,
            },
            Tensor::from_data(TensorData::new(tg, [b, 4]), device),
        ))
    }
}

/// Hits (IoU ≥ 0.5 after clamping the prediction to the canvas, spec §1.7) and summed IoU of
/// host boxes (`(cx, cy, w, h)` rows).
pub fn score_boxes(pred: &[f32], target: &[f32]) -> (usize, f64) {
    let (mut hits, mut sum) = (0, 0f64);
    for (p, t) in pred.chunks(4).zip(target.chunks(4)) {
        let p = cxcywh_to_xyxy([p[0], p[1], p[2], p[3]]).map(|v| v.clamp(0.0, 1.0));
        let t = cxcywh_to_xyxy([t[0], t[1], t[2], t[3]]);
        let v = iou(p, t);
        hits += usize::from(v >= 0.5);
        sum += v as f64;
    }
    (hits, sum)
}

/// A grounding method as a task of the shared loop.
struct GroundingTask<'a> {
    method: &'a mut GroundingMethod,
    data: &'a EncodedSet,
    cfg: &'a GroundingRunConfig,
    groups: Vec<ParamGroup>,
    device: Device,
    /// Train-time augmentation (with the tokenizer for the transformed expression).
    augment: Option<(GroundingAugment, &'a WordPiece)>,
    /// Data parallelism (`train.data_parallel > 1` or `train.devices`).
    replicas: Option<super::grounding_parallel::GroundingReplicas>,
}

impl TrainTask for GroundingTask<'_> {
    fn samples(&self) -> usize {
        self.data.len()
    }
    fn params(&self) -> &Params {
        self.method.params()
    }
    fn params_mut(&mut self) -> &mut Params {
        self.method.params_mut()
    }
    fn lr(&self, epoch: usize) -> EpochLr {
        let t = &self.cfg.train;
        EpochLr {
            shown: t.lr(ParamGroup::Rest, epoch),
            per_param: self.groups.iter().map(|&g| t.lr(g, epoch)).collect(),
        }
    }
    fn step(
        &mut self,
        idx: &[usize],
        epoch: usize,
        opt: &mut Optimizer,
        lr: &EpochLr,
    ) -> Result<StepStats> {
        let (batch, target) = match &self.augment {
            Some((aug, tok)) => {
                self.data
                    .augmented_batch(idx, aug, tok, self.cfg.seed, epoch, &self.device)?
            }
            None => self.data.batch(idx, &self.device),
        };
        if let Some(reps) = &self.replicas {
            return super::grounding_parallel::step_parallel(
                reps,
                self.method,
                &batch,
                target,
                opt,
                lr,
            );
        }
        let target_host = to_vec_f32(&target);
        self.method.params_mut().track();
        let pred = match self.method.forward(&batch) {
            Ok(p) => p,
            Err(e) => {
                self.method.params_mut().untrack();
                return Err(e);
            }
        };
        let loss = match l1_giou_loss(pred.clone(), target) {
            Ok(l) => l,
            Err(e) => {
                self.method.params_mut().untrack();
                return Err(e);
            }
        };
        let loss_v = to_vec_f32(&loss.total)[0];
        if !loss_v.is_finite() {
            self.method.params_mut().untrack();
            return Ok(StepStats {
                loss: loss_v,
                grad_norm: f64::NAN,
                count: idx.len(),
                ..Default::default()
            });
        }
        let (l1, giou) = (to_vec_f32(&loss.l1)[0], to_vec_f32(&loss.giou)[0]);
        let (hits, iou_sum) = score_boxes(&to_vec_f32(&pred.detach()), &target_host);
        let grad_norm = apply_gradients(self.method.params_mut(), loss.total, opt, &lr.per_param)?;
        Ok(StepStats {
            loss: loss_v,
            grad_norm,
            count: idx.len(),
            hits,
            extra: vec![
                ("l1", l1 as f64),
                ("giou", giou as f64),
                ("miou", iou_sum / idx.len().max(1) as f64),
            ],
        })
    }
}

/// Where a grounding run starts from.
pub struct GroundingStart {
    /// Model sizes.
    pub model: GroundingConfig,
    /// Initial weights (official TransVG naming).
    pub weights: Weights,
    /// The WordPiece vocabulary.
    pub tokenizer: WordPiece,
    /// Where it came from (for the log).
    pub origin: String,
}

impl GroundingStart {
    /// A model directory (`grounding_config.json`, `model.safetensors` in the official naming,
    /// `vocab.txt`) — e.g. one written by `vladapt ground init`, converted TransVG weights, or a
    /// finished grounding run.
    pub fn from_model_dir(dir: &Path) -> Result<Self> {
        let need = |f: &str| {
            let p = dir.join(f);
            if p.is_file() {
                Ok(p)
            } else {
                Err(VladaptError::NotAModel {
                    kind: "grounding",
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{f} is missing; expected {CONFIG_FILE}, {WEIGHTS_FILE}, {VOCAB_FILE}"
                    ),
                })
            }
        };
        let model = GroundingConfig::from_json_file(&need(CONFIG_FILE)?)?;
        let tokenizer = WordPiece::from_vocab_file(&need(VOCAB_FILE)?, model.lowercase)?;
        if tokenizer.vocab_size() > model.bert.vocab_size {
            return Err(VladaptError::config(
                dir.join(VOCAB_FILE),
                format!(
                    "{} tokens but the model's bert.vocab_size is {}",
                    tokenizer.vocab_size(),
                    model.bert.vocab_size
                ),
            ));
        }
        let weights = Weights::open(&need(WEIGHTS_FILE)?, Layout::TransVg)?;
        Ok(Self {
            model,
            weights,
            tokenizer,
            origin: dir.display().to_string(),
        })
    }
}

impl GroundingStart {
    /// The official starting point (spec §3.2): a DETR checkpoint (official or transformers
    /// naming; ResNet + `input_proj` + encoder become `visumodel.*`, decoder and heads are
    /// ignored) and a BERT checkpoint (`textmodel.bert.*`, pooler ignored), with a fresh fusion
    /// and head initialised as TransVG does (§1.4, [`fresh_fusion_and_head`]); `vocab` is a
    /// WordPiece `vocab.txt` (default: the bundled bert-base-uncased one).
    pub fn from_detr_bert(
        model: GroundingConfig,
        detr: &Path,
        bert: &Path,
        vocab: Option<&Path>,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        model.validate(Path::new("<model config>"))?;
        let tokenizer = match vocab {
            Some(v) => WordPiece::from_vocab_file(v, model.lowercase)?,
            None => WordPiece::bert_base_uncased(),
        };
        if tokenizer.vocab_size() > model.bert.vocab_size {
            return Err(VladaptError::config_value(
                "bert.vocab_size",
                model.bert.vocab_size,
                format!(
                    "at least {}, the number of tokens in the vocabulary",
                    tokenizer.vocab_size()
                ),
            ));
        }
        let d = Weights::open(detr, Layout::Detr)?;
        crate::models::grounding::visual::VisualEncoder::load(&d.root(), &model, device)?;
        d.ensure_all_used()?;
        let b = Weights::open(bert, Layout::Bert)?;
        crate::models::grounding::bert::Bert::load(&b.root(), &model.bert, device)?;
        b.ensure_all_used()?;
        let mut all: Vec<crate::models::grounding::weights::FlatTensor> = Vec::new();
        for (n, sh, t) in d.materialise(device)? {
            all.push((format!("visumodel.{n}"), sh, t));
        }
        for (n, sh, t) in b.materialise(device)? {
            all.push((format!("textmodel.bert.{n}"), sh, t));
        }
        for (n, sh, v) in fresh_fusion_and_head(&model, seed)? {
            let len = v.len();
            all.push((n, sh, Tensor::from_data(TensorData::new(v, [len]), device)));
        }
        let origin = format!("DETR {} + BERT {}", detr.display(), bert.display());
        Ok(Self {
            model,
            weights: Weights::from_tensors(origin.clone(), all),
            tokenizer,
            origin,
        })
    }
}

/// The tensors TransVG creates itself (everything outside `visumodel` and `textmodel`),
/// initialised as the official code does (spec §1.4): `vl_pos_embed` and `reg_token` N(0, 1)
/// (`nn.Embedding`); every fusion-encoder tensor with more than one dimension xavier-uniform,
/// its LayerNorms 1 / 0, attention biases 0 and FFN biases U(±1/√fan_in); `visu_proj`,
/// `text_proj` and the box MLP PyTorch's `nn.Linear` default, U(±1/√fan_in) for weight and bias.
/// Seeded (ChaCha8).
pub fn fresh_fusion_and_head(
    model: &GroundingConfig,
    seed: u64,
) -> Result<Vec<crate::tensor_io::NamedTensor>> {
    use rand::{Rng, SeedableRng};
    // The names and shapes: whatever a TransVG built from a random source asks for.
    let shapes = Weights::random(seed);
    crate::models::grounding::TransVg::load(&shapes.root(), model, &Device::flex())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x4655_5349_4F4E);
    let mut out = Vec::new();
    for (name, shape, _) in shapes.into_tensors() {
        if ParamGroup::of(&name) != ParamGroup::Rest {
            continue;
        }
        let n: usize = shape.iter().product();
        let fan_in = if shape.len() > 1 {
            shape[1..].iter().product::<usize>()
        } else {
            0
        };
        let mut uniform = |a: f64| -> Vec<f32> {
            (0..n)
                .map(|_| rng.random_range(-a..=a) as f32)
                .collect::<Vec<f32>>()
        };
        let vals: Vec<f32> = if name == "vl_pos_embed.weight" || name == "reg_token.weight" {
            // Box–Muller N(0, 1).
            (0..n)
                .map(|_| {
                    let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
                    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                })
                .collect()
        } else if name.starts_with("vl_transformer.") {
            let leaf = name.rsplit('.').next().unwrap_or("");
            if shape.len() > 1 {
                let fan_out = shape[0];
                uniform((6.0 / (fan_in + fan_out) as f64).sqrt())
            } else if name.contains(".norm") {
                vec![if leaf == "weight" { 1.0 } else { 0.0 }; n]
            } else if name.contains(".self_attn.") {
                vec![0.0; n]
            } else {
                // linear1/linear2 biases: U(±1/√fan_in) of their layer's weight.
                let in_features = if name.contains("linear1") {
                    model.fusion.d_model
                } else {
                    model.fusion.ffn
                };
                uniform(1.0 / (in_features as f64).sqrt())
            }
        } else {
            // nn.Linear default (visu_proj, text_proj, bbox_embed): bias bound from the weight's fan_in.
            let fin = if shape.len() > 1 {
                fan_in
            } else if name.starts_with("visu_proj") {
                model.detr.d_model
            } else if name.starts_with("text_proj") {
                model.bert.hidden
            } else {
                model.fusion.d_model
            };
            uniform(1.0 / (fin.max(1) as f64).sqrt())
        };
        out.push((name, shape, vals));
    }
    Ok(out)
}

/// Read `grounding_method.json` of a model directory (plain TransVG when absent).
pub fn read_method(dir: &Path) -> Result<GroundingMethodConfig> {
    let p = dir.join(METHOD_FILE);
    if !p.is_file() {
        return Ok(GroundingMethodConfig::Transvg);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| VladaptError::io(&p, e))?;
    serde_json::from_str(&text).map_err(|e| VladaptError::config(&p, e.to_string()))
}

/// A trained grounding model loaded for inference: the method (with its tensors) and the
/// tokenizer.
pub struct TrainedGrounding {
    /// The method and its tensors.
    pub method: GroundingMethod,
    /// WordPiece tokenizer.
    pub tokenizer: WordPiece,
}

/// Load a model directory (a finished grounding run, or any TransVG model directory) with the
/// method recorded in it. A run directory is checked first ([`check_run_dir`]); an MMCA method
/// whose weights hold none of its adapter tensors (a base TransVG model under an MMCA
/// `grounding_method.json`) is an error rather than freshly initialised adapters.
pub fn load_trained(dir: &Path, device: &Device) -> Result<TrainedGrounding> {
    check_run_dir(dir)?;
    let start = GroundingStart::from_model_dir(dir)?;
    let method_cfg = read_method(dir)?;
    if let GroundingMethodConfig::Mmca(c) = &method_cfg {
        let names = crate::methods::mmca::adapter_shapes(c, &start.model);
        let root = start.weights.root();
        if let Some((first, _)) = names.first() {
            if !names.iter().any(|(n, _)| root.contains(n)) {
                return Err(VladaptError::RunDir {
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{METHOD_FILE} names an MMCA method but {WEIGHTS_FILE} holds none of its {} adapter tensors (e.g. `{first}`): these are base-model weights, not a trained MMCA run",
                        names.len()
                    ),
                });
            }
        }
    }
    let method = GroundingMethod::new(&start.model, &start.weights, method_cfg, device)?;
    Ok(TrainedGrounding {
        method,
        tokenizer: start.tokenizer,
    })
}

/// Checks of a `vladapt ground train` run directory used as a model directory (a plain model
/// directory, without `run_config.json`, passes): the run must have finished (its model files
/// are written only then), and the method of `grounding_method.json` must be the one
/// `run_config.json` trained.
pub fn check_run_dir(dir: &Path) -> Result<()> {
    let run = dir.join("run_config.json");
    if !run.is_file() {
        return Ok(());
    }
    if !dir.join(WEIGHTS_FILE).is_file() {
        return Err(VladaptError::RunDir {
            dir: dir.to_path_buf(),
            reason: format!(
            "the grounding run has not finished ({WEIGHTS_FILE} is written after the last epoch{}); resume it with `vladapt ground train … --output {}`, or give a finished run or a model directory",
            if dir.join("checkpoint").is_dir() {
                "; checkpoint/ holds its progress"
            } else {
                ""
            },
            dir.display()
        ),
        });
    }
    let text = std::fs::read_to_string(&run).map_err(|e| VladaptError::io(&run, e))?;
    let cfg: GroundingRunConfig =
        serde_json::from_str(&text).map_err(|e| VladaptError::config(&run, e.to_string()))?;
    if !dir.join(METHOD_FILE).is_file() {
        return Err(VladaptError::RunDir {
            dir: dir.to_path_buf(),
            reason: format!(
                "{METHOD_FILE} is missing from the finished run (run_config.json trained it); the run directory is incomplete"
            ),
        });
    }
    let method = read_method(dir)?;
    if method != cfg.method {
        return Err(VladaptError::RunDir {
            dir: dir.to_path_buf(),
            reason: format!(
                "{METHOD_FILE} ({}) disagrees with run_config.json ({}): the model files do not belong to this run",
                serde_json::to_string(&method).unwrap_or_default(),
                serde_json::to_string(&cfg.method).unwrap_or_default()
            ),
        });
    }
    Ok(())
}

impl TrainedGrounding {
    /// Ground `text` in `img` with the method's full forward (MMCA's adapters included):
    /// the box in image pixels, as [`crate::models::grounding::GroundingPipeline::predict`].
    pub fn predict(&self, img: &RgbImage, text: &str, device: &Device) -> Result<Prediction> {
        let one = SingleInput::new(
            &self.method.model_config,
            &self.tokenizer,
            img,
            text,
            device,
        )?;
        let out = to_vec_f32(&self.method.forward(&one.batch)?);
        Ok(one.prediction(&out))
    }
}

/// Write `method` as a model directory into `dir` (config, every tensor under its official
/// name, vocabulary, method).
pub fn save_model_dir(dir: &Path, method: &GroundingMethod, tokenizer: &WordPiece) -> Result<()> {
    let mut tensors: Vec<crate::tensor_io::NamedTensor> = method
        .frozen()
        .iter()
        .map(|(n, s, t)| (n.clone(), s.clone(), to_vec_f32(t)))
        .collect();
    tensors.extend(method.params().to_host());
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    save_safetensors_atomic(&dir.join(WEIGHTS_FILE), &tensors, None)?;
    write_atomic(
        &dir.join(CONFIG_FILE),
        pretty(&method.model_config)?.as_bytes(),
    )?;
    write_atomic(&dir.join(METHOD_FILE), pretty(&method.method)?.as_bytes())?;
    let mut text = String::new();
    for id in 0..tokenizer.vocab_size() as i64 {
        text.push_str(tokenizer.token(id).unwrap_or("[unused]"));
        text.push('\n');
    }
    write_atomic(&dir.join(VOCAB_FILE), text.as_bytes())
}

/// Pretty JSON.
fn pretty<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| VladaptError::serialize("grounding model file", e))
}

/// Train `cfg.method` from `start` on `train` into `run_dir`; returns the trained method.
/// Writes `run_config.json`, `log.txt`, `metrics.jsonl`, `checkpoint/` and, when every epoch
/// has run, the model directory files ([`save_model_dir`]).
pub fn train_grounding(
    start: GroundingStart,
    cfg: &GroundingRunConfig,
    train: &EncodedSet,
    run_dir: &Path,
    device: &Device,
    opts: TrainOptions,
) -> Result<GroundingMethod> {
    cfg.check()?;
    if train.is_empty() {
        return Err(VladaptError::argument(
            "grounding training set",
            "no training expressions",
        ));
    }
    let log = RunLog::open(run_dir)?;
    let cfg_json = serde_json::to_string_pretty(cfg)
        .map_err(|e| VladaptError::serialize("run_config.json", e))?;
    write_atomic(&run_dir.join("run_config.json"), cfg_json.as_bytes())?;
    log.info(format!(
        "vladapt {} | grounding method {} | recipe {} | {} training expressions on {} images | model {}",
        env!("CARGO_PKG_VERSION"),
        serde_json::to_value(&cfg.method)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
            .unwrap_or_default(),
        cfg.recipe,
        train.len(),
        train.images.len(),
        start.origin
    ));
    log.info(format!(
        "environment: {} {} | {} threads | backend {:?}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        rayon::current_num_threads(),
        device
    ));
    log.info(format!(
        "config: {}",
        serde_json::to_string(cfg).unwrap_or_default()
    ));
    device.seed(cfg.seed);
    let mut method =
        GroundingMethod::new(&start.model, &start.weights, cfg.method.clone(), device)?;
    log.info(format!(
        "trainable parameters: {} (frozen: {})",
        method.params().numel(),
        method
            .frozen()
            .iter()
            .map(|(_, s, _)| s.iter().product::<usize>())
            .sum::<usize>()
    ));
    let groups = method
        .params()
        .entries()
        .iter()
        .map(|p| ParamGroup::of(&p.name))
        .collect();
    // Data parallelism: replicas on `train.devices` (a copy of every tensor on each), or
    // `data_parallel` replicas on the training device (gathered, as a collective needs
    // distinct devices).
    let replicas = if cfg.train.replicas() > 1 {
        let dp = super::data_parallel::DataParallel::for_training(
            &cfg.train.devices,
            cfg.train.data_parallel,
            device,
        )?;
        log.info(dp.describe());
        Some(super::grounding_parallel::GroundingReplicas::new(
            dp, &method,
        ))
    } else {
        None
    };
    let mut task = GroundingTask {
        method: &mut method,
        data: train,
        cfg,
        groups,
        device: device.clone(),
        // The official pipeline, quirks included (spec §3.3, §5.2.6).
        augment: cfg.train.augment.then(|| {
            (
                GroundingAugment::official(start.model.image_size as u32),
                &start.tokenizer,
            )
        }),
        replicas,
    };
    let spec = LoopSpec {
        config: cfg,
        config_diff: crate::protocols::run::config_diff,
        seed: cfg.seed,
        epochs: cfg.train.epochs,
        batch_size: cfg.train.batch_size,
        optim: cfg.train.optim(),
    };
    run_epochs(&mut task, &spec, run_dir, &log, opts)?;
    save_model_dir(run_dir, &method, &start.tokenizer)?;
    log.info(format!("saved {}", run_dir.join(WEIGHTS_FILE).display()));
    Ok(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_use_iou_at_one_half_with_clamped_predictions() {
        // Same box → IoU 1; shifted by half its width → IoU 1/3 (miss); a prediction sticking
        // out of the canvas is clamped first: [−0.5, 0, 0.5, 1] → [0, 0, 0.5, 1] = target.
        let t = [0.5, 0.5, 0.2, 0.2, 0.5, 0.5, 0.2, 0.2, 0.25, 0.5, 0.5, 1.0];
        let p = [0.5, 0.5, 0.2, 0.2, 0.6, 0.5, 0.2, 0.2, 0.0, 0.5, 1.0, 1.0];
        let (hits, sum) = score_boxes(&p, &t);
        assert_eq!(hits, 2);
        assert!((sum - (1.0 + 1.0 / 3.0 + 1.0)).abs() < 1e-5, "{sum}");
    }
}
