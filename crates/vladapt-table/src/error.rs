//! The crate's error type. Every variant names the file, shard or field concerned.
use std::path::PathBuf;

/// Errors from manifests, shard specs, part files, merging and verification.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {error}")]
    Io {
        /// What was being done ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error (in the message, not a `source`, so it prints once).
        error: std::io::Error,
    },
    /// A Parquet file could not be read or written.
    #[error("parquet {path}: {reason}")]
    Parquet {
        /// The file concerned.
        path: PathBuf,
        /// The reader's or writer's message.
        reason: String,
    },
    /// A manifest line or column is not usable.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, with line or column where known.
        reason: String,
    },
    /// A shard specification (`--shard i/N`, `JOB_COMPLETION_INDEX`, ...) is invalid.
    #[error("shard {spec}: {reason}")]
    Shard {
        /// The value given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The output folder holds a run made with other settings or inputs.
    #[error("{path} was written for other settings ({field}: found {found}, this run has {expected}); use a fresh --out folder or the same settings")]
    PlanMismatch {
        /// The plan file.
        path: PathBuf,
        /// The setting that differs.
        field: String,
        /// The value on disk.
        found: String,
        /// The value of this run.
        expected: String,
    },
    /// Merging or verifying found missing, duplicated or inconsistent rows.
    #[error("verify {path}: {reason}")]
    Verify {
        /// The file or folder checked.
        path: PathBuf,
        /// What is wrong (missing parts, duplicated ids, ...).
        reason: String,
    },
    /// An argument given by the caller is invalid.
    #[error("invalid {name}: {reason}")]
    Invalid {
        /// Argument or field name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl TableError {
    /// An I/O error with the action and path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        TableError::Io {
            action,
            path: path.into(),
            error,
        }
    }

    /// A Parquet/Arrow error for `path`.
    pub fn parquet(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        TableError::Parquet {
            path: path.into(),
            reason: e.to_string(),
        }
    }

    /// A verification failure for `path`.
    pub fn verify(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TableError::Verify {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TableError>;
