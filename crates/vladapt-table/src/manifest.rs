//! The rows to embed: from a manifest file (CSV, JSON Lines or Parquet) or a dataset's samples.
use crate::error::{Result, TableError};
use arrow_array::{cast::AsArray, Array, RecordBatch};
use arrow_schema::DataType;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use vladapt_data::sources::csv::csv_fields;
use vladapt_data::{ImageRef, Sample};

/// One row to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Unique id (the manifest's `id`; else the path as given / relative to the dataset root).
    pub id: String,
    /// Where the pixels are.
    pub image: ImageRef,
    /// Optional integer label.
    pub label: Option<i64>,
    /// Text to embed (a caption column of the manifest, or a filled class prompt).
    pub text: Option<String>,
}

impl Item {
    /// The `path` column: the file, or `file#index` for IDX images.
    pub fn path(&self) -> String {
        self.image.to_string()
    }
}

/// Items of dataset samples; ids are the image references relative to `root`.
pub fn items_from_samples(samples: &[Sample], root: &Path) -> Vec<Item> {
    samples
        .iter()
        .map(|s| {
            let rel = match &s.image {
                ImageRef::File(p) => p.strip_prefix(root).unwrap_or(p).display().to_string(),
                ImageRef::Idx { path, index } => {
                    format!(
                        "{}#{index}",
                        path.strip_prefix(root).unwrap_or(path).display()
                    )
                }
            };
            Item {
                id: rel,
                image: s.image.clone(),
                label: Some(s.label as i64),
                text: None,
            }
        })
        .collect()
}

/// Read a whole manifest into memory (see [`ManifestReader`] for the columns) and check that
/// ids are unique. For manifests of any size use [`ManifestReader`], which streams.
pub fn read_manifest(path: &Path) -> Result<Vec<Item>> {
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for it in ManifestReader::open(path, None)? {
        let it = it?;
        if !seen.insert(it.id.clone()) {
            return Err(TableError::Manifest {
                path: path.to_path_buf(),
                reason: format!("row {}: duplicate id `{}`", items.len() + 1, it.id),
            });
        }
        items.push(it);
    }
    Ok(items)
}

/// A manifest read row by row, in file order, holding one line (CSV, JSON Lines) or one record
/// batch of 8192 rows (Parquet) at a time — memory does not grow with the file.
///
/// Format by extension: `.csv`, `.jsonl`/`.ndjson`, `.parquet`. Columns: `path` (required;
/// `image`, `file` and `uri` are accepted names; `file://` URIs allowed; relative paths are
/// resolved against the manifest's folder), `id` (optional, default the path as written),
/// `label` (optional integer) and, when asked for, a text column (e.g. `caption`) that fills
/// [`Item::text`]. Ids are not checked for uniqueness here (that needs memory per row); the
/// merge and `verify` report a repeated id.
pub struct ManifestReader {
    path: PathBuf,
    base: PathBuf,
    text_column: Option<String>,
    rows: usize,
    kind: ReaderKind,
}

enum ReaderKind {
    Csv {
        lines: std::io::Lines<BufReader<File>>,
        line: usize,
        c_path: usize,
        c_id: Option<usize>,
        c_label: Option<usize>,
        c_text: Option<usize>,
    },
    Jsonl {
        lines: std::io::Lines<BufReader<File>>,
        line: usize,
    },
    Parquet {
        batches: crate::parquet_io::BatchIter,
        buffered: std::vec::IntoIter<Row>,
    },
    Done,
}

/// Raw row: path as written, id, label, text.
type Row = (String, Option<String>, Option<i64>, Option<String>);

const PATH_NAMES: [&str; 4] = ["path", "image", "file", "uri"];

impl ManifestReader {
    /// Open `path`; `text_column` names a string column to read into [`Item::text`] (required
    /// to exist when given).
    pub fn open(path: &Path, text_column: Option<&str>) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bad = |reason: String| TableError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let open = || -> Result<std::io::Lines<BufReader<File>>> {
            let f = File::open(path).map_err(|e| TableError::io("cannot read", path, e))?;
            Ok(BufReader::new(f).lines())
        };
        let text_column = text_column.map(|t| t.to_ascii_lowercase());
        let kind = match ext.as_str() {
            "csv" => {
                let mut lines = open()?;
                let mut line = 0;
                let header = loop {
                    line += 1;
                    match lines.next() {
                        None => return Err(bad("empty file".into())),
                        Some(Err(e)) => return Err(TableError::io("cannot read", path, e)),
                        Some(Ok(l)) if l.trim().is_empty() => continue,
                        Some(Ok(l)) => break l,
                    }
                };
                let header: Vec<String> = csv_fields(header.trim_end_matches('\r'))
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect();
                let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
                let c_path = col(&PATH_NAMES).ok_or_else(|| {
                    bad(format!(
                        "the header {header:?} has no path column (one of {PATH_NAMES:?})"
                    ))
                })?;
                let c_text = match &text_column {
                    None => None,
                    Some(t) => Some(col(&[t.as_str()]).ok_or_else(|| {
                        bad(format!("the header {header:?} has no text column `{t}`"))
                    })?),
                };
                ReaderKind::Csv {
                    lines,
                    line,
                    c_path,
                    c_id: col(&["id"]),
                    c_label: col(&["label"]),
                    c_text,
                }
            }
            "jsonl" | "ndjson" => ReaderKind::Jsonl {
                lines: open()?,
                line: 0,
            },
            "parquet" => ReaderKind::Parquet {
                batches: crate::parquet_io::read_batches(path, 8192)?,
                buffered: Vec::new().into_iter(),
            },
            _ => {
                return Err(bad(
                    "unknown extension; expected .csv, .jsonl, .ndjson or .parquet".into(),
                ))
            }
        };
        Ok(ManifestReader {
            path: path.to_path_buf(),
            base: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            text_column,
            rows: 0,
            kind,
        })
    }

    fn bad(&self, reason: String) -> TableError {
        TableError::Manifest {
            path: self.path.clone(),
            reason,
        }
    }

    /// The next raw row, `None` at the end.
    fn next_row(&mut self) -> Result<Option<Row>> {
        let path = self.path.clone();
        let text_column = self.text_column.clone();
        let bad = |reason: String| TableError::Manifest {
            path: path.clone(),
            reason,
        };
        match &mut self.kind {
            ReaderKind::Done => Ok(None),
            ReaderKind::Csv {
                lines,
                line,
                c_path,
                c_id,
                c_label,
                c_text,
            } => loop {
                let Some(l) = lines.next() else {
                    return Ok(None);
                };
                *line += 1;
                let l = l.map_err(|e| TableError::io("cannot read", &path, e))?;
                if l.trim().is_empty() {
                    continue;
                }
                let f = csv_fields(l.trim_end_matches('\r'));
                let get = |c: usize| f.get(c).cloned().unwrap_or_default();
                let label =
                    match c_label.map(get) {
                        None => None,
                        Some(s) if s.is_empty() => None,
                        Some(s) => Some(s.parse::<i64>().map_err(|_| {
                            bad(format!("line {line}: label `{s}` is not an integer"))
                        })?),
                    };
                return Ok(Some((get(*c_path), c_id.map(get), label, c_text.map(get))));
            },
            ReaderKind::Jsonl { lines, line } => loop {
                let Some(l) = lines.next() else {
                    return Ok(None);
                };
                *line += 1;
                let l = l.map_err(|e| TableError::io("cannot read", &path, e))?;
                if l.trim().is_empty() {
                    continue;
                }
                let bad = |reason: String| bad(format!("line {line}: {reason}"));
                let v: serde_json::Value =
                    serde_json::from_str(&l).map_err(|e| bad(format!("not JSON: {e}")))?;
                let p = PATH_NAMES
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
                    .ok_or_else(|| bad(format!("no string field among {PATH_NAMES:?}")))?;
                let id = match v.get("id") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    Some(other) => {
                        return Err(bad(format!("id {other} is not a string or number")))
                    }
                };
                let label = match v.get("label") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(x) => Some(
                        x.as_i64()
                            .ok_or_else(|| bad(format!("label {x} is not an integer")))?,
                    ),
                };
                let text = match &text_column {
                    None => None,
                    Some(t) => Some(
                        v.get(t.as_str())
                            .and_then(|x| x.as_str())
                            .ok_or_else(|| bad(format!("no string field `{t}`")))?
                            .to_string(),
                    ),
                };
                return Ok(Some((p.to_string(), id, label, text)));
            },
            ReaderKind::Parquet { batches, buffered } => loop {
                if let Some(r) = buffered.next() {
                    return Ok(Some(r));
                }
                let Some(batch) = batches.next() else {
                    return Ok(None);
                };
                let rows =
                    parquet_rows(&batch?, self.rows, text_column.as_deref()).map_err(&bad)?;
                *buffered = rows.into_iter();
            },
        }
    }
}

impl Iterator for ManifestReader {
    type Item = Result<Item>;
    fn next(&mut self) -> Option<Result<Item>> {
        let row = match self.next_row() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                self.kind = ReaderKind::Done;
                return Some(Err(e));
            }
        };
        self.rows += 1;
        let (p, id, label, text) = row;
        Some(match resolve(&p, &self.base) {
            Ok(file) => Ok(Item {
                id: id.unwrap_or_else(|| p.clone()),
                image: ImageRef::File(file),
                label,
                text,
            }),
            Err(reason) => {
                self.kind = ReaderKind::Done;
                Err(self.bad(format!("row {}: {reason}", self.rows)))
            }
        })
    }
}

fn resolve(p: &str, base: &Path) -> std::result::Result<PathBuf, String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    let p = match p.split_once("://") {
        Some(("file", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "`{p}`: only local paths and file:// URIs are supported, not {scheme}:// (mount or copy the data first)"
            ))
        }
        None => p,
    };
    let p = Path::new(p);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    })
}

/// Rows of one Parquet record batch; `before` rows came in earlier batches (for messages).
fn parquet_rows(
    batch: &RecordBatch,
    before: usize,
    text_column: Option<&str>,
) -> std::result::Result<Vec<Row>, String> {
    let schema = batch.schema();
    let find = |names: &[&str]| {
        schema
            .fields()
            .iter()
            .position(|f| names.contains(&f.name().to_ascii_lowercase().as_str()))
    };
    let c_path = find(&PATH_NAMES)
        .ok_or_else(|| format!("no path column (one of {PATH_NAMES:?}) in {schema}"))?;
    let paths = strings(batch, c_path)?;
    let ids = match find(&["id"]) {
        Some(c) => Some(strings(batch, c)?),
        None => None,
    };
    let labels = match find(&["label"]) {
        Some(c) => Some(ints(batch, c)?),
        None => None,
    };
    let texts = match text_column {
        None => None,
        Some(t) => {
            let c = find(&[t]).ok_or_else(|| format!("no text column `{t}` in {schema}"))?;
            Some(strings(batch, c)?)
        }
    };
    let mut rows = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let p = paths[r]
            .clone()
            .ok_or_else(|| format!("row {}: null path", before + r + 1))?;
        let text = match &texts {
            None => None,
            Some(v) => Some(v[r].clone().ok_or_else(|| {
                format!(
                    "row {}: null text in `{}`",
                    before + r + 1,
                    text_column.unwrap_or("")
                )
            })?),
        };
        rows.push((
            p,
            ids.as_ref().and_then(|v| v[r].clone()),
            labels.as_ref().and_then(|v| v[r]),
            text,
        ));
    }
    Ok(rows)
}

fn strings(batch: &RecordBatch, c: usize) -> std::result::Result<Vec<Option<String>>, String> {
    let col = arrow_cast_to_utf8(batch.column(c)).map_err(|t| {
        format!(
            "column {}: {t} is not a string or integer",
            batch.schema().field(c).name()
        )
    })?;
    Ok(col)
}

fn arrow_cast_to_utf8(a: &dyn Array) -> std::result::Result<Vec<Option<String>>, DataType> {
    let n = a.len();
    let opt = |i: usize, s: String| (!a.is_null(i)).then_some(s);
    Ok(match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            (0..n).map(|i| opt(i, s.value(i).to_string())).collect()
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            (0..n).map(|i| opt(i, s.value(i).to_string())).collect()
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            (0..n).map(|i| opt(i, s.value(i).to_string())).collect()
        }
        t if t.is_integer() => ints_of(a)?
            .into_iter()
            .map(|v| v.map(|x| x.to_string()))
            .collect(),
        t => return Err(t.clone()),
    })
}

fn ints(batch: &RecordBatch, c: usize) -> std::result::Result<Vec<Option<i64>>, String> {
    ints_of(batch.column(c)).map_err(|t| {
        format!(
            "column {}: {t} is not an integer type",
            batch.schema().field(c).name()
        )
    })
}

fn ints_of(a: &dyn Array) -> std::result::Result<Vec<Option<i64>>, DataType> {
    use arrow_array::types::*;
    macro_rules! conv {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| p.value(i) as i64))
                .collect()
        }};
    }
    Ok(match a.data_type() {
        DataType::Int8 => conv!(Int8Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int64 => conv!(Int64Type),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt64 => conv!(UInt64Type),
        t => return Err(t.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_with_header_relative_paths_and_optional_columns() {
        let d = tempfile::tempdir().unwrap();
        let m = write(
            d.path(),
            "m.csv",
            "id,path,label\na,img/a.png,3\n\"b,2\",/abs/b.png,\nc,file:///x/c.png,1\n",
        );
        let items = read_manifest(&m).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].image, ImageRef::File(d.path().join("img/a.png")));
        assert_eq!(items[0].label, Some(3));
        assert_eq!(items[1].id, "b,2");
        assert_eq!(items[1].label, None);
        assert_eq!(items[2].image, ImageRef::File(PathBuf::from("/x/c.png")));
    }

    #[test]
    fn jsonl_ids_default_to_the_path() {
        let d = tempfile::tempdir().unwrap();
        let m = write(
            d.path(),
            "m.jsonl",
            "{\"path\":\"a.png\"}\n\n{\"image\":\"b.png\",\"id\":7,\"label\":2}\n",
        );
        let items = read_manifest(&m).unwrap();
        assert_eq!(items[0].id, "a.png");
        assert_eq!(items[1].id, "7");
        assert_eq!(items[1].label, Some(2));
    }

    #[test]
    fn bad_manifests_name_file_and_row() {
        let d = tempfile::tempdir().unwrap();
        let dup = write(d.path(), "d.csv", "id,path\nx,a.png\nx,b.png\n");
        let e = read_manifest(&dup).unwrap_err().to_string();
        assert!(
            e.contains("d.csv") && e.contains("row 2") && e.contains("duplicate id `x`"),
            "{e}"
        );
        let s3 = write(d.path(), "s.jsonl", "{\"path\":\"s3://bucket/a.png\"}\n");
        let e = read_manifest(&s3).unwrap_err().to_string();
        assert!(e.contains("s3://") && e.contains("row 1"), "{e}");
        let nopath = write(d.path(), "n.csv", "id,label\na,1\n");
        let e = read_manifest(&nopath).unwrap_err().to_string();
        assert!(e.contains("no path column"), "{e}");
        let lab = write(d.path(), "l.csv", "path,label\na.png,cat\n");
        let e = read_manifest(&lab).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`cat`"), "{e}");
        let ext = write(d.path(), "m.txt", "a.png\n");
        assert!(read_manifest(&ext)
            .unwrap_err()
            .to_string()
            .contains(".parquet"));
    }
}

#[cfg(test)]
mod pyarrow_fixture {
    use super::*;

    /// A Snappy Parquet manifest written by pyarrow (`tools/table/make_manifest_fixture.py`).
    #[test]
    fn reads_the_manifest_pyarrow_wrote() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/table/manifest_pyarrow.parquet");
        let items = read_manifest(&f).unwrap();
        let base = f.parent().unwrap();
        assert_eq!(
            items,
            vec![
                Item {
                    id: "10".into(),
                    image: ImageRef::File(base.join("a/0.png")),
                    label: Some(0),
                    text: None,
                },
                Item {
                    id: "11".into(),
                    image: ImageRef::File(PathBuf::from("/data/b/1.jpg")),
                    label: None,
                    text: None,
                },
                Item {
                    id: "12".into(),
                    image: ImageRef::File(PathBuf::from("/srv/c/2.webp")),
                    label: Some(2),
                    text: None,
                },
            ]
        );
    }
}
