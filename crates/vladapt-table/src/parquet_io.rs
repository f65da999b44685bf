//! The embedding table's Arrow schema and its Parquet reading and (atomic) writing.
//!
//! Schema (one row per embedded image):
//!
//! | column      | Arrow type                                  | meaning                                   |
//! |-------------|---------------------------------------------|-------------------------------------------|
//! | `row`       | `UInt64`, not null                          | position in the input list (0-based)      |
//! | `id`        | `Utf8`, not null                            | the manifest id (unique)                  |
//! | `path`      | `Utf8`, not null                            | the image file (`file#i` for IDX images)  |
//! | (`text`)    | `Utf8`, not null                            | text tables: the embedded text, in place of `path` |
//! | `label`     | `Int64`, nullable                           | the label when the input has one          |
//! | `embedding` | `FixedSizeList<Float32 or Float16, D>`, not null | L2-normalised embedding, `D` = projection dim |
//!
//! The schema metadata key `vladapt` holds a JSON object with the run's settings (model, adapter,
//! dtype, dim). Rows are in `row` order; row groups are the part files' rows.
use crate::error::{Result, TableError};
use arrow_array::builder::{Float16Builder, Float32Builder};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Int64Array, RecordBatch, StringArray, UInt64Array,
};
pub use arrow_schema::SchemaRef;
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Element type of the `embedding` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (Parquet `FLOAT16` logical type), rounded to nearest even.
    F16,
}

impl Dtype {
    /// `"float32"` or `"float16"`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F16 => "float16",
        }
    }
    fn arrow(self) -> DataType {
        match self {
            Dtype::F32 => DataType::Float32,
            Dtype::F16 => DataType::Float16,
        }
    }
}

/// What a table holds: image embeddings (third column `path`) or text embeddings (`text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// One row per image; the third column is `path`.
    Images,
    /// One row per text (caption, class prompt); the third column is `text`.
    Texts,
}

impl TableKind {
    /// Name of the third column: `path` or `text`.
    pub fn column(self) -> &'static str {
        match self {
            TableKind::Images => "path",
            TableKind::Texts => "text",
        }
    }

    /// The third column's value for `item` (its path, or its text — which must be present).
    pub fn second(self, item: &crate::manifest::Item) -> Result<String> {
        match self {
            TableKind::Images => Ok(item.path()),
            TableKind::Texts => item.text.clone().ok_or_else(|| TableError::Invalid {
                name: "text row",
                reason: format!("row `{}` has no text", item.id),
            }),
        }
    }
}

/// The image table schema for embeddings of `dim` values; `meta` goes to the `vladapt`
/// metadata key.
pub fn schema(dim: usize, dtype: Dtype, meta: &str) -> SchemaRef {
    schema_of(TableKind::Images, dim, dtype, meta)
}

/// The schema of a [`TableKind`] table: `row`, `id`, `path` or `text`, `label`, `embedding`.
pub fn schema_of(kind: TableKind, dim: usize, dtype: Dtype, meta: &str) -> SchemaRef {
    let item = Arc::new(Field::new("item", dtype.arrow(), false));
    let fields = vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("id", DataType::Utf8, false),
        Field::new(kind.column(), DataType::Utf8, false),
        Field::new("label", DataType::Int64, true),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, dim as i32),
            false,
        ),
    ];
    let md = HashMap::from([("vladapt".to_string(), meta.to_string())]);
    Arc::new(Schema::new(fields).with_metadata(md))
}

/// Width `D` of the `embedding` column of `schema`.
pub fn embedding_dim(schema: &SchemaRef) -> Option<usize> {
    match schema.field_with_name("embedding").ok()?.data_type() {
        DataType::FixedSizeList(_, d) => Some(*d as usize),
        _ => None,
    }
}

/// Rows of embeddings in host memory (one part's worth).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Input positions.
    pub rows: Vec<u64>,
    /// Ids.
    pub ids: Vec<String>,
    /// Paths (text tables: the texts).
    pub paths: Vec<String>,
    /// Labels.
    pub labels: Vec<Option<i64>>,
    /// Embeddings, `rows.len() × dim` values, row-major.
    pub values: Vec<f32>,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as a record batch of `schema` (whose embedding width and type are used).
    pub fn to_batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        let (item, dim) = match schema.field(4).data_type() {
            DataType::FixedSizeList(item, d) => (item.clone(), *d as usize),
            t => {
                return Err(TableError::Invalid {
                    name: "schema",
                    reason: format!("embedding column is {t}, not a fixed-size list"),
                })
            }
        };
        if self.values.len() != self.rows.len() * dim {
            return Err(TableError::Invalid {
                name: "embeddings",
                reason: format!(
                    "{} values for {} rows of dimension {dim}",
                    self.values.len(),
                    self.rows.len()
                ),
            });
        }
        let values: ArrayRef = match item.data_type() {
            DataType::Float16 => {
                let mut b = Float16Builder::with_capacity(self.values.len());
                for &v in &self.values {
                    b.append_value(half::f16::from_f32(v));
                }
                Arc::new(b.finish())
            }
            _ => {
                let mut b = Float32Builder::with_capacity(self.values.len());
                b.append_slice(&self.values);
                Arc::new(b.finish())
            }
        };
        let emb = FixedSizeListArray::try_new(item, dim as i32, values, None)
            .map_err(|e| TableError::parquet("<batch>", e))?;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(self.rows.clone())),
            Arc::new(StringArray::from_iter_values(&self.ids)),
            Arc::new(StringArray::from_iter_values(&self.paths)),
            Arc::new(Int64Array::from(self.labels.clone())),
            Arc::new(emb),
        ];
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| TableError::parquet("<batch>", e))
    }
}

/// Writer properties fixed for byte-identical output: no timestamps, a constant `created_by`,
/// row groups cut only by [`TableWriter::end_row_group`].
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("vladapt-table {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_size(usize::MAX)
        .build()
}

/// A Parquet file written to `path.tmp-<pid>` and renamed into place by [`TableWriter::finish`]
/// (a killed writer never leaves a file under the final name).
pub struct TableWriter {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
}

impl TableWriter {
    /// Start writing `path` with `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let tmp = tmp_name(path);
        let f = File::create(&tmp).map_err(|e| TableError::io("cannot create", &tmp, e))?;
        let writer = ArrowWriter::try_new(f, schema, Some(properties()))
            .map_err(|e| TableError::parquet(path, e))?;
        Ok(TableWriter {
            tmp,
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Append a batch to the current row group.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| TableError::parquet(&self.path, e))
    }

    /// Close the current row group.
    pub fn end_row_group(&mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| TableError::parquet(&self.path, e))
    }

    /// Write the footer, fsync and rename to the final name.
    pub fn finish(self) -> Result<()> {
        let f = self
            .writer
            .into_inner()
            .map_err(|e| TableError::parquet(&self.path, e))?;
        f.sync_all()
            .map_err(|e| TableError::io("cannot sync", &self.tmp, e))?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| TableError::io("cannot rename into", &self.path, e))
    }
}

/// `dir/.name.tmp-<pid>`: unique per process, hidden, beside the final file.
pub fn tmp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_name(path);
    let mut f = File::create(&tmp).map_err(|e| TableError::io("cannot create", &tmp, e))?;
    std::io::Write::write_all(&mut f, bytes)
        .map_err(|e| TableError::io("cannot write", &tmp, e))?;
    f.sync_all()
        .map_err(|e| TableError::io("cannot sync", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TableError::io("cannot rename into", path, e))
}

/// Record batches of a Parquet file, `batch_size` rows at a time.
pub fn read_batches(path: &Path, batch_size: usize) -> Result<BatchIter> {
    let f = File::open(path).map_err(|e| TableError::io("cannot open", path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| TableError::parquet(path, e))?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(batch_size.max(1))
        .build()
        .map_err(|e| TableError::parquet(path, e))?;
    Ok(BatchIter {
        path: path.to_path_buf(),
        schema,
        reader,
    })
}

/// Number of rows of a Parquet file (from its footer).
pub fn num_rows(path: &Path) -> Result<usize> {
    let f = File::open(path).map_err(|e| TableError::io("cannot open", path, e))?;
    let b =
        ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| TableError::parquet(path, e))?;
    Ok(b.metadata().file_metadata().num_rows() as usize)
}

/// Iterator over a file's record batches; errors name the file.
pub struct BatchIter {
    path: PathBuf,
    schema: SchemaRef,
    reader: ParquetRecordBatchReader,
}

impl BatchIter {
    /// The file's schema, with its metadata (the batches' own schemas drop it).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Iterator for BatchIter {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.reader
            .next()
            .map(|r| r.map_err(|e| TableError::parquet(&self.path, e)))
    }
}
