//! An output folder of a (possibly sharded) embedding run: `plan.json`, `parts/part-NNNNNN.parquet`
//! (+ `.errors.jsonl`), and after the merge `embeddings.parquet`, `errors.jsonl`,
//! `embeddings.npy`.
//!
//! Every shard process writes only its own parts, each atomically (temp file + rename), the
//! error sidecar before the Parquet file: a part is done exactly when its Parquet file exists, so
//! a killed shard resumes from its first missing part.
use crate::error::{Result, TableError};
use crate::manifest::Item;
use crate::parquet_io::{write_atomic, Rows, TableKind, TableWriter};
use crate::shard::{Partition, Shard};
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a run embeds and how; identical for every shard of a run (checked on open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Number of input rows.
    pub total: usize,
    /// Rows per part file.
    pub part_size: usize,
    /// Order-independent digest of the input's (row, id, path) triples, hex.
    pub digest: String,
    /// Settings that change the output (model, adapter, batch size, dtype, source …).
    pub settings: serde_json::Value,
}

impl Plan {
    /// A plan for `items` (images: the digest covers each row's path).
    pub fn new(items: &[Item], part_size: usize, settings: serde_json::Value) -> Result<Self> {
        Self::scan(
            items.iter().cloned().map(Ok),
            TableKind::Images,
            part_size,
            settings,
        )
    }

    /// A plan from rows read one at a time (pass 1 of a streamed manifest: memory does not grow
    /// with the input). The digest covers `(row, id, path)` for images and `(row, id, text)`
    /// for texts.
    pub fn scan(
        items: impl Iterator<Item = Result<Item>>,
        kind: TableKind,
        part_size: usize,
        settings: serde_json::Value,
    ) -> Result<Self> {
        Partition::new(0, part_size)?;
        let mut d = Digest::default();
        let mut total = 0usize;
        for it in items {
            let it = it?;
            d.add(total as u64, &it.id, &kind.second(&it)?);
            total += 1;
        }
        Ok(Plan {
            total,
            part_size,
            digest: d.hex(),
            settings,
        })
    }

    /// The row partition.
    pub fn partition(&self) -> Partition {
        Partition {
            total: self.total,
            part_size: self.part_size.max(1),
        }
    }
}

/// Order-independent digest: wrapping sum of FNV-1a-64 hashes of `row \0 id \0 path`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Digest(u64);

impl Digest {
    /// Add one row.
    pub fn add(&mut self, row: u64, id: &str, path: &str) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&row.to_le_bytes());
        eat(&[0]);
        eat(id.as_bytes());
        eat(&[0]);
        eat(path.as_bytes());
        self.0 = self.0.wrapping_add(h);
    }
    /// 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// One image that could not be embedded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// Input position.
    pub row: u64,
    /// Id.
    pub id: String,
    /// Path.
    pub path: String,
    /// Why (decoder message, missing file …).
    pub error: String,
}

/// An opened output folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub dir: PathBuf,
    /// Its plan.
    pub plan: Plan,
}

/// Name of the plan file.
pub const PLAN_FILE: &str = "plan.json";

impl RunDir {
    /// Create `dir` (and `dir/parts`) for `plan`, or open it when it holds the same plan.
    /// Concurrent shards may all call this: the plan is written atomically with equal content.
    pub fn open(dir: &Path, plan: Plan) -> Result<Self> {
        let parts = dir.join("parts");
        std::fs::create_dir_all(&parts).map_err(|e| TableError::io("cannot create", &parts, e))?;
        let path = dir.join(PLAN_FILE);
        if path.is_file() {
            let found = Self::load(dir)?.plan;
            check_same(&path, &found, &plan)?;
        } else {
            let json = serde_json::to_vec_pretty(&plan).expect("plan serialises");
            write_atomic(&path, &json)?;
        }
        Ok(RunDir {
            dir: dir.to_path_buf(),
            plan,
        })
    }

    /// Open an existing folder from its `plan.json` (merge, verify).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(PLAN_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| TableError::io("cannot read", &path, e))?;
        let plan: Plan =
            serde_json::from_str(&text).map_err(|e| TableError::verify(&path, e.to_string()))?;
        Ok(RunDir {
            dir: dir.to_path_buf(),
            plan,
        })
    }

    /// `parts/part-NNNNNN.parquet`.
    pub fn part_path(&self, p: usize) -> PathBuf {
        self.dir.join("parts").join(format!("part-{p:06}.parquet"))
    }

    /// `parts/part-NNNNNN.errors.jsonl`.
    pub fn errors_path(&self, p: usize) -> PathBuf {
        self.dir
            .join("parts")
            .join(format!("part-{p:06}.errors.jsonl"))
    }

    /// Whether part `p` is complete.
    pub fn is_done(&self, p: usize) -> bool {
        self.part_path(p).is_file()
    }

    /// Parts of `shard` that are not complete yet, in order.
    pub fn pending(&self, shard: Shard) -> Vec<usize> {
        self.plan
            .partition()
            .shard_parts(shard)
            .filter(|&p| !self.is_done(p))
            .collect()
    }

    /// Write part `p`: the error sidecar, then the Parquet file (both atomically).
    pub fn write_part(
        &self,
        p: usize,
        rows: &Rows,
        errors: &[ErrorRecord],
        schema: &SchemaRef,
    ) -> Result<()> {
        let mut text = String::new();
        for e in errors {
            text.push_str(&serde_json::to_string(e).expect("error record serialises"));
            text.push('\n');
        }
        write_atomic(&self.errors_path(p), text.as_bytes())?;
        let mut w = TableWriter::create(&self.part_path(p), schema.clone())?;
        w.write(&rows.to_batch(schema)?)?;
        w.finish()
    }

    /// Remove temp files that a killed process left in `parts/` (names start with `.`).
    /// Only call when no other process writes to this folder's same parts.
    pub fn remove_stale_temp(&self, parts: &[usize]) {
        for &p in parts {
            for f in [self.part_path(p), self.errors_path(p)] {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let prefix = format!(".{name}.tmp-");
                if let Ok(rd) = std::fs::read_dir(self.dir.join("parts")) {
                    for e in rd.flatten() {
                        if e.file_name().to_string_lossy().starts_with(&prefix) {
                            let _ = std::fs::remove_file(e.path());
                        }
                    }
                }
            }
        }
    }
}

fn check_same(path: &Path, found: &Plan, want: &Plan) -> Result<()> {
    let diff = |field: &str, f: String, e: String| {
        Err(TableError::PlanMismatch {
            path: path.to_path_buf(),
            field: field.into(),
            found: f,
            expected: e,
        })
    };
    if found.total != want.total {
        return diff("rows", found.total.to_string(), want.total.to_string());
    }
    if found.part_size != want.part_size {
        return diff(
            "part size",
            found.part_size.to_string(),
            want.part_size.to_string(),
        );
    }
    if found.digest != want.digest {
        return diff("input digest", found.digest.clone(), want.digest.clone());
    }
    if found.settings != want.settings {
        return diff(
            "settings",
            found.settings.to_string(),
            want.settings.to_string(),
        );
    }
    Ok(())
}
