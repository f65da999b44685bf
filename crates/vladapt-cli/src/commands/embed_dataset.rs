//! `vladapt embed-dataset run|merge|verify`: embed every image of a dataset or manifest into
//! Parquet part files — sharded (`--shard i/N`, Kubernetes `JOB_COMPLETION_INDEX`, Slurm
//! `SLURM_ARRAY_TASK_ID`), resumable, with per-image failures in sidecar files — then merge and
//! verify. The embedding is the one `vladapt embed` computes ([`ClipPipeline::image_embeddings`]),
//! or an adapter's image features (L2-normalised) with `--run`. Optionally also a manifest's
//! caption column (`--text-column`, into OUT/texts) and class prompts (`--class-prompts`, into
//! OUT/class_prompts) through the frozen text tower, sharded and resumable the same way.
//!
//! A manifest is read twice and never held in memory: pass 1 counts and digests its rows (the
//! plan), pass 2 streams the rows of this shard's pending parts into the model
//! ([`BatchStream`]), so peak memory does not depend on the number of rows.
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vladapt::methods::AdaptMethod;
use vladapt::models::clip::{l2_normalize, ClipPipeline};
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::run_dir::load_adapter;
use vladapt_data::{format_template, load_dataset, open_rgb, DataError, ImageRef, Sample};
use vladapt_table::parquet_io::SchemaRef;
use vladapt_table::{
    items_from_samples, merge, schema_of, verify_merged, verify_parts, BatchStream, Dtype,
    ErrorRecord, Item, ManifestReader, Plan, Rows, RunDir, Shard, TableKind,
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
    /// Also embed this text column of the manifest (e.g. `caption`) into OUT/texts (frozen
    /// CLIP text tower; row k = manifest row k).
    #[arg(long, requires = "manifest")]
    text_column: Option<String>,
    /// Also embed the class prompts (template filled with each class name) into
    /// OUT/class_prompts: the classes of --dataset, or of --classnames.
    #[arg(long)]
    class_prompts: bool,
    /// Class names for --class-prompts with a manifest: a text file, one name per line.
    #[arg(long)]
    classnames: Option<PathBuf>,
    /// Prompt template for --class-prompts, `{}` = class name (default: the dataset's, else
    /// "a photo of a {}.").
    #[arg(long)]
    template: Option<String>,
    /// Embed only the texts (--text-column / --class-prompts), not the images.
    #[arg(long)]
    no_images: bool,
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
            let out = for_each_table(&m.out, |run| {
                let s = merge(run, m.npy)?;
                Ok(summary_json(run, &s))
            })?;
            println!("{out}");
            Ok(())
        }
        EmbedDatasetCmd::Verify(v) => {
            let out = for_each_table(&v.out, |run| {
                let s = if v.parts {
                    verify_parts(run)?
                } else {
                    verify_merged(run)?
                };
                Ok(summary_json(run, &s))
            })?;
            println!("{out}");
            Ok(())
        }
    }
}

/// Sub-folders of OUT holding text tables.
const TEXT_TABLES: [&str; 2] = ["texts", "class_prompts"];

/// Apply `f` to the image table in OUT (when planned) and to each text table under it; the
/// image summary is the top level, text summaries go under their folder's name.
fn for_each_table(
    out: &Path,
    f: impl Fn(&RunDir) -> Result<serde_json::Value>,
) -> Result<serde_json::Value> {
    let planned = |d: &Path| d.join(vladapt_table::run_dir::PLAN_FILE).is_file();
    let mut json = if planned(out) || TEXT_TABLES.iter().all(|t| !planned(&out.join(t))) {
        f(&RunDir::load(out)?)?
    } else {
        serde_json::json!({})
    };
    for t in TEXT_TABLES {
        let d = out.join(t);
        if planned(&d) {
            json[t] = f(&RunDir::load(&d)?)?;
        }
    }
    Ok(json)
}

fn summary_json(run: &RunDir, s: &vladapt_table::Summary) -> serde_json::Value {
    serde_json::json!({
        "out": run.dir, "inputs": run.plan.total, "parts": s.parts,
        "rows": s.rows, "errors": s.errors, "dim": s.dim, "verified": true,
    })
}

/// Where a table's rows come from: streamed from a manifest (pass 1 plans, pass 2 embeds, no
/// per-row memory), or a list in memory (dataset readers, class prompts).
#[derive(Clone)]
enum Source {
    Manifest {
        path: PathBuf,
        text_column: Option<String>,
    },
    Items(Arc<Vec<Item>>),
}

type RowIter = Box<dyn Iterator<Item = vladapt_table::Result<Item>> + Send>;

impl Source {
    /// The rows, in order, from the start.
    fn rows(&self) -> Result<RowIter> {
        Ok(match self {
            Source::Manifest { path, text_column } => {
                Box::new(ManifestReader::open(path, text_column.as_deref())?)
            }
            Source::Items(items) => {
                let items = items.clone();
                Box::new((0..items.len()).map(move |i| Ok(items[i].clone())))
            }
        })
    }
}

/// One table to fill: images into OUT, or texts into OUT/texts, OUT/class_prompts.
struct Job {
    kind: TableKind,
    name: &'static str,
    out: PathBuf,
    source: Source,
    settings: serde_json::Value,
}

/// The dataset's samples of `--split`, checked for repeated images.
fn dataset_items(
    a: &RunArgs,
    name: &str,
    root: &Path,
) -> Result<(Vec<Item>, vladapt_data::Dataset)> {
    let ds = load_dataset(name, root)?;
    let split = ds.split.clone();
    let samples: Vec<Sample> = match a.split.as_str() {
        "train" => split.train,
        "val" => split.val,
        "test" => split.test,
        "all" => [split.train, split.val, split.test].concat(),
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
    Ok((items, ds))
}

/// The tables this invocation fills.
fn jobs(a: &RunArgs, dtype: Dtype) -> Result<Vec<Job>> {
    let common = |source: String| {
        serde_json::json!({
            "source": source,
            "model": a.model,
            "adapter": a.run,
            "batch_size": a.batch_size,
            "dtype": dtype.name(),
        })
    };
    let mut jobs = Vec::new();
    let mut classes: Option<(Vec<String>, String)> = None;
    if let Some(m) = &a.manifest {
        let src = format!("manifest:{}", m.display());
        if !a.no_images {
            jobs.push(Job {
                kind: TableKind::Images,
                name: "images",
                out: a.out.clone(),
                source: Source::Manifest {
                    path: m.clone(),
                    text_column: None,
                },
                settings: common(src.clone()),
            });
        }
        if let Some(c) = &a.text_column {
            let mut settings = common(src);
            settings["text_column"] = c.clone().into();
            settings["adapter"] = serde_json::Value::Null;
            jobs.push(Job {
                kind: TableKind::Texts,
                name: "texts",
                out: a.out.join("texts"),
                source: Source::Manifest {
                    path: m.clone(),
                    text_column: Some(c.clone()),
                },
                settings,
            });
        }
    } else {
        let (Some(name), Some(root)) = (&a.dataset, &a.root) else {
            bail!("give --manifest FILE or --dataset NAME --root DIR");
        };
        let (items, ds) = dataset_items(a, name, root)?;
        if !a.no_images {
            jobs.push(Job {
                kind: TableKind::Images,
                name: "images",
                out: a.out.clone(),
                source: Source::Items(Arc::new(items)),
                settings: common(format!("dataset:{name}:{}:{}", root.display(), a.split)),
            });
        }
        classes = Some((ds.classnames, ds.template));
    }
    if a.class_prompts {
        let (names, template) = match (&a.classnames, classes) {
            (Some(f), _) => {
                let names = vladapt_data::classlist::read_class_list(f)
                    .with_context(|| format!("--classnames {}", f.display()))?;
                (names, "a photo of a {}.".to_string())
            }
            (None, Some(c)) => c,
            (None, None) => {
                bail!("--class-prompts needs --dataset, or --classnames FILE with a manifest")
            }
        };
        let template = a.template.clone().unwrap_or(template);
        if !template.contains("{}") {
            bail!("--template `{template}` has no `{{}}` for the class name");
        }
        if names.is_empty() {
            bail!("--class-prompts: no class names");
        }
        let items: Vec<Item> = names
            .iter()
            .enumerate()
            .map(|(i, c)| Item {
                id: c.clone(),
                image: ImageRef::File(PathBuf::new()),
                label: Some(i as i64),
                text: Some(format_template(&template, c)),
            })
            .collect();
        let mut settings = common("class_prompts".into());
        settings["template"] = template.into();
        settings["adapter"] = serde_json::Value::Null;
        jobs.push(Job {
            kind: TableKind::Texts,
            name: "class_prompts",
            out: a.out.join("class_prompts"),
            source: Source::Items(Arc::new(items)),
            settings,
        });
    }
    if jobs.is_empty() {
        bail!("--no-images leaves nothing to embed: add --text-column or --class-prompts");
    }
    Ok(jobs)
}

fn shard_of(a: &RunArgs) -> Result<Shard> {
    Ok(match (&a.shard, a.shards) {
        (Some(s), _) => Shard::parse(s)?,
        (None, Some(n)) => Shard::from_env(n, |k| std::env::var(k).ok())?,
        (None, None) => Shard::ALL,
    })
}

/// The towers: frozen CLIP, or a trained adapter's image features.
struct Embedder {
    pipe: ClipPipeline,
    method: Option<Box<dyn AdaptMethod>>,
}

impl Embedder {
    /// `[n, D]` image embeddings of `n` preprocessed CHW images, concatenated.
    fn embed(&self, flat: Vec<f32>, n: usize) -> Result<Vec<f32>> {
        let px = self.pipe.pixels_from_flat(flat, n);
        let emb = match &self.method {
            None => self.pipe.image_embeddings(px)?,
            Some(m) => l2_normalize(m.image_features(&self.pipe.model, px)?),
        };
        Ok(to_vec_f32(&emb))
    }

    /// `[n, D]` text embeddings (frozen CLIP text tower, L2-normalised).
    fn embed_texts(&self, texts: &[String]) -> Result<Vec<f32>> {
        let refs: Vec<&str> = texts.iter().map(|t| t.as_str()).collect();
        Ok(to_vec_f32(&self.pipe.text_features(&refs)?))
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
    let dtype = if a.fp16 { Dtype::F16 } else { Dtype::F32 };
    // Pass 1 for every table: count and digest the rows (streamed), open or check the plan.
    let mut planned = Vec::new();
    for job in jobs(&a, dtype)? {
        let plan = Plan::scan(
            job.source.rows()?,
            job.kind,
            a.part_size,
            job.settings.clone(),
        )?;
        if plan.total == 0 {
            bail!("{}: no rows to embed", job.settings["source"]);
        }
        let run = RunDir::open(&job.out, plan)?;
        let pending = run.pending(shard);
        run.remove_stale_temp(&pending);
        planned.push((job, run, pending));
    }

    let device = super::device(&a.device)?;
    let pipe = ClipPipeline::load(&a.model, &device)?;
    let method = match &a.run {
        Some(r) => Some(load_adapter(r, &pipe)?.0),
        None => None,
    };
    let emb = Embedder { pipe, method };

    let mut out = serde_json::json!({});
    for (job, run, pending) in planned {
        let mut v = embed_table(&a, &emb, shard, dtype, &job, &run, &pending)?;
        if shard.count == 1 && !a.no_merge {
            let s = merge(&run, a.npy)?;
            v["merged"] = summary_json(&run, &s);
        }
        if job.kind == TableKind::Images {
            for (k, x) in v.as_object().cloned().unwrap_or_default() {
                out[k] = x;
            }
        } else {
            out[job.name] = v;
        }
    }
    println!("{out}");
    Ok(())
}

/// Pass 2: embed this shard's pending parts of one table, streaming its rows.
fn embed_table(
    a: &RunArgs,
    emb: &Embedder,
    shard: Shard,
    dtype: Dtype,
    job: &Job,
    run: &RunDir,
    pending: &[usize],
) -> Result<serde_json::Value> {
    let pt = run.plan.partition();
    let mine = pt.shard_parts(shard);
    tracing::info!(
        "{} shard {shard}: parts {mine:?} of {}, {} already done, {} to embed",
        job.name,
        pt.num_parts(),
        mine.len() - pending.len(),
        pending.len()
    );
    let sch = table_schema(emb, job.kind, dtype, a)?;
    let dim = vladapt_table::parquet_io::embedding_dim(&sch).unwrap_or(0);
    let todo: usize = pending.iter().map(|&p| pt.part_rows(p).len()).sum();
    let bar = progress_bar(todo as u64, shard, job.name, !a.no_progress);
    let t0 = Instant::now();
    let (embedded, failed) = match job.kind {
        TableKind::Images => {
            let pre = emb.pipe.preprocess.clone();
            let limits = emb.pipe.limits;
            let prepare = move |it: &Item| -> std::result::Result<Vec<f32>, String> {
                let fail = |reason: String| {
                    DataError::Image {
                        image: it.image.to_string(),
                        reason,
                    }
                    .to_string()
                };
                let img = open_rgb(&it.image, &limits).map_err(|e| e.to_string())?;
                pre.apply(&img).map_err(|e| fail(e.to_string()))
            };
            let stream = BatchStream::start(
                job.source.rows()?,
                pt,
                pending.to_vec(),
                a.batch_size,
                a.prefetch.max(1),
                prepare,
            )?;
            fill_parts(a, run, job.kind, &sch, dim, pending, stream, &bar, |xs| {
                let n = xs.len();
                emb.embed(xs.concat(), n)
            })?
        }
        TableKind::Texts => {
            let stream = BatchStream::start(
                job.source.rows()?,
                pt,
                pending.to_vec(),
                a.batch_size,
                a.prefetch.max(1),
                |it: &Item| it.text.clone().ok_or_else(|| "no text".to_string()),
            )?;
            fill_parts(a, run, job.kind, &sch, dim, pending, stream, &bar, |xs| {
                emb.embed_texts(&xs)
            })?
        }
    };
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let mut v = serde_json::json!({
        "shard": shard.to_string(),
        "parts": mine.len(),
        "parts_resumed": mine.len() - pending.len(),
        "failed": failed,
        "seconds": secs,
        "images_per_s": if secs > 0.0 { (embedded + failed) as f64 / secs } else { 0.0 },
        "peak_rss_mb": super::bench::peak_rss_mb(),
    });
    v[job.kind_count_key()] = embedded.into();
    Ok(v)
}

impl Job {
    /// `images` or `texts`: the key of the embedded count in the summary.
    fn kind_count_key(&self) -> &'static str {
        match self.kind {
            TableKind::Images => "images",
            TableKind::Texts => "texts",
        }
    }
}

/// Consume a batch stream: embed each batch, collect its part, write the part when it ends.
/// Returns (embedded, failed).
#[allow(clippy::too_many_arguments)]
fn fill_parts<T: Send + 'static>(
    a: &RunArgs,
    run: &RunDir,
    kind: TableKind,
    sch: &SchemaRef,
    dim: usize,
    pending: &[usize],
    stream: BatchStream<T>,
    bar: &ProgressBar,
    forward: impl Fn(Vec<T>) -> Result<Vec<f32>>,
) -> Result<(usize, usize)> {
    let (mut rows, mut errors) = (Rows::default(), Vec::<ErrorRecord>::new());
    let (mut written, mut embedded, mut failed) = (0usize, 0usize, 0usize);
    for b in stream {
        let b = b?;
        let mut inputs = Vec::with_capacity(b.items.len());
        let mut ok = Vec::with_capacity(b.items.len());
        for ((row, it), p) in b.items.into_iter().zip(b.prepared) {
            match p {
                Ok(x) => {
                    inputs.push(x);
                    ok.push((row, it));
                }
                Err(msg) => {
                    errors.push(ErrorRecord {
                        row,
                        id: it.id.clone(),
                        path: kind.second(&it).unwrap_or_default(),
                        error: msg,
                    });
                    failed += 1;
                    bar.inc(1);
                }
            }
        }
        let n = ok.len();
        if n > 0 {
            let values = forward(inputs)?;
            if values.len() != n * dim {
                bail!(
                    "the model returned {} values for {n} inputs of width {dim}",
                    values.len()
                );
            }
            for (row, it) in ok {
                rows.rows.push(row);
                rows.paths.push(kind.second(&it)?);
                rows.ids.push(it.id);
                rows.labels.push(it.label);
            }
            rows.values.extend(values);
            embedded += n;
            bar.inc(n as u64);
        }
        if b.ends_part {
            if pending.get(written) != Some(&b.part) {
                bail!("internal: part {} ended out of order", b.part);
            }
            run.write_part(b.part, &rows, &errors, sch)?;
            rows = Rows::default();
            errors.clear();
            written += 1;
            if a.stop_after_parts == Some(written) {
                bar.abandon();
                bail!("stopped after {written} parts (--stop-after-parts)");
            }
        }
    }
    if written != pending.len() {
        bail!("internal: {} of {} parts written", written, pending.len());
    }
    Ok((embedded, failed))
}

/// The table schema: the width comes from one forward pass of a blank image (or empty text).
fn table_schema(emb: &Embedder, kind: TableKind, dtype: Dtype, a: &RunArgs) -> Result<SchemaRef> {
    let (dim, adapter) = match kind {
        TableKind::Images => {
            let s = emb.pipe.model.config.vision.image_size;
            (emb.embed(vec![0.0; 3 * s * s], 1)?.len(), a.run.clone())
        }
        TableKind::Texts => (emb.embed_texts(&[String::new()])?.len(), None),
    };
    let meta = serde_json::json!({
        "model": a.model, "adapter": adapter, "dim": dim,
        "dtype": dtype.name(), "normalised": "l2",
        "kind": if kind == TableKind::Images { "images" } else { "texts" },
    });
    Ok(schema_of(kind, dim, dtype, &meta.to_string()))
}

fn progress_bar(len: u64, shard: Shard, name: &str, show: bool) -> ProgressBar {
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
    pb.set_prefix(format!("{name} shard {shard}"));
    pb
}
