//! Route handlers: classification, embeddings, adapters, health/readiness, metrics, OpenAPI.
use crate::engine::{Classified, HeadKey};
use crate::error::{Result, ServeError};
use crate::registry::AdapterInfo;
use crate::server::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// One ranked class.
#[derive(Debug, Serialize)]
pub struct Prediction {
    /// Class name.
    pub class: String,
    /// Softmax probability.
    pub probability: f32,
}

/// Indices of the `k` largest values of `row` (clamped to 1..=len), largest first; ties keep
/// the lower index first.
pub fn top_k(row: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&i, &j| row[j].total_cmp(&row[i]));
    idx.truncate(k.clamp(1, row.len().max(1)));
    idx
}

/// Options of a classification request, whatever its encoding.
#[derive(Debug, Default, Deserialize)]
pub struct ClassifyOptions {
    /// Adapter name (none: the server's default adapter, else zero-shot).
    #[serde(default)]
    pub adapter: Option<String>,
    /// Class names for zero-shot on the fly (or to re-target an adapter's text side).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// Zero-shot prompt templates with `{}` (ensembled).
    #[serde(default)]
    pub templates: Vec<String>,
    /// Classes returned per image.
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// JSON body of `POST /v1/classify`.
#[derive(Debug, Deserialize)]
struct ClassifyJson {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    images: Vec<String>,
    #[serde(flatten)]
    options: ClassifyOptions,
}

/// Query parameters of a raw-bytes `POST /v1/classify`.
#[derive(Debug, Default, Deserialize)]
pub struct RawQuery {
    adapter: Option<String>,
    /// Comma-separated.
    classes: Option<String>,
    template: Option<String>,
    top_k: Option<usize>,
}

/// Split a comma-separated class list (entries trimmed, empty ones dropped; the list is
/// checked later with the others, in [`vladapt_data::classlist::check_class_names`]).
fn split_classes(s: &str) -> Vec<String> {
    s.split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Decode base64 (plain or a `data:…;base64,` URI).
fn decode_base64(s: &str, what: &str) -> Result<Vec<u8>> {
    let payload = match s.strip_prefix("data:") {
        Some(rest) => {
            rest.split_once(";base64,")
                .ok_or_else(|| {
                    ServeError::BadRequest(format!(
                        "{what}: a data URI must be base64 (data:…;base64,…)"
                    ))
                })?
                .1
        }
        None => s,
    };
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| ServeError::BadRequest(format!("{what}: invalid base64: {e}")))
}

/// Read the whole body, mapping a slow client to 408 and an oversized body to 413.
async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(&e, limit))
}

fn body_error(e: &(dyn std::error::Error + 'static), limit: usize) -> ServeError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ServeError::BodyTimeout;
        }
        if err.is::<http_body_util::LengthLimitError>() {
            return ServeError::TooLarge { limit };
        }
        cur = err.source();
    }
    ServeError::BadRequest(format!("cannot read the request body: {e}"))
}

/// Images (name, bytes) and options of a classify request.
async fn parse_classify(
    state: &AppState,
    query: RawQuery,
    req: Request,
) -> Result<(Vec<(String, Bytes)>, ClassifyOptions)> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let limit = state.config.limits.max_body_bytes;
    if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| ServeError::BadRequest(format!("multipart: {}", e.body_text())))?;
        let mut images = Vec::new();
        let mut o = ClassifyOptions::default();
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(e, limit)),
            };
            let name = field.name().unwrap_or("").to_string();
            let file = field.file_name().map(str::to_string);
            let data = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
            let text = || String::from_utf8_lossy(&data).trim().to_string();
            match (name.as_str(), file) {
                (_, Some(f)) => images.push((f, data)),
                ("image" | "images" | "file", None) => {
                    images.push((format!("image{}", images.len()), data))
                }
                ("adapter", None) => o.adapter = Some(text()).filter(|s| !s.is_empty()),
                ("classes", None) => {
                    let t = text();
                    let list = if t.starts_with('[') {
                        serde_json::from_str(&t).map_err(|e| {
                            ServeError::BadRequest(format!("classes: not a JSON list of strings: {e}"))
                        })?
                    } else {
                        split_classes(&t)
                    };
                    if !list.is_empty() {
                        o.classes = Some(list);
                    }
                }
                ("template" | "templates", None) => o.templates.push(text()),
                ("top_k", None) => {
                    o.top_k = Some(text().parse().map_err(|_| {
                        ServeError::BadRequest(format!("top_k: not a number: {:?}", text()))
                    })?)
                }
                (other, None) => {
                    return Err(ServeError::BadRequest(format!(
                        "unknown form field {other:?} (expected image, adapter, classes, template, top_k)"
                    )))
                }
            }
        }
        Ok((images, o))
    } else if ctype.starts_with("application/json") {
        let body = read_body(req.into_body(), limit).await?;
        let j: ClassifyJson = serde_json::from_slice(&body)
            .map_err(|e| ServeError::BadRequest(format!("JSON body: {e}")))?;
        let mut images = Vec::new();
        for (i, s) in j.image.iter().chain(j.images.iter()).enumerate() {
            let what = format!("images[{i}]");
            images.push((what.clone(), Bytes::from(decode_base64(s, &what)?)));
        }
        Ok((images, j.options))
    } else {
        let body = read_body(req.into_body(), limit).await?;
        let o = ClassifyOptions {
            adapter: query.adapter.filter(|s| !s.is_empty()),
            classes: query
                .classes
                .as_deref()
                .map(split_classes)
                .filter(|c| !c.is_empty()),
            templates: query.template.into_iter().collect(),
            top_k: query.top_k,
        };
        Ok((vec![("body".to_string(), body)], o))
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> ServeError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ServeError::TooLarge { limit };
    }
    body_error(&e, limit)
}

/// Decode and preprocess images on the blocking pool, in parallel.
async fn preprocess_all(state: &AppState, images: Vec<(String, Bytes)>) -> Result<Vec<Vec<f32>>> {
    let mut tasks = Vec::new();
    for (name, bytes) in images {
        let engine = state.engine.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            engine.preprocess(&bytes, &name)
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.map_err(|e| ServeError::Internal(e.to_string()))??);
    }
    Ok(out)
}

/// `POST /v1/classify`.
pub async fn classify(
    State(state): State<AppState>,
    Query(query): Query<RawQuery>,
    req: Request,
) -> Result<Response> {
    let (images, mut o) = parse_classify(&state, query, req).await?;
    if images.is_empty() {
        return Err(ServeError::BadRequest(
            "no image: send the file as the body, as a multipart field \"image\", or base64 in JSON {\"image\": …}".into(),
        ));
    }
    let names: Vec<String> = images.iter().map(|(n, _)| n.clone()).collect();
    let adapter = o
        .adapter
        .clone()
        .or_else(|| state.engine.default_adapter().map(str::to_string));
    if let Some(a) = &adapter {
        state.engine.check_adapter(a)?;
        if !o.templates.is_empty() {
            return Err(ServeError::BadRequest(
                "templates apply to zero-shot only; an adapter has its own prompts".into(),
            ));
        }
    }
    if let Some(c) = o.classes.take() {
        // One policy with the CLI and dataset files: non-empty, no blank or duplicate name.
        o.classes = Some(
            vladapt_data::classlist::check_class_names(c, "classes")
                .map_err(|e| ServeError::BadRequest(e.to_string()))?,
        );
    }
    for t in &o.templates {
        if !t.contains("{}") {
            return Err(ServeError::BadRequest(format!(
                "template {t:?} has no {{}} for the class name"
            )));
        }
    }
    let pixels = preprocess_all(&state, images).await?;
    let key = HeadKey {
        adapter: adapter.clone(),
        classes: o.classes,
        templates: o.templates,
    };
    let k = o.top_k.unwrap_or(state.config.top_k);
    let c: Classified = state.engine.classify(key, pixels).await?;
    let results: Vec<serde_json::Value> = c
        .probabilities
        .iter()
        .zip(names)
        .map(|(row, name)| {
            let preds: Vec<Prediction> = top_k(row, k)
                .into_iter()
                .map(|i| Prediction {
                    class: c.classes[i].clone(),
                    probability: row[i],
                })
                .collect();
            serde_json::json!({"image": name, "predictions": preds})
        })
        .collect();
    Ok(Json(serde_json::json!({
        "adapter": adapter,
        "method": c.method,
        "results": results,
    }))
    .into_response())
}

/// Input of `POST /v1/embeddings`: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

/// OpenAI-style `POST /v1/embeddings` body.
#[derive(Debug, Deserialize)]
struct EmbeddingRequest {
    #[serde(default)]
    model: Option<String>,
    input: EmbeddingInput,
    /// `text` (default: strings are texts unless they are `data:image/…` URIs) or `image`
    /// (every string is base64 image data).
    #[serde(default)]
    modality: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// `POST /v1/embeddings`.
pub async fn embeddings(State(state): State<AppState>, req: Request) -> Result<Response> {
    let body = read_body(req.into_body(), state.config.limits.max_body_bytes).await?;
    let r: EmbeddingRequest = serde_json::from_slice(&body)
        .map_err(|e| ServeError::BadRequest(format!("JSON body: {e}")))?;
    if let Some(f) = r.encoding_format.as_deref() {
        if f != "float" {
            return Err(ServeError::BadRequest(format!(
                "encoding_format {f:?}: only \"float\" is supported"
            )));
        }
    }
    let inputs = match r.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if inputs.is_empty() {
        return Err(ServeError::BadRequest("input: the list is empty".into()));
    }
    let image_mode = match r.modality.as_deref() {
        None | Some("text") => false,
        Some("image") => true,
        Some(m) => {
            return Err(ServeError::BadRequest(format!(
                "modality {m:?}: expected \"text\" or \"image\""
            )))
        }
    };
    let model = r.model.clone().unwrap_or_else(|| "vladapt".into());
    let adapter = match r.model.as_deref() {
        None | Some("") | Some("vladapt") | Some("base") => None,
        Some(name) => {
            state.engine.check_adapter(name)?;
            Some(name.to_string())
        }
    };
    // Split into texts and images, remembering positions.
    let mut texts = Vec::new();
    let mut images = Vec::new();
    let mut order = Vec::new();
    for (i, s) in inputs.into_iter().enumerate() {
        if image_mode || s.starts_with("data:image/") {
            let what = format!("input[{i}]");
            order.push((true, images.len()));
            images.push((what.clone(), Bytes::from(decode_base64(&s, &what)?)));
        } else {
            order.push((false, texts.len()));
            texts.push(s);
        }
    }
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let text_emb = if texts.is_empty() {
        Vec::new()
    } else {
        state.engine.embed_texts(texts).await?
    };
    let image_emb = if images.is_empty() {
        Vec::new()
    } else {
        let px = preprocess_all(&state, images).await?;
        state.engine.embed_images(adapter, px).await?
    };
    let data: Vec<serde_json::Value> = order
        .iter()
        .enumerate()
        .map(|(i, &(is_image, j))| {
            let e = if is_image {
                &image_emb[j]
            } else {
                &text_emb[j]
            };
            serde_json::json!({"object": "embedding", "index": i, "embedding": e})
        })
        .collect();
    Ok(Json(serde_json::json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

/// `GET /v1/adapters`: re-scans the adapters directory, then lists.
pub async fn list_adapters(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    let list: Vec<AdapterInfo> = {
        let mut c = state
            .engine
            .catalog()
            .lock()
            .map_err(|_| ServeError::Internal("catalog lock poisoned".into()))?;
        c.scan();
        c.list()
    };
    Ok(Json(serde_json::json!({
        "default_adapter": state.engine.default_adapter(),
        "zero_shot_classes": state.engine.info().default_head.as_ref().filter(|_| state.engine.default_adapter().is_none()).map(|(_, c)| c),
        "adapters": list,
    })))
}

fn adapter_info(state: &AppState, name: &str) -> Result<Option<AdapterInfo>> {
    Ok(state
        .engine
        .catalog()
        .lock()
        .map_err(|_| ServeError::Internal("catalog lock poisoned".into()))?
        .lookup(name))
}

/// `POST /v1/adapters/{name}/load`.
pub async fn load_adapter(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Option<AdapterInfo>>> {
    state.engine.load(name.clone()).await?;
    Ok(Json(adapter_info(&state, &name)?))
}

/// `DELETE /v1/adapters/{name}`: unloads (the run directory stays registered).
pub async fn unload_adapter(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let was = state.engine.unload(name.clone()).await?;
    Ok(Json(serde_json::json!({"name": name, "unloaded": was})))
}

/// `GET /health`: the process answers (liveness), with what it serves.
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let info = state.engine.info();
    let (method, classes) = match &info.default_head {
        Some((m, c)) => (Some(m.clone()), Some(c.clone())),
        None => (None, None),
    };
    Json(serde_json::json!({
        "status": "ok",
        "model": info.dir,
        "fingerprint": info.fingerprint,
        "adapter": state.engine.default_adapter(),
        "method": method,
        "classes": classes,
    }))
}

/// `GET /ready`: 200 while accepting work, 503 once shutdown has begun (load balancers stop
/// sending).
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.shutting_down.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"ready": false, "reason": "shutting down"})),
        )
            .into_response()
    } else {
        Json(serde_json::json!({"ready": true})).into_response()
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    (h, state.metrics.encode())
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// `GET /`: the web page.
pub async fn page() -> Html<&'static str> {
    Html(crate::page::PAGE)
}

/// Unknown routes.
pub async fn not_found(uri: axum::http::Uri) -> ServeError {
    ServeError::NotFound(format!("no route {} (see /openapi.json)", uri.path()))
}
