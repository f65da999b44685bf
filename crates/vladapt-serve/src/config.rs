//! What a server is started with: the base model, where adapters come from, defaults and limits.
use std::path::PathBuf;
use std::time::Duration;
use vladapt::tensor::Device;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Base model directory (loaded once).
    pub model: PathBuf,
    /// Device the model runs on.
    pub device: Device,
    /// Directory whose sub-directories are run directories (`adapter.safetensors` +
    /// `adapter_config.json`); re-scanned when the adapters are listed and when a request names
    /// an unknown adapter.
    pub adapters_dir: Option<PathBuf>,
    /// Individually given run directories (registered under their directory name).
    pub runs: Vec<PathBuf>,
    /// Adapter used when a request names none (`None`: zero-shot).
    pub default_adapter: Option<String>,
    /// Zero-shot classes used when a request names neither an adapter nor classes.
    pub default_classes: Option<Vec<String>>,
    /// Zero-shot prompt templates (`{}` = class name; ensembled). Empty: "a photo of a {}.".
    pub default_templates: Vec<String>,
    /// Classes returned per image when a request gives no `top_k`.
    pub top_k: usize,
    /// Limits and batching.
    pub limits: Limits,
    /// Origins allowed by CORS (empty: no CORS headers, browsers allow same-origin only).
    pub cors_origins: Vec<String>,
}

/// Protective limits and batching parameters.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body in bytes (413 above).
    pub max_body_bytes: usize,
    /// Time for a client to send its request headers (the connection is closed after).
    pub header_timeout: Duration,
    /// Time for a client to send its body (408 after).
    pub body_timeout: Duration,
    /// Time for a whole request, queueing and inference included (503 after).
    pub request_timeout: Duration,
    /// Requests processed at once (decode + queue + inference); more are answered 503.
    pub max_concurrency: usize,
    /// Images per forward batch.
    pub max_batch: usize,
    /// How long the batcher waits for more requests once one has arrived.
    pub batch_wait: Duration,
    /// Loaded adapter heads kept at most (least recently used unloaded first).
    pub max_loaded: usize,
    /// Bytes of loaded adapter heads kept at most (see [`crate::registry`] for the accounting).
    pub max_loaded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_concurrency: 128,
            max_batch: 32,
            batch_wait: Duration::from_millis(3),
            max_loaded: 64,
            max_loaded_bytes: 1 << 30,
        }
    }
}

impl ServeConfig {
    /// A configuration with defaults for everything but the model.
    pub fn new(model: PathBuf, device: Device) -> Self {
        Self {
            model,
            device,
            adapters_dir: None,
            runs: Vec::new(),
            default_adapter: None,
            default_classes: None,
            default_templates: Vec::new(),
            top_k: 5,
            limits: Limits::default(),
            cors_origins: Vec::new(),
        }
    }
}
