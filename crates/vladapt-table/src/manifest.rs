//! The rows to embed: from a manifest file (CSV, JSON Lines or Parquet) or a dataset's samples.
use crate::error::{Result, TableError};
use arrow_array::{cast::AsArray, Array, RecordBatch};
use arrow_schema::DataType;
use std::collections::HashSet;
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
            }
        })
        .collect()
}

/// Read a manifest by extension: `.csv`, `.jsonl`/`.ndjson`, `.parquet`. Columns: `path`
/// (required; `image`, `file` and `uri` are accepted names; `file://` URIs allowed; relative
/// paths are resolved against the manifest's folder), `id` (optional, default the path as
/// written) and `label` (optional integer). Ids must be unique.
pub fn read_manifest(path: &Path) -> Result<Vec<Item>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let rows = match ext.as_str() {
        "csv" => read_csv(path)?,
        "jsonl" | "ndjson" => read_jsonl(path)?,
        "parquet" => read_parquet(path)?,
        _ => {
            return Err(TableError::Manifest {
                path: path.to_path_buf(),
                reason: "unknown extension; expected .csv, .jsonl, .ndjson or .parquet".into(),
            })
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(rows.len());
    for (n, (p, id, label)) in rows.into_iter().enumerate() {
        let err = |reason: String| TableError::Manifest {
            path: path.to_path_buf(),
            reason: format!("row {}: {reason}", n + 1),
        };
        let file = resolve(&p, base).map_err(err)?;
        let id = id.unwrap_or_else(|| p.clone());
        if !seen.insert(id.clone()) {
            return Err(err(format!("duplicate id `{id}`")));
        }
        items.push(Item {
            id,
            image: ImageRef::File(file),
            label,
        });
    }
    Ok(items)
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

type Row = (String, Option<String>, Option<i64>);

const PATH_NAMES: [&str; 4] = ["path", "image", "file", "uri"];

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| TableError::io("cannot read", path, e))
}

fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let text = read_text(path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let bad = |reason: String| TableError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let (_, header) = lines.next().ok_or_else(|| bad("empty file".into()))?;
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
    let (c_id, c_label) = (col(&["id"]), col(&["label"]));
    let mut rows = Vec::new();
    for (i, line) in lines {
        let f = csv_fields(line.trim_end_matches('\r'));
        let get = |c: usize| f.get(c).cloned().unwrap_or_default();
        let label = match c_label.map(get) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .map_err(|_| bad(format!("line {}: label `{s}` is not an integer", i + 1)))?,
            ),
        };
        rows.push((get(c_path), c_id.map(get), label));
    }
    Ok(rows)
}

fn read_jsonl(path: &Path) -> Result<Vec<Row>> {
    let text = read_text(path)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| TableError::Manifest {
            path: path.to_path_buf(),
            reason: format!("line {}: {reason}", i + 1),
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let p = PATH_NAMES
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
            .ok_or_else(|| bad(format!("no string field among {PATH_NAMES:?}")))?;
        let id = match v.get("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(other) => return Err(bad(format!("id {other} is not a string or number"))),
        };
        let label = match v.get("label") {
            None | Some(serde_json::Value::Null) => None,
            Some(x) => Some(
                x.as_i64()
                    .ok_or_else(|| bad(format!("label {x} is not an integer")))?,
            ),
        };
        rows.push((p.to_string(), id, label));
    }
    Ok(rows)
}

fn read_parquet(path: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for batch in crate::parquet_io::read_batches(path, 8192)? {
        let batch = batch?;
        let bad = |reason: String| TableError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let schema = batch.schema();
        let find = |names: &[&str]| {
            schema
                .fields()
                .iter()
                .position(|f| names.contains(&f.name().to_ascii_lowercase().as_str()))
        };
        let c_path = find(&PATH_NAMES).ok_or_else(|| {
            bad(format!(
                "no path column (one of {PATH_NAMES:?}) in {schema}"
            ))
        })?;
        let paths = strings(&batch, c_path).map_err(&bad)?;
        let ids = match find(&["id"]) {
            Some(c) => Some(strings(&batch, c).map_err(&bad)?),
            None => None,
        };
        let labels = match find(&["label"]) {
            Some(c) => Some(ints(&batch, c).map_err(&bad)?),
            None => None,
        };
        for r in 0..batch.num_rows() {
            let p = paths[r]
                .clone()
                .ok_or_else(|| bad(format!("row {}: null path", rows.len() + 1)))?;
            rows.push((
                p,
                ids.as_ref().and_then(|v| v[r].clone()),
                labels.as_ref().and_then(|v| v[r]),
            ));
        }
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
                    label: Some(0)
                },
                Item {
                    id: "11".into(),
                    image: ImageRef::File(PathBuf::from("/data/b/1.jpg")),
                    label: None
                },
                Item {
                    id: "12".into(),
                    image: ImageRef::File(PathBuf::from("/srv/c/2.webp")),
                    label: Some(2)
                },
            ]
        );
    }
}
