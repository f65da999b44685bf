//! The OpenAPI 3.1 description served at `/openapi.json`.
use serde_json::{json, Value};

/// Every route of the server with its method(s) — the OpenAPI document lists exactly these
/// (a test checks each one is answered).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/v1/classify"),
    ("post", "/v1/embeddings"),
    ("get", "/v1/adapters"),
    ("post", "/v1/adapters/{name}/load"),
    ("delete", "/v1/adapters/{name}"),
];

fn error_responses() -> Value {
    let e = json!({"description": "JSON error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "400": e, "404": e, "408": e, "409": e, "413": e, "500": e,
        "503": {"description": "Server full (concurrency/queue limit), shutting down or request timeout; retry, possibly on another replica", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    })
}

fn with_errors(ok: Value) -> Value {
    let mut r = error_responses();
    r["200"] = ok;
    r
}

/// The document.
pub fn document() -> Value {
    let name_param = json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Adapter (run directory) name"}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vladapt serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "One frozen CLIP base model serving many hot-loaded adapters (CoOp, CoCoOp, CLIP-Adapter, linear probe, MaPLe, MMA) and zero-shot classification, with dynamic batching."
        },
        "paths": {
            "/": {"get": {"summary": "Web page: pick an adapter, drop images, see top-k", "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}},
            "/health": {"get": {"summary": "Liveness, with the served model and default head", "responses": {"200": {"description": "ok", "content": {"application/json": {}}}}}},
            "/ready": {"get": {"summary": "Readiness: 503 once shutdown has begun", "responses": {"200": {"description": "ready"}, "503": {"description": "shutting down"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)", "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI", "content": {"application/json": {}}}}}},
            "/v1/classify": {"post": {
                "summary": "Classify images with an adapter or zero-shot",
                "description": "Body: the raw image file (options in the query: adapter, classes=a,b,c, template, top_k), multipart/form-data (fields image (repeatable file), adapter, classes, template (repeatable), top_k) or JSON {image|images: base64 or data URI, adapter, classes, templates, top_k}. Without an adapter and with classes: zero-shot on the fly.",
                "parameters": [
                    {"name": "adapter", "in": "query", "schema": {"type": "string"}},
                    {"name": "classes", "in": "query", "schema": {"type": "string"}, "description": "comma-separated"},
                    {"name": "template", "in": "query", "schema": {"type": "string"}},
                    {"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 1}}
                ],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ClassifyRequest"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "image": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "adapter": {"type": "string"}, "classes": {"type": "string"},
                        "template": {"type": "array", "items": {"type": "string"}}, "top_k": {"type": "integer"}}}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "image/*": {"schema": {"type": "string", "format": "binary"}}
                }},
                "responses": with_errors(json!({"description": "top-k per image", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClassifyResponse"}}}}))
            }},
            "/v1/embeddings": {"post": {
                "summary": "OpenAI-style embeddings of texts and images (L2-normalised)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingRequest"}}}},
                "responses": with_errors(json!({"description": "embeddings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingResponse"}}}}))
            }},
            "/v1/adapters": {"get": {"summary": "Registered adapters with load state (re-scans the adapters directory)", "responses": {"200": {"description": "list", "content": {"application/json": {"schema": {"type": "object", "properties": {"adapters": {"type": "array", "items": {"$ref": "#/components/schemas/Adapter"}}}}}}}}}},
            "/v1/adapters/{name}/load": {"post": {"summary": "Load an adapter now (else it loads on first use)", "parameters": name_param, "responses": with_errors(json!({"description": "loaded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Adapter"}}}}))}},
            "/v1/adapters/{name}": {"delete": {"summary": "Unload an adapter (it stays registered and reloads on use)", "parameters": name_param, "responses": with_errors(json!({"description": "unloaded", "content": {"application/json": {}}}))}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"message": {"type": "string"}, "type": {"type": "string"}}}}},
            "ClassifyRequest": {"type": "object", "properties": {
                "image": {"type": "string", "description": "base64 or data URI"},
                "images": {"type": "array", "items": {"type": "string"}},
                "adapter": {"type": "string"},
                "classes": {"type": "array", "items": {"type": "string"}},
                "templates": {"type": "array", "items": {"type": "string"}},
                "top_k": {"type": "integer", "minimum": 1}}},
            "ClassifyResponse": {"type": "object", "properties": {
                "adapter": {"type": ["string", "null"]},
                "method": {"type": "string"},
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "image": {"type": "string"},
                    "predictions": {"type": "array", "items": {"type": "object", "properties": {"class": {"type": "string"}, "probability": {"type": "number"}}}}}}}}},
            "EmbeddingRequest": {"type": "object", "required": ["input"], "properties": {
                "model": {"type": "string", "description": "\"vladapt\" (base) or an adapter name"},
                "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "description": "texts; data:image/…;base64 URIs are images"},
                "modality": {"type": "string", "enum": ["text", "image"]},
                "encoding_format": {"type": "string", "enum": ["float"]}}},
            "EmbeddingResponse": {"type": "object", "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {"type": "object", "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"}, "embedding": {"type": "array", "items": {"type": "number"}}}}},
                "model": {"type": "string"},
                "usage": {"type": "object"}}},
            "Adapter": {"type": "object", "properties": {
                "name": {"type": "string"}, "dir": {"type": "string"}, "method": {"type": "string"},
                "classes": {"type": "array", "items": {"type": "string"}},
                "state": {"type": "string", "enum": ["available", "refused"]},
                "reason": {"type": "string"}, "loaded": {"type": "boolean"}, "bytes": {"type": ["integer", "null"]}}}
        }}
    })
}
