//! `vladapt train`, `vladapt eval`, `vladapt predict`, `vladapt inspect-step`.
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use vladapt::methods::{build, ClassSet, MethodConfig, MethodKind};
use vladapt::models::clip::ClipPipeline;
use vladapt::protocols::{run_one, RunSpec};
use vladapt::train::run_dir::load_adapter;
use vladapt::train::{evaluate, Protocol, RunConfig};
use vladapt_data::metrics::ConfusionMatrix;
use vladapt_data::{load_dataset, verify};
use vladapt_table::{Partition, Shard};

/// Options shared by commands that train.
#[derive(Args, Clone)]
pub struct TrainOpts {
    /// Base model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset name (see `vladapt data list`).
    #[arg(long)]
    pub dataset: String,
    /// Dataset root directory.
    #[arg(long)]
    pub root: PathBuf,
    /// Shots per class.
    #[arg(long, default_value_t = 16)]
    pub shots: usize,
    /// Run configuration file (TOML or JSON); default: the method's official preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set train.schedule.max_epoch=10` (repeatable).
    #[arg(long = "set")]
    pub sets: Vec<String>,
    /// Reuse a saved few-shot split (split.json of another run).
    #[arg(long)]
    pub split_file: Option<PathBuf>,
    /// Allow classes with fewer images than --shots.
    #[arg(long)]
    pub allow_fewer: bool,
    /// Evaluate on at most N test images per split (quick runs).
    #[arg(long)]
    pub max_test: Option<usize>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Data-parallel training over these devices, one replica each (`cuda:0,cuda:1`,
    /// `cpu,ndarray` where built with the `ndarray` feature): sets `train.devices`.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<String>,
}

/// Arguments of `vladapt train`.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    opts: TrainOpts,
    /// Method: zeroshot, linear-probe, coop, cocoop, clip-adapter, maple, mma.
    #[arg(long)]
    method: String,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Protocol: few-shot or base2novel.
    #[arg(long, default_value = "few-shot")]
    protocol: String,
    /// Run directory.
    #[arg(long)]
    output: PathBuf,
    /// Replace a run already in --output (finished or interrupted) instead of refusing when
    /// its configuration differs.
    #[arg(long)]
    overwrite: bool,
}

/// Files and folders a run writes into its directory (removed by `--overwrite`; anything else
/// in the directory is left alone).
const RUN_FILES: &[&str] = &[
    "results.json",
    "run_config.json",
    "log.txt",
    "metrics.jsonl",
    "split.json",
    "adapter.safetensors",
    "adapter_config.json",
    "checkpoint",
];

fn remove_run(dir: &std::path::Path) -> Result<()> {
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

/// Resolve the run configuration of a method from preset / file / overrides.
pub fn resolve_config(
    opts: &TrainOpts,
    kind: MethodKind,
    protocol: Protocol,
    seed: u64,
) -> Result<RunConfig> {
    let mut cfg = match &opts.config {
        Some(p) => {
            let mut c = RunConfig::from_file(p)?;
            if c.method.kind() != kind {
                c.method = MethodConfig::default_for(kind);
            }
            c
        }
        None => RunConfig::preset(kind, protocol, opts.shots, seed),
    };
    cfg.protocol = protocol;
    cfg.shots = opts.shots;
    cfg.seed = seed;
    cfg.apply_overrides(&opts.sets)?;
    if !opts.devices.is_empty() {
        vladapt::device::parse_devices("--devices", &opts.devices)?;
        cfg.train.devices = opts.devices.clone();
        cfg.validate()
            .map_err(|m| anyhow::anyhow!("--devices: {m}"))?;
    }
    Ok(cfg)
}

/// Load and verify a dataset (counts and missing files) before any training.
pub fn load_verified(name: &str, root: &std::path::Path) -> Result<vladapt_data::Dataset> {
    let ds = load_dataset(name, root)?;
    let report = verify(&ds, &vladapt_data::ImageLimits::default(), false);
    if !report.is_ok() {
        bail!(
            "dataset {name} at {} failed verification:\n{report}",
            root.display()
        );
    }
    Ok(ds)
}

/// Run `vladapt train`.
pub fn run(a: TrainArgs) -> Result<()> {
    let kind = MethodKind::parse(&a.method)?;
    let protocol = Protocol::parse(&a.protocol)?;
    let cfg = resolve_config(&a.opts, kind, protocol, a.seed)?;
    let ds = load_verified(&a.opts.dataset, &a.opts.root)?;
    let device = super::device(&a.opts.device)?;
    let pipe = ClipPipeline::load(&a.opts.model, &device)?;
    if a.overwrite {
        remove_run(&a.output)?;
    }
    let spec = RunSpec {
        config: cfg,
        output: a.output.clone(),
        split_file: a.opts.split_file.clone(),
        allow_fewer: a.opts.allow_fewer,
        max_test: a.opts.max_test,
        progress: true,
    };
    let r = run_one(&pipe, &ds, &spec)?;
    match (&r.novel, r.hm) {
        (Some(n), Some(hm)) => println!(
            "{} on {}: base {:.2}%  novel {:.2}%  HM {:.2}",
            r.method, r.dataset, r.base.accuracy, n.accuracy, hm
        ),
        _ => println!(
            "{} on {}: accuracy {:.2}% ({} images)",
            r.method, r.dataset, r.base.accuracy, r.base.count
        ),
    }
    println!("run directory: {}", a.output.display());
    Ok(())
}

/// Arguments of `vladapt eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Run directory (with adapter.safetensors + adapter_config.json).
    #[arg(long)]
    run: PathBuf,
    /// Base model (default: the one recorded in adapter_config.json).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Dataset to evaluate on (default: the training dataset needs --root).
    #[arg(long)]
    dataset: Option<String>,
    /// Dataset root.
    #[arg(long)]
    root: PathBuf,
    /// Split: test or val.
    #[arg(long, default_value = "test")]
    split: String,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Evaluate only shard `i/N` of the split (batch-aligned contiguous ranges); merge the
    /// shards' JSON files with `vladapt eval-merge`.
    #[arg(long)]
    shard: Option<String>,
    /// Also write the result JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images per evaluation batch. Shards are cut at multiples of it, so every batch — and so
    /// every prediction — is the same as in the unsharded run with the same batch size.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
}

/// The JSON of one evaluation (`shard` present for a shard's partial result).
fn eval_json(
    dataset: &str,
    split: &str,
    shard: Option<Shard>,
    confusion: &ConfusionMatrix,
    skipped: usize,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "dataset": dataset,
        "split": split,
        "accuracy": confusion.accuracy(),
        "count": confusion.total(),
        "skipped": skipped,
        "per_class": confusion.per_class_accuracy(),
        "confusion": confusion.counts,
        "classnames": confusion.labels,
    });
    if let Some(s) = shard {
        v["shard"] = s.to_string().into();
    }
    v
}

fn print_and_save(v: &serde_json::Value, out: &Option<PathBuf>) -> Result<()> {
    println!("{v}");
    if let Some(p) = out {
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, format!("{v}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Arguments of `vladapt eval-merge`.
#[derive(Args)]
pub struct EvalMergeArgs {
    /// The shards' result files (`vladapt eval --shard i/N --out FILE`), one per shard.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also write the merged JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Run `vladapt eval-merge`: sum the shards' confusion matrices; the result is the unsharded
/// evaluation's JSON.
pub fn eval_merge(a: EvalMergeArgs) -> Result<()> {
    let mut merged: Option<(String, String, ConfusionMatrix, usize)> = None;
    let mut seen: Vec<Option<PathBuf>> = Vec::new();
    for f in &a.files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", f.display()))?;
        let field = |k: &str| {
            v.get(k).cloned().with_context(|| {
                format!(
                    "{}: no `{k}` field (not a `vladapt eval --shard` result?)",
                    f.display()
                )
            })
        };
        let shard = Shard::parse(field("shard")?.as_str().unwrap_or(""))?;
        if seen.is_empty() {
            seen = vec![None; shard.count];
        }
        if shard.count != seen.len() {
            bail!(
                "{}: shard {shard}, but other files have {} shards",
                f.display(),
                seen.len()
            );
        }
        if let Some(prev) = &seen[shard.index] {
            bail!(
                "{}: shard {shard} is also in {}",
                f.display(),
                prev.display()
            );
        }
        seen[shard.index] = Some(f.clone());
        let dataset = field("dataset")?.as_str().unwrap_or("").to_string();
        let split = field("split")?.as_str().unwrap_or("").to_string();
        let cm = ConfusionMatrix {
            labels: serde_json::from_value(field("classnames")?)
                .with_context(|| format!("{}: bad `classnames`", f.display()))?,
            counts: serde_json::from_value(field("confusion")?)
                .with_context(|| format!("{}: bad `confusion`", f.display()))?,
        };
        let skipped = field("skipped")?.as_u64().unwrap_or(0) as usize;
        match &mut merged {
            None => merged = Some((dataset, split, cm, skipped)),
            Some((d, s, m, sk)) => {
                if *d != dataset || *s != split {
                    bail!(
                        "{}: {dataset}/{split}, but other files are {d}/{s}",
                        f.display()
                    );
                }
                m.add(&cm).with_context(|| f.display().to_string())?;
                *sk += skipped;
            }
        }
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| seen[i].is_none()).collect();
    if !missing.is_empty() {
        bail!("shards {missing:?} of {} are missing", seen.len());
    }
    let (d, s, m, sk) = merged.context("no files")?;
    print_and_save(&eval_json(&d, &s, None, &m, sk), &a.out)
}

/// Run `vladapt eval`.
pub fn eval(a: EvalArgs) -> Result<()> {
    let acfg = vladapt::train::run_dir::AdapterConfig::load(&a.run)?;
    let model = a.model.clone().unwrap_or(acfg.base_model.clone());
    let device = super::device(&a.device)?;
    let pipe = ClipPipeline::load(&model, &device)?;
    let (mut method, acfg) = load_adapter(&a.run, &pipe)?;
    // The run records the dataset's own name; a task read from `vladapt_dataset.json` has no
    // loader of that name, so fall back to the `vladapt` loader when --root holds one.
    let name = match &a.dataset {
        Some(n) => n.clone(),
        None if vladapt_data::parse_dataset_name(&acfg.dataset).is_err()
            && a.root.join("vladapt_dataset.json").is_file()
            && !a
                .root
                .join(&acfg.dataset)
                .join("vladapt_dataset.json")
                .is_file() =>
        {
            "vladapt".to_string()
        }
        None => acfg.dataset.clone(),
    };
    let ds = load_verified(&name, &a.root)?;
    if ds.classnames != acfg.classnames {
        method.set_classes(&ClassSet {
            clip: &pipe.model,
            tokenizer: &pipe.tokenizer,
            classnames: &ds.classnames,
            template: &ds.template,
        })?;
        method.freeze_for_inference(&pipe.model)?;
    }
    let samples = match a.split.as_str() {
        "test" => &ds.split.test,
        "val" => &ds.split.val,
        other => bail!("--split {other}: expected test or val"),
    };
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    let samples = match shard {
        Some(sh) => &samples[Partition::new(samples.len(), a.batch_size)?.shard_rows(sh)],
        None => &samples[..],
    };
    let r = evaluate(
        method.as_ref(),
        &pipe,
        samples,
        &ds.classnames,
        a.batch_size,
        true,
    )?;
    print_and_save(
        &eval_json(&name, &a.split, shard, &r.confusion, r.skipped),
        &a.out,
    )
}

/// Arguments of `vladapt predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// Run directory.
    #[arg(long)]
    run: PathBuf,
    /// Base model (default: from adapter_config.json).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Classes to print per image.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// Run `vladapt predict`.
pub fn predict(a: PredictArgs) -> Result<()> {
    let acfg = vladapt::train::run_dir::AdapterConfig::load(&a.run)?;
    let model = a.model.clone().unwrap_or(acfg.base_model.clone());
    let device = super::device(&a.device)?;
    let pipe = ClipPipeline::load(&model, &device)?;
    let (method, acfg) = load_adapter(&a.run, &pipe)?;
    let mut failed = Vec::new();
    let (chw, good) = super::classify::load_each(&pipe, &a.images, &mut failed);
    if !chw.is_empty() {
        let px = pipe.pixels_from_chw(chw);
        let logits = method.logits(&pipe.model, method.image_features(&pipe.model, px)?)?;
        let probs =
            vladapt::tensor_io::to_vec_f32(&vladapt::tensor::activation::softmax(logits, 1));
        super::classify::print_top_k(&good, &probs, &acfg.classnames, a.top_k, a.json);
    }
    super::classify::report_failures(&failed, a.images.len())
}

/// Arguments of `vladapt inspect-step`.
#[derive(Args)]
pub struct InspectArgs {
    /// Base model.
    #[arg(long)]
    model: PathBuf,
    /// Method.
    #[arg(long)]
    method: String,
    /// Start the trainable tensors from this file (names as in adapter.safetensors).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Class names, one per line.
    #[arg(long)]
    classes_file: PathBuf,
    /// Template for methods that use one.
    #[arg(long, default_value = "a photo of a {}.")]
    template: String,
    /// Images (test preprocessing).
    #[arg(long = "image", required = true)]
    images: Vec<PathBuf>,
    /// Labels, one per image.
    #[arg(long = "label", required = true)]
    labels: Vec<usize>,
    /// Method config overrides (`--set method.n_ctx=4`).
    #[arg(long = "set")]
    sets: Vec<String>,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Device.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run `vladapt inspect-step`.
pub fn inspect(a: InspectArgs) -> Result<()> {
    let kind = MethodKind::parse(&a.method)?;
    if a.images.len() != a.labels.len() {
        bail!("{} images but {} labels", a.images.len(), a.labels.len());
    }
    let classes = super::classify::read_classes(&None, &Some(a.classes_file.clone()))?;
    let mut cfg = RunConfig::preset(kind, Protocol::FewShot, 16, 1);
    cfg.apply_overrides(&a.sets)?;
    let device = super::device(&a.device)?;
    let pipe = ClipPipeline::load(&a.model, &device)?;
    let mut method = build(&cfg.method, &pipe.model, &pipe.tokenizer, &device)?;
    method.set_classes(&ClassSet {
        clip: &pipe.model,
        tokenizer: &pipe.tokenizer,
        classnames: &classes,
        template: &a.template,
    })?;
    if let Some(p) = &a.adapter {
        method
            .params_mut()
            .load_values(p, &device)
            .with_context(|| format!("loading --adapter {}", p.display()))?;
    }
    let px = pipe.load_pixels(&a.images)?;
    let out = vladapt::train::inspect::inspect_step(
        method.as_mut(),
        &pipe.model,
        &pipe.tokenizer,
        &classes,
        &a.template,
        px,
        &a.labels,
    )?;
    out.save(&a.out)?;
    eprintln!(
        "loss {:.6}; wrote logits, loss and {} gradients to {}",
        out.loss,
        out.grads.len(),
        a.out.display()
    );
    Ok(())
}
