//! `vladapt ground inspect-step`: one forward/backward of a grounding model (TransVG or MMCA)
//! on given images, expressions and target boxes, written to safetensors so it can be compared
//! step for step with the official PyTorch code.
//!
//! Evaluation transform (long side → canvas, ImageNet normalisation, centre pad; no
//! augmentation; the model has no dropout). Output tensors:
//! - `boxes [B, 4]` predicted normalised `(cx, cy, w, h)` on the padded canvas,
//!   `target [B, 4]` the given boxes in that frame;
//! - `loss/l1`, `loss/giou`, `loss/total` `[1]` (official `trans_vg_loss`: sums / B);
//! - `visual_tokens [B, h·w, d]`: the visual-encoder output (DETR memory before `visu_proj`,
//!   batch-first; the official `visumodel` returns it sequence-first);
//! - `grad/<official name>`: the gradient of every trainable tensor, before clipping, with its
//!   logical shape;
//! - `text_condition [B, d]` (MMCA only): the pooled text vector `t`.
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use vladapt::methods::grounding::{GroundingMethod, GroundingMethodConfig};
use vladapt::methods::mmca::is_adapter_name;
use vladapt::models::grounding::pipeline::{CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE};
use vladapt::models::grounding::preprocess::prepare;
use vladapt::models::grounding::weights::FlatTensor;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, Layout, Weights};
use vladapt::tensor::{Tensor, TensorData};
use vladapt::tensor_io::{save_safetensors_atomic, to_vec_f32, NamedTensor, WeightStore};
use vladapt::train::grounding_loss::l1_giou_loss;
use vladapt_tokenizer::wordpiece::WordPiece;

/// Arguments of `vladapt ground inspect-step`.
#[derive(Args)]
pub struct InspectStepArgs {
    /// Model directory (grounding_config.json, vocab.txt, and model.safetensors unless
    /// --checkpoint is given).
    #[arg(long)]
    model: PathBuf,
    /// A checkpoint whose tensors replace the directory's model.safetensors ones: a whole
    /// TransVG or MMCA model in the official naming (`module.` / `model.` prefixes accepted) or
    /// only its trainable tensors (as vladapt writes them, same names); MMCA adapter tensors are
    /// added. Without model.safetensors the checkpoint must hold the whole model.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Method: `auto` (MMCA `official` when the weights hold MMCA adapter tensors, else
    /// `transvg`), `transvg`, or an MMCA preset (official, fixed, mmca, mmca-no-gate,
    /// static-lora, transformer-only, conv-only).
    #[arg(long, default_value = "auto")]
    method: String,
    /// An MMCA configuration JSON file (kebab-case fields); overrides --method.
    #[arg(long)]
    mmca_config: Option<PathBuf>,
    /// Image file (repeat, one per sample; with --text and --box).
    #[arg(long)]
    image: Vec<PathBuf>,
    /// Referring expression (repeat).
    #[arg(long)]
    text: Vec<String>,
    /// Target box in image pixels, `x1,y1,x2,y2` (repeat).
    #[arg(long = "box")]
    boxes: Vec<String>,
    /// JSONL file of samples instead: one `{"image": path, "text": "...", "box": [x1, y1, x2,
    /// y2]}` per line (`expression` is accepted for `text`); relative image paths are relative
    /// to the file.
    #[arg(long, conflicts_with_all = ["image", "text", "boxes"])]
    samples: Option<PathBuf>,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

struct Sample {
    image: PathBuf,
    text: String,
    bbox: [f32; 4],
    origin: String,
}

fn parse_box(s: &str, origin: &str) -> Result<[f32; 4]> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{origin}: box `{s}` is not four numbers x1,y1,x2,y2"))?;
    let Ok(b) = <[f32; 4]>::try_from(v) else {
        bail!("{origin}: box `{s}` is not four numbers x1,y1,x2,y2");
    };
    Ok(b)
}

fn samples(a: &InspectStepArgs) -> Result<Vec<Sample>> {
    if let Some(path) = &a.samples {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--samples {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let origin = format!("{} line {}", path.display(), i + 1);
            let v: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("{origin}: not JSON"))?;
            let image = v["image"]
                .as_str()
                .with_context(|| format!("{origin}: no string field `image`"))?;
            let t = v["text"]
                .as_str()
                .or_else(|| v["expression"].as_str())
                .with_context(|| format!("{origin}: no string field `text` (or `expression`)"))?;
            let b: Vec<f32> = v["box"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_f64())
                        .map(|x| x as f32)
                        .collect()
                })
                .unwrap_or_default();
            let Ok(bbox) = <[f32; 4]>::try_from(b) else {
                bail!("{origin}: `box` must be four numbers [x1, y1, x2, y2]");
            };
            out.push(Sample {
                image: base.join(image),
                text: t.to_string(),
                bbox,
                origin,
            });
        }
        if out.is_empty() {
            bail!("--samples {}: no samples", path.display());
        }
        return Ok(out);
    }
    if a.image.is_empty() {
        bail!("give samples with --image/--text/--box (repeated) or --samples FILE.jsonl");
    }
    if a.text.len() != a.image.len() || a.boxes.len() != a.image.len() {
        bail!(
            "{} --image, {} --text and {} --box: give one of each per sample",
            a.image.len(),
            a.text.len(),
            a.boxes.len()
        );
    }
    (0..a.image.len())
        .map(|i| {
            let origin = format!("sample {i} ({})", a.image[i].display());
            Ok(Sample {
                image: a.image[i].clone(),
                text: a.text[i].clone(),
                bbox: parse_box(&a.boxes[i], &origin)?,
                origin,
            })
        })
        .collect()
}

/// The model directory's weights with the checkpoint's tensors on top (a checkpoint may hold
/// only the trainable tensors, or a whole model). Both go through the TransVG layout.
fn load_weights(
    base: &Path,
    checkpoint: Option<&Path>,
    dev: &vladapt::tensor::Device,
) -> Result<Weights> {
    let open = |p: &Path| -> Result<Weights> {
        let store = WeightStore::open(p).with_context(|| format!("weights {}", p.display()))?;
        Ok(Weights::new(store, Layout::TransVg)?)
    };
    let Some(ckpt) = checkpoint else {
        return open(base);
    };
    if !base.is_file() {
        return open(ckpt);
    }
    // On the step's device: the method keeps these tensors as they are.
    let mut merged: std::collections::BTreeMap<String, FlatTensor> = open(base)?
        .materialise(dev)?
        .into_iter()
        .map(|t| (t.0.clone(), t))
        .collect();
    for t in open(ckpt)?.materialise(dev)? {
        if let Some(old) = merged.get(&t.0) {
            if old.1 != t.1 {
                bail!(
                    "--checkpoint {}: tensor `{}` has shape {:?}, the model has {:?}",
                    ckpt.display(),
                    t.0,
                    t.1,
                    old.1
                );
            }
        } else if !is_adapter_name(&t.0) {
            bail!(
                "--checkpoint {}: tensor `{}` is not part of the model in {}",
                ckpt.display(),
                t.0,
                base.display()
            );
        }
        merged.insert(t.0.clone(), t);
    }
    Ok(Weights::from_tensors(ckpt, merged.into_values().collect()))
}

/// Run `vladapt ground inspect-step`.
pub fn run(a: InspectStepArgs) -> Result<()> {
    let device = super::device(&a.device)?.autodiff();
    let cfg = GroundingConfig::from_json_file(&a.model.join(CONFIG_FILE))?;
    let tokenizer = WordPiece::from_vocab_file(&a.model.join(VOCAB_FILE), cfg.lowercase)
        .with_context(|| format!("--model {}: {VOCAB_FILE}", a.model.display()))?;
    let weights = load_weights(
        &a.model.join(WEIGHTS_FILE),
        a.checkpoint.as_deref(),
        &device,
    )?;
    let method = match (&a.mmca_config, a.method.as_str()) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--mmca-config {}", path.display()))?;
            GroundingMethodConfig::Mmca(
                serde_json::from_str(&text)
                    .with_context(|| format!("--mmca-config {}", path.display()))?,
            )
        }
        (None, "auto") => {
            // Every MMCA variant has up-projections; look for the first one of either kind.
            let root = weights.root();
            let holds = root.contains(
                "visumodel.transformer.encoder.layers.0.text_linear_q.visual_linear_static_up.weight",
            ) || root.contains("visumodel.backbone.0.multimodal_layers.0.visual_conv_static_up.weight");
            if holds {
                GroundingMethodConfig::preset("official")?
            } else {
                GroundingMethodConfig::Transvg
            }
        }
        (None, name) => GroundingMethodConfig::preset(name).context("--method")?,
    };
    let mut m = GroundingMethod::new(&cfg, &weights, method, &device)?;

    let samples = samples(&a)?;
    let s = cfg.image_size;
    let mut pixels = Vec::with_capacity(samples.len() * 3 * s * s);
    let mut mask = Vec::with_capacity(samples.len() * s * s);
    let mut ids = Vec::new();
    let mut text_mask = Vec::new();
    let mut target = Vec::new();
    for smp in &samples {
        let img = vladapt_image::load_rgb(&smp.image, &vladapt_image::ImageLimits::default())
            .with_context(|| format!("{}: image {}", smp.origin, smp.image.display()))?;
        let [x1, y1, x2, y2] = smp.bbox;
        let (w, h) = (img.width() as f32, img.height() as f32);
        if !(x2 > x1 && y2 > y1) {
            bail!(
                "{}: box {:?} has zero or negative area",
                smp.origin,
                smp.bbox
            );
        }
        if x1 < 0.0 || y1 < 0.0 || x2 > w || y2 > h {
            bail!(
                "{}: box {:?} lies outside the {w}×{h} image",
                smp.origin,
                smp.bbox
            );
        }
        if tokenizer.piece_ids(&smp.text).is_empty() {
            bail!("{}: the expression {:?} is empty", smp.origin, smp.text);
        }
        let p = prepare(&img, s as u32)?;
        target.extend_from_slice(&p.letterbox.box_to_canvas(smp.bbox));
        pixels.extend_from_slice(&p.pixels);
        mask.extend_from_slice(&p.mask);
        let enc = tokenizer.encode(&smp.text, cfg.max_query_len);
        if enc.truncated {
            eprintln!(
                "note: {}: the expression was truncated to {} word pieces",
                smp.origin,
                cfg.max_query_len - 2
            );
        }
        ids.extend_from_slice(&enc.ids);
        text_mask.extend_from_slice(&enc.attention_mask);
    }
    let b = samples.len();
    let batch = GroundingBatch {
        images: Tensor::from_data(TensorData::new(pixels, [b, 3, s, s]), &device),
        pixel_mask: mask,
        ids,
        text_mask,
    };
    let target = Tensor::<2>::from_data(TensorData::new(target, [b, 4]), &device);

    m.params_mut().track();
    let out = m.forward_full(&batch, false)?;
    let loss = l1_giou_loss(out.boxes.clone(), target.clone())?;
    let grads = loss.total.backward();

    let mut tensors: Vec<NamedTensor> = vec![
        ("boxes".into(), vec![b, 4], to_vec_f32(&out.boxes)),
        ("target".into(), vec![b, 4], to_vec_f32(&target)),
        ("loss/l1".into(), vec![1], to_vec_f32(&loss.l1)),
        ("loss/giou".into(), vec![1], to_vec_f32(&loss.giou)),
        ("loss/total".into(), vec![1], to_vec_f32(&loss.total)),
        (
            "visual_tokens".into(),
            out.visual.tokens.dims().to_vec(),
            to_vec_f32(&out.visual.tokens),
        ),
    ];
    if let Some(t) = &out.text_condition {
        tensors.push(("text_condition".into(), t.dims().to_vec(), to_vec_f32(t)));
    }
    let mut norm2 = 0f64;
    let mut missing = Vec::new();
    for (p, g) in m.params().entries().iter().zip(m.params().grads(&grads)) {
        let vals = match g {
            Some(g) => to_vec_f32(&g),
            None => {
                missing.push(p.name.clone());
                vec![0.0; p.shape.iter().product()]
            }
        };
        norm2 += vals.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
        tensors.push((format!("grad/{}", p.name), p.shape.clone(), vals));
    }
    if !missing.is_empty() {
        eprintln!(
            "note: {} trainable tensor(s) got no gradient (written as zeros), e.g. {}",
            missing.len(),
            missing[0]
        );
    }
    save_safetensors_atomic(&a.out, &tensors, None)
        .with_context(|| format!("--out {}", a.out.display()))?;
    let l = |t: &Tensor<1>| to_vec_f32(t)[0];
    println!(
        "method {}: loss {:.6} (l1 {:.6}, giou {:.6}); {} gradients, global norm {:.6e} (before clipping); wrote {}",
        match m.method {
            GroundingMethodConfig::Transvg => "transvg",
            GroundingMethodConfig::Mmca(_) => "mmca",
        },
        l(&loss.total),
        l(&loss.l1),
        l(&loss.giou),
        m.params().entries().len(),
        norm2.sqrt(),
        a.out.display()
    );
    Ok(())
}
