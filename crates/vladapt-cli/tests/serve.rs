//! `vladapt serve` as a process: the page, /health, /v1/classify answering with the same
//! probabilities as `vladapt classify --json` / `vladapt predict --json`, JSON errors with the
//! right status, several adapters from a directory, and a clean exit on SIGTERM.
mod common;

use common::*;

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

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn serve_classifies_uploads_like_the_classify_command() {
    let model = fixtures().join("models/tiny-hf");
    let img = fixtures().join("images/img1_32x32.png");
    let srv = ServeProcess::start(&[
        "--model",
        &model.to_string_lossy(),
        "--classes",
        "a cat,a dog,a car",
    ]);
    let addr = srv.addr.clone();

    let (st, page) = http(&addr, "GET", "/", "text/plain", b"");
    assert_eq!(st, 200);
    assert!(page.contains("<title>vladapt</title>") && page.contains("/v1/classify"));

    let (st, health) = http(&addr, "GET", "/health", "text/plain", b"");
    assert_eq!(st, 200);
    let h = json(&health);
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
    let want = json(&stdout(&o));
    let bytes = std::fs::read(&img).unwrap();
    let (st, got) = http(&addr, "POST", "/v1/classify", "image/png", &bytes);
    assert_eq!(st, 200, "{got}");
    let got = json(&got);
    let preds = &got["results"][0]["predictions"];
    assert_eq!(
        preds.as_array().unwrap().len(),
        3,
        "top-5 clamps to the 3 classes"
    );
    let sum = same_predictions(preds, &want[0]["predictions"]);
    assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");

    // Bad requests: a JSON error with the right status, and the server keeps answering.
    let err = |(st, body): (u16, String)| -> (u16, String) {
        let v = json(&body);
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"));
        (st, msg.to_string())
    };
    let (st, m) = err(http(
        &addr,
        "POST",
        "/v1/classify",
        "image/png",
        b"this is not an image",
    ));
    assert_eq!(st, 400, "{m}");
    let (st, m) = err(http(&addr, "POST", "/v1/classify", "image/png", b""));
    assert_eq!(st, 400);
    assert!(m.contains("empty"), "{m}");
    let (st, m) = err(http(
        &addr,
        "POST",
        "/v1/classify",
        "application/json",
        b"{not json",
    ));
    assert_eq!(st, 400);
    assert!(m.contains("JSON"), "{m}");
    let (st, m) = err(http(&addr, "GET", "/nope", "text/plain", b""));
    assert_eq!(st, 404);
    assert!(m.contains("/nope"), "{m}");
    let (st, _) = err(http(&addr, "GET", "/v1/classify", "text/plain", b""));
    assert_eq!(st, 405);
    let (st, _) = http(&addr, "GET", "/health", "text/plain", b"");
    assert_eq!(st, 200);

    // SIGTERM: a clean exit.
    assert!(srv.terminate().success());
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
fn serve_answers_with_trained_adapters_like_predict() {
    let tmp = TempDir::new("serve-run");
    let runs = tmp.0.join("runs");
    let run = runs.join("colours");
    train_colour_run(&tmp.0, &run);
    let img = fixtures().join("images/odd_57x41.png");
    let want = predict_json(&run, 4, std::slice::from_ref(&img));
    let bytes = std::fs::read(&img).unwrap();

    // One run as the default adapter.
    let srv = ServeProcess::start(&["--run", &run.to_string_lossy()]);
    let (st, health) = http(&srv.addr, "GET", "/health", "text/plain", b"");
    assert_eq!(st, 200);
    let h = json(&health);
    assert_eq!(h["method"], "coop");
    assert_eq!(h["adapter"], "colours");
    assert_eq!(
        h["classes"],
        serde_json::json!(["red", "green", "blue", "yellow"])
    );
    let (st, got) = http(&srv.addr, "POST", "/v1/classify", "image/png", &bytes);
    assert_eq!(st, 200, "{got}");
    same_predictions(
        &json(&got)["results"][0]["predictions"],
        &want[0]["predictions"],
    );
    assert!(srv.terminate().success());

    // The same run among the adapters of a directory, named per request.
    let model = fixtures().join("models/tiny-hf");
    let srv = ServeProcess::start(&[
        "--model",
        &model.to_string_lossy(),
        "--adapters",
        &runs.to_string_lossy(),
    ]);
    let (st, list) = http(&srv.addr, "GET", "/v1/adapters", "text/plain", b"");
    assert_eq!(st, 200);
    let l = json(&list);
    assert_eq!(l["adapters"][0]["name"], "colours");
    assert_eq!(l["adapters"][0]["state"], "available");
    let (st, got) = http(
        &srv.addr,
        "POST",
        "/v1/classify?adapter=colours&top_k=4",
        "image/png",
        &bytes,
    );
    assert_eq!(st, 200, "{got}");
    let got = json(&got);
    assert_eq!(got["adapter"], "colours");
    same_predictions(&got["results"][0]["predictions"], &want[0]["predictions"]);
    assert!(srv.terminate().success());
}
