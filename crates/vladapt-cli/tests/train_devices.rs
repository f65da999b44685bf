//! `vladapt train --devices` and `vladapt ground train --devices`: the device list is checked before any data or model is read, and
//! a bad one is refused naming the flag and the device.
use std::process::Command;

fn train_with(devices: &str) -> (bool, String) {
    let t = tempfile::tempdir().unwrap();
    let p = |n: &str| t.path().join(n).to_str().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args([
            "train",
            "--method",
            "coop",
            "--model",
            &p("no-model"),
            "--dataset",
            "vladapt",
            "--root",
            &p("no-data"),
            "--output",
            &p("run"),
            "--devices",
            devices,
        ])
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_device_lists_are_refused_naming_the_flag_and_device() {
    for (list, shown) in [
        ("cpu,tpu", "--devices: device `tpu`: unknown device"),
        ("cpu,cpu", "--devices: device `cpu`: listed twice"),
        ("cuda:x", "--devices: device `cuda:x`"),
    ] {
        let (ok, err) = train_with(list);
        assert!(!ok && err.contains(shown), "{list}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // Refused before the (missing) dataset and model are looked at.
        assert!(
            !err.contains("no-data") && !err.contains("no-model"),
            "{err}"
        );
    }
}

#[test]
fn ground_train_refuses_bad_device_lists_before_reading_data() {
    let t = tempfile::tempdir().unwrap();
    let p = |n: &str| t.path().join(n).to_str().unwrap().to_string();
    for (list, shown) in [
        ("cpu,tpu", "--devices: device `tpu`: unknown device"),
        ("cpu,cpu", "--devices: device `cpu`: listed twice"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_vladapt"))
            .args([
                "ground",
                "train",
                "--train",
                &p("no-train.jsonl"),
                "--detr",
                &p("no-detr.safetensors"),
                "--bert",
                &p("no-bert.safetensors"),
                "--preset",
                "tiny",
                "--output",
                &p("run"),
                "--devices",
                list,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(shown), "{list}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !err.contains("no-train") && !err.contains("no-detr"),
            "{err}"
        );
    }
}
