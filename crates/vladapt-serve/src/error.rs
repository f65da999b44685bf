//! Errors of the serving layer: each maps to one HTTP status and a JSON body
//! `{"error": {"message": …, "type": …}}`.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request or a server start failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request is malformed (bad JSON, not an image, empty class list, …): 400.
    #[error("{0}")]
    BadRequest(String),
    /// No such route: 404.
    #[error("{0}")]
    NotFound(String),
    /// The named adapter is not registered: 404.
    #[error("no adapter named {name:?} (GET /v1/adapters lists them; a run directory dropped into the adapters directory is found on the next request)")]
    UnknownAdapter {
        /// The requested name.
        name: String,
    },
    /// The adapter exists but cannot serve on this base model (fingerprint mismatch, broken
    /// files): 409.
    #[error("adapter {name:?} is refused: {reason}")]
    RefusedAdapter {
        /// Adapter name.
        name: String,
        /// Why (e.g. trained on another base model).
        reason: String,
    },
    /// The body exceeds the configured limit: 413.
    #[error("request body exceeds the limit of {limit} bytes (--max-body-mb)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client sent its body too slowly: 408.
    #[error("request body not received in time (a client must keep sending)")]
    BodyTimeout,
    /// The server is at its concurrency or queue limit: 503 (retry later, or on another replica).
    #[error("server busy: {0}")]
    Overloaded(String),
    /// The server is shutting down or not ready: 503.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// A model computation failed: 500.
    #[error("inference failed: {0}")]
    Internal(String),
    /// Startup: the base model or an explicitly given run cannot be loaded.
    #[error(transparent)]
    Model(#[from] vladapt::VladaptError),
    /// Startup: binding or I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was attempted.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ServeError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnknownAdapter { .. } | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RefusedAdapter { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Overloaded(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) | Self::Model(_) | Self::Io { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Short machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::UnknownAdapter { .. } => "unknown_adapter",
            Self::RefusedAdapter { .. } => "refused_adapter",
            Self::TooLarge { .. } => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::Overloaded(_) => "overloaded",
            Self::Unavailable(_) => "unavailable",
            _ => "internal",
        }
    }
}

/// The JSON error body used for every error answer.
pub fn error_body(message: &str, kind: &str) -> serde_json::Value {
    serde_json::json!({"error": {"message": message, "type": kind}})
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("{status}: {self}");
        }
        (
            status,
            axum::Json(error_body(&self.to_string(), self.kind())),
        )
            .into_response()
    }
}

/// Result of the serving layer.
pub type Result<T> = std::result::Result<T, ServeError>;
