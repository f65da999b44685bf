//! The HTTP API against the tiny fixture model: request formats, many adapters with batching
//! across them (answers equal the unbatched computation), zero-shot on the fly, embeddings,
//! adapters hot-load/unload/discovery, fingerprint refusal, LRU bounds, OpenAPI, metrics.
mod common;

use base64::Engine as _;
use common::*;
use std::time::Duration;
use vladapt::methods::config::{CoopConfig, MapleConfig, MethodKind};
use vladapt::methods::MethodConfig;

fn coop() -> MethodConfig {
    MethodConfig::Coop(CoopConfig {
        n_ctx: 4,
        ..Default::default()
    })
}

fn maple() -> MethodConfig {
    MethodConfig::Maple(MapleConfig {
        depth: 2,
        ..Default::default()
    })
}

const PETS: &[&str] = &["cat", "dog", "hamster"];
const CARS: &[&str] = &["car", "truck", "bus", "bicycle"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn classify_formats_agree_and_batches_across_adapters_equal_unbatched() {
    let tmp = tempfile::tempdir().unwrap();
    let pipe = pipe();
    let runs = [
        (
            "pets-coop",
            adapter(&pipe, tmp.path(), "pets-coop", coop(), PETS),
            PETS,
        ),
        (
            "cars-coop",
            adapter(&pipe, tmp.path(), "cars-coop", coop(), CARS),
            CARS,
        ),
        (
            "pets-adapter",
            adapter(
                &pipe,
                tmp.path(),
                "pets-adapter",
                MethodConfig::default_for(MethodKind::ClipAdapter),
                PETS,
            ),
            PETS,
        ),
        (
            "cars-cocoop",
            adapter(
                &pipe,
                tmp.path(),
                "cars-cocoop",
                MethodConfig::default_for(MethodKind::Cocoop),
                CARS,
            ),
            CARS,
        ),
        (
            "pets-probe",
            adapter(
                &pipe,
                tmp.path(),
                "pets-probe",
                MethodConfig::default_for(MethodKind::LinearProbe),
                PETS,
            ),
            PETS,
        ),
        (
            "cars-maple",
            adapter(&pipe, tmp.path(), "cars-maple", maple(), CARS),
            CARS,
        ),
    ];
    let mut cfg = config();
    cfg.adapters_dir = Some(tmp.path().to_path_buf());
    cfg.default_classes = Some(classes(PETS));
    // A long gathering window so that concurrent requests land in shared batches.
    cfg.limits.batch_wait = Duration::from_millis(50);
    let srv = start(cfg).await;
    let client = reqwest::Client::new();

    // The three encodings of one request give the same answer.
    let img = image("odd_57x41.png");
    let raw: serde_json::Value = client
        .post(srv.url("/v1/classify?adapter=pets-coop&top_k=3"))
        .header("content-type", "image/png")
        .body(img.clone())
        .body_json()
        .await;
    let form = reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(img.clone()).file_name("odd.png"),
        )
        .text("adapter", "pets-coop")
        .text("top_k", "3");
    let multi: serde_json::Value = client
        .post(srv.url("/v1/classify"))
        .multipart(form)
        .body_json()
        .await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&img);
    let json: serde_json::Value = client
        .post(srv.url("/v1/classify"))
        .json(&serde_json::json!({"image": format!("data:image/png;base64,{b64}"), "adapter": "pets-coop", "top_k": 3}))
        .body_json()
        .await;
    let want = reference_adapter(&pipe, &runs[0].1, &img);
    for answer in [&raw, &multi, &json] {
        assert_eq!(answer["adapter"], "pets-coop", "{answer}");
        assert_eq!(answer["method"], "coop");
        assert_matches(
            &answer["results"][0]["predictions"],
            &classes(PETS),
            &want,
            1e-6,
        );
    }
    assert_eq!(multi["results"][0]["image"], "odd.png");

    // Concurrent requests across six adapters (five share the frozen image tower, MaPLe has its
    // own) and zero-shot: every answer equals the one-image-at-a-time computation.
    let mut tasks = Vec::new();
    for i in 0..28 {
        let (name, run, cls) = runs[i % runs.len()].clone();
        let img_name = IMAGES[(i * 5) % IMAGES.len()];
        let url = srv.url("/v1/classify");
        let client = client.clone();
        let zero_shot = i % 7 == 6;
        tasks.push(tokio::spawn(async move {
            let body = std::fs::read(fixtures().join("images").join(img_name)).unwrap();
            let url = if zero_shot {
                format!("{url}?top_k=10")
            } else {
                format!("{url}?adapter={name}&top_k=10")
            };
            let v: serde_json::Value = client.post(url).body(body).body_json().await;
            (name, run, cls, img_name, zero_shot, v)
        }));
    }
    for t in tasks {
        let (name, run, cls, img_name, zero_shot, v) = t.await.unwrap();
        let img = image(img_name);
        let (cls, want) = if zero_shot {
            let c = classes(PETS);
            let w = reference_zero_shot(&pipe, &c, &["a photo of a {}.".to_string()], &img);
            (c, w)
        } else {
            (classes(cls), reference_adapter(&pipe, &run, &img))
        };
        assert!(v["results"].is_array(), "{name} {img_name}: {v}");
        assert_matches(&v["results"][0]["predictions"], &cls, &want, BATCH_TOL);
    }
    // Batching happened: some forward pass saw more than one image.
    let m = client.get(srv.url("/metrics")).body_text().await;
    let metric = |name: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{m}"))
    };
    let (sum, count) = (
        metric("vladapt_batch_size_sum"),
        metric("vladapt_batch_size_count"),
    );
    assert!(
        sum > count,
        "no batch larger than one image: sum {sum}, count {count}"
    );

    // Several images in one request come back in order.
    let form = reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(image("img0_32x32.png")).file_name("a.png"),
        )
        .part(
            "image",
            reqwest::multipart::Part::bytes(image("img3_32x32.png")).file_name("b.png"),
        )
        .text("adapter", "cars-maple");
    let v: serde_json::Value = client
        .post(srv.url("/v1/classify"))
        .multipart(form)
        .body_json()
        .await;
    assert_eq!(v["results"][0]["image"], "a.png");
    assert_eq!(v["results"][1]["image"], "b.png");
    assert_matches(
        &v["results"][0]["predictions"],
        &classes(CARS),
        &reference_adapter(&pipe, &runs[5].1, &image("img0_32x32.png")),
        BATCH_TOL,
    );
    assert_matches(
        &v["results"][1]["predictions"],
        &classes(CARS),
        &reference_adapter(&pipe, &runs[5].1, &image("img3_32x32.png")),
        BATCH_TOL,
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_shot_on_the_fly_and_openai_embeddings() {
    let pipe = pipe();
    let srv = start(config()).await;
    let client = reqwest::Client::new();
    let img = image("img2_32x32.png");

    // No default classes: a request without classes is a clear 400.
    let r = client
        .post(srv.url("/v1/classify"))
        .body(img.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("classes"),
        "{e}"
    );

    // Classes and an ensemble of templates in the request.
    let cls = classes(&["a red square", "a blue circle", "a green triangle"]);
    let templates = vec!["a photo of {}.".to_string(), "a drawing of {}.".to_string()];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&img);
    let v: serde_json::Value = client
        .post(srv.url("/v1/classify"))
        .json(
            &serde_json::json!({"image": b64, "classes": cls, "templates": templates, "top_k": 2}),
        )
        .body_json()
        .await;
    assert_eq!(v["method"], "zeroshot");
    assert!(v["adapter"].is_null());
    let preds = by_class(&v["results"][0]["predictions"]);
    assert_eq!(preds.len(), 2, "top_k 2");
    let want = reference_zero_shot(&pipe, &cls, &templates, &img);
    for (c, p) in preds {
        let i = cls.iter().position(|x| *x == c).unwrap();
        assert!((p - want[i]).abs() <= 1e-6, "{c}: {p} vs {}", want[i]);
    }

    // Embeddings: texts and an image, OpenAI shape, equal to the pipeline's.
    let texts = vec!["a photo of a cat".to_string(), "a dog".to_string()];
    let v: serde_json::Value = client
        .post(srv.url("/v1/embeddings"))
        .json(&serde_json::json!({"model": "vladapt", "input": [texts[0], format!("data:image/png;base64,{b64}"), texts[1]]}))
        .body_json()
        .await;
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let want_t = pipe.embed_texts(&texts, 8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.png");
    std::fs::write(&p, &img).unwrap();
    let want_i = pipe.embed_images(&[p], 8).unwrap();
    for (d, want) in data.iter().zip([&want_t[0], &want_i[0], &want_t[1]]) {
        let got: Vec<f32> = d["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), want.len());
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        for (a, b) in got.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
    assert_eq!(data[1]["index"], 1);
    // A single string; a bad modality; an unknown adapter as model.
    let v: serde_json::Value = client
        .post(srv.url("/v1/embeddings"))
        .json(&serde_json::json!({"input": "a cat"}))
        .body_json()
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let r = client
        .post(srv.url("/v1/embeddings"))
        .json(&serde_json::json!({"input": "x", "modality": "audio"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(srv.url("/v1/embeddings"))
        .json(&serde_json::json!({"input": "x", "model": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_hot_load_unload_discovery_refusal_and_lru_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let pipe = pipe();
    let a = adapter(&pipe, tmp.path(), "a", coop(), PETS);
    adapter(&pipe, tmp.path(), "b", coop(), CARS);
    adapter(&pipe, tmp.path(), "c", coop(), PETS);
    // A run for another base model: same files, another fingerprint.
    let other = adapter(&pipe, tmp.path(), "other-base", coop(), PETS);
    let cfg_path = other.join("adapter_config.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    j["base_model_fingerprint"] = "0123456789abcdef".into();
    std::fs::write(&cfg_path, j.to_string()).unwrap();
    // A half-written run (no config yet) is not registered.
    std::fs::create_dir_all(tmp.path().join("partial")).unwrap();
    std::fs::copy(
        a.join("adapter.safetensors"),
        tmp.path().join("partial/adapter.safetensors"),
    )
    .unwrap();

    let mut cfg = config();
    cfg.adapters_dir = Some(tmp.path().to_path_buf());
    cfg.limits.max_loaded = 2;
    let srv = start(cfg).await;
    let client = reqwest::Client::new();
    let list = || async {
        let v: serde_json::Value = client.get(srv.url("/v1/adapters")).body_json().await;
        v["adapters"].as_array().unwrap().clone()
    };
    let find = |l: &[serde_json::Value], n: &str| l.iter().find(|x| x["name"] == n).cloned();

    let l = list().await;
    let names: Vec<&str> = l.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c", "other-base"]);
    assert!(
        l.iter().all(|x| x["loaded"] == false),
        "lazy: nothing loaded yet"
    );
    let o = find(&l, "other-base").unwrap();
    assert_eq!(o["state"], "refused");
    assert!(
        o["reason"].as_str().unwrap().contains("another base model"),
        "{o}"
    );
    assert_eq!(find(&l, "a").unwrap()["state"], "available");

    // The refused run answers 409 with the reason; the others still serve.
    let r = client
        .post(srv.url("/v1/classify?adapter=other-base"))
        .body(image("img0_32x32.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fingerprint"),
        "{e}"
    );
    let r = client
        .post(srv.url("/v1/classify?adapter=ghost"))
        .body(image("img0_32x32.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Lazy load on first use.
    let r = client
        .post(srv.url("/v1/classify?adapter=a"))
        .body(image("img0_32x32.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(find(&list().await, "a").unwrap()["loaded"], true);
    // Explicit load, then the LRU (max 2) unloads the least recently used.
    let r = client
        .post(srv.url("/v1/adapters/b/load"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["loaded"], true);
    assert!(v["bytes"].as_u64().unwrap() > 0);
    client
        .post(srv.url("/v1/adapters/c/load"))
        .send()
        .await
        .unwrap();
    let l = list().await;
    let loaded: Vec<&str> = l
        .iter()
        .filter(|x| x["loaded"] == true)
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, ["b", "c"], "a was least recently used");
    // Unload.
    let r = client
        .delete(srv.url("/v1/adapters/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["unloaded"], true);
    assert_eq!(find(&list().await, "b").unwrap()["loaded"], false);
    let v: serde_json::Value = client.delete(srv.url("/v1/adapters/b")).body_json().await;
    assert_eq!(v["unloaded"], false);
    assert_eq!(
        client
            .delete(srv.url("/v1/adapters/ghost"))
            .status_code()
            .await,
        404
    );

    // A run dropped into the directory while serving is found by the first request naming it.
    let new = adapter(&pipe, tmp.path(), "new-run", coop(), CARS);
    let img = image("odd_100x64.png");
    let v: serde_json::Value = client
        .post(srv.url("/v1/classify?adapter=new-run&top_k=9"))
        .body(img.clone())
        .body_json()
        .await;
    assert_matches(
        &v["results"][0]["predictions"],
        &classes(CARS),
        &reference_adapter(&pipe, &new, &img),
        1e-6,
    );
    assert!(find(&list().await, "new-run").is_some());

    // An adapter re-targeted to other classes (CoOp's context with new class names).
    let v: serde_json::Value = client
        .post(srv.url("/v1/classify"))
        .json(&serde_json::json!({"image": base64::engine::general_purpose::STANDARD.encode(&img), "adapter": "a", "classes": ["lion", "tiger"]}))
        .body_json()
        .await;
    let got: Vec<String> = by_class(&v["results"][0]["predictions"])
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&"lion".to_string()) && got.contains(&"tiger".to_string()));

    // Cache counters moved.
    let m = client.get(srv.url("/metrics")).body_text().await;
    for name in [
        "vladapt_head_cache_hits_total",
        "vladapt_head_cache_misses_total",
        "vladapt_head_evictions_total",
        "vladapt_adapters_loaded",
        "vladapt_queue_depth",
        "vladapt_http_request_duration_seconds_bucket",
        "vladapt_http_requests_total",
    ] {
        assert!(m.contains(name), "{name} missing:\n{m}");
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_each_is_served() {
    let mut cfg = config();
    cfg.default_classes = Some(classes(PETS));
    let srv = start(cfg).await;
    let client = reqwest::Client::new();
    let doc: serde_json::Value = client.get(srv.url("/openapi.json")).body_json().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut listed = Vec::new();
    for (p, ops) in paths {
        for m in ops.as_object().unwrap().keys() {
            listed.push((m.clone(), p.clone()));
        }
    }
    listed.sort();
    let mut want: Vec<(String, String)> = vladapt_serve::openapi::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    want.sort();
    assert_eq!(listed, want);
    for (m, p) in &want {
        let url = srv.url(&p.replace("{name}", "nope"));
        let r = match m.as_str() {
            "get" => client.get(url),
            "post" => client.post(url),
            _ => client.delete(url),
        }
        .send()
        .await
        .unwrap();
        let body = r.text().await.unwrap();
        // Every documented route exists: anything but the router's "no route" answer.
        assert!(!body.contains("no route"), "{m} {p}: {body}");
    }
    let h: serde_json::Value = client.get(srv.url("/health")).body_json().await;
    assert_eq!(h["method"], "zeroshot");
    assert_eq!(h["classes"], serde_json::json!(PETS));
    let r: serde_json::Value = client.get(srv.url("/ready")).body_json().await;
    assert_eq!(r["ready"], true);
    let page = client.get(srv.url("/")).body_text().await;
    assert!(page.contains("<title>vladapt</title>") && page.contains("/v1/classify"));
    srv.shutdown().await;
}
