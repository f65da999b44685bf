//! `vladapt serve`: one base model, many hot-loaded adapters, over HTTP (the server lives in
//! `vladapt-serve`; this file maps flags to its configuration).
//!
//! `--run RUN` serves one trained adapter (as the default for requests naming none);
//! `--model DIR --classes …` serves zero-shot CLIP; `--model DIR --adapters DIR_OF_RUNS` serves
//! every run found in the directory, each request naming its adapter.
use anyhow::{bail, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use vladapt::train::run_dir::AdapterConfig;
use vladapt_serve::{Limits, ServeConfig};

/// Arguments of `vladapt serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Run directory of a trained adapter (from `vladapt train --output`): served as the default.
    #[arg(long, conflicts_with_all = ["classes", "classes_file"])]
    run: Option<PathBuf>,
    /// Base model directory (with --run it replaces the run's recorded base model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Directory of run directories: each becomes an adapter named after its directory; new runs
    /// dropped in are found on the next request that names them or lists adapters.
    #[arg(long)]
    adapters: Option<PathBuf>,
    /// Default zero-shot classes, comma-separated.
    #[arg(long)]
    classes: Option<String>,
    /// Default zero-shot classes, one per line.
    #[arg(long)]
    classes_file: Option<PathBuf>,
    /// Zero-shot prompt templates (repeatable; ensembled).
    #[arg(long = "template")]
    templates: Vec<String>,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Classes returned per image unless the request says otherwise.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Largest accepted request body in MiB.
    #[arg(long, alias = "max-upload-mb", default_value_t = 20)]
    max_body_mb: usize,
    /// Requests processed at once; more are answered 503 immediately.
    #[arg(long, default_value_t = 128)]
    max_concurrency: usize,
    /// Images per forward batch.
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
    /// Milliseconds the batcher waits for more requests.
    #[arg(long, default_value_t = 3)]
    batch_wait_ms: u64,
    /// Adapter heads kept in memory at most (LRU).
    #[arg(long, default_value_t = 64)]
    max_loaded: usize,
    /// MiB of adapter heads kept in memory at most (LRU).
    #[arg(long, default_value_t = 1024)]
    max_loaded_mb: usize,
    /// Seconds a client may take to send its headers.
    #[arg(long, default_value_t = 10)]
    header_timeout_s: u64,
    /// Seconds a client may take to send its body.
    #[arg(long, default_value_t = 30)]
    body_timeout_s: u64,
    /// Seconds a request may take in all.
    #[arg(long, default_value_t = 60)]
    request_timeout_s: u64,
    /// Allow cross-origin requests from this origin (repeatable; `*` for any). Default: none.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run `vladapt serve`.
pub fn run(a: ServeArgs) -> Result<()> {
    let device = super::device(&a.device)?;
    let model = match (&a.model, &a.run) {
        (Some(m), _) => m.clone(),
        (None, Some(run)) => AdapterConfig::load(run)?.base_model,
        (None, None) => bail!(
            "give --run RUN_DIR (a trained adapter), or --model DIR with --classes/--classes-file (zero-shot) and/or --adapters DIR_OF_RUNS"
        ),
    };
    let mut cfg = ServeConfig::new(model, device);
    if let Some(run) = &a.run {
        cfg.runs.push(run.clone());
        cfg.default_adapter = Some(vladapt_serve::engine::run_name(run));
    }
    if a.classes.is_some() || a.classes_file.is_some() {
        cfg.default_classes = Some(super::classify::read_classes(&a.classes, &a.classes_file)?);
    }
    if let Some(dir) = &a.adapters {
        if !dir.is_dir() {
            bail!("--adapters {}: not a directory", dir.display());
        }
    }
    cfg.adapters_dir = a.adapters.clone();
    cfg.default_templates = a.templates.clone();
    cfg.top_k = a.top_k;
    cfg.cors_origins = a.cors_origins.clone();
    cfg.limits = Limits {
        max_body_bytes: a.max_body_mb << 20,
        header_timeout: Duration::from_secs(a.header_timeout_s),
        body_timeout: Duration::from_secs(a.body_timeout_s),
        request_timeout: Duration::from_secs(a.request_timeout_s),
        max_concurrency: a.max_concurrency.max(1),
        max_batch: a.max_batch.max(1),
        batch_wait: Duration::from_millis(a.batch_wait_ms),
        max_loaded: a.max_loaded.max(1),
        max_loaded_bytes: a.max_loaded_mb << 20,
    };
    vladapt_serve::serve_blocking(cfg, &a.addr, |local| {
        // The one line on stdout: scripts read the chosen port from it.
        println!("listening on http://{local}");
        let _ = std::io::stdout().flush();
        tracing::info!("open http://{local}/ in a browser");
    })?;
    Ok(())
}
