//! Error type of the world generator.

use std::path::PathBuf;

/// Everything that can go wrong while generating a world data set.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// Directory that could not be created.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// File that could not be written.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A PNG image could not be encoded.
    #[error("cannot encode PNG {path}: {source}")]
    Png {
        /// Image file concerned.
        path: PathBuf,
        /// Underlying encoder error.
        source: image::ImageError,
    },
    /// A JSON document could not be serialised.
    #[error("cannot serialise {what} as JSON: {source}")]
    Json {
        /// What was being serialised (file name or record).
        what: String,
        /// Underlying serde error.
        source: serde_json::Error,
    },
    /// An option or task-specification field is out of range.
    #[error("invalid value for `{field}`: {reason}")]
    InvalidOption {
        /// Name of the offending field.
        field: &'static str,
        /// Why the value was rejected.
        reason: String,
    },
    /// A style name that is not one of the known styles.
    #[error("unknown style {0:?}; expected one of pretrain, outline, noisy, texture, palette")]
    UnknownStyle(String),
}
