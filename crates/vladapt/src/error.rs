//! The library error type. Every variant names the file, tensor or field concerned.
use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = VladaptError> = std::result::Result<T, E>;

/// Errors of the vladapt library.
#[derive(Debug, thiserror::Error)]
pub enum VladaptError {
    /// File-system error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model directory lacks the files of any known layout.
    #[error("{dir}: not a CLIP model directory ({reason})")]
    NotAModel {
        /// The directory.
        dir: PathBuf,
        /// What was looked for.
        reason: String,
    },
    /// A configuration file is malformed or a field is invalid.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A safetensors file cannot be parsed (truncated, corrupt).
    #[error("{path}: invalid safetensors file: {reason}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// Parser message.
        reason: String,
    },
    /// A tensor the model needs is absent.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The file (or index) searched.
        path: PathBuf,
        /// Tensor name.
        name: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error("{path}: tensor `{name}` holds {count} non-finite values (first: {value} at flat index {index}); the file is corrupt or comes from a diverged run")]
    NonFinite {
        /// The file read.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// Flat index of the first non-finite value.
        index: usize,
        /// That value.
        value: f32,
        /// How many values are non-finite.
        count: usize,
    },
    /// A tensor has the wrong shape for the configuration.
    #[error("{path}: tensor `{name}` has shape {actual:?} but the config implies {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// Shape found.
        actual: Vec<usize>,
        /// Shape expected.
        expected: Vec<usize>,
    },
    /// A tensor has an unsupported element type.
    #[error("{path}: tensor `{name}` has unsupported dtype {dtype}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// The dtype found.
        dtype: String,
    },
    /// Image decoding or preprocessing failed.
    #[error(transparent)]
    Image(#[from] vladapt_image::ImageError),
    /// Dataset reading, sampling or verification failed.
    #[error(transparent)]
    Data(#[from] vladapt_data::DataError),
    /// Training diverged (NaN/inf loss); the last good checkpoint is kept.
    #[error("training diverged: {0}")]
    Diverged(String),
    /// Tokenizer loading failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Invalid argument or input data (names the argument).
    #[error("{0}")]
    Invalid(String),
    /// A device list (`train.devices`, `--devices`) names a device that is unknown, not
    /// compiled in, or listed twice.
    #[error("{field}: device `{name}`: {reason}")]
    Device {
        /// The configuration key or command-line flag.
        field: String,
        /// The device name as written.
        name: String,
        /// What is wrong, with the accepted names.
        reason: String,
    },
}

impl VladaptError {
    /// Shorthand for an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    /// Shorthand for a configuration error on `path`.
    pub fn config(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Config {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
