//! `vladapt bench embed`: CLIP embedding throughput and peak memory, side by side with the
//! PyTorch reference (`tools/bench/bench_embed_torch.py`) on the very same checkpoint.
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
    let script = script_path()?;
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

    let reference = if a.no_reference {
        Err("skipped (--no-reference)".to_string())
    } else {
        eprintln!(
            "PyTorch reference ({}, {threads} threads)…",
            python.display()
        );
        run_reference(&python, &script, &model, &a, threads)
    };

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

fn throughput(
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
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Python for the reference: $VLADAPT_PYTHON, else /work/venv-fix/bin/python, else python3.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("VLADAPT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new("/work/venv-fix/bin/python");
    if venv.exists() {
        return venv.to_path_buf();
    }
    PathBuf::from("python3")
}

/// `tools/bench/bench_embed_torch.py`: $VLADAPT_BENCH_SCRIPT, else under the current directory,
/// else in the source tree this binary was built from.
fn script_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("VLADAPT_BENCH_SCRIPT") {
        return Ok(PathBuf::from(p));
    }
    let rel = Path::new("tools/bench/bench_embed_torch.py");
    let candidates = [
        rel.to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel),
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
fn ensure_checkpoint(python: &Path, script: &Path) -> Result<PathBuf> {
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

/// Run the PyTorch script; `Err(reason)` when it cannot run (e.g. torch is not installed).
fn run_reference(
    python: &Path,
    script: &Path,
    model: &Path,
    a: &EmbedBenchArgs,
    threads: usize,
) -> std::result::Result<Numbers, String> {
    let probe = Command::new(python)
        .args(["-c", "import torch, transformers, open_clip"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        let err = String::from_utf8_lossy(&probe.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "torch/transformers/open_clip not available in {} ({last}); set VLADAPT_PYTHON",
            python.display()
        ));
    }
    let out = Command::new(python)
        .arg(script)
        .arg("--model")
        .arg(model)
        .args(["--threads", &threads.to_string()])
        .args(["--iters", &a.iters.to_string()])
        .args(["--warmup", &a.warmup.to_string()])
        .args(["--image-batch", &a.batch.to_string()])
        .args(["--text-batch", &a.text_batch.to_string()])
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
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bad JSON from PyTorch ({e}): {line}"))?;
    let get = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("`{k}` missing in the PyTorch output: {line}"))
    };
    Ok(Numbers {
        images_per_s: get("images_per_s")?,
        texts_per_s: get("texts_per_s")?,
        peak_rss_mb: get("peak_rss_mb")?,
    })
}

fn round3(x: f64) -> f64 {
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
