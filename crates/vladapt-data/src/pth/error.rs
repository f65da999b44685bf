//! Errors of the PyTorch checkpoint reader and converter. Every variant names the file.

use std::path::PathBuf;

use crate::pickle::PickleError;

/// Why a `.pth` file could not be read or converted.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// The file could not be read or the output written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Neither a PyTorch zip checkpoint nor a legacy (PyTorch < 1.6) one.
    #[error("{path} is not a PyTorch checkpoint: {reason}")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The pickle inside was refused (forbidden global, truncation, …).
    #[error("{path}: record {record} refused")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// The pickle record (`archive/data.pkl`, or "legacy pickle").
        record: String,
        /// What the restricted unpickler refused.
        source: PickleError,
    },
    /// A storage record is missing, truncated or of the wrong size.
    #[error("{path}: storage {key}: {reason}")]
    Storage {
        /// The file.
        path: PathBuf,
        /// Storage key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor's view does not fit its storage, or declares an absurd size.
    #[error("{path}: tensor {name}: {reason}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// Dotted tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The unpickled object holds no tensors where they were looked for, or the requested key
    /// is absent.
    #[error("{path}: {reason}")]
    NoWeights {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The safetensors file could not be built.
    #[error("cannot write safetensors {path}: {reason}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The safetensors error.
        reason: String,
    },
}
