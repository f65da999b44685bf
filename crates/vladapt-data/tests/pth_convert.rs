//! `.pth` → safetensors against files written by real `torch.save` and the safetensors that
//! Python wrote from the same tensors (fixtures/pth, made by tools/pth/make_pth_fixtures.py).

use std::path::{Path, PathBuf};

use serde_json::Value;
use vladapt_data::pickle::PickleError;
use vladapt_data::pth::{convert, Checkpoint, Format, PthError};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pth")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("vladapt-pth-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn good_files_convert_byte_identical_to_python_safetensors() {
    let m = manifest();
    let good = m["good"].as_object().unwrap();
    assert!(good.len() >= 6);
    let dir = TempDir::new("good");
    for (name, want) in good {
        let out = dir.0.join(format!("{name}.safetensors"));
        let report = convert(&fixtures().join(format!("{name}.pth")), &out, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = std::fs::read(fixtures().join(format!("{name}.safetensors"))).unwrap();
        let got = std::fs::read(&out).unwrap();
        assert!(
            got == expected,
            "{name}: converted file differs from Python's safetensors"
        );
        assert_eq!(report.tensors, strings(&want["names"]).len(), "{name}");
        assert_eq!(
            report.from_key.as_deref(),
            want["from_key"].as_str(),
            "{name}"
        );
        let mut other = report.other_keys.clone();
        let mut want_other = strings(&want["other_keys"]);
        other.sort();
        want_other.sort();
        assert_eq!(other, want_other, "{name}");
        let skipped: Vec<String> = report.skipped.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(skipped, strings(&want["skipped"]), "{name}");
        let format = if want["format"] == "legacy" {
            Format::Legacy
        } else {
            Format::Zip
        };
        assert_eq!(report.format, format, "{name}");
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn tensor_names_follow_the_checkpoint_order() {
    let m = manifest();
    for (name, want) in m["good"].as_object().unwrap() {
        let ck = Checkpoint::open(&fixtures().join(format!("{name}.pth"))).unwrap();
        let sel = vladapt_data::pth::select(&ck, None).unwrap();
        let names: Vec<String> = sel.tensors.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, strings(&want["names"]), "{name}");
    }
}

#[test]
fn explicit_key_selects_a_subtree() {
    let dir = TempDir::new("key");
    let out = dir.0.join("opt.safetensors");
    // The AdamW state of the TransVG-shaped checkpoint: exp_avg / exp_avg_sq / step per param.
    let r = convert(
        &fixtures().join("transvg.pth"),
        &out,
        Some("optimizer.state"),
    )
    .unwrap();
    assert_eq!(r.from_key.as_deref(), Some("optimizer.state"));
    assert_eq!(r.tensors, 6, "2 params x (step, exp_avg, exp_avg_sq)");
    let err = convert(&fixtures().join("transvg.pth"), &out, Some("nope")).unwrap_err();
    assert!(
        err.to_string().contains("nope") && err.to_string().contains("model"),
        "{err}"
    );
}

#[test]
fn hostile_files_are_refused_with_the_reason() {
    let m = manifest();
    let dir = TempDir::new("hostile");
    for (name, want) in m["hostile"].as_object().unwrap() {
        let out = dir.0.join(format!("{name}.safetensors"));
        let err = convert(&fixtures().join(format!("{name}.pth")), &out, None)
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted"));
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{name}.pth")),
            "{name}: error does not name the file: {msg}"
        );
        if let Some(g) = want.get("forbidden_global") {
            let g = g.as_str().unwrap();
            match &err {
                PthError::Pickle {
                    source:
                        PickleError::ForbiddenGlobal {
                            module, name: n, ..
                        },
                    ..
                } => assert_eq!(format!("{module}.{n}"), g, "{name}"),
                other => panic!("{name}: expected forbidden global {g}, got {other}"),
            }
        } else if want.get("pickle_error").is_some() {
            assert!(
                matches!(
                    err,
                    PthError::Pickle {
                        source: PickleError::Truncated { .. },
                        ..
                    }
                ),
                "{name}: {err}"
            );
        } else if let Some(k) = want.get("storage_error") {
            match &err {
                PthError::Storage { key, .. } => assert_eq!(key, k.as_str().unwrap(), "{name}"),
                other => panic!("{name}: expected a storage error, got {other}"),
            }
        } else if let Some(t) = want.get("tensor_error") {
            match &err {
                PthError::Tensor {
                    name: n, reason, ..
                } => {
                    assert_eq!(n, t.as_str().unwrap());
                    assert!(reason.contains("too large"), "{reason}");
                }
                other => panic!("{name}: expected a tensor error, got {other}"),
            }
        }
        assert!(!out.exists(), "{name}: an output file was left");
    }
}

#[test]
fn every_truncation_of_a_real_file_is_an_error_not_a_panic() {
    let dir = TempDir::new("trunc");
    for src in ["state_dict.pth", "legacy.pth", "transvg.pth"] {
        let bytes = std::fs::read(fixtures().join(src)).unwrap();
        let path = dir.0.join(src);
        let out = dir.0.join("out.safetensors");
        let step = (bytes.len() / 97).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(
                convert(&path, &out, None).is_err(),
                "{src} cut at {cut} of {} was accepted",
                bytes.len()
            );
        }
    }
}

#[test]
fn missing_and_non_checkpoint_inputs_are_named() {
    let dir = TempDir::new("misc");
    let out = dir.0.join("o.safetensors");
    let missing = dir.0.join("absent.pth");
    assert!(matches!(
        convert(&missing, &out, None),
        Err(PthError::Io { .. })
    ));
    let text = dir.0.join("notes.pth");
    std::fs::write(&text, "hello").unwrap();
    let err = convert(&text, &out, None).unwrap_err();
    assert!(
        matches!(err, PthError::NotACheckpoint { .. }) && err.to_string().contains("notes.pth"),
        "{err}"
    );
    // A pickle that is not a torch.save file (no magic number): pickle.dumps({'a': 1}).
    let plain = dir.0.join("plain.pth");
    std::fs::write(&plain, b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.").unwrap();
    let err = convert(&plain, &out, None).unwrap_err();
    assert!(matches!(err, PthError::NotACheckpoint { .. }), "{err}");
}
