//! Merge the part files of a run into one table, and verify that every input row is there
//! exactly once (embedded, or listed in the error file).
//!
//! Outputs (in the run folder): `embeddings.parquet` (row groups = parts, rows in input order),
//! `errors.jsonl` (one [`ErrorRecord`] per line, in row order) and, when asked,
//! `embeddings.npy` (`[rows, D]`, `<f4` or `<f2`, row k = Parquet row k).
use crate::error::{Result, TableError};
use crate::parquet_io::{read_batches, tmp_name, write_atomic, TableWriter};
use crate::run_dir::{Digest, ErrorRecord, RunDir};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use std::collections::HashSet;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Name of the merged table.
pub const MERGED_FILE: &str = "embeddings.parquet";
/// Name of the merged error file.
pub const ERRORS_FILE: &str = "errors.jsonl";
/// Name of the optional array file.
pub const NPY_FILE: &str = "embeddings.npy";

/// Counts of a verified run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Parts.
    pub parts: usize,
    /// Embedded rows.
    pub rows: usize,
    /// Rows listed as failures.
    pub errors: usize,
    /// Embedding width (0 when nothing was embedded).
    pub dim: usize,
}

/// Checks "each input row exactly once, each id once, same inputs as the plan".
struct Checker {
    total: usize,
    seen: Vec<bool>,
    ids: HashSet<String>,
    digest: Digest,
    rows: usize,
    errors: usize,
    dim: usize,
}

impl Checker {
    fn new(total: usize) -> Self {
        Checker {
            total,
            seen: vec![false; total],
            ids: HashSet::new(),
            digest: Digest::default(),
            rows: 0,
            errors: 0,
            dim: 0,
        }
    }

    fn add(
        &mut self,
        file: &Path,
        row: u64,
        id: &str,
        path: &str,
        range: &Range<usize>,
    ) -> Result<()> {
        let r = row as usize;
        if !range.contains(&r) {
            return Err(TableError::verify(
                file,
                format!("row {row} (id `{id}`) is outside the rows {range:?} this file covers"),
            ));
        }
        if std::mem::replace(&mut self.seen[r], true) {
            return Err(TableError::verify(
                file,
                format!("row {row} (id `{id}`) appears twice"),
            ));
        }
        if !self.ids.insert(id.to_string()) {
            return Err(TableError::verify(file, format!("id `{id}` appears twice")));
        }
        self.digest.add(row, id, path);
        Ok(())
    }

    fn add_batch(&mut self, file: &Path, b: &RecordBatch, range: &Range<usize>) -> Result<()> {
        let bad =
            |what: &str| TableError::verify(file, format!("column {what} is missing or mistyped"));
        let rows = b
            .column_by_name("row")
            .and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt64Type>())
            .ok_or_else(|| bad("row"))?;
        let ids = b
            .column_by_name("id")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| bad("id"))?;
        // Image tables have `path`, text tables `text` (the digest covers whichever).
        let paths = b
            .column_by_name("path")
            .or_else(|| b.column_by_name("text"))
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| bad("path/text"))?;
        let dim = match b.column_by_name("embedding").map(|c| c.data_type().clone()) {
            Some(DataType::FixedSizeList(_, d)) => d as usize,
            _ => return Err(bad("embedding")),
        };
        if self.dim != 0 && self.dim != dim {
            return Err(TableError::verify(
                file,
                format!("embedding width {dim}, other parts have {}", self.dim),
            ));
        }
        self.dim = dim;
        for i in 0..b.num_rows() {
            self.add(file, rows.value(i), ids.value(i), paths.value(i), range)?;
        }
        self.rows += b.num_rows();
        Ok(())
    }

    fn add_errors(&mut self, file: &Path, range: &Range<usize>) -> Result<Vec<ErrorRecord>> {
        let text =
            std::fs::read_to_string(file).map_err(|e| TableError::io("cannot read", file, e))?;
        let mut out = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let e: ErrorRecord = serde_json::from_str(line)
                .map_err(|err| TableError::verify(file, format!("line {}: {err}", i + 1)))?;
            self.add(file, e.row, &e.id, &e.path, range)?;
            self.errors += 1;
            out.push(e);
        }
        Ok(out)
    }

    fn finish(self, run: &RunDir, what: &Path, parts: usize) -> Result<Summary> {
        let missing: Vec<usize> = (0..self.total).filter(|&r| !self.seen[r]).collect();
        if !missing.is_empty() {
            return Err(TableError::verify(
                what,
                format!(
                    "{} of {} rows are missing (first: {:?})",
                    missing.len(),
                    self.total,
                    &missing[..missing.len().min(5)]
                ),
            ));
        }
        if self.digest.hex() != run.plan.digest {
            return Err(TableError::verify(
                what,
                format!(
                    "the (row, id, path) digest {} differs from the plan's {}: the rows are not this run's inputs",
                    self.digest.hex(),
                    run.plan.digest
                ),
            ));
        }
        Ok(Summary {
            parts,
            rows: self.rows,
            errors: self.errors,
            dim: self.dim,
        })
    }
}

/// Part files that are not there yet.
pub fn missing_parts(run: &RunDir) -> Vec<usize> {
    (0..run.plan.partition().num_parts())
        .filter(|&p| !run.is_done(p))
        .collect()
}

fn require_all_parts(run: &RunDir) -> Result<()> {
    let missing = missing_parts(run);
    if !missing.is_empty() {
        return Err(TableError::verify(
            run.dir.join("parts"),
            format!(
                "{} of {} parts are not written yet (first: {:?}); run the missing shards (they resume) before merging",
                missing.len(),
                run.plan.partition().num_parts(),
                &missing[..missing.len().min(5)]
            ),
        ));
    }
    Ok(())
}

/// Verify the part files: all present, each input row exactly once, ids unique, inputs = plan.
pub fn verify_parts(run: &RunDir) -> Result<Summary> {
    require_all_parts(run)?;
    let pt = run.plan.partition();
    let mut c = Checker::new(run.plan.total);
    for p in 0..pt.num_parts() {
        let range = pt.part_rows(p);
        c.add_errors(&run.errors_path(p), &range)?;
        let path = run.part_path(p);
        for b in read_batches(&path, run.plan.part_size)? {
            c.add_batch(&path, &b?, &range)?;
        }
    }
    c.finish(run, &run.dir.join("parts"), pt.num_parts())
}

/// Verify the merged outputs (`embeddings.parquet` + `errors.jsonl`) the same way.
pub fn verify_merged(run: &RunDir) -> Result<Summary> {
    let all = 0..run.plan.total;
    let mut c = Checker::new(run.plan.total);
    let path = run.dir.join(MERGED_FILE);
    for b in read_batches(&path, run.plan.part_size)? {
        c.add_batch(&path, &b?, &all)?;
    }
    c.add_errors(&run.dir.join(ERRORS_FILE), &all)?;
    c.finish(run, &path, run.plan.partition().num_parts())
}

/// Verify the parts, then write `embeddings.parquet`, `errors.jsonl` and (with `npy`)
/// `embeddings.npy`, streaming one part at a time (memory: one part).
pub fn merge(run: &RunDir, npy: bool) -> Result<Summary> {
    let summary = verify_parts(run)?;
    let pt = run.plan.partition();
    let mut errors = String::new();
    for p in 0..pt.num_parts() {
        let path = run.errors_path(p);
        errors.push_str(
            &std::fs::read_to_string(&path).map_err(|e| TableError::io("cannot read", &path, e))?,
        );
    }
    let mut npy_out = if npy {
        Some(NpyWriter::create(&run.dir.join(NPY_FILE))?)
    } else {
        None
    };
    let out = run.dir.join(MERGED_FILE);
    let mut writer: Option<TableWriter> = None;
    for p in 0..pt.num_parts() {
        let path = run.part_path(p);
        let batches = read_batches(&path, run.plan.part_size)?;
        let schema = batches.schema();
        for b in batches {
            let b = b?;
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(TableWriter::create(&out, schema.clone())?),
            };
            w.write(&b)?;
            if let Some(n) = &mut npy_out {
                n.append(&b, &path)?;
            }
        }
        if let Some(w) = &mut writer {
            w.end_row_group()?;
        }
    }
    match writer {
        Some(w) => w.finish()?,
        None => {
            return Err(TableError::verify(
                &out,
                "no part file has a schema (empty input?)",
            ));
        }
    }
    write_atomic(&run.dir.join(ERRORS_FILE), errors.as_bytes())?;
    if let Some(n) = npy_out {
        n.finish(summary.rows, summary.dim)?;
    }
    Ok(summary)
}

/// A `.npy` file (format 1.0) whose header is written last, once the row count is known.
struct NpyWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<std::fs::File>,
    descr: Option<&'static str>,
}

/// Header size reserved at the start (a multiple of 64, as NumPy aligns it).
const NPY_HEADER: usize = 128;

impl NpyWriter {
    fn create(path: &Path) -> Result<Self> {
        let tmp = tmp_name(path);
        let f =
            std::fs::File::create(&tmp).map_err(|e| TableError::io("cannot create", &tmp, e))?;
        let mut out = BufWriter::new(f);
        out.write_all(&[0u8; NPY_HEADER])
            .map_err(|e| TableError::io("cannot write", &tmp, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            tmp,
            out,
            descr: None,
        })
    }

    fn append(&mut self, b: &RecordBatch, file: &Path) -> Result<()> {
        let col = b
            .column_by_name("embedding")
            .and_then(|c| c.as_fixed_size_list_opt())
            .ok_or_else(|| TableError::verify(file, "no embedding column"))?;
        let values = col.values();
        let w = |e| TableError::io("cannot write", self.tmp.clone(), e);
        match values.data_type() {
            DataType::Float32 => {
                self.descr = Some("<f4");
                for v in values
                    .as_primitive::<arrow_array::types::Float32Type>()
                    .values()
                {
                    self.out.write_all(&v.to_le_bytes()).map_err(w)?;
                }
            }
            DataType::Float16 => {
                self.descr = Some("<f2");
                for v in values
                    .as_primitive::<arrow_array::types::Float16Type>()
                    .values()
                {
                    self.out.write_all(&v.to_le_bytes()).map_err(w)?;
                }
            }
            t => {
                return Err(TableError::verify(
                    file,
                    format!("embedding values are {t}"),
                ))
            }
        }
        Ok(())
    }

    fn finish(mut self, rows: usize, dim: usize) -> Result<()> {
        let dict = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}",
            self.descr.unwrap_or("<f4")
        );
        let mut header = Vec::with_capacity(NPY_HEADER);
        header.extend_from_slice(b"\x93NUMPY\x01\x00");
        header.extend_from_slice(&((NPY_HEADER - 10) as u16).to_le_bytes());
        header.extend_from_slice(dict.as_bytes());
        header.resize(NPY_HEADER - 1, b' ');
        header.push(b'\n');
        let tmp = self.tmp.clone();
        let w = |e| TableError::io("cannot write", tmp.clone(), e);
        self.out.seek(SeekFrom::Start(0)).map_err(w)?;
        self.out.write_all(&header).map_err(w)?;
        let f = self
            .out
            .into_inner()
            .map_err(|e| TableError::io("cannot write", tmp.clone(), e.into_error()))?;
        f.sync_all().map_err(w)?;
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| TableError::io("cannot rename into", &self.path, e))
    }
}
