//! `vladapt bench embed`: CLIP embedding throughput and peak memory, side by side with the
//! PyTorch reference (`tools/bench/bench_embed_torch.py`) on the very same checkpoint.
use super::measure::{peak_rss_mb, round3, throughput};
use super::reference::{model_or_checkpoint, Reference};
use anyhow::{bail, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use vladapt::models::clip::text::eot_positions;
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::tensor::{Distribution, Tensor};
use vladapt::tensor_io::to_vec_f32;

/// Arguments of `vladapt bench embed`.
#[derive(Args)]
pub struct EmbedBenchArgs {
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

/// Run `vladapt bench embed`.
pub fn run(a: EmbedBenchArgs) -> Result<()> {
    if a.batch == 0 || a.text_batch == 0 || a.iters == 0 {
        bail!("--batch, --text-batch and --iters must be positive");
    }
    let reference = Reference::new(a.threads, a.no_reference);
    let threads = reference.threads;
    let model = model_or_checkpoint(a.model.as_deref())?;
    let device = super::super::device(&a.device)?;
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

    let reference = run_reference(&reference, &model, &a);

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
        Err(why) => json["pytorch"] = serde_json::json!({ "unavailable": format!("{why:#}") }),
    }
    println!("{json}");
    Ok(())
}

/// Run `bench_embed_torch.py` on `model`.
fn run_reference(r: &Reference, model: &Path, a: &EmbedBenchArgs) -> Result<Numbers> {
    let [images_per_s, texts_per_s, peak_rss_mb] = r.run_on_model(
        "bench_embed_torch.py",
        "torch, transformers, open_clip",
        model,
        a.warmup,
        &[
            ("--iters", a.iters.to_string()),
            ("--image-batch", a.batch.to_string()),
            ("--text-batch", a.text_batch.to_string()),
        ],
        ["images_per_s", "texts_per_s", "peak_rss_mb"],
    )?;
    Ok(Numbers {
        images_per_s,
        texts_per_s,
        peak_rss_mb,
    })
}

fn numbers_json(n: &Numbers) -> serde_json::Value {
    serde_json::json!({
        "images_per_s": round3(n.images_per_s),
        "texts_per_s": round3(n.texts_per_s),
        "peak_rss_mb": (n.peak_rss_mb * 10.0).round() / 10.0,
    })
}

fn print_table(ours: &Numbers, reference: &Result<Numbers>, device: &str, threads: usize) {
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
            println!("PyTorch reference: {why:#}");
        }
    }
}
