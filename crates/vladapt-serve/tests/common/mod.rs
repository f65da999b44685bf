//! Shared helpers: the tiny fixture model, synthetic adapters, an in-process server, and the
//! unbatched reference computation (one image at a time, straight through the method).
#![allow(dead_code)]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vladapt::methods::MethodConfig;
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor::activation::softmax;
use vladapt::tensor::Device;
use vladapt::tensor_io::to_vec_f32;
use vladapt_serve::{ServeConfig, Server};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn model_dir() -> PathBuf {
    fixtures().join("models/tiny-hf")
}

pub fn image(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("images").join(name)).unwrap()
}

pub const IMAGES: &[&str] = &[
    "img0_32x32.png",
    "img1_32x32.png",
    "img2_32x32.png",
    "img3_32x32.png",
    "odd_100x64.png",
    "odd_57x41.png",
];

pub fn classes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn pipe() -> ClipPipeline {
    ClipPipeline::load(&model_dir(), &Device::flex()).unwrap()
}

/// Write a synthetic adapter `dir/name`.
pub fn adapter(
    pipe: &ClipPipeline,
    dir: &Path,
    name: &str,
    method: MethodConfig,
    cls: &[&str],
) -> PathBuf {
    let d = dir.join(name);
    vladapt_serve::synthetic::write_adapter(pipe, &d, method, &classes(cls)).unwrap();
    d
}

/// A running in-process server; shuts down when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<vladapt_serve::Result<()>>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    /// Trigger graceful shutdown and wait for the server to return.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let r = tokio::time::timeout(Duration::from_secs(30), self.task.take().unwrap())
            .await
            .expect("server did not stop within 30 s");
        r.unwrap().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(cfg: ServeConfig) -> Running {
    let server = Server::bind(cfg, "127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

pub fn config() -> ServeConfig {
    ServeConfig::new(model_dir(), Device::flex())
}

/// Reference probabilities of one image through a run directory's method, unbatched.
pub fn reference_adapter(pipe: &ClipPipeline, run: &Path, img: &[u8]) -> Vec<f32> {
    let (m, _) = vladapt::train::run_dir::load_adapter(run, pipe).unwrap();
    let rgb = vladapt_image::decode_rgb(img, "x", &pipe.limits).unwrap();
    let px = pipe.pixels_from_chw(vec![pipe.preprocess.apply(&rgb).unwrap()]);
    let f = m.image_features(&pipe.model, px).unwrap();
    to_vec_f32(&softmax(m.logits(&pipe.model, f).unwrap(), 1))
}

/// Reference zero-shot probabilities (prompt ensemble over `templates`), unbatched.
pub fn reference_zero_shot(
    pipe: &ClipPipeline,
    cls: &[String],
    templates: &[String],
    img: &[u8],
) -> Vec<f32> {
    use vladapt::models::clip::{l2_normalize, NoHook};
    let w = pipe.zero_shot_weights(cls, templates).unwrap();
    let rgb = vladapt_image::decode_rgb(img, "x", &pipe.limits).unwrap();
    let px = pipe.pixels_from_chw(vec![pipe.preprocess.apply(&rgb).unwrap()]);
    let f = l2_normalize(pipe.model.encode_image(px, &NoHook).unwrap());
    to_vec_f32(&softmax(
        f.matmul(w.transpose()).mul_scalar(pipe.model.scale()),
        1,
    ))
}

/// Tolerance of a batched answer against the one-image-at-a-time reference: batched matrix
/// products sum in another order, and the logit scale (100) amplifies those float differences
/// into the probabilities (observed up to ~2.5e-6; single-image answers match within 1e-6).
pub const BATCH_TOL: f32 = 1e-5;

/// Probabilities by class from a `results[i].predictions` array.
pub fn by_class(preds: &serde_json::Value) -> Vec<(String, f32)> {
    preds
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["class"].as_str().unwrap().to_string(),
                p["probability"].as_f64().unwrap() as f32,
            )
        })
        .collect()
}

/// Assert the answer's predictions equal the reference row (every class, within `tol`).
pub fn assert_matches(preds: &serde_json::Value, cls: &[String], want: &[f32], tol: f32) {
    let got = by_class(preds);
    assert_eq!(got.len(), cls.len(), "{preds}");
    for (c, p) in got {
        let i = cls
            .iter()
            .position(|x| *x == c)
            .unwrap_or_else(|| panic!("unknown class {c}"));
        assert!(
            (p - want[i]).abs() <= tol,
            "class {c}: {p} vs {} (tol {tol})",
            want[i]
        );
    }
    // Ranked: probabilities descending.
    let ps: Vec<f32> = by_class(preds).iter().map(|x| x.1).collect();
    assert!(ps.windows(2).all(|w| w[0] >= w[1]), "not ranked: {ps:?}");
}

/// Send a request and read its body, panicking on transport errors (the status is the
/// caller's to check where it matters).
pub trait SendExt {
    /// The body as JSON.
    fn body_json(self) -> impl std::future::Future<Output = serde_json::Value>;
    /// The body as text.
    fn body_text(self) -> impl std::future::Future<Output = String>;
    /// Only the status code.
    fn status_code(self) -> impl std::future::Future<Output = u16>;
}

impl SendExt for reqwest::RequestBuilder {
    async fn body_json(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
    async fn body_text(self) -> String {
        self.send().await.unwrap().text().await.unwrap()
    }
    async fn status_code(self) -> u16 {
        self.send().await.unwrap().status().as_u16()
    }
}

/// Split a raw HTTP/1.1 response into (status, body); status 0 when there is none.
pub fn parse_response(text: &str) -> (u16, String) {
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}
