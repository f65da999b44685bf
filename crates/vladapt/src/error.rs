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
    #[error("{dir}: not a {kind} model directory ({reason})")]
    NotAModel {
        /// Which kind of model was expected (`CLIP`, `grounding`).
        kind: &'static str,
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
    /// A plot (curve, heat map, prediction sheet) could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] vladapt_plot::PlotError),
    /// A configuration value outside its valid range (a `validate()` check, before any
    /// weights load). `key` is the dotted config key (`method.n_ctx`, `train.batch_size`),
    /// `allowed` the valid range in words; `file` the configuration file when it came from one.
    #[error("{}{key} = {value} is out of range (valid: {allowed})", .file.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    ConfigValue {
        /// The configuration file the value came from, if any.
        file: Option<PathBuf>,
        /// Dotted config key.
        key: String,
        /// The value given, as written.
        value: String,
        /// The valid range or form, in words.
        allowed: String,
    },
    /// A name (method, preset, protocol, recipe, …) that is not one of the known ones.
    #[error("unknown {kind} `{name}` (known: {})", .known.join(", "))]
    UnknownName {
        /// What kind of name: `"method"`, `"preset"`, `"protocol"`, `"grounding preset"`, ….
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A command-line argument or input value the library cannot use (`--set`, `--text`,
    /// class lists, templates, token ids, labels).
    #[error("{name}: {reason}")]
    Argument {
        /// The argument or input, as the caller names it (`--set`, `labels`, `templates`).
        name: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// A tensor or batch given at run time has the wrong shape.
    #[error("{what} has shape {actual}, expected {expected}")]
    Shape {
        /// The tensor or input (`pixel tensor`, `token rows`, `grounding loss: boxes`).
        what: String,
        /// What the model expects.
        expected: String,
        /// What was given.
        actual: String,
    },
    /// A loss became NaN or infinite; training stopped and the last good checkpoint is kept.
    #[error(
        "training diverged: loss is {loss} at epoch {epoch}/{epochs}, step {step}/{steps}; {kept}"
    )]
    NonFiniteLoss {
        /// The loss value (NaN or ±inf).
        loss: f32,
        /// Epoch (1-based) of the step.
        epoch: usize,
        /// Epochs the run was to train.
        epochs: usize,
        /// Step (1-based) within the epoch at which the loss was non-finite.
        step: usize,
        /// Steps per epoch.
        steps: usize,
        /// Which checkpoint is kept, and a hint (`lower --lr`).
        kept: String,
    },
    /// A run directory that is unfinished, finished on other inputs, or in the way.
    #[error("{dir}: {reason}")]
    RunDir {
        /// The run directory.
        dir: PathBuf,
        /// What is wrong and what to do (`pass --resume`, `choose another output`).
        reason: String,
    },
    /// A set of tensors (checkpoint, parameter set, optimiser state) that does not fit the
    /// model or method it is loaded into: unexpected, colliding or unnamed tensors.
    #[error("{source_name}: {reason}")]
    Checkpoint {
        /// The file, or a description of the in-memory set (`CLIP parameter set`).
        source_name: String,
        /// Which tensors and why.
        reason: String,
    },
    /// A trained class-specific part used with a different number of classes.
    #[error(
        "{what} was trained for {trained} classes; it cannot be used with {given} classes ({why})"
    )]
    ClassCount {
        /// The part (`linear probe`, `class-specific CoOp context`).
        what: String,
        /// Classes it was trained for.
        trained: usize,
        /// Classes it was given.
        given: usize,
        /// Why it is tied to its classes.
        why: &'static str,
    },
    /// A method, preset or option this model cannot run (a ViT-only method on a ResNet
    /// tower, MMCA's fixed pooling window on another canvas size).
    #[error("{what} {reason}")]
    Unsupported {
        /// The method, option or part (`maple`, `MMCA's conv adapter on layer2`).
        what: String,
        /// What it needs or is, as the rest of the sentence, and the alternative.
        reason: String,
    },
    /// A method was used before a required call (`set_classes`).
    #[error("{method}: {call} was not called")]
    CallOrder {
        /// The method.
        method: &'static str,
        /// The call that must come first.
        call: &'static str,
    },
    /// A trainable tensor that receives no gradient from the loss.
    #[error("tensor `{tensor}` received no gradient: it does not reach the loss")]
    NoGradient {
        /// Parameter name.
        tensor: String,
    },
    /// Serialising a value (JSON, safetensors) failed.
    #[error("serialising {what}: {reason}")]
    Serialize {
        /// What was being written (a file or a value).
        what: String,
        /// Serialiser message.
        reason: String,
    },
    /// Loading or saving a tokenizer failed (names the file).
    #[error(transparent)]
    TokenizerFile(#[from] vladapt_tokenizer::TokenizerError),
    /// A device (`--device`) or device list (`train.devices`, `--devices`) that is unknown,
    /// not compiled in, empty or listed twice, or a data-parallel replica whose thread failed.
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
    /// Shorthand for a serialisation error while writing `what`.
    pub fn serialize(what: impl std::fmt::Display, reason: impl std::fmt::Display) -> Self {
        Self::Serialize {
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }
    /// Shorthand for an [`Argument`](Self::Argument) error.
    pub fn argument(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Argument {
            name: name.into(),
            reason: reason.into(),
        }
    }
    /// Shorthand for a [`ConfigValue`](Self::ConfigValue) error (no file yet; see
    /// [`in_file`](Self::in_file)).
    pub fn config_value(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Self::ConfigValue {
            file: None,
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
    /// Shorthand for an [`UnknownName`](Self::UnknownName) error.
    pub fn unknown_name<S: ToString>(
        kind: &'static str,
        name: impl Into<String>,
        known: impl IntoIterator<Item = S>,
    ) -> Self {
        Self::UnknownName {
            kind,
            name: name.into(),
            known: known.into_iter().map(|k| k.to_string()).collect(),
        }
    }
    /// Attach the configuration file to a [`ConfigValue`](Self::ConfigValue) error that has
    /// none; any other error becomes [`Config`](Self::Config) on `path` with its message.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            Self::ConfigValue {
                file: None,
                key,
                value,
                allowed,
            } => Self::ConfigValue {
                file: Some(path.into()),
                key,
                value,
                allowed,
            },
            e @ Self::ConfigValue { .. } => e,
            other => Self::config(path, other.to_string()),
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
