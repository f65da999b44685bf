//! vladapt-table: embedding tables on disk, for runs that outgrow one process.
//!
//! - [`manifest`]: the rows to embed — a CSV / JSON Lines / Parquet manifest or dataset samples.
//! - [`shard`]: the deterministic partition of rows into parts and of parts into shards
//!   (`--shard i/N`, `JOB_COMPLETION_INDEX`, `SLURM_ARRAY_TASK_ID`).
//! - [`stream`]: pass 2 of a shard — its rows read as needed and prepared ahead, in batches.
//! - [`parquet_io`]: the Arrow schema (FixedSizeList embeddings) and atomic Parquet writing.
//! - [`run_dir`]: the output folder — plan, resumable part files, error sidecars.
//! - [`merge`]: merge parts into one table (+ `.npy`) and verify every row exactly once.
pub mod error;
pub mod manifest;
pub mod merge;
pub mod parquet_io;
pub mod run_dir;
pub mod shard;
pub mod stream;

pub use error::{Result, TableError};
pub use manifest::{items_from_samples, read_manifest, Item, ManifestReader};
pub use merge::{merge, missing_parts, verify_merged, verify_parts, Summary};
pub use parquet_io::{schema, schema_of, Dtype, Rows, TableKind, TableWriter};
pub use run_dir::{ErrorRecord, Plan, RunDir};
pub use shard::{Partition, Shard};
pub use stream::{BatchStream, PartBatch};
/// The Arrow array crate and `half`, for readers of the tables.
pub use {arrow_array, half};
