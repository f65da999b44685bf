//! `vladapt bench ground`: TransVG forward throughput (images/s at 640²) and peak RSS for the
//! `transvg-r50` shape with random weights, side by side with the same-structure PyTorch
//! reference (`tools/bench/bench_ground_torch.py`) in the same run; prints the ratio.
use super::measure::{peak_rss_mb, round3};
use super::reference::{args, field, print_comparison, Reference, Row};
use anyhow::Result;
use clap::Args;
use std::time::Instant;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, TransVg, Weights};
use vladapt::tensor::{Distribution, Tensor};

/// Arguments of `vladapt bench ground`.
#[derive(Args)]
pub struct GroundBenchArgs {
    /// Preset shape: transvg-r50 or transvg-r101.
    #[arg(long, default_value = "transvg-r50")]
    preset: String,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images per forward.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed forwards.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Untimed warm-up forwards.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Threads for the PyTorch reference (default: the cores available to this process).
    #[arg(long)]
    threads: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Do not run the PyTorch reference.
    #[arg(long)]
    no_reference: bool,
}

/// Run `vladapt bench ground`.
pub fn run(a: GroundBenchArgs) -> Result<()> {
    let device = super::super::device(&a.device)?;
    let cfg = GroundingConfig::preset(&a.preset)?;
    let r = Reference::new(a.threads, a.no_reference);
    let threads = r.threads;
    let weights = Weights::random_unrecorded(0);
    let model = TransVg::load(&weights.root(), &cfg, &device)?;
    drop(weights);
    let (b, s, l) = (a.batch.max(1), cfg.image_size, cfg.max_query_len);
    let batch = GroundingBatch {
        images: Tensor::random([b, 3, s, s], Distribution::Normal(0.0, 1.0), &device),
        pixel_mask: vec![false; b * s * s],
        ids: (0..b * l)
            .map(|i| 1000 + (i as i64 * 7919) % 29000)
            .collect(),
        text_mask: vec![1; b * l],
    };
    let forward = || -> Result<()> {
        let boxes = model.forward(&batch)?;
        let _ = boxes.into_data(); // wait for the result
        Ok(())
    };
    eprintln!("vladapt {} forward, batch {b} at {s}²…", a.preset);
    for _ in 0..a.warmup {
        forward()?;
    }
    let t0 = Instant::now();
    for _ in 0..a.iters.max(1) {
        forward()?;
    }
    let ours_ips = (b * a.iters.max(1)) as f64 / t0.elapsed().as_secs_f64();
    let ours_rss = peak_rss_mb().unwrap_or(f64::NAN);
    drop(model);

    let reference = r
        .run(
            "bench_ground_torch.py",
            "torch, torchvision, transformers",
            &args([
                ("--preset", a.preset.clone().into()),
                ("--image-size", s.to_string().into()),
                ("--max-query-len", l.to_string().into()),
                ("--batch", b.to_string().into()),
                ("--threads", threads.to_string().into()),
                ("--warmup", a.warmup.to_string().into()),
                ("--iters", a.iters.max(1).to_string().into()),
            ]),
        )
        .and_then(|v| Ok((field(&v, "images_per_s")?, field(&v, "peak_rss_mb")?)));
    if a.json {
        let r = match &reference {
            Ok((ips, rss)) => serde_json::json!({
                "images_per_s": round3(*ips), "peak_rss_mb": rss,
                "ratio_images_per_s": round3(ours_ips / ips), "ratio_peak_rss": round3(ours_rss / rss),
            }),
            Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
        };
        let v = serde_json::json!({
            "preset": a.preset, "batch": b, "image_size": s, "device": a.device,
            "vladapt": { "images_per_s": round3(ours_ips), "peak_rss_mb": (ours_rss * 10.0).round() / 10.0 },
            "pytorch": r,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "TransVG {} forward, batch {b} at {s}² ({} threads for PyTorch)",
        a.preset, threads
    );
    let rows: [Row<'_, (f64, f64)>; 2] = [
        ("images/s", ours_ips, |r| r.0),
        ("peak RSS MiB", ours_rss, |r| r.1),
    ];
    print_comparison(&format!("vladapt ({})", a.device), &rows, &reference, 3);
    Ok(())
}
