//! `vladapt ground train` and `vladapt ground eval`: grounding methods (TransVG, MMCA and its
//! ablations) trained on the shared trainer with the official recipes, evaluated per split with
//! Acc@0.5 / mean IoU, a paper-shaped Markdown table, a JSON file and a PNG sheet.
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use vladapt::methods::grounding::GroundingMethodConfig;
use vladapt::models::grounding::{GroundingConfig, PRESETS};
use vladapt::train::grounding::{
    load_trained, train_grounding, EncodedSet, GroundingStart, METHOD_FILE,
};
use vladapt::train::grounding_config::{GroundingRunConfig, RECIPES};
use vladapt::train::grounding_eval::{
    predict_boxes, prediction_sheet, sample_ious, score, SplitMetrics,
};
use vladapt::train::TrainOptions;
use vladapt_data::grounding::GroundingSample;

/// Method names accepted by `--method` (the MMCA ones are `MmcaConfig` presets).
pub const METHODS: &[&str] = &[
    "transvg",
    "mmca",
    "mmca-no-gate",
    "static-lora",
    "transformer-only",
    "conv-only",
];

/// The method configuration of `--method NAME` for `model`: `transvg`, or an MMCA preset
/// (`mmca` = the corrected `fixed` preset, its ablations, or `official`) with the adapter sizes
/// in the official proportions to the DETR width `d` (rank `d/4`, embedding `d/2`, gate hidden
/// `d/8`: 64 / 128 / 32 at `transvg-r50`) and the adapters initialised from `seed`.
pub fn method_for(name: &str, model: &GroundingConfig, seed: u64) -> Result<GroundingMethodConfig> {
    let m = GroundingMethodConfig::preset(name)
        .with_context(|| format!("--method (known: {})", METHODS.join(", ")))?;
    Ok(match m {
        GroundingMethodConfig::Mmca(mut c) => {
            let d = model.detr.d_model;
            c.rank = (d / 4).max(1);
            c.embed_dim = (d / 2).max(1);
            c.gate_hidden = (d / 8).max(1);
            c.init_seed = seed;
            c.validate()?;
            GroundingMethodConfig::Mmca(c)
        }
        other => other,
    })
}

/// Where the images of TransVG split files are and which dataset they belong to.
#[derive(Args, Clone, Default)]
pub struct SplitSource {
    /// Image folder for split files (`.pth`: e.g. `ln_data/other/images/mscoco/images/train2014`)
    /// and, when given, for JSONL files (default: the JSONL file's folder).
    #[arg(long)]
    images: Option<PathBuf>,
    /// Dataset of `.pth` split files: referit, unc, unc+, gref, gref_umd, flickr.
    #[arg(long)]
    kind: Option<String>,
}

/// Referring expressions of one split: a grounding JSONL file (`{"image", "expression", "box"}`
/// per line, as `vladapt world grounding` writes `train.jsonl` / `val.jsonl` / `test.jsonl`), a
/// TransVG split file (`<ds>_<split>.pth`, with `--images` and `--kind`), or a world directory
/// with `annotations.jsonl` (`vladapt world generate`).
pub fn load_split(path: &Path, src: &SplitSource) -> Result<Vec<GroundingSample>> {
    use vladapt_data::grounding::{load_grounding_jsonl, load_transvg_split, GroundingSplitKind};
    if path.is_dir() && path.join("annotations.jsonl").is_file() {
        return Ok(vladapt_data::grounding::load_world_grounding(path)?);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => Ok(load_grounding_jsonl(path, src.images.as_deref())?),
        Some("pth") => {
            let kind = src
                .kind
                .as_deref()
                .context("a .pth split file needs --kind (referit, unc, unc+, gref, gref_umd, flickr)")?;
            let k = GroundingSplitKind::parse(kind).with_context(|| {
                format!("--kind {kind}: unknown (referit, unc, unc+, gref, gref_umd, flickr)")
            })?;
            let images = src
                .images
                .as_deref()
                .context("a .pth split file needs --images (the folder of its image files)")?;
            Ok(load_transvg_split(path, images, k)?)
        }
        _ => bail!(
            "{}: not a grounding split (expected a .jsonl file, a TransVG .pth split file, or a world directory with annotations.jsonl)",
            path.display()
        ),
    }
}

/// Arguments of `vladapt ground train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Training split: a grounding JSONL file, a TransVG `.pth` split file (with --images and
    /// --kind) or a world directory with annotations.jsonl.
    #[arg(long)]
    train: PathBuf,
    #[command(flatten)]
    source: SplitSource,
    /// Split evaluated after training (same kinds as --train).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Method: transvg, mmca, mmca-no-gate, static-lora, transformer-only, conv-only (or the
    /// MMCA presets official / fixed).
    #[arg(long, default_value = "transvg")]
    method: String,
    /// Recipe preset: refcoco, refcoco+, refcocog, referit (official), tiny (demo).
    #[arg(long, default_value = "tiny")]
    recipe: String,
    /// Run configuration file (JSON/TOML) instead of --recipe/--method.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a configuration key: `--set train.epochs=5` (repeatable).
    #[arg(long = "set")]
    sets: Vec<String>,
    /// Initial model: a model directory (grounding_config.json, model.safetensors in the
    /// official TransVG naming, vocab.txt) — from `vladapt ground init`, converted TransVG
    /// weights, or a finished run.
    #[arg(long, required_unless_present_all = ["detr", "bert"], conflicts_with_all = ["detr", "bert"])]
    model: Option<PathBuf>,
    /// The official start instead of --model: a DETR checkpoint (safetensors, official or
    /// transformers naming; `vladapt convert detr-r50-unc.pth …`) …
    #[arg(long, requires = "bert")]
    detr: Option<PathBuf>,
    /// … and a BERT checkpoint (safetensors); fusion and head are initialised fresh (spec §1.4).
    #[arg(long, requires = "detr")]
    bert: Option<PathBuf>,
    /// Model shape with --detr/--bert: transvg-r50, transvg-r101, tiny.
    #[arg(long, default_value = "transvg-r50")]
    preset: String,
    /// WordPiece vocabulary with --detr/--bert (default: the bundled bert-base-uncased).
    #[arg(long)]
    vocab: Option<PathBuf>,
    /// Seed (batch order, new tensors).
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Run directory.
    #[arg(long)]
    output: PathBuf,
    /// Replace a run already in --output (finished or interrupted).
    #[arg(long)]
    overwrite: bool,
    /// Stop after this many epochs (the run stays resumable).
    #[arg(long, hide = true)]
    stop_after_epochs: Option<usize>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Data-parallel training over these devices, one replica each (`cuda:0,cuda:1`,
    /// `cpu,ndarray` where built with the `ndarray` feature): sets `train.devices`.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
}

/// Files and folders a grounding run writes into its directory (removed by `--overwrite`).
const RUN_FILES: &[&str] = &[
    "run_config.json",
    "log.txt",
    "metrics.jsonl",
    "checkpoint",
    "checkpoint.old",
    "checkpoint.new",
    "model.safetensors",
    "grounding_config.json",
    "vocab.txt",
    METHOD_FILE,
    "eval.json",
];

fn remove_run(dir: &Path) -> Result<()> {
    for f in RUN_FILES {
        let p = dir.join(f);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.exists() {
            std::fs::remove_file(&p)
        } else {
            continue;
        };
        r.with_context(|| format!("--overwrite: cannot remove {}", p.display()))?;
    }
    Ok(())
}

/// The resolved run configuration from --config or --recipe/--method (sized for `model`),
/// --seed and --set.
pub fn resolve_config(
    config: Option<&Path>,
    recipe: &str,
    method: &str,
    model: &GroundingConfig,
    seed: u64,
    sets: &[String],
) -> Result<GroundingRunConfig> {
    let mut cfg = match config {
        Some(p) => GroundingRunConfig::from_file(p)?,
        None => GroundingRunConfig::preset(recipe, method_for(method, model, seed)?, seed)
            .with_context(|| format!("--recipe (known: {})", RECIPES.join(", ")))?,
    };
    cfg.seed = seed;
    cfg.apply_overrides(sets)?;
    Ok(cfg)
}

/// A finished run (model written) in `out` is reused only with the same configuration.
fn finished_same(out: &Path, cfg: &GroundingRunConfig) -> Result<bool> {
    let p = out.join("run_config.json");
    if !(p.is_file() && out.join("model.safetensors").is_file()) {
        return Ok(false);
    }
    let old: GroundingRunConfig = serde_json::from_str(&std::fs::read_to_string(&p)?)
        .with_context(|| format!("{}: unreadable run configuration", p.display()))?;
    if old != *cfg {
        bail!(
            "{} holds a finished run with a different configuration ({}); use another --output for the new run, or pass --overwrite to replace this one",
            out.display(),
            vladapt::protocols::run::config_diff(&old, cfg)
        );
    }
    Ok(true)
}

/// Run `vladapt ground train`.
pub fn train(a: TrainArgs) -> Result<()> {
    // Everything that needs no weights is checked first (the model's sizes come from its
    // small config file or the preset).
    let mut sets = a.sets.clone();
    if !a.devices.is_empty() {
        vladapt::device::parse_devices("--devices", &a.devices)?;
        sets.push(format!(
            "train.devices={}",
            serde_json::to_string(&a.devices)?
        ));
    }
    let model_cfg = match &a.model {
        Some(m) => GroundingConfig::from_json_file(&m.join("grounding_config.json"))
            .with_context(|| format!("--model {}", m.display()))?,
        None => GroundingConfig::preset(&a.preset)
            .with_context(|| format!("--preset (known: {})", PRESETS.join(", ")))?,
    };
    let cfg = resolve_config(
        a.config.as_deref(),
        &a.recipe,
        &a.method,
        &model_cfg,
        a.seed,
        &sets,
    )?;
    let device = super::device(&a.device)?;
    if a.overwrite {
        remove_run(&a.output)?;
    }
    if finished_same(&a.output, &cfg)? {
        eprintln!(
            "{}: already finished with this configuration",
            a.output.display()
        );
    } else {
        let start = match (&a.model, &a.detr, &a.bert) {
            (Some(m), _, _) => GroundingStart::from_model_dir(m)
                .with_context(|| format!("--model {}", m.display()))?,
            (None, Some(d), Some(b)) => GroundingStart::from_detr_bert(
                model_cfg.clone(),
                d,
                b,
                a.vocab.as_deref(),
                a.seed,
                &device,
            )
            .with_context(|| format!("--detr {} --bert {}", d.display(), b.display()))?,
            _ => bail!("give --model DIR, or --detr FILE and --bert FILE"),
        };
        let samples = load_split(&a.train, &a.source)
            .with_context(|| format!("--train {}", a.train.display()))?;
        let data = EncodedSet::new(samples, &start.model, &start.tokenizer)
            .with_context(|| format!("--train {}", a.train.display()))?;
        train_grounding(
            start,
            &cfg,
            &data,
            &a.output,
            &device,
            TrainOptions {
                resume: true,
                progress: true,
                stop_after_epochs: a.stop_after_epochs,
            },
        )?;
        eprintln!("trained; model directory {}", a.output.display());
    }
    if let Some(val) = &a.val {
        let m = evaluate_dir(
            &a.output,
            &[("val".into(), val.clone())],
            &a.source,
            &device,
            64,
        )?;
        vladapt::tensor_io::write_atomic(
            &a.output.join("eval.json"),
            serde_json::to_string_pretty(&m.iter().map(|(_, s)| s).collect::<Vec<_>>())?.as_bytes(),
        )?;
        for (_, s) in &m {
            println!(
                "{}: Acc@0.5 {:.2}%  mIoU {:.2}%  ({} expressions)",
                s.split, s.acc_at_05, s.miou, s.n
            );
        }
    }
    Ok(())
}

/// One evaluated split: its samples, the predicted boxes and the metrics.
type Evaluated = ((EncodedSet, Vec<[f32; 4]>), SplitMetrics);

/// Evaluate the model directory `model` on `(label, split path)` pairs; returns the encoded
/// split and the predictions with the metrics.
fn evaluate_dir(
    model: &Path,
    splits: &[(String, PathBuf)],
    src: &SplitSource,
    device: &vladapt::tensor::Device,
    batch: usize,
) -> Result<Vec<Evaluated>> {
    let t = load_trained(model, device).with_context(|| format!("--model {}", model.display()))?;
    let mut out = Vec::new();
    for (label, path) in splits {
        let samples = load_split(path, src).with_context(|| format!("split {label}"))?;
        let data = EncodedSet::new(samples, &t.method.model_config, &t.tokenizer)
            .with_context(|| format!("split {label} ({})", path.display()))?;
        let pred = predict_boxes(&t.method, &data, batch, device, true)?;
        let m = score(label, &pred, &data)?;
        out.push(((data, pred), m));
    }
    Ok(out)
}

/// Arguments of `vladapt ground eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Model directory (a finished `ground train` run or any TransVG model directory).
    #[arg(long)]
    model: PathBuf,
    /// `LABEL=PATH` (repeatable): e.g. `val=world/val`, `refcoco/testA=…`; the papers' labels
    /// (refcoco/val, refcoco/testA, refcoco/testB, refcoco+/…, refcocog/val-g, refcocog/val-u,
    /// refcocog/test-u, referit/test) give the papers' table columns.
    #[arg(long = "split", required = true)]
    splits: Vec<String>,
    #[command(flatten)]
    source: SplitSource,
    /// Row name in the table (default: the method of the model directory).
    #[arg(long)]
    name: Option<String>,
    /// Write the Markdown table here.
    #[arg(long)]
    table: Option<PathBuf>,
    /// Write the metrics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a PNG sheet of the first predictions of the first split here.
    #[arg(long)]
    sheet: Option<PathBuf>,
    /// Predictions on the sheet.
    #[arg(long, default_value_t = 16)]
    sheet_size: usize,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Evaluate only shard `i/N` (0-based) of every split, in whole batches of --batch; write
    /// its partial result with --out and merge the shards with `vladapt ground eval-merge`.
    #[arg(long, requires = "out", conflicts_with = "shards")]
    shard: Option<String>,
    /// Number of shards, the index taken from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (Slurm array).
    #[arg(long, requires = "out")]
    shards: Option<usize>,
    /// The shard's result file (with --shard / --shards), written atomically.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Run `vladapt ground eval`.
pub fn eval(a: EvalArgs) -> Result<()> {
    let device = super::device(&a.device)?;
    let splits: Vec<(String, PathBuf)> = a
        .splits
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(l, p)| (l.to_string(), PathBuf::from(p)))
                .with_context(|| format!("--split {s}: expected LABEL=PATH"))
        })
        .collect::<Result<_>>()?;
    let shard = super::ground_shard::resolve_shard(a.shard.as_deref(), a.shards)?;
    if shard.is_some() && (a.table.is_some() || a.json.is_some()) {
        bail!("--table/--json: a shard writes its partial result with --out; `vladapt ground eval-merge` writes the table and JSON of all shards");
    }
    if shard.is_none() && a.out.is_some() {
        bail!(
            "--out is the result file of a shard: give --shard i/N or --shards N (or use --json)"
        );
    }
    let name = match &a.name {
        Some(n) => n.clone(),
        None => serde_json::to_value(vladapt::train::grounding::read_method(&a.model)?)?
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("model")
            .to_string(),
    };
    if let (Some(shard), Some(out)) = (shard, &a.out) {
        return eval_shard(&a, &splits, &name, shard, out, &device);
    }
    let results = evaluate_dir(&a.model, &splits, &a.source, &device, a.batch)?;
    let metrics: Vec<SplitMetrics> = results.iter().map(|(_, m)| m.clone()).collect();
    super::ground_shard::report(
        &a.model,
        &name,
        &metrics,
        a.table.as_deref(),
        a.json.as_deref(),
    )?;
    if let Some(p) = &a.sheet {
        let ((data, pred), _) = &results[0];
        prediction_sheet(p, data, pred, a.sheet_size)?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// `ground eval --shard`: this shard's rows of every split, their IoUs written to `out`.
fn eval_shard(
    a: &EvalArgs,
    splits: &[(String, PathBuf)],
    name: &str,
    shard: vladapt_table::Shard,
    out: &Path,
    device: &vladapt::tensor::Device,
) -> Result<()> {
    use super::ground_shard::{
        model_fingerprint, samples_fingerprint, shard_rows, write_shard, Fingerprint, ShardResult,
        ShardSplit, SplitFingerprint, SHARD_KIND,
    };
    let t =
        load_trained(&a.model, device).with_context(|| format!("--model {}", a.model.display()))?;
    let mut fp = Fingerprint {
        model: a.model.clone(),
        model_sha256: model_fingerprint(&a.model)?,
        name: name.to_string(),
        batch: a.batch.max(1),
        splits: Vec::new(),
    };
    let mut parts = Vec::new();
    let mut first: Option<(EncodedSet, Vec<[f32; 4]>)> = None;
    for (label, path) in splits {
        let samples = load_split(path, &a.source).with_context(|| format!("split {label}"))?;
        if samples.is_empty() {
            bail!("split {label} ({}): no expressions", path.display());
        }
        fp.splits.push(SplitFingerprint {
            label: label.clone(),
            total: samples.len(),
            samples_sha256: samples_fingerprint(&samples),
        });
        let rows = shard_rows(samples.len(), fp.batch, shard)?;
        eprintln!(
            "shard {shard}: split {label} rows {rows:?} of {}",
            samples.len()
        );
        let mut bits = Vec::new();
        if !rows.is_empty() {
            let data = EncodedSet::new(
                samples[rows.clone()].to_vec(),
                &t.method.model_config,
                &t.tokenizer,
            )
            .with_context(|| format!("split {label} ({})", path.display()))?;
            let pred = predict_boxes(&t.method, &data, fp.batch, device, true)?;
            bits = sample_ious(label, &pred, &data)?
                .into_iter()
                .map(f32::to_bits)
                .collect();
            if first.is_none() {
                first = Some((data, pred));
            }
        }
        parts.push(ShardSplit {
            label: label.clone(),
            start: rows.start,
            end: rows.end,
            iou_bits: bits,
        });
    }
    write_shard(
        out,
        &ShardResult {
            kind: SHARD_KIND.to_string(),
            shard: shard.to_string(),
            fingerprint: fp,
            splits: parts,
        },
    )?;
    eprintln!("wrote {}", out.display());
    if let (Some(p), Some((data, pred))) = (&a.sheet, &first) {
        prediction_sheet(p, data, pred, a.sheet_size)?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
