//! `vladapt serve`: the web page, /health, and /classify answering with the same probabilities as
//! `vladapt classify --json`; bad requests get a JSON error with a 4xx status and the server goes on.
mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// One HTTP request; returns (status, body).
fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status: u16 = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = resp.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Assert two prediction lists name the same classes with probabilities within 1e-6; returns
/// the sum of the probabilities.
fn same_predictions(got: &serde_json::Value, want: &serde_json::Value) -> f64 {
    let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
    assert_eq!(got.len(), want.len());
    let mut sum = 0.0;
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["class"], w["class"]);
        let (gp, wp) = (
            g["probability"].as_f64().unwrap(),
            w["probability"].as_f64().unwrap(),
        );
        assert!((gp - wp).abs() < 1e-6, "{gp} vs {wp}");
        sum += gp;
    }
    sum
}

/// Start `vladapt serve ARGS… --addr 127.0.0.1:0 --max-requests N`; returns the child and its address.
fn start(args: &[&str], requests: usize) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args(["--log", "warn", "serve"])
        .args(args)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--max-requests",
            &requests.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

#[test]
fn serve_classifies_uploads_like_the_classify_command() {
    let model = fixtures().join("models/tiny-hf");
    let img = fixtures().join("images/img1_32x32.png");
    let (mut child, addr) = start(
        &[
            "--model",
            &model.to_string_lossy(),
            "--classes",
            "a cat,a dog,a car",
        ],
        7,
    );

    let (st, page) = request(&addr, "GET", "/", b"");
    assert_eq!(st, 200);
    assert!(page.contains("<title>vladapt</title>") && page.contains("/classify"));

    let (st, health) = request(&addr, "GET", "/health", b"");
    assert_eq!(st, 200);
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["method"], "zeroshot");
    assert_eq!(h["classes"], serde_json::json!(["a cat", "a dog", "a car"]));

    // The same image through `vladapt classify --json` (an independent code path).
    let o = vladapt(&[
        "classify",
        "--model",
        &model.to_string_lossy(),
        "--classes",
        "a cat,a dog,a car",
        "--json",
        "--top-k",
        "3",
        &img.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let want = &want[0]["predictions"];

    let bytes = std::fs::read(&img).unwrap();
    let (st, got) = request(&addr, "POST", "/classify", &bytes);
    assert_eq!(st, 200, "{got}");
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    let got = &got["predictions"];
    assert_eq!(
        got.as_array().unwrap().len(),
        3,
        "top-5 clamps to the 3 classes"
    );
    let sum = same_predictions(got, want);
    assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");

    // Bad requests: a JSON error, and the server keeps answering.
    let (st, e) = request(&addr, "POST", "/classify", b"this is not an image");
    assert_eq!(st, 400);
    assert!(e.contains("\"error\""), "{e}");
    let (st, _) = request(&addr, "POST", "/classify", b"");
    assert_eq!(st, 400);
    let (st, e) = request(&addr, "GET", "/nope", b"");
    assert_eq!(st, 404);
    assert!(e.contains("/classify"), "{e}");
    let (st, _) = request(&addr, "GET", "/classify", b"");
    assert_eq!(st, 405);

    // Seven requests served: the server stops by itself.
    assert!(child.wait().unwrap().success());
}

#[test]
fn serve_without_a_model_or_run_is_a_clear_error() {
    let o = vladapt(&["serve", "--classes", "a,b"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("--run") && e.contains("--model"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn serve_answers_with_a_trained_adapter_like_predict() {
    let tmp = TempDir::new("serve-run");
    let task = tmp.0.join("task");
    let run = tmp.0.join("run");
    let o = vladapt(&[
        "world",
        "task",
        "--out",
        &task.to_string_lossy(),
        "--classes",
        "4",
        "--class-kind",
        "colour",
        "--style",
        "cast",
        "--train-per-class",
        "2",
        "--val-per-class",
        "1",
        "--test-per-class",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = fixtures().join("models/tiny-hf");
    let o = vladapt(&[
        "train",
        "--model",
        &model.to_string_lossy(),
        "--method",
        "coop",
        "--dataset",
        "vladapt",
        "--root",
        &task.to_string_lossy(),
        "--shots",
        "2",
        "--seed",
        "1",
        "--set",
        "train.schedule.max_epoch=1",
        "--output",
        &run.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = fixtures().join("images/odd_57x41.png");
    let o = vladapt(&[
        "predict",
        "--run",
        &run.to_string_lossy(),
        "--json",
        "--top-k",
        "4",
        &img.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();

    let (mut child, addr) = start(&["--run", &run.to_string_lossy()], 2);
    let (st, health) = request(&addr, "GET", "/health", b"");
    assert_eq!(st, 200);
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["method"], "coop");
    assert_eq!(
        h["classes"],
        serde_json::json!(["red", "green", "blue", "yellow"])
    );
    let (st, got) = request(&addr, "POST", "/classify", &std::fs::read(&img).unwrap());
    assert_eq!(st, 200, "{got}");
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    same_predictions(&got["predictions"], &want[0]["predictions"]);
    assert!(child.wait().unwrap().success());
}
