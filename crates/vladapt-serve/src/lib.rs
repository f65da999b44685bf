//! `vladapt-serve`: one frozen CLIP base model serving many hot-loaded adapters over HTTP.
//!
//! - [`server`]: axum on tokio/hyper with request/header/body timeouts, body limits, an
//!   admission limit answering 503, graceful shutdown, JSON errors, request ids, optional CORS.
//! - [`engine`]: the inference worker with dynamic batching across requests and adapters, and
//!   the LRU of adapter heads (adapter + class set) bounded by count and bytes.
//! - [`registry`]: run directories found in the adapters directory, fingerprint-checked.
//! - [`api`]: `/v1/classify`, `/v1/embeddings`, `/v1/adapters…`, `/health`, `/ready`,
//!   `/metrics`, `/openapi.json`, and the web page at `/`.
//!
//! Layer: `cli → serve → protocols → train → methods → models`.
pub mod api;
pub mod bench;
pub mod config;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod registry;
pub mod server;
pub mod synthetic;

pub use config::{Limits, ServeConfig};
pub use engine::{Engine, HeadKey};
pub use error::{Result, ServeError};
pub use server::{shutdown_signal, Server};

/// Run a server on a new multi-threaded tokio runtime until SIGINT/SIGTERM; `on_bound` gets the
/// bound address once the model is loaded and the socket listens.
pub fn serve_blocking(
    config: ServeConfig,
    addr: &str,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vladapt-http")
        .build()
        .map_err(|e| ServeError::Io {
            context: "cannot start the async runtime".into(),
            source: e,
        })?;
    rt.block_on(async {
        let server = Server::bind(config, addr).await?;
        on_bound(server.local_addr()?);
        server.run(shutdown_signal()).await
    })
}
