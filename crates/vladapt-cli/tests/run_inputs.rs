//! Runs as users reuse them: `eval --run` on a run trained on a `vladapt_dataset.json` task,
//! training into a finished run with a different configuration, and a NaN in a run's adapter.
mod common;

use common::*;
use std::path::Path;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `vladapt train` CoOp on the tiny model for one epoch, with extra arguments.
fn train(task: &Path, run: &Path, seed: &str, extra: &[&str]) -> std::process::Output {
    let model = fixtures().join("models/tiny-hf");
    let mut args = vec![
        "train",
        "--model",
        model.to_str().unwrap(),
        "--method",
        "coop",
        "--dataset",
        "vladapt",
        "--root",
        task.to_str().unwrap(),
        "--shots",
        "2",
        "--seed",
        seed,
        "--set",
        "train.schedule.max_epoch=1",
        "--output",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    vladapt(&args)
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap()
}

#[test]
fn eval_of_a_run_trained_on_a_vladapt_dataset_task() {
    // Failed before: the run records the task's name (`world_cast`), which eval looked up as a
    // built-in dataset ("unknown dataset").
    let tmp = TempDir::new("eval-run");
    let task = colour_task(tmp.path());
    let run = tmp.path().join("run");
    let o = train(&task, &run, "1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = vladapt(&["eval", "--run", &s(&run), "--root", &s(&task)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    // The same adapter on the same test split gives the accuracy training recorded.
    let want = results(&run);
    assert_eq!(got["count"], 4);
    assert_eq!(got["accuracy"], want["base"]["accuracy"]);
    assert_eq!(got["per_class"], want["base"]["per_class"]);
}

#[test]
fn finished_run_with_a_different_config_is_refused_until_overwrite() {
    // Failed before: a finished run in --output printed the old run's result and exited 0.
    let tmp = TempDir::new("rerun");
    let task = colour_task(tmp.path());
    let run = tmp.path().join("run");
    let o = train(&task, &run, "1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = std::fs::read(run.join("results.json")).unwrap();

    let o = train(&task, &run, "2", &[]);
    assert_one_line_error(&o, &["seed: 1 → 2", "--overwrite", "run_config.json"]);
    let model = fixtures().join("models/tiny-hf");
    let o = vladapt(&[
        "train",
        "--model",
        &s(&model),
        "--method",
        "coop",
        "--dataset",
        "vladapt",
        "--root",
        &s(&task),
        "--shots",
        "1",
        "--seed",
        "1",
        "--set",
        "train.schedule.max_epoch=1",
        "--output",
        &s(&run),
    ]);
    assert_one_line_error(&o, &["shots: 2 → 1", "--overwrite"]);
    assert_eq!(std::fs::read(run.join("results.json")).unwrap(), first);

    let o = train(&task, &run, "2", &["--overwrite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(results(&run)["seed"], 2);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["seed"], 2);
}

/// Overwrite the first f32 of tensor `name` in a safetensors file with NaN; returns its name.
fn poison_first_tensor(path: &Path) -> String {
    let mut b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    let (name, info) = header
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, v)| *k != "__metadata__" && v["dtype"] == "F32")
        .expect("an F32 tensor");
    let start = 8 + n + info["data_offsets"][0].as_u64().unwrap() as usize;
    b[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(path, b).unwrap();
    name.clone()
}

#[test]
fn nan_in_a_run_adapter_is_refused_naming_the_tensor() {
    // Failed before: predict printed NaN% with exit 0.
    let tmp = TempDir::new("nan-adapter");
    let task = colour_task(tmp.path());
    let run = tmp.path().join("run");
    let o = train(&task, &run, "1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = fixtures().join("images/odd_57x41.png");
    let o = vladapt(&["predict", "--run", &s(&run), &s(&img)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tensor = poison_first_tensor(&run.join("adapter.safetensors"));
    let o = vladapt(&["predict", "--run", &s(&run), &s(&img)]);
    let err = assert_one_line_error(&o, &[&tensor, "adapter.safetensors"]);
    assert!(!stdout(&o).contains("NaN"), "{}", stdout(&o));
    assert!(
        err.contains("NaN") || err.contains("finite"),
        "error does not say what is wrong: {err}"
    );
}
