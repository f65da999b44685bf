//! `vladapt embed-dataset run|merge|verify`: embed every image of a dataset or manifest into
//! Parquet part files — sharded (`--shard i/N`, Kubernetes `JOB_COMPLETION_INDEX`, Slurm
//! `SLURM_ARRAY_TASK_ID`), resumable, with per-image failures in sidecar files — then merge and
//! verify. The embedding is the one `vladapt embed` computes ([`ClipPipeline::image_embeddings`]),
//! or an adapter's image features (L2-normalised) with `--run`.
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use vladapt::methods::AdaptMethod;
use vladapt::models::clip::{l2_normalize, ClipPipeline};
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::run_dir::load_adapter;
use vladapt_data::{load_dataset, Loader, LoaderConfig, Sample};
use vladapt_table::parquet_io::SchemaRef;
use vladapt_table::{
    items_from_samples, merge, read_manifest, schema, verify_merged, verify_parts, Dtype,
    ErrorRecord, Item, Plan, Rows, RunDir, Shard,
};

/// Arguments of `vladapt embed-dataset`.
#[derive(Args)]
pub struct EmbedDatasetArgs {
    #[command(subcommand)]
    command: EmbedDatasetCmd,
}

#[derive(Subcommand)]
enum EmbedDatasetCmd {
    /// Embed this shard's parts into OUT/parts (resumes; merges when run unsharded).
    Run(Box<RunArgs>),
    /// Verify all parts and write OUT/embeddings.parquet, OUT/errors.jsonl (and .npy).
    Merge(MergeArgs),
    /// Check that every input row is present exactly once (parts, or the merged table).
    Verify(VerifyArgs),
}

/// Arguments of `vladapt embed-dataset run`.
#[derive(Args)]
pub struct RunArgs {
    /// Model directory (Hugging Face or OpenCLIP layout).
    #[arg(long)]
    model: PathBuf,
    /// Trained run directory: embed with its adapter's image features instead of frozen CLIP.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Manifest of images: .csv, .jsonl or .parquet with `path` [+ `id`, `label`] columns.
    #[arg(long, conflicts_with = "dataset")]
    manifest: Option<PathBuf>,
    /// Dataset name (see `vladapt data list`), with --root.
    #[arg(long, requires = "root")]
    dataset: Option<String>,
    /// Dataset root directory.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Dataset split: train, val, test or all (train, val, test in that order).
    #[arg(long, default_value = "all")]
    split: String,
    /// Output folder (plan.json, parts/, then embeddings.parquet after the merge).
    #[arg(long)]
    out: PathBuf,
    /// This process's shard `i/N` (0-based). Default: the whole input, unless --shards is given.
    #[arg(long, conflicts_with = "shards")]
    shard: Option<String>,
    /// Number of shards; the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (Slurm array).
    #[arg(long)]
    shards: Option<usize>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Images per part file (a multiple of --batch-size); the unit of resumption.
    #[arg(long, default_value_t = 2048)]
    part_size: usize,
    /// Batches decoded ahead of the model (memory bound: this many batches of pixels).
    #[arg(long, default_value_t = 2)]
    prefetch: usize,
    /// Store embeddings as float16 (Parquet FLOAT16) instead of float32.
    #[arg(long)]
    fp16: bool,
    /// Also write embeddings.npy when this run merges (unsharded runs).
    #[arg(long)]
    npy: bool,
    /// Do not merge at the end of an unsharded run.
    #[arg(long)]
    no_merge: bool,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Hide the progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Exit with an error after writing this many parts (interruption tests).
    #[arg(long, hide = true)]
    stop_after_parts: Option<usize>,
}

/// Arguments of `vladapt embed-dataset merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// Output folder of the run.
    #[arg(long)]
    out: PathBuf,
    /// Also write embeddings.npy.
    #[arg(long)]
    npy: bool,
}

/// Arguments of `vladapt embed-dataset verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Output folder of the run.
    #[arg(long)]
    out: PathBuf,
    /// Check the part files instead of the merged table.
    #[arg(long)]
    parts: bool,
}

/// Run `vladapt embed-dataset …`.
pub fn run(a: EmbedDatasetArgs) -> Result<()> {
    match a.command {
        EmbedDatasetCmd::Run(r) => run_shard(*r),
        EmbedDatasetCmd::Merge(m) => {
            let run = RunDir::load(&m.out)?;
            let s = merge(&run, m.npy)?;
            println!("{}", summary_json(&run, &s));
            Ok(())
        }
        EmbedDatasetCmd::Verify(v) => {
            let run = RunDir::load(&v.out)?;
            let s = if v.parts {
                verify_parts(&run)?
            } else {
                verify_merged(&run)?
            };
            println!("{}", summary_json(&run, &s));
            Ok(())
        }
    }
}

fn summary_json(run: &RunDir, s: &vladapt_table::Summary) -> serde_json::Value {
    serde_json::json!({
        "out": run.dir, "inputs": run.plan.total, "parts": s.parts,
        "rows": s.rows, "errors": s.errors, "dim": s.dim, "verified": true,
    })
}

/// The input rows and a description of where they come from.
fn items(a: &RunArgs) -> Result<(Vec<Item>, String)> {
    if let Some(m) = &a.manifest {
        return Ok((read_manifest(m)?, format!("manifest:{}", m.display())));
    }
    let (Some(name), Some(root)) = (&a.dataset, &a.root) else {
        bail!("give --manifest FILE or --dataset NAME --root DIR");
    };
    let ds = load_dataset(name, root)?;
    let samples: Vec<Sample> = match a.split.as_str() {
        "train" => ds.split.train,
        "val" => ds.split.val,
        "test" => ds.split.test,
        "all" => [ds.split.train, ds.split.val, ds.split.test].concat(),
        other => bail!("--split {other}: expected train, val, test or all"),
    };
    let items = items_from_samples(&samples, root);
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = items.iter().find(|i| !seen.insert(i.id.as_str())) {
        bail!(
            "dataset {name} at {}: image `{}` is listed twice in --split {}; pick one split",
            root.display(),
            dup.id,
            a.split
        );
    }
    Ok((
        items,
        format!("dataset:{name}:{}:{}", root.display(), a.split),
    ))
}

fn shard_of(a: &RunArgs) -> Result<Shard> {
    Ok(match (&a.shard, a.shards) {
        (Some(s), _) => Shard::parse(s)?,
        (None, Some(n)) => Shard::from_env(n, |k| std::env::var(k).ok())?,
        (None, None) => Shard::ALL,
    })
}

/// The image tower: frozen CLIP, or a trained adapter's image features.
struct Embedder {
    pipe: ClipPipeline,
    method: Option<Box<dyn AdaptMethod>>,
}

impl Embedder {
    fn embed(&self, flat: Vec<f32>, n: usize) -> Result<Vec<f32>> {
        let px = self.pipe.pixels_from_flat(flat, n);
        let emb = match &self.method {
            None => self.pipe.image_embeddings(px)?,
            Some(m) => l2_normalize(m.image_features(&self.pipe.model, px)?),
        };
        Ok(to_vec_f32(&emb))
    }
}

fn run_shard(a: RunArgs) -> Result<()> {
    if a.batch_size == 0 || a.part_size == 0 || !a.part_size.is_multiple_of(a.batch_size) {
        bail!(
            "--part-size {} must be a positive multiple of --batch-size {} (batches never straddle parts, so results do not depend on the shard count)",
            a.part_size,
            a.batch_size
        );
    }
    let shard = shard_of(&a)?;
    let (items, source) = items(&a)?;
    if items.is_empty() {
        bail!("{source}: no images to embed");
    }
    let dtype = if a.fp16 { Dtype::F16 } else { Dtype::F32 };
    let settings = serde_json::json!({
        "source": source,
        "model": a.model,
        "adapter": a.run,
        "batch_size": a.batch_size,
        "dtype": dtype.name(),
    });
    let run = RunDir::open(&a.out, Plan::new(&items, a.part_size, settings.clone())?)?;
    let pt = run.plan.partition();
    let mine = pt.shard_parts(shard);
    let pending = run.pending(shard);
    run.remove_stale_temp(&pending);
    tracing::info!(
        "shard {shard}: parts {mine:?} of {}, {} already done, {} to embed",
        pt.num_parts(),
        mine.len() - pending.len(),
        pending.len()
    );

    let device = super::device(&a.device)?;
    let pipe = ClipPipeline::load(&a.model, &device)?;
    let method = match &a.run {
        Some(r) => Some(load_adapter(r, &pipe)?.0),
        None => None,
    };
    let emb = Embedder { pipe, method };

    // The loader runs over the pending parts back to back; every part but the input's last
    // holds a whole number of batches, so batches are the same as in an unsharded run.
    let mut rows_of: Vec<usize> = Vec::new();
    for &p in &pending {
        rows_of.extend(pt.part_rows(p));
    }
    let samples: Vec<Sample> = rows_of
        .iter()
        .map(|&r| Sample {
            image: items[r].image.clone(),
            label: 0,
        })
        .collect();
    let pre = emb.pipe.preprocess.clone();
    let cfg = LoaderConfig {
        skip_decode_errors: true,
        prefetch: a.prefetch.max(1),
        limits: emb.pipe.limits,
        ..LoaderConfig::eval(a.batch_size)
    };
    let loader = Loader::try_new(samples, cfg, move |img, _| pre.apply(img))?;
    let bar = progress_bar(rows_of.len() as u64, shard, !a.no_progress);
    let sch = table_schema(&emb, dtype, &a)?;
    let dim = vladapt_table::parquet_io::embedding_dim(&sch).unwrap_or(0);
    let t0 = Instant::now();
    let (mut rows, mut errors) = (Rows::default(), Vec::<ErrorRecord>::new());
    let (mut next, mut filled, mut written, mut embedded, mut failed) = (0usize, 0usize, 0, 0, 0);
    for b in loader.epoch(0) {
        let b = b?;
        let n = b.indices.len();
        if n > 0 {
            let values = emb.embed(b.images, n)?;
            if values.len() != n * dim {
                bail!(
                    "the model returned {} values for {n} images of width {dim}",
                    values.len()
                );
            }
            for &i in &b.indices {
                let it = &items[rows_of[i]];
                rows.rows.push(rows_of[i] as u64);
                rows.ids.push(it.id.clone());
                rows.paths.push(it.path());
                rows.labels.push(it.label);
            }
            rows.values.extend(values);
        }
        for (i, msg) in &b.skipped {
            let it = &items[rows_of[*i]];
            errors.push(ErrorRecord {
                row: rows_of[*i] as u64,
                id: it.id.clone(),
                path: it.path(),
                error: msg.clone(),
            });
        }
        errors.sort_by_key(|e| e.row);
        embedded += n;
        failed += b.skipped.len();
        filled += n + b.skipped.len();
        bar.inc((n + b.skipped.len()) as u64);
        // A batch never straddles parts, so at most the current part completes here.
        if next < pending.len() && filled == pt.part_rows(pending[next]).len() {
            run.write_part(pending[next], &rows, &errors, &sch)?;
            rows = Rows::default();
            errors.clear();
            filled = 0;
            next += 1;
            written += 1;
            if a.stop_after_parts == Some(written) {
                bar.abandon();
                bail!("stopped after {written} parts (--stop-after-parts)");
            }
        }
    }
    bar.finish_and_clear();
    if next != pending.len() {
        bail!("internal: {} of {} parts written", next, pending.len());
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut out = serde_json::json!({
        "shard": shard.to_string(),
        "parts": mine.len(),
        "parts_resumed": mine.len() - pending.len(),
        "images": embedded,
        "failed": failed,
        "seconds": secs,
        "images_per_s": if secs > 0.0 { (embedded + failed) as f64 / secs } else { 0.0 },
        "peak_rss_mb": super::bench::peak_rss_mb(),
    });
    if shard.count == 1 && !a.no_merge {
        let s = merge(&run, a.npy)?;
        out["merged"] = summary_json(&run, &s);
    }
    println!("{out}");
    Ok(())
}

/// The table schema: the width comes from one forward pass of a blank image.
fn table_schema(emb: &Embedder, dtype: Dtype, a: &RunArgs) -> Result<SchemaRef> {
    let s = emb.pipe.model.config.vision.image_size;
    let dim = emb.embed(vec![0.0; 3 * s * s], 1)?.len();
    let meta = serde_json::json!({
        "model": a.model, "adapter": a.run, "dim": dim,
        "dtype": dtype.name(), "normalised": "l2",
    });
    Ok(schema(dim, dtype, &meta.to_string()))
}

fn progress_bar(len: u64, shard: Shard, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_prefix(format!("shard {shard}"));
    pb
}
