//! `vladapt ground inspect-step` against the official MMCA code (tools/fixtures/build_mmca.py,
//! `build_inspect`: the official model and loss in float64 on a PNG through the official eval
//! transform): boxes, loss terms, visual-encoder output and every gradient; the automatic
//! method choice; bad samples named.
mod common;
use common::vladapt_plain as vladapt;
#[path = "../../vladapt/tests/support/mmca_values.rs"]
mod mmca_values;
use std::path::{Path, PathBuf};
use vladapt::tensor_io::{save_safetensors_atomic, SafetensorsFile};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grounding/mmca")
}

/// A model directory with the fixture's deterministic MMCA weights (official names).
fn model_dir(dir: &Path, with_adapters: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("names.json")).unwrap())
            .unwrap();
    std::fs::write(
        dir.join("grounding_config.json"),
        serde_json::to_string_pretty(&j["config"]).unwrap(),
    )
    .unwrap();
    std::fs::copy(fixture().join("inspect/vocab.txt"), dir.join("vocab.txt")).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = j["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e[0].as_str().unwrap().to_string();
            let shape: Vec<usize> = e[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let vals = mmca_values::values(&name, &shape);
            (name, shape, vals)
        })
        .filter(|(n, _, _)| {
            with_adapters || !(n.contains("multimodal_layers") || n.contains(".text_linear_"))
        })
        .collect();
    save_safetensors_atomic(&dir.join("model.safetensors"), &tensors, None).unwrap();
}

fn samples(path: &Path, boxes: &[[f32; 4]]) {
    let req: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture().join("inspect/requests.json")).unwrap(),
    )
    .unwrap();
    let img = fixture().join("inspect/image.png");
    let mut text = String::new();
    for (i, b) in boxes.iter().enumerate() {
        let line = serde_json::json!({
            "image": img,
            "text": req["texts"][i],
            "box": b,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn read(f: &SafetensorsFile, name: &str) -> Vec<f32> {
    f.read_f32(name)
        .unwrap()
        .unwrap_or_else(|| panic!("lacks {name}"))
        .0
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn sub(v: &[f32], budget: usize) -> Vec<f32> {
    v.iter()
        .step_by(v.len().div_ceil(budget).max(1))
        .copied()
        .collect()
}

#[test]
fn inspect_step_matches_the_official_forward_backward() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("m");
    model_dir(&model, true);
    let jsonl = t.path().join("samples.jsonl");
    samples(
        &jsonl,
        &[[32.0, 64.0, 224.0, 200.0], [400.0, 8.0, 600.0, 150.0]],
    );
    let out = t.path().join("step.safetensors");
    let o = vladapt(&[
        "ground",
        "inspect-step",
        "--model",
        model.to_str().unwrap(),
        "--samples",
        jsonl.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("method mmca"),
        "auto picks MMCA for adapter weights: {stdout}"
    );
    let got = SafetensorsFile::open(&out).unwrap();
    let want = SafetensorsFile::open(&fixture().join("inspect/expected.safetensors")).unwrap();
    let d_target = max_abs(&read(&got, "target"), &read(&want, "target"));
    assert!(d_target < 1e-6, "targets differ by {d_target}");
    let d_box = max_abs(&read(&got, "boxes"), &read(&want, "boxes"));
    let mut d_loss = 0f32;
    for (a, b) in [
        ("loss/l1", "loss_l1"),
        ("loss/giou", "loss_giou"),
        ("loss/total", "loss_total"),
    ] {
        d_loss = d_loss.max(max_abs(&read(&got, a), &read(&want, b)));
    }
    let d_vis = max_abs(
        &sub(&read(&got, "visual_tokens"), 2048),
        &read(&want, "visual_tokens"),
    );
    let mut worst = (0f32, String::new());
    let mut n = 0;
    for name in want.names().unwrap() {
        let Some(p) = name.strip_prefix("grad/") else {
            continue;
        };
        let g = sub(&read(&got, &name), 64);
        let w = read(&want, &name);
        // Floored at 1e-4: analytically vanishing gradients (BERT's key biases) are round-off.
        let scale = w.iter().fold(1e-4f32, |m, v| m.max(v.abs()));
        let d = max_abs(&g, &w) / scale;
        if d > worst.0 {
            worst = (d, p.to_string());
        }
        n += 1;
    }
    let ours = got
        .names()
        .unwrap()
        .iter()
        .filter(|n| n.starts_with("grad/"))
        .count();
    assert_eq!(ours, n, "one gradient per official trainable tensor");
    eprintln!(
        "inspect-step vs official: boxes {d_box:.1e}, loss {d_loss:.1e}, visual {d_vis:.1e}, \
         {n} gradients worst {:.1e} ({})",
        worst.0, worst.1
    );
    assert!(
        d_box < 1e-5 && d_loss < 1e-5,
        "boxes {d_box}, loss {d_loss}"
    );
    assert!(d_vis < 1e-4, "visual tokens differ by {d_vis}");
    assert!(
        worst.0 < 2e-3,
        "gradient of {} differs by {} (relative)",
        worst.1,
        worst.0
    );
}

#[test]
fn inspect_step_picks_transvg_and_names_bad_samples() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("m");
    model_dir(&model, false);
    let jsonl = t.path().join("ok.jsonl");
    samples(&jsonl, &[[32.0, 64.0, 224.0, 200.0]]);
    let out = t.path().join("step.safetensors");
    let args = |j: &Path| {
        vec![
            "ground".to_string(),
            "inspect-step".into(),
            "--model".into(),
            model.to_str().unwrap().into(),
            "--samples".into(),
            j.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        vladapt(&a)
    };
    let o = run(args(&jsonl));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("method transvg"),
        "{stdout}"
    );
    let got = SafetensorsFile::open(&out).unwrap();
    assert!(got.read_f32("text_condition").unwrap().is_none());
    // A zero-area box and a box outside the image name the line.
    let bad = t.path().join("bad.jsonl");
    samples(
        &bad,
        &[[32.0, 64.0, 224.0, 200.0], [400.0, 8.0, 400.0, 150.0]],
    );
    let o = run(args(&bad));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("line 2") && err.contains("zero"),
        "{err}"
    );
    samples(&bad, &[[32.0, 64.0, 700.0, 200.0]]);
    let o = run(args(&bad));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("line 1") && err.contains("outside"),
        "{err}"
    );
    // Forcing MMCA on TransVG weights initialises the adapters and runs.
    let mut a = args(&jsonl);
    a.extend(["--method".to_string(), "official".to_string()]);
    let o = run(a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bench_train_grounding_runs_a_tiny_mmca_step() {
    // `bench train --task grounding` on the tiny shape, without the PyTorch reference.
    let o = vladapt(&[
        "bench",
        "train",
        "--task",
        "grounding",
        "--ground-preset",
        "tiny",
        "--ground-method",
        "fixed",
        "--no-reference",
        "--steps",
        "2",
        "--warmup",
        "0",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["task"], "grounding");
    assert!(v["vladapt"]["step_ms"].as_f64().unwrap() > 0.0);
    assert!(v["vladapt"]["last_loss"].as_f64().unwrap().is_finite());
}

#[test]
fn a_checkpoint_of_adapter_tensors_on_a_transvg_directory_gives_the_mmca_step() {
    // model.safetensors without adapters + a checkpoint holding only them = the MMCA model.
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("m");
    model_dir(&model, false);
    let full = t.path().join("full");
    model_dir(&full, true);
    let all = SafetensorsFile::open(&full.join("model.safetensors")).unwrap();
    let adapters: Vec<(String, Vec<usize>, Vec<f32>)> = all
        .names()
        .unwrap()
        .into_iter()
        .filter(|n| n.contains("multimodal_layers") || n.contains(".text_linear_"))
        .map(|n| {
            let (v, s) = all.read_f32(&n).unwrap().unwrap();
            (n, s, v)
        })
        .collect();
    let ckpt = t.path().join("adapters.safetensors");
    save_safetensors_atomic(&ckpt, &adapters, None).unwrap();
    let jsonl = t.path().join("samples.jsonl");
    samples(
        &jsonl,
        &[[32.0, 64.0, 224.0, 200.0], [400.0, 8.0, 600.0, 150.0]],
    );
    let out = t.path().join("step.safetensors");
    let o = vladapt(&[
        "ground",
        "inspect-step",
        "--model",
        model.to_str().unwrap(),
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--samples",
        jsonl.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("method mmca"), "{stdout}");
    let got = SafetensorsFile::open(&out).unwrap();
    let want = SafetensorsFile::open(&fixture().join("inspect/expected.safetensors")).unwrap();
    let d = max_abs(&read(&got, "boxes"), &read(&want, "boxes"));
    assert!(d < 1e-5, "boxes differ by {d}");
    // A checkpoint tensor the model does not have is named.
    let stray = t.path().join("stray.safetensors");
    save_safetensors_atomic(
        &stray,
        &[("visumodel.extra.weight".into(), vec![1], vec![0.0])],
        None,
    )
    .unwrap();
    let o = vladapt(&[
        "ground",
        "inspect-step",
        "--model",
        model.to_str().unwrap(),
        "--checkpoint",
        stray.to_str().unwrap(),
        "--samples",
        jsonl.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("visumodel.extra.weight"),
        "{err}"
    );
}
