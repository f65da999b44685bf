//! `vladapt bench embed`: CLIP embedding throughput and peak memory, side by side with the
//! PyTorch reference (`tools/bench/bench_embed_torch.py`) on the very same checkpoint.
//! `vladapt bench train`: one training step and one epoch of a method, side by side with the
//! official-style PyTorch step (`tools/bench/bench_train_torch.py`).
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use vladapt::models::clip::text::eot_positions;
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::tensor::{Distribution, Tensor};
use vladapt::tensor_io::to_vec_f32;

/// Arguments of `vladapt bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Image and text embedding throughput (images/s, texts/s) and peak RSS, compared with PyTorch.
    Embed(EmbedBenchArgs),
    /// One training step (median ms) and one epoch (s) of a method, compared with the
    /// official-style PyTorch step.
    Train(TrainBenchArgs),
    /// `vladapt serve` under load vs offline predict: throughput with concurrent clients, p99,
    /// memory with many CoOp adapters, mixed-adapter traffic, robustness load.
    Serve(ServeBenchArgs),
    /// `embed-dataset run` images/s vs the model alone, N shards vs 1, peak RSS vs dataset size.
    EmbedDataset(super::bench_dataset::EmbedDatasetBenchArgs),
    /// TransVG grounding forward (images/s at 640²) and peak RSS, compared with PyTorch.
    Ground(super::bench_ground::GroundBenchArgs),
}

/// Arguments of `vladapt bench serve`.
#[derive(Args)]
struct ServeBenchArgs {
    /// Base model directory (Hugging Face or OpenCLIP layout).
    #[arg(long)]
    model: PathBuf,
    /// Work directory for the generated adapters and images (default: a temporary directory).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Concurrent clients in the throughput phases.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Requests (one image each) per throughput phase.
    #[arg(long, default_value_t = 512)]
    requests: usize,
    /// CoOp adapters loaded for the memory figure.
    #[arg(long, default_value_t = 50)]
    adapters: usize,
    /// Adapters in the mixed-traffic phase.
    #[arg(long, default_value_t = 16)]
    mixed: usize,
    /// Requests in the robustness phase.
    #[arg(long, default_value_t = 1000)]
    robust_requests: usize,
    /// Clients in the robustness phase.
    #[arg(long, default_value_t = 64)]
    robust_clients: usize,
    /// Images per forward batch (server and offline).
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
}

/// Arguments of `vladapt bench embed`.
#[derive(Args)]
struct EmbedBenchArgs {
    /// Hugging Face CLIP checkpoint dir. Default: a random ViT-B/32-size checkpoint, created once
    /// by the PyTorch script in $VLADAPT_BENCH_DIR (default target/bench/vitb32).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Image batch size (images are 3×S×S, S = the model's image size).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Text batch size (77-token prompts).
    #[arg(long, default_value_t = 64)]
    text_batch: usize,
    /// Timed iterations per tower.
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Untimed warm-up iterations per tower.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Threads for the PyTorch reference (default: the cores available to this process).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not run the PyTorch reference.
    #[arg(long)]
    no_reference: bool,
}

/// Run `vladapt bench …`.
pub fn run(a: BenchArgs) -> Result<()> {
    match a.command {
        BenchCommand::Embed(e) => run_embed(e),
        BenchCommand::Train(t) => run_train(t),
        BenchCommand::Serve(s) => run_serve(s),
        BenchCommand::EmbedDataset(d) => super::bench_dataset::run(d),
        BenchCommand::Ground(g) => super::bench_ground::run(g),
    }
}

const WORDS: &[&str] = &[
    "cat", "dog", "car", "tree", "boat", "plane", "flower", "pizza", "house", "river", "bird",
    "horse", "chair", "guitar", "mountain", "bridge",
];

/// One side's numbers.
#[derive(Debug, Clone, Copy)]
struct Numbers {
    images_per_s: f64,
    texts_per_s: f64,
    peak_rss_mb: f64,
}

fn run_embed(a: EmbedBenchArgs) -> Result<()> {
    if a.batch == 0 || a.text_batch == 0 || a.iters == 0 {
        bail!("--batch, --text-batch and --iters must be positive");
    }
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let python = python();
    let script = script_path("bench_embed_torch.py")?;
    let model = match &a.model {
        Some(m) => m.clone(),
        None => ensure_checkpoint(&python, &script)?,
    };
    let device = super::device(&a.device)?;
    eprintln!("loading {}", model.display());
    let p = ClipPipeline::load(&model, &device)?;
    let s = p.model.config.vision.image_size;

    // Images: N(0, 1) pixels, as the PyTorch script does (preprocessing is not timed).
    let pixels: Tensor<4> =
        Tensor::random([a.batch, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
    let run_images = || -> Result<()> {
        let f = p.model.encode_image(pixels.clone(), &NoHook)?;
        let _ = to_vec_f32(&f); // forces the computation (and the device sync)
        Ok(())
    };
    let prompts: Vec<String> = (0..a.text_batch)
        .map(|i| format!("a photo of a {}.", WORDS[i % WORDS.len()]))
        .collect();
    let refs: Vec<&str> = prompts.iter().map(|t| t.as_str()).collect();
    let ids = p.tokenize(&refs);
    // The text tower runs only up to the longest prompt's EOT (causal mask: later tokens never
    // reach the pooled output); PyTorch's get_text_features runs all 77 positions.
    let text_tokens = eot_positions(&ids).into_iter().max().unwrap_or(0) + 1;
    let run_texts = || -> Result<()> {
        let f = p.model.encode_text(&ids, &NoHook)?;
        let _ = to_vec_f32(&f);
        Ok(())
    };
    eprintln!(
        "ours ({}): {} warm-up + {} timed iterations, images {}×3×{s}×{s}, texts {}×77",
        a.device, a.warmup, a.iters, a.batch, a.text_batch
    );
    let images_per_s = throughput(&run_images, a.batch, a.warmup, a.iters)?;
    let texts_per_s = throughput(&run_texts, a.text_batch, a.warmup, a.iters)?;
    let ours = Numbers {
        images_per_s,
        texts_per_s,
        peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
    };
    drop(p);

    let reference = with_reference(a.no_reference, &python, threads, || {
        run_reference(&python, &script, &model, &a, threads)
    });

    print_table(&ours, &reference, &a.device, threads);
    println!(
        "note: texts/s — vladapt encodes {text_tokens} of 77 positions (cut after the longest \
         EOT, same output); PyTorch encodes all 77"
    );
    let mut json = serde_json::json!({
        "model": model,
        "device": a.device,
        "image_batch": a.batch,
        "text_batch": a.text_batch,
        "iters": a.iters,
        "warmup": a.warmup,
        "text_tokens_encoded": text_tokens,
        "ours": numbers_json(&ours),
    });
    match &reference {
        Ok(r) => {
            json["pytorch"] = numbers_json(r);
            json["pytorch_threads"] = threads.into();
            json["ratio"] = serde_json::json!({
                "images_per_s": round3(ours.images_per_s / r.images_per_s),
                "texts_per_s": round3(ours.texts_per_s / r.texts_per_s),
                "peak_rss": round3(ours.peak_rss_mb / r.peak_rss_mb),
            });
        }
        Err(why) => json["pytorch"] = serde_json::json!({ "unavailable": why }),
    }
    println!("{json}");
    Ok(())
}

pub(super) fn throughput(
    f: &dyn Fn() -> Result<()>,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> Result<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let t0 = Instant::now();
    for _ in 0..iters {
        f()?;
    }
    Ok((batch * iters) as f64 / t0.elapsed().as_secs_f64())
}

/// Peak resident set size of this process in MiB (`VmHWM` of /proc/self/status).
pub(super) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Python for the reference: $VLADAPT_PYTHON, else `python3` on PATH (activate the venv that
/// has torch/transformers/open_clip, or point VLADAPT_PYTHON at its interpreter).
pub(super) fn python() -> PathBuf {
    python_from(std::env::var_os("VLADAPT_PYTHON"))
}

fn python_from(var: Option<std::ffi::OsString>) -> PathBuf {
    match var {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("python3"),
    }
}

#[cfg(test)]
mod python_tests {
    use super::*;

    #[test]
    fn python_is_the_env_var_or_python3_on_path() {
        assert_eq!(
            python_from(Some("/opt/py/bin/python".into())),
            PathBuf::from("/opt/py/bin/python")
        );
        assert_eq!(python_from(None), PathBuf::from("python3"));
        assert_eq!(python_from(Some("".into())), PathBuf::from("python3"));
    }
}

/// `tools/bench/NAME`: $VLADAPT_BENCH_SCRIPT (embed script only), else under the current
/// directory, else in the source tree this binary was built from.
pub(super) fn script_path(name: &str) -> Result<PathBuf> {
    if name == "bench_embed_torch.py" {
        if let Some(p) = std::env::var_os("VLADAPT_BENCH_SCRIPT") {
            return Ok(PathBuf::from(p));
        }
    }
    let rel = Path::new("tools/bench").join(name);
    let candidates = [
        rel.to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&rel),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "cannot find {} (run from the repository root or set VLADAPT_BENCH_SCRIPT)",
                rel.display()
            )
        })
}

/// The cached random ViT-B/32 checkpoint, created by the PyTorch script on first use.
pub(super) fn ensure_checkpoint(python: &Path, script: &Path) -> Result<PathBuf> {
    let dir = std::env::var_os("VLADAPT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench/vitb32"));
    if dir.join("model.safetensors").is_file() && dir.join("config.json").is_file() {
        return Ok(dir);
    }
    eprintln!(
        "creating the random ViT-B/32 checkpoint in {} (once) with {}…",
        dir.display(),
        python.display()
    );
    let status = Command::new(python)
        .arg(script)
        .arg("--save")
        .arg(&dir)
        .arg("--save-only")
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "{} {} --save {} failed ({status}); pass --model DIR or set VLADAPT_PYTHON to a \
             Python with torch, transformers and open_clip",
            python.display(),
            script.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// Run the PyTorch reference unless `--no-reference` was given (then the reason it is missing).
fn with_reference<T>(
    skip: bool,
    python: &std::path::Path,
    threads: usize,
    run: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    if skip {
        return Err("skipped (--no-reference)".to_string());
    }
    eprintln!(
        "PyTorch reference ({}, {threads} threads)…",
        python.display()
    );
    run()
}

/// Run the PyTorch script; `Err(reason)` when it cannot run (e.g. torch is not installed).
fn run_reference(
    python: &Path,
    script: &Path,
    model: &Path,
    a: &EmbedBenchArgs,
    threads: usize,
) -> std::result::Result<Numbers, String> {
    probe_python(python, "torch, transformers, open_clip")?;
    let mut out = Command::new(python);
    out.arg(script)
        .arg("--model")
        .arg(model)
        .args(["--threads", &threads.to_string()])
        .args(["--iters", &a.iters.to_string()])
        .args(["--warmup", &a.warmup.to_string()])
        .args(["--image-batch", &a.batch.to_string()])
        .args(["--text-batch", &a.text_batch.to_string()]);
    let v = reference_json(out, python)?;
    let get = |k: &str| json_f64(&v, k);
    Ok(Numbers {
        images_per_s: get("images_per_s")?,
        texts_per_s: get("texts_per_s")?,
        peak_rss_mb: get("peak_rss_mb")?,
    })
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn numbers_json(n: &Numbers) -> serde_json::Value {
    serde_json::json!({
        "images_per_s": round3(n.images_per_s),
        "texts_per_s": round3(n.texts_per_s),
        "peak_rss_mb": (n.peak_rss_mb * 10.0).round() / 10.0,
    })
}

fn print_table(
    ours: &Numbers,
    reference: &std::result::Result<Numbers, String>,
    device: &str,
    threads: usize,
) {
    let ours_name = format!("vladapt ({device})");
    match reference {
        Ok(r) => {
            let torch_name = format!("PyTorch ({threads} thr)");
            println!(
                "{:<14} {:>18} {:>18} {:>8}",
                "", ours_name, torch_name, "ratio"
            );
            let row = |name: &str, o: f64, t: f64| {
                println!("{name:<14} {o:>18.2} {t:>18.2} {:>7.2}×", o / t);
            };
            row("images/s", ours.images_per_s, r.images_per_s);
            row("texts/s", ours.texts_per_s, r.texts_per_s);
            row("peak RSS MiB", ours.peak_rss_mb, r.peak_rss_mb);
        }
        Err(why) => {
            println!("{:<14} {:>18}", "", ours_name);
            println!("{:<14} {:>18.2}", "images/s", ours.images_per_s);
            println!("{:<14} {:>18.2}", "texts/s", ours.texts_per_s);
            println!("{:<14} {:>18.2}", "peak RSS MiB", ours.peak_rss_mb);
            println!("PyTorch reference: {why}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `vladapt bench train`

/// Arguments of `vladapt bench train`.
#[derive(Args)]
struct TrainBenchArgs {
    /// Task: classification (CLIP methods) or grounding (TransVG / MMCA, `--ground-*`).
    #[arg(long, value_enum, default_value = "classification")]
    task: super::bench_train_ground::TrainTask,
    #[command(flatten)]
    grounding: super::bench_train_ground::GroundTrainArgs,
    /// Method: coop, cocoop, clip-adapter, maple, mma (the official recipe's settings).
    #[arg(long, required_if_eq("task", "classification"))]
    method: Option<String>,
    /// Hugging Face CLIP checkpoint dir. Default: the random ViT-B/32-size checkpoint of
    /// `bench embed` ($VLADAPT_BENCH_DIR, default target/bench/vitb32).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Number of classes ("class0", "class1", …).
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Images per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Shots per class: an epoch is shots × classes images (16: the papers' headline setting,
    /// whose official recipes run 200 epochs for CoOp and CLIP-Adapter).
    #[arg(long, default_value_t = 16)]
    shots: usize,
    /// Epochs of the real `train()` run that measures the epoch time (the last one is reported).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Threads for the PyTorch reference (default: the cores available to this process).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not run the PyTorch reference.
    #[arg(long)]
    no_reference: bool,
}

/// Our training numbers.
#[derive(Debug, Clone)]
struct TrainNumbers {
    step_ms: f64,
    /// The last epoch of the `train()` run (its own timer: steps only, caches excluded).
    epoch_s: f64,
    /// Everything else `train()` spent: decoding, method set-up (MMA's lower text blocks),
    /// CLIP-Adapter's feature cache, checkpoints, saving.
    one_off_s: f64,
    /// `epoch_s + one_off_s / preset_epochs`: the epoch cost of the full official schedule.
    epoch_amortized_s: f64,
    preset_epochs: usize,
    peak_rss_mb: f64,
}

/// The PyTorch reference's numbers.
#[derive(Debug, Clone, Copy)]
struct TorchTrainNumbers {
    step_ms: f64,
    epoch_s: f64,
    peak_rss_mb: f64,
}

fn run_train(a: TrainBenchArgs) -> Result<()> {
    use vladapt::methods::{build, ClassSet, MethodKind};
    use vladapt::train::optim::Optimizer;
    use vladapt::train::{train_step, Protocol, RunConfig, StepInput};

    if a.task == super::bench_train_ground::TrainTask::Grounding {
        return super::bench_train_ground::run(
            &a.grounding,
            a.steps,
            a.warmup,
            a.threads,
            a.no_reference,
            &a.device,
        );
    }
    let kind = MethodKind::parse(a.method.as_deref().unwrap_or_default())?;
    if matches!(kind, MethodKind::Zeroshot | MethodKind::LinearProbe) {
        bail!("bench train: --method must be coop, cocoop, clip-adapter, maple or mma");
    }
    if a.classes == 0 || a.batch == 0 || a.steps == 0 || a.shots == 0 || a.epochs == 0 {
        bail!("--classes, --batch, --steps, --shots and --epochs must be positive");
    }
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let python = python();
    let model = match &a.model {
        Some(m) => m.clone(),
        None => ensure_checkpoint(&python, &script_path("bench_embed_torch.py")?)?,
    };
    let device = super::device(&a.device)?;
    eprintln!("loading {}", model.display());
    let p = ClipPipeline::load(&model, &device)?;
    let s = p.model.config.vision.image_size;

    let mut cfg = RunConfig::preset(kind, Protocol::FewShot, a.shots, 0);
    let preset_epochs = cfg.epochs();
    cfg.train.batch_size = a.batch;
    let classnames: Vec<String> = (0..a.classes).map(|i| format!("class{i}")).collect();
    let template = "a photo of a {}.";
    let n = a.shots * a.classes;
    let steps_per_epoch = if n >= a.batch { n / a.batch } else { 1 };

    // One step, as the trainer runs it, on fixed random pixels (no caches: the image tower
    // runs every step, as in the PyTorch reference).
    p.device.seed(0);
    let mut method = build(&cfg.method, &p.model, &p.tokenizer, &device)?;
    method.set_classes(&ClassSet {
        clip: &p.model,
        tokenizer: &p.tokenizer,
        classnames: &classnames,
        template,
    })?;
    let mut opt = Optimizer::new(cfg.train.optim.clone(), method.params());
    let lr = cfg.train.schedule.base_lr;
    let pixels: Tensor<4> =
        Tensor::random([a.batch, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
    let labels: Vec<usize> = (0..a.batch).map(|i| i % a.classes).collect();
    eprintln!(
        "ours ({}): {kind}, {} classes, batch {}, {} warm-up + {} timed steps, images 3×{s}×{s}",
        a.device, a.classes, a.batch, a.warmup, a.steps
    );
    let mut times = Vec::with_capacity(a.steps);
    for i in 0..a.warmup + a.steps {
        let t0 = Instant::now();
        let out = train_step(
            &p,
            method.as_mut(),
            &mut opt,
            StepInput::Pixels(pixels.clone()),
            &labels,
            lr,
        )?;
        if !out.loss.is_finite() {
            bail!("the loss is {} at step {i}", out.loss);
        }
        if i >= a.warmup {
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    drop(opt);
    drop(method);
    let step_ms = median(&mut times);

    // One epoch: the real `train()` on a generated dataset of shots × classes noise images.
    eprintln!(
        "ours: train() for {} epoch(s) of {n} images ({steps_per_epoch} steps/epoch)…",
        a.epochs
    );
    let (epoch_s, one_off_s) = time_train(&p, cfg, &classnames, template, a.shots, a.epochs)?;
    let ours = TrainNumbers {
        step_ms,
        epoch_s,
        one_off_s,
        epoch_amortized_s: epoch_s + one_off_s / preset_epochs.max(1) as f64,
        preset_epochs,
        peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
    };
    drop(p);

    let reference = with_reference(a.no_reference, &python, threads, || {
        run_train_reference(&python, &model, kind, &a, threads)
    });

    print_train_table(&ours, &reference, &a.device, threads, steps_per_epoch);
    let mut json = serde_json::json!({
        "bench": "train",
        "method": kind.name(),
        "model": model,
        "device": a.device,
        "classes": a.classes,
        "batch": a.batch,
        "shots": a.shots,
        "steps": a.steps,
        "warmup": a.warmup,
        "steps_per_epoch": steps_per_epoch,
        "ours": {
            "step_ms": round3(ours.step_ms),
            "epoch_s": round6(ours.epoch_s),
            "one_off_s": round6(ours.one_off_s),
            "epoch_amortized_s": round6(ours.epoch_amortized_s),
            "preset_epochs": ours.preset_epochs,
            "peak_rss_mb": (ours.peak_rss_mb * 10.0).round() / 10.0,
            "epoch_measured_with": "train()",
        },
    });
    match &reference {
        Ok(r) => {
            json["pytorch"] = serde_json::json!({
                "step_ms": round3(r.step_ms),
                "epoch_s": round3(r.epoch_s),
                "peak_rss_mb": r.peak_rss_mb,
                "threads": threads,
                "epoch_measured_with": "steps_per_epoch × step",
            });
            json["ratio"] = serde_json::json!({
                "step": round3(ours.step_ms / r.step_ms),
                "epoch_speedup": round3(r.epoch_s / ours.epoch_s),
                "epoch_amortized_speedup": round3(r.epoch_s / ours.epoch_amortized_s),
                "peak_rss": round3(ours.peak_rss_mb / r.peak_rss_mb),
            });
        }
        Err(why) => json["pytorch"] = serde_json::json!({ "unavailable": why }),
    }
    println!("{json}");
    Ok(())
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Run `train()` for `epochs` epochs on `shots × classes` generated noise images in a temporary
/// directory; returns (last epoch seconds, everything else `train()` spent).
fn time_train(
    p: &ClipPipeline,
    mut cfg: vladapt::train::RunConfig,
    classnames: &[String],
    template: &str,
    shots: usize,
    epochs: usize,
) -> Result<(f64, f64)> {
    use vladapt::train::{train, TrainData, TrainOptions};
    use vladapt_data::{ImageRef, Sample};

    let dir = std::env::temp_dir().join(format!("vladapt-bench-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("images"))?;
    let side = (p.model.config.vision.image_size * 8 / 7) as u32;
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut samples = Vec::new();
    for label in 0..classnames.len() {
        for k in 0..shots {
            let img = image::RgbImage::from_fn(side, side, |_, _| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let b = rng.to_le_bytes();
                image::Rgb([b[0], b[1], b[2]])
            });
            let path = dir.join(format!("images/{label}_{k}.png"));
            img.save_with_format(&path, image::ImageFormat::Png)
                .with_context(|| format!("cannot write {}", path.display()))?;
            samples.push(Sample {
                image: ImageRef::File(path),
                label,
            });
        }
    }
    cfg.train.schedule.max_epoch = epochs;
    cfg.train.schedule.warmup_epochs = cfg.train.schedule.warmup_epochs.min(epochs - 1);
    let run_dir = dir.join("run");
    let data = TrainData {
        dataset: "bench",
        classnames,
        template,
        train: &samples,
        val: &[],
    };
    let t0 = Instant::now();
    let result = train(
        p,
        &cfg,
        &data,
        &run_dir,
        TrainOptions {
            resume: false,
            progress: false,
            stop_after_epochs: None,
        },
    );
    let total = t0.elapsed().as_secs_f64();
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let seconds: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("epoch_end").is_some())
        .filter_map(|v| v["seconds"].as_f64())
        .collect();
    let last = *seconds
        .last()
        .context("train() logged no epoch time in metrics.jsonl")?;
    Ok((last, (total - seconds.iter().sum::<f64>()).max(0.0)))
}

/// Run `bench_train_torch.py`; `Err(reason)` when it cannot run (e.g. torch is not installed).
fn run_train_reference(
    python: &Path,
    model: &Path,
    kind: vladapt::methods::MethodKind,
    a: &TrainBenchArgs,
    threads: usize,
) -> std::result::Result<TorchTrainNumbers, String> {
    let script = script_path("bench_train_torch.py").map_err(|e| e.to_string())?;
    probe_python(python, "torch, transformers")?;
    let mut out = Command::new(python);
    out.arg(&script)
        .args(["--method", &kind.name().replace('-', "_")])
        .arg("--model")
        .arg(model)
        .args(["--classes", &a.classes.to_string()])
        .args(["--batch", &a.batch.to_string()])
        .args(["--steps", &a.steps.to_string()])
        .args(["--warmup", &a.warmup.to_string()])
        .args(["--shots", &a.shots.to_string()])
        .args(["--threads", &threads.to_string()]);
    let v = reference_json(out, python)?;
    let get = |k: &str| json_f64(&v, k);
    Ok(TorchTrainNumbers {
        step_ms: get("step_ms")?,
        epoch_s: get("epoch_s")?,
        peak_rss_mb: get("peak_rss_mb")?,
    })
}

fn print_train_table(
    ours: &TrainNumbers,
    reference: &std::result::Result<TorchTrainNumbers, String>,
    device: &str,
    threads: usize,
    steps_per_epoch: usize,
) {
    let ours_name = format!("vladapt ({device})");
    let amortized = format!("epoch s, amort. /{}", ours.preset_epochs);
    match reference {
        Ok(r) => {
            let torch_name = format!("PyTorch ({threads} thr)");
            println!(
                "{:<22} {:>16} {:>16} {:>14}",
                "", ours_name, torch_name, "ours/PyTorch"
            );
            println!(
                "{:<22} {:>16.1} {:>16.1} {:>13.2}×",
                "step ms (median)",
                ours.step_ms,
                r.step_ms,
                ours.step_ms / r.step_ms
            );
            println!(
                "{:<22} {:>16.2} {:>16.2} {:>14}",
                "epoch s",
                ours.epoch_s,
                r.epoch_s,
                format!("{:.2}× faster", r.epoch_s / ours.epoch_s)
            );
            println!(
                "{:<22} {:>16.2} {:>16.2} {:>14}",
                amortized,
                ours.epoch_amortized_s,
                r.epoch_s,
                format!("{:.2}× faster", r.epoch_s / ours.epoch_amortized_s)
            );
            println!(
                "{:<22} {:>16.1} {:>16.1} {:>13.2}×",
                "peak RSS MiB",
                ours.peak_rss_mb,
                r.peak_rss_mb,
                ours.peak_rss_mb / r.peak_rss_mb
            );
        }
        Err(why) => {
            println!("{:<22} {:>16}", "", ours_name);
            println!("{:<22} {:>16.1}", "step ms (median)", ours.step_ms);
            println!("{:<22} {:>16.2}", "epoch s", ours.epoch_s);
            println!("{:<22} {:>16.2}", amortized, ours.epoch_amortized_s);
            println!("{:<22} {:>16.1}", "peak RSS MiB", ours.peak_rss_mb);
            println!("PyTorch reference: {why}");
        }
    }
    println!(
        "note: epoch = {steps_per_epoch} steps. vladapt: the last epoch of a real train() run \
         (augmentation + steps; CLIP-Adapter reads its cached frozen features, MMA its cached \
         lower text blocks); one-off work outside the epochs (decoding, set-up, caches, \
         checkpoints) {:.2} s, amortised over the recipe's {} epochs. PyTorch: official-style, \
         frozen encoders every step, epoch = steps × step (data loading not counted)",
        ours.one_off_s, ours.preset_epochs
    );
}

/// Run a PyTorch reference command and parse the last JSON line of its stdout.
pub(super) fn reference_json(
    mut cmd: Command,
    python: &std::path::Path,
) -> Result<serde_json::Value, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "the PyTorch reference failed ({}): {last}",
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("no JSON line in the PyTorch output: {stdout}"))?;
    serde_json::from_str(line).map_err(|e| format!("bad JSON from PyTorch ({e}): {line}"))
}

/// A number field of a reference's JSON output.
pub(super) fn json_f64(v: &serde_json::Value, k: &str) -> Result<f64, String> {
    v[k].as_f64()
        .ok_or_else(|| format!("`{k}` missing in the PyTorch output: {v}"))
}

/// Check that `python` can import `modules` (comma-separated); the error names what is missing.
pub(super) fn probe_python(python: &Path, modules: &str) -> std::result::Result<(), String> {
    let probe = Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        let err = String::from_utf8_lossy(&probe.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "{modules} not available in {} ({last}); set VLADAPT_PYTHON",
            python.display()
        ));
    }
    Ok(())
}

fn run_serve(a: ServeBenchArgs) -> Result<()> {
    let tmp;
    let work = match &a.work {
        Some(w) => w.clone(),
        None => {
            tmp = TempWork::new()?;
            tmp.0.clone()
        }
    };
    let opts = vladapt_serve::bench::BenchOptions {
        model: a.model.clone(),
        device: super::device(&a.device)?,
        work,
        clients: a.clients.max(1),
        requests: a.requests.max(1),
        adapters: a.adapters.max(1),
        mixed: a.mixed.max(1),
        robust_requests: a.robust_requests,
        robust_clients: a.robust_clients.max(1),
        max_batch: a.max_batch.max(1),
    };
    let r = vladapt_serve::bench::run(&opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!(
        "| offline predict (images/s) | {:.1} | reference |",
        r.offline_images_per_s
    );
    println!(
        "| served, {} clients, 1 adapter (images/s) | {:.1} ({:.2}x offline) | >= 0.9x |",
        a.clients, r.served_images_per_s, r.served_vs_offline
    );
    println!(
        "| latency p50 / p99 (ms) | {:.1} / {:.1} | reported |",
        r.p50_ms, r.p99_ms
    );
    println!(
        "| resident memory, 1 vs {} CoOp adapters (MiB) | {:.1} vs {:.1} ({:.3}x) | <= 1.1x |",
        r.adapters_loaded, r.rss_one_adapter_mb, r.rss_many_adapters_mb, r.rss_ratio
    );
    println!(
        "| accounted adapter heads with {} loaded (MiB) | {:.1} | — |",
        r.adapters_loaded, r.accounted_heads_mb
    );
    println!(
        "| mixed traffic, {} adapters (images/s) | {:.1} ({:.2}x single) | >= 0.8x |",
        a.mixed, r.mixed_images_per_s, r.mixed_vs_single
    );
    println!(
        "| robustness: ok / wrong / rejected 4xx / disconnects / slow sender | {} / {} / {} / {} / HTTP {} | wrong = 0, slow = 408 |",
        r.robust_ok, r.robust_wrong, r.robust_rejected, r.robust_disconnects, r.slow_sender_status
    );
    println!(
        "| resident memory before / after robustness (MiB) | {:.1} / {:.1} | back to baseline |",
        r.rss_before_robust_mb, r.rss_after_robust_mb
    );
    println!("| healthy afterwards | {} | true |", r.healthy_after);
    println!("{}", serde_json::to_string(&r)?);
    if r.robust_wrong > 0 || !r.healthy_after {
        bail!(
            "robustness failed: {} wrong answers, healthy afterwards: {}",
            r.robust_wrong,
            r.healthy_after
        );
    }
    Ok(())
}

/// A temporary work directory removed on drop.
struct TempWork(PathBuf);

impl TempWork {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!("vladapt-bench-serve-{}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempWork {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
