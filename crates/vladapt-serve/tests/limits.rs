//! Protective behaviour: idle sockets and slow senders time out without blocking others, body
//! limits, 503 when full, request ids, CORS off by default, graceful shutdown finishing
//! in-flight requests, and a mixed load (garbage, disconnects, slow senders) in which every
//! client gets its own answer.
mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vladapt::methods::config::CoopConfig;
use vladapt::methods::MethodConfig;

const PETS: &[&str] = &["cat", "dog", "hamster"];

/// Send a request head announcing `len` body bytes, then `part` of the body.
async fn partial_request(addr: std::net::SocketAddr, len: usize, part: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(part).await.unwrap();
    s
}

/// POST `n` bytes (declared with Content-Length, or chunked when `chunked`), written in the
/// background while the answer is read: a server may answer 413 before the body is sent.
async fn oversized(addr: std::net::SocketAddr, n: usize, chunked: bool) -> (u16, String) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let head = if chunked {
        "POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
    } else {
        format!("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n")
    };
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let block = vec![b'x'; 8192];
        let mut sent = 0;
        while sent < n {
            if chunked {
                wr.write_all(format!("{:x}\r\n", block.len()).as_bytes())
                    .await?;
                wr.write_all(&block).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(&block[..block.len().min(n - sent)]).await?;
            }
            sent += block.len();
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(wr)
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut buf)).await;
    writer.abort();
    parse_response(&String::from_utf8_lossy(&buf))
}

/// Read a whole response (the server closes or the timeout hits); returns (status, body).
async fn read_response(s: &mut TcpStream, within: Duration) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let t0 = Instant::now();
    loop {
        let left = within.saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                // Stop once the declared body is complete.
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    });
                    if len.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
            Ok(Err(_)) => break,
        }
    }
    parse_response(&String::from_utf8_lossy(&buf))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_sockets_slow_senders_and_big_bodies_do_not_block_others() {
    let mut cfg = config();
    cfg.default_classes = Some(classes(PETS));
    cfg.limits.header_timeout = Duration::from_millis(800);
    cfg.limits.body_timeout = Duration::from_millis(800);
    cfg.limits.max_body_bytes = 64 << 10;
    cfg.limits.max_concurrency = 2;
    let srv = start(cfg).await;
    let client = reqwest::Client::new();

    // An idle socket neither blocks a health check nor stays open.
    let mut idle = TcpStream::connect(srv.addr).await.unwrap();
    let t0 = Instant::now();
    let r = client.get(srv.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        t0.elapsed() < Duration::from_millis(700),
        "health waited {:?}",
        t0.elapsed()
    );
    let mut b = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut b))
        .await
        .expect("an idle socket must be closed after the header timeout");
    assert!(matches!(n, Ok(0) | Err(_)), "idle socket got data: {n:?}");

    // Two slow senders hold both admission permits: a third request is refused at once with 503,
    // health still answers; the slow ones get 408.
    let img = image("img0_32x32.png");
    let mut slow1 = partial_request(srv.addr, img.len(), &img[..10]).await;
    let mut slow2 = partial_request(srv.addr, img.len(), &img[..10]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let r = client
        .post(srv.url("/v1/classify"))
        .body(img.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "503 took {:?}",
        t0.elapsed()
    );
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "overloaded", "{e}");
    assert_eq!(client.get(srv.url("/health")).status_code().await, 200);
    for s in [&mut slow1, &mut slow2] {
        let (st, body) = read_response(s, Duration::from_secs(5)).await;
        assert_eq!(st, 408, "{body}");
        let e: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["error"]["type"], "body_timeout", "{e}");
    }
    // Permits are back.
    let r = client
        .post(srv.url("/v1/classify"))
        .body(img.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Bodies over the limit: 413 JSON, whether the length is declared or streamed.
    for chunked in [false, true] {
        let (st, body) = oversized(srv.addr, 100 << 10, chunked).await;
        assert_eq!(st, 413, "chunked {chunked}: {body}");
        assert!(body.contains("body_too_large"), "{body}");
    }
    let mut liar = partial_request(srv.addr, 10 << 20, b"").await;
    let (st, _) = read_response(&mut liar, Duration::from_secs(5)).await;
    assert_eq!(st, 413);

    // Request ids: generated, or the client's echoed.
    let r = client.get(srv.url("/health")).send().await.unwrap();
    let id = r
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = client
        .get(srv.url("/health"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    // CORS is off by default.
    let r = client
        .get(srv.url("/health"))
        .header("origin", "http://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    srv.shutdown().await;

    // ...and on when an origin is configured.
    let mut cfg = config();
    cfg.cors_origins = vec!["http://app.example".into()];
    let srv = start(cfg).await;
    let r = client
        .get(srv.url("/health"))
        .header("origin", "http://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let pipe = pipe();
    let mut cfg = config();
    cfg.default_classes = Some(classes(PETS));
    let srv = start(cfg).await;
    let img = image("odd_100x64.png");
    let half = img.len() / 2;
    let mut s = partial_request(srv.addr, img.len(), &img[..half]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = srv.addr;
    let stop = tokio::spawn(srv.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // No new connections once shutdown has begun...
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    assert!(!stop.is_finished(), "returned with a request in flight");
    // ...but the request in flight completes.
    s.write_all(&img[half..]).await.unwrap();
    let (st, body) = read_response(&mut s, Duration::from_secs(10)).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let want = reference_zero_shot(&pipe, &classes(PETS), &["a photo of a {}.".into()], &img);
    assert_matches(&v["results"][0]["predictions"], &classes(PETS), &want, 1e-6);
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_load_with_garbage_disconnects_and_slow_senders_answers_each_client_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let pipe = pipe();
    let coop = || {
        MethodConfig::Coop(CoopConfig {
            n_ctx: 4,
            ..Default::default()
        })
    };
    let runs = [
        adapter(&pipe, tmp.path(), "a", coop(), PETS),
        adapter(&pipe, tmp.path(), "b", coop(), PETS),
    ];
    // Expected rows per (adapter, image), all pairwise distinct so a swapped answer shows.
    let mut expected = Vec::new();
    for run in &runs {
        for name in IMAGES {
            expected.push(reference_adapter(&pipe, run, &image(name)));
        }
    }
    for i in 0..expected.len() {
        for j in 0..i {
            let d: f32 = expected[i]
                .iter()
                .zip(&expected[j])
                .map(|(a, b)| (a - b).abs())
                .sum();
            assert!(d > 1e-4, "rows {i} and {j} are too close to tell apart");
        }
    }
    let mut cfg = config();
    cfg.adapters_dir = Some(tmp.path().to_path_buf());
    cfg.limits.max_body_bytes = 256 << 10;
    cfg.limits.body_timeout = Duration::from_millis(500);
    cfg.limits.max_concurrency = 256;
    let srv = start(cfg).await;
    let addr = srv.addr;
    let expected = std::sync::Arc::new(expected);

    let slow = tokio::spawn(async move {
        let img = image("img0_32x32.png");
        let mut s = partial_request(addr, img.len(), &img[..5]).await;
        read_response(&mut s, Duration::from_secs(10)).await.0
    });
    let mut clients = Vec::new();
    for c in 0..16usize {
        let expected = expected.clone();
        let url = srv.url("/v1/classify");
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ok = 0;
            for r in 0..15usize {
                let i = c * 15 + r;
                match i % 10 {
                    0 => {
                        // Garbage body.
                        let garbage: Vec<u8> = (0..1000u32)
                            .map(|k| (k.wrapping_mul(2654435761) >> 13) as u8)
                            .collect();
                        let resp = client
                            .post(format!("{url}?adapter=a"))
                            .body(garbage)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(resp.status(), 400);
                    }
                    1 => {
                        // Disconnect mid-upload.
                        let img = image("odd_100x64.png");
                        let s = partial_request(addr, img.len(), &img[..img.len() / 3]).await;
                        drop(s);
                    }
                    2 => {
                        let (st, body) = oversized(addr, 300 << 10, false).await;
                        assert_eq!(st, 413, "{body}");
                    }
                    _ => {
                        let a = i % 2;
                        let k = (i / 2) % IMAGES.len();
                        let name = ["a", "b"][a];
                        let v: serde_json::Value = client
                            .post(format!("{url}?adapter={name}&top_k=3"))
                            .body(image(IMAGES[k]))
                            .body_json()
                            .await;
                        assert_matches(
                            &v["results"][0]["predictions"],
                            &classes(PETS),
                            &expected[a * IMAGES.len() + k],
                            BATCH_TOL,
                        );
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for c in clients {
        ok += c.await.unwrap();
    }
    assert_eq!(ok, 16 * 15 * 7 / 10);
    assert_eq!(slow.await.unwrap(), 408);
    // Still healthy, nothing left queued or in flight.
    let client = reqwest::Client::new();
    assert_eq!(client.get(srv.url("/health")).status_code().await, 200);
    let m = client.get(srv.url("/metrics")).body_text().await;
    let gauge = |name: &str| -> i64 {
        m.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{m}"))
    };
    assert_eq!(gauge("vladapt_queue_depth"), 0);
    assert_eq!(gauge("vladapt_in_flight_requests"), 0);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_request_timeout_is_answered_503_json() {
    let mut cfg = config();
    cfg.default_classes = Some(classes(PETS));
    cfg.limits.body_timeout = Duration::from_secs(20);
    cfg.limits.request_timeout = Duration::from_millis(400);
    let srv = start(cfg).await;
    let img = image("img1_32x32.png");
    // Keeps sending (so the body timeout never fires) but never finishes within 400 ms.
    let mut s = partial_request(srv.addr, img.len(), &img[..4]).await;
    let t0 = Instant::now();
    let (st, body) = read_response(&mut s, Duration::from_secs(10)).await;
    assert_eq!(st, 503, "{body}");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["error"]["type"], "timeout", "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // The server goes on.
    let r = reqwest::Client::new()
        .post(srv.url("/v1/classify"))
        .body(img)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}
