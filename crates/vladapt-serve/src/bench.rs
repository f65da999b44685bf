//! `vladapt bench serve`: the server against the same work done offline, in one process and one
//! run (loopback only; every loop has a fixed count and every wait a timeout).
//!
//! 1. Offline reference: `vladapt predict`'s path (parallel decode + preprocess, batches of
//!    `max_batch` through a CoOp adapter) → images/s.
//! 2. Served: `clients` concurrent clients, one image per request, one CoOp adapter → images/s,
//!    p50/p99 latency; ratio to (1).
//! 3. Memory: resident set with 1 CoOp adapter loaded, then with `adapters` loaded.
//! 4. Mixed traffic: each request names one of `mixed` adapters at random → images/s, ratio to (2).
//! 5. Robustness: `robust_requests` requests from `robust_clients` clients with garbage bodies,
//!    oversized bodies, disconnects mid-upload and a slow sender among them; every answer
//!    checked against the unbatched reference of its own adapter and image; resident memory
//!    before and after.
use crate::config::ServeConfig;
use crate::server::Server;
use crate::synthetic::write_adapter;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vladapt::methods::config::CoopConfig;
use vladapt::methods::MethodConfig;
use vladapt::models::clip::ClipPipeline;
use vladapt::tensor::activation::softmax;
use vladapt::tensor::Device;
use vladapt::tensor_io::to_vec_f32;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Base model directory.
    pub model: PathBuf,
    /// Device.
    pub device: Device,
    /// Work directory (adapters and images are written here).
    pub work: PathBuf,
    /// Concurrent clients for throughput.
    pub clients: usize,
    /// Requests (one image each) per throughput phase.
    pub requests: usize,
    /// CoOp adapters loaded for the memory figure.
    pub adapters: usize,
    /// Adapters in the mixed-traffic phase.
    pub mixed: usize,
    /// Requests of the robustness phase.
    pub robust_requests: usize,
    /// Clients of the robustness phase.
    pub robust_clients: usize,
    /// Images per forward batch (server and offline).
    pub max_batch: usize,
}

/// The measured figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Offline images/s.
    pub offline_images_per_s: f64,
    /// Served images/s, one adapter.
    pub served_images_per_s: f64,
    /// served / offline.
    pub served_vs_offline: f64,
    /// Latency percentiles (ms), one adapter.
    pub p50_ms: f64,
    /// 99th percentile latency (ms).
    pub p99_ms: f64,
    /// Resident MiB with one adapter loaded.
    pub rss_one_adapter_mb: f64,
    /// Resident MiB with `adapters` loaded.
    pub rss_many_adapters_mb: f64,
    /// many / one.
    pub rss_ratio: f64,
    /// The server's accounted bytes of the loaded heads (MiB), with `adapters` loaded: tensors
    /// plus class buffers, independent of allocator reuse.
    pub accounted_heads_mb: f64,
    /// Adapters loaded for `rss_many_adapters_mb`.
    pub adapters_loaded: usize,
    /// Served images/s with mixed adapters.
    pub mixed_images_per_s: f64,
    /// mixed / single-adapter served.
    pub mixed_vs_single: f64,
    /// Robustness: valid answers checked.
    pub robust_ok: usize,
    /// Robustness: answers that did not match their own request's reference (must be 0).
    pub robust_wrong: usize,
    /// Robustness: bad requests answered 4xx as expected.
    pub robust_rejected: usize,
    /// Robustness: clients that disconnected mid-upload.
    pub robust_disconnects: usize,
    /// Robustness: the slow sender's status (408 expected).
    pub slow_sender_status: u16,
    /// Resident MiB before / after the robustness phase.
    pub rss_before_robust_mb: f64,
    /// Resident MiB after the robustness phase.
    pub rss_after_robust_mb: f64,
    /// Whether the server still answered /health afterwards.
    pub healthy_after: bool,
}

/// Current resident set size in MiB (Linux `/proc/self/statm`), NaN elsewhere.
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|pages| pages * 4096.0 / (1 << 20) as f64)
        .unwrap_or(f64::NAN)
}

/// Deterministic test images (`n` PNGs of `size`², smooth colour patterns) in `dir`.
fn write_images(dir: &Path, n: usize, size: u32) -> anyhow_like::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for i in 0..n {
        let img = image::RgbImage::from_fn(size, size, |x, y| {
            let f = i as u32 * 37;
            image::Rgb([
                ((x * 255 / size + f) % 256) as u8,
                ((y * 255 / size + 2 * f) % 256) as u8,
                (((x + y) * 127 / size + 3 * f) % 256) as u8,
            ])
        });
        let p = dir.join(format!("bench_{i:02}.png"));
        img.save(&p)?;
        out.push(p);
    }
    Ok(out)
}

/// A tiny error type so the bench reports causes without pulling anyhow into the library.
mod anyhow_like {
    /// Boxed error.
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

/// Run every phase.
pub fn run(o: &BenchOptions) -> anyhow_like::Result<BenchReport> {
    let pipe = ClipPipeline::load(&o.model, &o.device)?;
    let size = (pipe.model.config.vision.image_size as u32 * 5 / 4).max(8);
    let images = write_images(&o.work.join("images"), 16, size)?;
    let adapters_dir = o.work.join("adapters");
    let classes: Vec<String> = (0..10).map(|i| format!("class number {i}")).collect();
    let n_adapters = o.adapters.max(o.mixed).max(1);
    eprintln!("writing {n_adapters} CoOp adapters (16-token context, 10 classes)");
    for i in 0..n_adapters {
        let d = adapters_dir.join(format!("coop-{i:02}"));
        if !crate::registry::is_run_dir(&d) {
            write_adapter(
                &pipe,
                &d,
                MethodConfig::Coop(CoopConfig::default()),
                &classes,
            )?;
        }
    }

    // 1. Offline, as `vladapt predict` does it.
    let (method, _) = vladapt::train::run_dir::load_adapter(&adapters_dir.join("coop-00"), &pipe)?;
    let offline_paths: Vec<PathBuf> = (0..o.requests)
        .map(|i| images[i % images.len()].clone())
        .collect();
    // Warm-up batch.
    let px = pipe.load_pixels(&offline_paths[..o.max_batch.min(offline_paths.len())])?;
    let _ = to_vec_f32(&softmax(
        method.logits(&pipe.model, method.image_features(&pipe.model, px)?)?,
        1,
    ));
    let t0 = Instant::now();
    for chunk in offline_paths.chunks(o.max_batch.max(1)) {
        let px = pipe.load_pixels(chunk)?;
        let f = method.image_features(&pipe.model, px)?;
        let _ = to_vec_f32(&softmax(method.logits(&pipe.model, f)?, 1));
    }
    let offline = o.requests as f64 / t0.elapsed().as_secs_f64();
    eprintln!("offline: {offline:.1} images/s");
    // Unbatched references for the robustness check: (adapter, image) → probabilities.
    let robust_adapters = 4.min(n_adapters);
    let mut reference = Vec::new();
    for a in 0..robust_adapters {
        let (m, _) = vladapt::train::run_dir::load_adapter(
            &adapters_dir.join(format!("coop-{a:02}")),
            &pipe,
        )?;
        let mut rows = Vec::new();
        for p in images.iter().take(8) {
            let px = pipe.load_pixels(std::slice::from_ref(p))?;
            rows.push(to_vec_f32(&softmax(
                m.logits(&pipe.model, m.image_features(&pipe.model, px)?)?,
                1,
            )));
        }
        reference.push(rows);
    }
    drop(method);
    drop(pipe);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(served(
        o,
        &images,
        &adapters_dir,
        offline,
        Arc::new(reference),
    ))
}

async fn served(
    o: &BenchOptions,
    images: &[PathBuf],
    adapters_dir: &Path,
    offline: f64,
    reference: Arc<Vec<Vec<Vec<f32>>>>,
) -> anyhow_like::Result<BenchReport> {
    let mut cfg = ServeConfig::new(o.model.clone(), o.device.clone());
    cfg.adapters_dir = Some(adapters_dir.to_path_buf());
    cfg.limits.max_batch = o.max_batch;
    cfg.limits.max_loaded = o.adapters.max(o.mixed) + 8;
    cfg.limits.body_timeout = Duration::from_secs(2);
    cfg.limits.max_body_bytes = 4 << 20;
    cfg.limits.max_concurrency = 4 * o.robust_clients.max(o.clients);
    let server = Server::bind(cfg, "127.0.0.1:0").await?;
    let addr = server.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new(images.iter().map(std::fs::read).collect::<Result<_, _>>()?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;

    // Warm-up: load coop-00 and fill the connection pools.
    let adapters1: Vec<String> = vec!["coop-00".into()];
    load(
        &client,
        &base,
        &bodies,
        &adapters1,
        o.clients,
        o.clients.max(1) * 2,
    )
    .await?;
    // 2. One adapter.
    let (single, lat) = load(&client, &base, &bodies, &adapters1, o.clients, o.requests).await?;
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    eprintln!(
        "served: {single:.1} images/s, p50 {:.1} ms, p99 {:.1} ms",
        p(0.5),
        p(0.99)
    );

    // 3. Memory: 1 adapter vs many.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss1 = rss_mb();
    for i in 0..o.adapters {
        let r = client
            .post(format!("{base}/v1/adapters/coop-{i:02}/load"))
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("loading coop-{i:02}: {}", r.text().await?).into());
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_many = rss_mb();
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let accounted = metrics
        .lines()
        .find(|l| l.starts_with("vladapt_adapter_bytes "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        / (1 << 20) as f64;
    eprintln!(
        "rss: {rss1:.1} MiB with 1 adapter, {rss_many:.1} MiB with {}",
        o.adapters
    );

    // 4. Mixed adapters.
    let mixed_names: Vec<String> = (0..o.mixed).map(|i| format!("coop-{i:02}")).collect();
    let (mixed, _) = load(&client, &base, &bodies, &mixed_names, o.clients, o.requests).await?;
    eprintln!("mixed ({} adapters): {mixed:.1} images/s", o.mixed);

    // 5. Robustness.
    let rss_before = rss_mb();
    let robust = robustness(o, addr, &bodies, reference).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_mb();
    let healthy = client
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    Ok(BenchReport {
        offline_images_per_s: offline,
        served_images_per_s: single,
        served_vs_offline: single / offline,
        p50_ms: p(0.5),
        p99_ms: p(0.99),
        rss_one_adapter_mb: rss1,
        rss_many_adapters_mb: rss_many,
        rss_ratio: rss_many / rss1,
        accounted_heads_mb: accounted,
        adapters_loaded: o.adapters,
        mixed_images_per_s: mixed,
        mixed_vs_single: mixed / single,
        robust_ok: robust.0,
        robust_wrong: robust.1,
        robust_rejected: robust.2,
        robust_disconnects: robust.3,
        slow_sender_status: robust.4,
        rss_before_robust_mb: rss_before,
        rss_after_robust_mb: rss_after,
        healthy_after: healthy,
    })
}

/// `requests` single-image classify requests over `clients` concurrent clients, adapters picked
/// by a fixed pseudo-random sequence; returns (images/s, sorted latencies in ms).
async fn load(
    client: &reqwest::Client,
    base: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    adapters: &[String],
    clients: usize,
    requests: usize,
) -> anyhow_like::Result<(f64, Vec<f64>)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let adapters = Arc::new(adapters.to_vec());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (client, next, bodies, adapters) = (
            client.clone(),
            next.clone(),
            bodies.clone(),
            adapters.clone(),
        );
        let url = format!("{base}/v1/classify");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                // Knuth's multiplicative hash: a fixed, well-spread adapter sequence.
                let a = (i.wrapping_mul(2654435761) >> 7) % adapters.len();
                let t = Instant::now();
                let r = client
                    .post(format!("{url}?adapter={}&top_k=1", adapters[a]))
                    .header("content-type", "image/png")
                    .body(bodies[i % bodies.len()].clone())
                    .timeout(Duration::from_secs(120))
                    .send()
                    .await?;
                let st = r.status();
                let _ = r.bytes().await?;
                if !st.is_success() {
                    return Err(format!("request {i}: HTTP {st}").into());
                }
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            anyhow_like::Result::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let rate = requests as f64 / t0.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok((rate, lat))
}

/// Send a request head declaring `len` bytes and `part` of the body.
async fn partial(
    addr: std::net::SocketAddr,
    path: &str,
    len: usize,
    part: &[u8],
) -> std::io::Result<tokio::net::TcpStream> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\nContent-Length: {len}\r\n\r\n").as_bytes(),
    )
    .await?;
    s.write_all(part).await?;
    Ok(s)
}

/// Status of the response on `s` (0 if none within `within`).
async fn status_of(s: &mut tokio::net::TcpStream, within: Duration) -> u16 {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 12 => String::from_utf8_lossy(&buf[..n])
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// The robustness phase: returns (ok, wrong, rejected, disconnects, slow sender status).
async fn robustness(
    o: &BenchOptions,
    addr: std::net::SocketAddr,
    bodies: &Arc<Vec<Vec<u8>>>,
    reference: Arc<Vec<Vec<Vec<f32>>>>,
) -> anyhow_like::Result<(usize, usize, usize, usize, u16)> {
    let slow_body = bodies[0].clone();
    let slow = tokio::spawn(async move {
        // Trickles a byte every 200 ms: the body timeout (2 s) must cut it off with 408.
        let Ok(mut s) = partial(
            addr,
            "/v1/classify?adapter=coop-00",
            slow_body.len(),
            &slow_body[..1],
        )
        .await
        else {
            return 0;
        };
        for b in slow_body[1..].iter().take(30) {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        status_of(&mut s, Duration::from_secs(10)).await
    });
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n_ref = reference.len();
    let mut tasks = Vec::new();
    for _ in 0..o.robust_clients.max(1) {
        let (next, bodies, reference) = (next.clone(), bodies.clone(), reference.clone());
        let total = o.robust_requests;
        let client = reqwest::Client::new();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut wrong, mut rejected, mut disconnects) = (0, 0, 0, 0);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let url = format!("http://{addr}/v1/classify");
                match i % 20 {
                    3 => {
                        let garbage: Vec<u8> = (0..2000u32)
                            .map(|k| (k.wrapping_mul(2654435761) >> 11) as u8)
                            .collect();
                        let r = client
                            .post(&url)
                            .body(garbage)
                            .timeout(Duration::from_secs(60))
                            .send()
                            .await?;
                        if r.status() == 400 {
                            rejected += 1;
                        }
                    }
                    7 => {
                        // Oversized (declared 8 MiB > 4 MiB limit): answered before the body.
                        let mut s = partial(addr, "/v1/classify", 8 << 20, b"").await?;
                        if status_of(&mut s, Duration::from_secs(10)).await == 413 {
                            rejected += 1;
                        }
                    }
                    11 => {
                        let b = &bodies[i % 8];
                        let s = partial(
                            addr,
                            "/v1/classify?adapter=coop-01",
                            b.len(),
                            &b[..b.len() / 2],
                        )
                        .await?;
                        drop(s);
                        disconnects += 1;
                    }
                    _ => {
                        let a = (i / 3) % n_ref;
                        let k = i % 8;
                        let v: serde_json::Value = client
                            .post(format!("{url}?adapter=coop-{a:02}&top_k=100"))
                            .body(bodies[k].clone())
                            .timeout(Duration::from_secs(120))
                            .send()
                            .await?
                            .json()
                            .await?;
                        let want = &reference[a][k];
                        let good = v["results"][0]["predictions"]
                            .as_array()
                            .is_some_and(|preds| {
                                preds.len() == want.len()
                                    && preds.iter().all(|p| {
                                        let c = p["class"].as_str().unwrap_or("");
                                        let idx: Option<usize> = c
                                            .strip_prefix("class number ")
                                            .and_then(|n| n.parse().ok());
                                        idx.is_some_and(|j| {
                                            j < want.len()
                                                && (p["probability"].as_f64().unwrap_or(-1.0)
                                                    as f32
                                                    - want[j])
                                                    .abs()
                                                    < 1e-5
                                        })
                                    })
                            });
                        if good {
                            ok += 1;
                        } else {
                            wrong += 1;
                        }
                    }
                }
            }
            anyhow_like::Result::Ok((ok, wrong, rejected, disconnects))
        }));
    }
    let (mut ok, mut wrong, mut rejected, mut disconnects) = (0, 0, 0, 0);
    for t in tasks {
        let (a, b, c, d) = t.await??;
        ok += a;
        wrong += b;
        rejected += c;
        disconnects += d;
    }
    let slow_status = slow.await.unwrap_or(0);
    Ok((ok, wrong, rejected, disconnects, slow_status))
}
