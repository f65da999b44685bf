//! The crate's error type. Every variant names the file, field or item concerned.
use std::path::PathBuf;

/// Errors from dataset loading, fetching, sampling, loading batches and plotting.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file exists but its content is not what the format requires.
    #[error("invalid {what} {path}: {reason}")]
    Format {
        /// The kind of file ("split file", "IDX file", "CSV", ...).
        what: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, with line or field where known.
        reason: String,
    },
    /// A required file or folder of a dataset layout is missing.
    #[error("dataset {dataset}: missing {path} (expected layout: {layout})")]
    Missing {
        /// Dataset name.
        dataset: String,
        /// The path that was expected.
        path: PathBuf,
        /// Short description of the layout the source expects.
        layout: String,
    },
    /// The dataset name is not in the registry.
    #[error("unknown dataset '{name}'; known datasets: {known}")]
    UnknownDataset {
        /// The name given.
        name: String,
        /// Comma-separated list of registry names.
        known: String,
    },
    /// An image could not be decoded.
    #[error("cannot load image {image}: {reason}")]
    Image {
        /// The image (file path, or `file#index` for IDX images).
        image: String,
        /// Decoder message.
        reason: String,
    },
    /// A class has fewer samples than the requested number of shots.
    #[error("class {label} ('{classname}') has {available} samples in the {split} split, fewer than the {k} shots requested (pass allow_fewer to take all of them)")]
    TooFewShots {
        /// Label id.
        label: usize,
        /// Class name, or the label as text when unknown.
        classname: String,
        /// Samples available.
        available: usize,
        /// Shots requested.
        k: usize,
        /// Which list was sampled ("train", "val").
        split: String,
    },
    /// An external command (apt-get, pip, npm, dpkg-deb) is missing or failed.
    #[error("command `{command}` failed: {reason}")]
    Command {
        /// The full command line.
        command: String,
        /// Why: not installed, exit status plus stderr, ...
        reason: String,
    },
    /// A class list (file or argument) is empty, has a gap or a duplicate name.
    #[error("class list {origin}: {reason}")]
    ClassList {
        /// The file, or the argument (`--classes`), it came from.
        origin: String,
        /// What is wrong, with line or entry numbers.
        reason: String,
    },
    /// An argument given by the caller is invalid.
    #[error("invalid argument {name}: {reason}")]
    Invalid {
        /// Argument or field name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl DataError {
    /// Shorthand for [`DataError::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`DataError::Format`].
    pub fn format(what: &'static str, path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Format {
            what,
            path: path.into(),
            reason: reason.into(),
        }
    }
}
