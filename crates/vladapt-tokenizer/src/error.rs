//! Error type of the tokenizer crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or saving a tokenizer.
///
/// Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read.
    #[error("cannot read tokenizer file {path}: {source}")]
    Read {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write tokenizer file {path}: {source}")]
    Write {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON (or not the JSON shape expected).
    #[error("invalid JSON in tokenizer file {path}: {source}")]
    Json {
        /// File concerned.
        path: PathBuf,
        /// Underlying parse error.
        source: serde_json::Error,
    },
    /// The file was read but its content is not a usable vocabulary / merge list.
    #[error("malformed tokenizer file {path}: {msg}")]
    Malformed {
        /// File concerned.
        path: PathBuf,
        /// What is wrong, with line / token where known.
        msg: String,
    },
}

impl TokenizerError {
    pub(crate) fn malformed(path: &std::path::Path, msg: impl Into<String>) -> Self {
        TokenizerError::Malformed {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}
