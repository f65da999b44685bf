//! `vladapt bench embed-dataset`: the whole-dataset embedding path against the model alone.
//!
//! 1. images/s of `vladapt embed-dataset run` (decode, preprocess, forward, Parquet; one child
//!    process) ÷ images/s of the model's forward pass alone on the same batches (as
//!    `vladapt bench embed` measures it), in the same run — target ≥ 0.95;
//! 2. N concurrent shard processes + merge vs one process: the merged tables compared byte for byte;
//! 3. peak RSS of `embed-dataset run` at two dataset sizes (default 10k and 100k rows, tiny images,
//!    a small model): the manifest is streamed (never held), pixel/embedding buffers are bounded
//!    by batch × prefetch and one part, so the two peaks should be equal up to noise.
use super::measure::{round3, throughput};
use super::reference::model_or_checkpoint;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vladapt::models::clip::{ClipPipeline, NoHook};
use vladapt::tensor::{Distribution, Tensor};
use vladapt::tensor_io::to_vec_f32;

/// Arguments of `vladapt bench embed-dataset`.
#[derive(Args)]
pub struct EmbedDatasetBenchArgs {
    /// Model for the throughput and shard checks. Default: the random ViT-B/32 checkpoint of
    /// `vladapt bench embed` (created once by the PyTorch script).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Images for the throughput and shard checks.
    #[arg(long, default_value_t = 512)]
    images: usize,
    /// Side of the generated PNGs (decoded and resized to the model's input size).
    #[arg(long, default_value_t = 96)]
    image_side: u32,
    /// Batch size (both sides).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Part size of the runs.
    #[arg(long, default_value_t = 128)]
    part_size: usize,
    /// Concurrent shard processes for the identity check (0: skip).
    #[arg(long, default_value_t = 4)]
    shards: usize,
    /// Small model for the memory check. Default: fixtures/models/tiny-hf of the source tree.
    #[arg(long)]
    rss_model: Option<PathBuf>,
    /// Dataset sizes (rows) of the memory check, comma-separated (empty: skip).
    #[arg(long, default_value = "10000,100000")]
    rss_rows: String,
    /// Scratch folder (default: a fresh folder in the system temp dir, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run `vladapt bench embed-dataset`.
pub fn run(a: EmbedDatasetBenchArgs) -> Result<()> {
    if a.batch == 0 || a.images == 0 || !a.part_size.is_multiple_of(a.batch) {
        bail!("--batch and --images must be positive and --part-size a multiple of --batch");
    }
    let own_dir = a.dir.is_none();
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "vladapt-bench-embed-dataset-{}",
            std::process::id()
        ))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = bench(&a, &dir);
    if own_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn bench(a: &EmbedDatasetBenchArgs, dir: &Path) -> Result<()> {
    let model = model_or_checkpoint(a.model.as_deref())?;
    eprintln!("generating {} PNGs of {}²…", a.images, a.image_side);
    let manifest = make_images(&dir.join("img"), a.images, a.images, a.image_side)?;

    // Model alone: the same number of batches on N(0,1) pixels, as `bench embed` does.
    let device = super::super::device(&a.device)?;
    let p = ClipPipeline::load(&model, &device)?;
    let s = p.model.config.vision.image_size;
    let pixels: Tensor<4> =
        Tensor::random([a.batch, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
    let forward = || -> Result<()> {
        let _ = to_vec_f32(&p.model.encode_image(pixels.clone(), &NoHook)?);
        Ok(())
    };
    let iters = a.images.div_ceil(a.batch);
    eprintln!("model alone: {iters} batches of {}…", a.batch);
    let model_ips = throughput(&forward, a.batch, 1, iters)?;
    drop(p);

    eprintln!("embed-dataset run (1 process)…");
    let one = dir.join("out1");
    let common = |out: &Path| -> Vec<String> {
        vec![
            "embed-dataset".into(),
            "run".into(),
            "--model".into(),
            model.display().to_string(),
            "--manifest".into(),
            manifest.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--batch-size".into(),
            a.batch.to_string(),
            "--part-size".into(),
            a.part_size.to_string(),
            "--device".into(),
            a.device.clone(),
            "--no-progress".into(),
        ]
    };
    let r1 = child_json(&common(&one))?;
    let ds_ips = num(&r1, "images_per_s")?;

    let shards = if a.shards > 0 {
        eprintln!("{} concurrent shard processes + merge…", a.shards);
        let out = dir.join(format!("out{}", a.shards));
        let kids: Vec<_> = (0..a.shards)
            .map(|i| {
                let mut args = common(&out);
                args.extend(["--shard".into(), format!("{i}/{}", a.shards)]);
                spawn(&args)
            })
            .collect::<Result<_>>()?;
        for k in kids {
            let o = k.wait_with_output()?;
            if !o.status.success() {
                bail!("shard failed: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
        child_json(&[
            "embed-dataset".into(),
            "merge".into(),
            "--out".into(),
            out.display().to_string(),
        ])?;
        let same = |f: &str| -> Result<bool> {
            Ok(std::fs::read(one.join(f))? == std::fs::read(out.join(f))?)
        };
        Some(same("embeddings.parquet")? && same("errors.jsonl")?)
    } else {
        None
    };

    let mut rss = Vec::new();
    let sizes: Vec<usize> = a
        .rss_rows
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .context("--rss-rows: comma-separated integers")
        })
        .collect::<Result<_>>()?;
    if !sizes.is_empty() {
        let small = match &a.rss_model {
            Some(m) => m.clone(),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/tiny-hf"),
        };
        for &n in &sizes {
            eprintln!("memory: {n} rows with {}…", small.display());
            // 1000 distinct small files, listed `n` times under distinct ids (every row is
            // decoded and embedded; only the disk footprint is shared).
            let m = make_images(&dir.join(format!("rss{n}")), 1000.min(n), n, 16)?;
            let out = dir.join(format!("rss-out{n}"));
            let args: Vec<String> = vec![
                "embed-dataset".into(),
                "run".into(),
                "--model".into(),
                small.display().to_string(),
                "--manifest".into(),
                m.display().to_string(),
                "--out".into(),
                out.display().to_string(),
                "--batch-size".into(),
                "64".into(),
                "--part-size".into(),
                "2048".into(),
                "--no-progress".into(),
                "--no-merge".into(),
            ];
            let r = child_json(&args)?;
            rss.push(serde_json::json!({
                "rows": n,
                "peak_rss_mb": num(&r, "peak_rss_mb")?,
                "images_per_s": round3(num(&r, "images_per_s")?),
            }));
        }
    }

    let ratio = ds_ips / model_ips;
    println!(
        "embed-dataset vs model alone ({}, batch {}):",
        a.device, a.batch
    );
    println!("  model forward only      {model_ips:>10.2} images/s");
    println!(
        "  embed-dataset run       {ds_ips:>10.2} images/s   ratio {ratio:.3} (target ≥ 0.95)"
    );
    if let Some(same) = shards {
        println!(
            "  {} shards merged == 1 process: {}",
            a.shards,
            if same { "identical bytes" } else { "DIFFERENT" }
        );
    }
    for r in &rss {
        println!(
            "  peak RSS at {:>7} rows: {:>8.1} MiB ({:.0} images/s, small model)",
            r["rows"],
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            r["images_per_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "embed-dataset",
            "model": model,
            "device": a.device,
            "images": a.images,
            "image_side": a.image_side,
            "batch": a.batch,
            "model_images_per_s": round3(model_ips),
            "dataset_images_per_s": round3(ds_ips),
            "ratio": round3(ratio),
            "shards": a.shards,
            "shards_identical": shards,
            "rss": rss,
        })
    );
    Ok(())
}

fn num(v: &serde_json::Value, k: &str) -> Result<f64> {
    v[k].as_f64()
        .with_context(|| format!("no number `{k}` in {v}"))
}

/// `files` deterministic PNGs (`side`²) and a manifest of `rows` rows cycling over them.
fn make_images(dir: &Path, files: usize, rows: usize, side: u32) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for i in 0..files {
        let f = dir.join(format!("{i:06}.png"));
        if f.is_file() {
            continue;
        }
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            let v = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ (i as u32 * 97)) as u8;
            image::Rgb([v, v.wrapping_add(85), v.wrapping_mul(3)])
        });
        img.save(&f)
            .with_context(|| format!("writing {}", f.display()))?;
    }
    let mut csv = String::with_capacity(rows * 24);
    csv.push_str("id,path\n");
    for r in 0..rows {
        csv.push_str(&format!("r{r},{:06}.png\n", r % files.max(1)));
    }
    let m = dir.join("manifest.csv");
    std::fs::write(&m, csv).with_context(|| format!("writing {}", m.display()))?;
    Ok(m)
}

fn spawn(args: &[String]) -> Result<std::process::Child> {
    Command::new(std::env::current_exe()?)
        .args(["--log", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a vladapt child process")
}

fn child_json(args: &[String]) -> Result<serde_json::Value> {
    let o = spawn(args)?.wait_with_output()?;
    if !o.status.success() {
        bail!(
            "vladapt {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("child printed: {text}"))
}
