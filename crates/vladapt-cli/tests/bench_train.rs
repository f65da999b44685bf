//! `vladapt bench train` without the PyTorch reference: the JSON line parses and the timings
//! are positive.
use std::path::Path;
use std::process::Command;

#[test]
fn bench_train_prints_a_json_line_with_positive_timings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .current_dir(&root)
        .args([
            "bench",
            "train",
            "--method",
            "clip-adapter",
            "--model",
            "fixtures/models/tiny-hf",
            "--no-reference",
            "--steps",
            "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench train failed: {stderr}\n{stdout}");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in\n{stdout}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["method"], "clip-adapter");
    assert_eq!(v["bench"], "train");
    for k in ["step_ms", "epoch_s", "epoch_amortized_s", "peak_rss_mb"] {
        let x = v["ours"][k]
            .as_f64()
            .unwrap_or_else(|| panic!("ours.{k} missing in {line}"));
        assert!(x > 0.0, "ours.{k} = {x} in {line}");
    }
    assert!(v["pytorch"]["unavailable"].is_string(), "{line}");
    assert!(v["steps_per_epoch"].as_u64().unwrap() >= 1);
    assert!(stdout.contains("step ms"), "no table in\n{stdout}");
}
