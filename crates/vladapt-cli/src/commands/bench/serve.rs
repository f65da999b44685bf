//! `vladapt bench serve`: `vladapt serve` under load vs offline predict (throughput with
//! concurrent clients, p99, memory with many CoOp adapters, mixed-adapter traffic, robustness).
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `vladapt bench serve`.
#[derive(Args)]
pub struct ServeBenchArgs {
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

/// Run `vladapt bench serve`.
pub fn run(a: ServeBenchArgs) -> Result<()> {
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
        device: super::super::device(&a.device)?,
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
