//! `vladapt ground eval --shard i/N` and `vladapt ground eval-merge`: the grounding evaluation
//! split over processes (Kubernetes Indexed Jobs, Slurm arrays) and merged to exactly the
//! single-process result.
//!
//! Each split's expressions are cut by [`Partition`] into parts of `--batch` consecutive rows;
//! shard `i/N` evaluates its contiguous run of parts (the same [`Shard`] as `vladapt eval
//! --shard` and `embed-dataset`, also from `JOB_COMPLETION_INDEX` / `SLURM_ARRAY_TASK_ID` with
//! `--shards N`), so every batch — and so every predicted box — is the batch of the
//! unsharded run. A shard writes, atomically, the IoU of each of its expressions as the bits
//! of the `f32` (JSON integers are exact; decimal floats need not round-trip), with the
//! fingerprint of its inputs: SHA-256 of the model files and of each split's samples, the
//! batch size, the row name. The merge checks that every shard is present exactly once with the
//! same fingerprint and that its rows are the ones the partition gives it, concatenates the IoUs
//! in index order and sums them exactly as the single process does: Acc@0.5, mIoU, the table
//! and the JSON come out byte for byte the same.
use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use vladapt::train::grounding_eval::{markdown_table, metrics_from_ious, SplitMetrics};
use vladapt_data::grounding::GroundingSample;
use vladapt_table::{Partition, Shard};

/// `kind` of a shard's result file.
pub const SHARD_KIND: &str = "vladapt-ground-eval-shard";

/// Files of a model directory or run that decide its predictions (those present are hashed).
const MODEL_FILES: &[&str] = &[
    "grounding_config.json",
    "model.safetensors",
    "vocab.txt",
    vladapt::train::grounding::METHOD_FILE,
];

/// The shard of `--shard i/N`, or of `--shards N` with the index from the job engine's
/// environment; `None` when neither is given (the whole evaluation in this process).
pub fn resolve_shard(shard: Option<&str>, shards: Option<usize>) -> Result<Option<Shard>> {
    Ok(match (shard, shards) {
        (Some(s), None) => Some(Shard::parse(s).context("--shard")?),
        (None, Some(n)) => Some(Shard::from_env(n, |k| std::env::var(k).ok()).context("--shards")?),
        (None, None) => None,
        (Some(_), Some(_)) => bail!("give --shard i/N or --shards N, not both"),
    })
}

/// The rows of a split of `total` expressions that `shard` evaluates in batches of `batch`.
pub fn shard_rows(total: usize, batch: usize, shard: Shard) -> Result<std::ops::Range<usize>> {
    Ok(Partition::new(total, batch.max(1))?.shard_rows(shard))
}

/// Lower-case hex SHA-256.
fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over the model files present in `dir` (name, length, bytes, in [`MODEL_FILES`] order).
pub fn model_fingerprint(dir: &Path) -> Result<String> {
    let mut h = Sha256::new();
    for name in MODEL_FILES {
        let p = dir.join(name);
        if !p.is_file() {
            continue;
        }
        let mut f = std::fs::File::open(&p).with_context(|| format!("reading {}", p.display()))?;
        h.update(name.as_bytes());
        h.update(f.metadata()?.len().to_le_bytes());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .with_context(|| format!("reading {}", p.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex(h.finalize()))
}

/// SHA-256 of a split's samples in order (image path, size, expression, box bits).
pub fn samples_fingerprint(samples: &[GroundingSample]) -> String {
    let mut h = Sha256::new();
    for s in samples {
        let path = s.image.to_string_lossy();
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(s.size.0.to_le_bytes());
        h.update(s.size.1.to_le_bytes());
        h.update((s.expression.len() as u64).to_le_bytes());
        h.update(s.expression.as_bytes());
        for v in s.bbox {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    hex(h.finalize())
}

/// What a shard's result must share with the others to be merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `--model` as given (it is part of the output JSON).
    pub model: PathBuf,
    /// SHA-256 of the model files.
    pub model_sha256: String,
    /// Table row name.
    pub name: String,
    /// Evaluation batch size (the part size of the partition).
    pub batch: usize,
    /// Per split: label, expression count, SHA-256 of the samples.
    pub splits: Vec<SplitFingerprint>,
}

/// One split of a [`Fingerprint`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitFingerprint {
    /// Split label.
    pub label: String,
    /// Expressions in the whole split.
    pub total: usize,
    /// SHA-256 of the samples ([`samples_fingerprint`]).
    pub samples_sha256: String,
}

/// One split's partial result: the IoUs of rows `start..end`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardSplit {
    /// Split label.
    pub label: String,
    /// First row.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// `f32::to_bits` of each row's IoU, in row order.
    pub iou_bits: Vec<u32>,
}

/// The result file of `vladapt ground eval --shard i/N --out FILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardResult {
    /// Always [`SHARD_KIND`].
    pub kind: String,
    /// `i/N`.
    pub shard: String,
    /// What must match across shards.
    pub fingerprint: Fingerprint,
    /// Per split, in `--split` order.
    pub splits: Vec<ShardSplit>,
}

/// Write a shard's result atomically (temp file + rename).
pub fn write_shard(path: &Path, r: &ShardResult) -> Result<()> {
    vladapt::tensor_io::write_atomic(path, serde_json::to_string(r)?.as_bytes())
        .with_context(|| format!("--out {}", path.display()))
}

/// The outputs of a finished evaluation: the Markdown table and the JSON file's text. The
/// single-process `ground eval` and `ground eval-merge` both write through this.
pub fn render(model: &Path, name: &str, metrics: &[SplitMetrics]) -> Result<(String, String)> {
    let table = markdown_table(&[(name.to_string(), metrics.to_vec())]);
    let v = serde_json::json!({"model": model, "name": name, "splits": metrics});
    Ok((table, serde_json::to_string_pretty(&v)?))
}

/// Print the per-split lines (stderr) and the table (stdout); write `--table` and `--json`.
pub fn report(
    model: &Path,
    name: &str,
    metrics: &[SplitMetrics],
    table_out: Option<&Path>,
    json_out: Option<&Path>,
) -> Result<()> {
    for m in metrics {
        eprintln!(
            "{}: Acc@0.5 {:.2}%  mIoU {:.2}%  ({} expressions)",
            m.split, m.acc_at_05, m.miou, m.n
        );
    }
    let (table, json) = render(model, name, metrics)?;
    println!("{table}");
    if let Some(p) = table_out {
        vladapt::tensor_io::write_atomic(p, table.as_bytes())?;
    }
    if let Some(p) = json_out {
        vladapt::tensor_io::write_atomic(p, json.as_bytes())?;
    }
    Ok(())
}

/// Arguments of `vladapt ground eval-merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// The shards' result files (`vladapt ground eval --shard i/N --out FILE`), one per shard.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write the Markdown table here.
    #[arg(long)]
    table: Option<PathBuf>,
    /// Write the metrics as JSON here (the file `ground eval --json` writes).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Read and check the shards' files; the merged per-split metrics with the common fingerprint.
pub fn merge_files(files: &[PathBuf]) -> Result<(Fingerprint, Vec<SplitMetrics>)> {
    let mut first: Option<(PathBuf, Fingerprint)> = None;
    let mut seen: Vec<Option<(PathBuf, ShardResult)>> = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let r: ShardResult = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a `vladapt ground eval --shard` result file",
                f.display()
            )
        })?;
        ensure!(
            r.kind == SHARD_KIND,
            "{}: kind `{}`, expected `{SHARD_KIND}`",
            f.display(),
            r.kind
        );
        let shard = Shard::parse(&r.shard).with_context(|| format!("{}: shard", f.display()))?;
        match &first {
            None => {
                first = Some((f.clone(), r.fingerprint.clone()));
                seen = vec![None; shard.count];
            }
            Some((p0, fp)) => {
                if r.fingerprint != *fp {
                    bail!(
                        "{}: evaluated a different model, split set or configuration than {} ({})",
                        f.display(),
                        p0.display(),
                        fingerprint_diff(fp, &r.fingerprint)
                    );
                }
            }
        }
        if shard.count != seen.len() {
            bail!(
                "{}: shard {shard}, but the other files have {} shards",
                f.display(),
                seen.len()
            );
        }
        if let Some((prev, _)) = &seen[shard.index] {
            bail!(
                "{}: shard {shard} is also in {}",
                f.display(),
                prev.display()
            );
        }
        seen[shard.index] = Some((f.clone(), r));
    }
    let missing: Vec<String> = (0..seen.len())
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{}", seen.len()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard(s) {} of {} missing: every shard's file is needed",
            missing.join(", "),
            seen.len()
        );
    }
    let (_, fp) = first.context("no files")?;
    let mut metrics = Vec::with_capacity(fp.splits.len());
    for (k, sf) in fp.splits.iter().enumerate() {
        let mut ious: Vec<f32> = Vec::with_capacity(sf.total);
        for (i, entry) in seen.iter().enumerate() {
            let (path, r) = entry.as_ref().expect("checked above");
            let shard = Shard::new(i, seen.len())?;
            let part = r.splits.get(k).with_context(|| {
                format!("{}: has no result for split `{}`", path.display(), sf.label)
            })?;
            let want = shard_rows(sf.total, fp.batch, shard)?;
            ensure!(
                part.label == sf.label
                    && part.start == want.start
                    && part.end == want.end
                    && part.iou_bits.len() == want.len(),
                "{}: split `{}` holds rows {}..{} ({} IoUs); shard {shard} of {} rows in batches of {} owns rows {want:?}",
                path.display(),
                part.label,
                part.start,
                part.end,
                part.iou_bits.len(),
                sf.total,
                fp.batch
            );
            ious.extend(part.iou_bits.iter().map(|&b| f32::from_bits(b)));
        }
        metrics.push(metrics_from_ious(&sf.label, &ious)?);
    }
    Ok((fp, metrics))
}

/// Which fields of two fingerprints differ, for the error message.
fn fingerprint_diff(a: &Fingerprint, b: &Fingerprint) -> String {
    let mut d = Vec::new();
    if a.model != b.model {
        d.push(format!(
            "--model {} vs {}",
            a.model.display(),
            b.model.display()
        ));
    }
    if a.model_sha256 != b.model_sha256 {
        d.push("the model files differ".to_string());
    }
    if a.name != b.name {
        d.push(format!("--name {} vs {}", a.name, b.name));
    }
    if a.batch != b.batch {
        d.push(format!("--batch {} vs {}", a.batch, b.batch));
    }
    if a.splits != b.splits {
        let labels = |f: &Fingerprint| {
            f.splits
                .iter()
                .map(|s| format!("{} ({} expressions)", s.label, s.total))
                .collect::<Vec<_>>()
                .join(", ")
        };
        d.push(format!(
            "splits [{}] vs [{}] or their samples differ",
            labels(a),
            labels(b)
        ));
    }
    d.join("; ")
}

/// Run `vladapt ground eval-merge`.
pub fn merge(a: MergeArgs) -> Result<()> {
    let (fp, metrics) = merge_files(&a.files)?;
    report(
        &fp.model,
        &fp.name,
        &metrics,
        a.table.as_deref(),
        a.json.as_deref(),
    )
}
