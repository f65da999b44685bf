//! The HTTP server: axum routes, protective layers, hyper connections with a header timeout, and
//! graceful shutdown.
//!
//! Layers, outermost first: panic → JSON 500; `x-request-id` set (UUID unless the client sent
//! one) and echoed; a tracing span per request carrying the id (every log line of the request
//! names it); JSON bodies for bare error statuses; a whole-request timeout (503); a body timeout
//! (408) and a body-size limit (413); per-route metrics; on `/v1/*` work routes an admission
//! limit answering 503 at once when `max_concurrency` requests are in progress. CORS headers
//! only when origins are configured.
use crate::api;
use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::error::{error_body, Result, ServeError};
use crate::metrics::Metrics;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The inference engine.
    pub engine: Engine,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration.
    pub config: Arc<ServeConfig>,
    /// Admission permits (`max_concurrency`).
    pub permits: Arc<Semaphore>,
    /// Set when shutdown begins (`/ready` answers 503).
    pub shutting_down: Arc<AtomicBool>,
}

/// Admit a work request or answer 503 at once when the server is full.
async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        state.metrics.rejected.inc();
        return ServeError::Overloaded(format!(
            "{} requests in progress (--max-concurrency); retry later",
            state.config.limits.max_concurrency
        ))
        .into_response();
    };
    state.metrics.in_flight.inc();
    let resp = next.run(req).await;
    state.metrics.in_flight.dec();
    drop(permit);
    resp
}

/// Count and time every request by matched route.
async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let t0 = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .observe(&route, resp.status().as_u16(), t0.elapsed().as_secs_f64());
    resp
}

/// Give error statuses produced by layers (timeouts, limits, 405) a JSON body.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (message, kind) = match status {
        StatusCode::REQUEST_TIMEOUT => (
            "request body not received in time (a client must keep sending)",
            "body_timeout",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "the request took longer than the server's request timeout",
            "timeout",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "request body exceeds the server's limit (--max-body-mb)",
            "body_too_large",
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method not allowed on this route", "method_not_allowed")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported content type", "invalid_request"),
        _ => (status.canonical_reason().unwrap_or("error"), "error"),
    };
    let mut out = (status, axum::Json(error_body(message, kind))).into_response();
    for (k, v) in resp.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ServeError::Internal("the handler panicked".into()).into_response()
}

/// The application: routes and layers.
pub fn router(state: AppState) -> Router {
    let limits = &state.config.limits;
    let work = Router::new()
        .route("/v1/classify", post(api::classify))
        .route("/v1/embeddings", post(api::embeddings))
        .route("/v1/adapters/{name}/load", post(api::load_adapter))
        .route("/v1/adapters/{name}", delete(api::unload_adapter))
        .route_layer(from_fn_with_state(state.clone(), admit));
    let open = Router::new()
        .route("/", get(api::page))
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/v1/adapters", get(api::list_adapters));
    let mut app = work
        .merge(open)
        .fallback(api::not_found)
        .layer(from_fn_with_state(state.clone(), record))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(from_fn(json_errors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(CatchPanicLayer::custom(panic_response));
    if !state.config.cors_origins.is_empty() {
        let origins = &state.config.cors_origins;
        let allow = if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect::<Vec<_>>(),
            )
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::CONTENT_TYPE]),
        );
    }
    app.with_state(state)
}

/// A bound server with its model loaded.
pub struct Server {
    state: AppState,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Load the model (on a blocking thread) and bind `addr`.
    pub async fn bind(config: ServeConfig, addr: &str) -> Result<Self> {
        let metrics = Arc::new(Metrics::new());
        let (cfg, m) = (config.clone(), metrics.clone());
        let engine = tokio::task::spawn_blocking(move || Engine::start(&cfg, m))
            .await
            .map_err(|e| ServeError::Internal(e.to_string()))??;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError::Io {
                context: format!("cannot listen on {addr}"),
                source: e,
            })?;
        let permits = Arc::new(Semaphore::new(config.limits.max_concurrency.max(1)));
        Ok(Self {
            state: AppState {
                engine,
                metrics,
                config: Arc::new(config),
                permits,
                shutting_down: Arc::new(AtomicBool::new(false)),
            },
            listener,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|e| ServeError::Io {
            context: "local address".into(),
            source: e,
        })
    }

    /// The engine (for in-process use next to the server).
    pub fn engine(&self) -> &Engine {
        &self.state.engine
    }

    /// Serve until `shutdown` resolves; then stop accepting, let in-flight requests finish
    /// (at most the request timeout plus 5 s) and return.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let Server { state, listener } = self;
        let limits = state.config.limits.clone();
        let flag = state.shutting_down.clone();
        let app = router(state);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(64 * 1024);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                conn = listener.accept() => {
                    let (stream, _peer) = match conn {
                        Ok(c) => c,
                        Err(e) => {
                            // Out of file descriptors and the like: back off briefly.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                    let fut = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = fut.await {
                            tracing::debug!("connection ended: {e}");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        flag.store(true, Ordering::SeqCst);
        drop(listener);
        tracing::info!("shutting down: finishing in-flight requests");
        let grace = limits.request_timeout + Duration::from_secs(5);
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(grace) => tracing::warn!("connections still open after {grace:?}; exiting"),
        }
        Ok(())
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
