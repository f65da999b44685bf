//! Grounding readers: TransVG split files made by `torch.save` (tools/fixtures/
//! build_grounding_splits.py) give the boxes TransVG's `pull_item` derives; `verify` reports
//! every problem of broken files with counts; the JSONL layout round-trips the world generator.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vladapt_data::grounding::{
    load_grounding_dir, load_grounding_jsonl, load_transvg_dataset, load_transvg_split,
    verify_grounding_jsonl, verify_transvg, GroundingSplitKind, ProblemKind,
};

mod common;
use common::TempDir;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grounding-data")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn split_files_of_every_dataset_give_transvg_boxes() {
    let root = fixtures();
    let expected = json(&root.join("expected.json"));
    let expected = expected.as_object().unwrap();
    assert_eq!(expected.len(), 9);
    for (rel, want) in expected {
        let ds = rel.split('/').next().unwrap();
        let kind = GroundingSplitKind::parse(ds).unwrap();
        assert_eq!(kind.name(), ds);
        let split = rel
            .rsplit_once('_')
            .unwrap()
            .1
            .trim_end_matches(".pth")
            .to_string();
        let got = load_transvg_dataset(&root.join("data"), &root.join("ln_data"), kind, &split)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let want = want.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{rel}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(
                g.image,
                root.join("ln_data").join(w["image"].as_str().unwrap()),
                "{rel}"
            );
            assert_eq!(g.expression, w["expression"].as_str().unwrap(), "{rel}");
            let b: Vec<f32> = w["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(g.bbox.to_vec(), b, "{rel}: {}", g.expression);
            let (iw, ih) = image::image_dimensions(&g.image).unwrap();
            assert_eq!(g.size, (iw, ih));
        }
    }
    // The COCO-based [x, y, w, h] of "the lady…" is [3.7, 2.2, 20.9, 10.5] → [3, 2, 23, 12].
    let unc = load_transvg_split(
        &root.join("data/unc/unc_train.pth"),
        &root
            .join("ln_data")
            .join(GroundingSplitKind::Unc.image_subdir()),
        GroundingSplitKind::Unc,
    )
    .unwrap();
    assert_eq!(unc[0].bbox, [3.0, 2.0, 23.0, 12.0]);
    let e = load_transvg_dataset(
        &root.join("data"),
        &root.join("ln_data"),
        GroundingSplitKind::Gref,
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("gref has no split \"test\""), "{e}");
    assert_eq!(GroundingSplitKind::GrefUmd.max_query_len(), 40);
    assert_eq!(
        GroundingSplitKind::parse("refcoco+"),
        Some(GroundingSplitKind::UncPlus)
    );
}

#[test]
fn verify_reports_every_problem_with_counts() {
    let root = fixtures();
    let want = json(&root.join("expected_bad.json"));
    for (ds, kind) in [
        ("unc", GroundingSplitKind::Unc),
        ("flickr", GroundingSplitKind::Flickr),
    ] {
        let r = verify_transvg(&root.join("data_bad"), &root.join("ln_data"), kind, None).unwrap();
        assert!(!r.is_ok());
        let counts: HashMap<String, usize> = r
            .counts()
            .into_iter()
            .map(|(k, n)| {
                (
                    serde_json::to_value(k)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    n,
                )
            })
            .collect();
        let w = want[ds].as_object().unwrap();
        for (k, n) in w {
            if k == "good" {
                let good: usize = r.files.iter().map(|f| f.samples).sum();
                assert_eq!(good as u64, n.as_u64().unwrap(), "{ds} good samples");
            } else {
                assert_eq!(
                    counts.get(k).copied().unwrap_or(0) as u64,
                    n.as_u64().unwrap(),
                    "{ds} {k}: {counts:?}"
                );
            }
        }
        assert_eq!(counts.len(), w.len() - 1, "{ds}: {counts:?}");
        let text = r.to_string();
        // Problems name the file and the sample.
        if ds == "unc" {
            assert!(
                text.contains("unc_train.pth") && text.contains("entry 1: missing image"),
                "{text}"
            );
            assert!(
                text.contains("unc_val.pth") && text.contains("holds a dict"),
                "{text}"
            );
            assert!(
                text.contains("entry 6: wrong kind of entry: a 4-tuple"),
                "{text}"
            );
            assert!(
                text.contains("entry 7") && text.contains("field bbox is a str"),
                "{text}"
            );
            assert!(text.contains("entry 3: box outside the image"), "{text}");
        }
    }
    // The loader refuses the same file, naming it and counting all problems.
    let e = load_transvg_split(
        &root.join("data_bad/unc/unc_train.pth"),
        &root
            .join("ln_data")
            .join(GroundingSplitKind::Unc.image_subdir()),
        GroundingSplitKind::Unc,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unc_train.pth")
            && e.contains("7 problem(s)")
            && e.contains("2 × missing image"),
        "{e}"
    );
    // A folder without split files: the expected layout is named.
    let e = verify_transvg(
        &root.join("ln_data"),
        &root.join("ln_data"),
        GroundingSplitKind::ReferIt,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("referit_train.pth") && e.contains("ln_data/referit/images"),
        "{e}"
    );
}

#[test]
fn non_checkpoint_and_garbage_files_are_wrong_kind_not_panics() {
    let t = TempDir::new("gbad");
    let dir = t.path().join("data/referit");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("referit_train.pth", b"not a pickle at all".to_vec()),
        ("referit_val.pth", b"\x80\x02]q\x00(".to_vec()),
        ("referit_test.pth", Vec::new()),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let r = verify_transvg(
        &t.path().join("data"),
        t.path(),
        GroundingSplitKind::ReferIt,
        None,
    )
    .unwrap();
    assert_eq!(r.files.len(), 3);
    for f in &r.files {
        assert_eq!(f.problems.len(), 1, "{f:?}");
        assert_eq!(f.problems[0].kind, ProblemKind::WrongKind);
        assert_eq!(f.problems[0].sample, "file");
    }
}

#[test]
fn jsonl_reader_checks_every_line() {
    let t = TempDir::new("gjsonl");
    let img = image::RgbImage::new(20, 10);
    std::fs::create_dir_all(t.path().join("im")).unwrap();
    img.save(t.path().join("im/a.png")).unwrap();
    let good =
        r#"{"image": "im/a.png", "expression": "the thing", "box": [1, 2, 20, 10], "id": 7}"#;
    std::fs::write(t.path().join("ok.jsonl"), format!("{good}\n\n{good}\n")).unwrap();
    let s = load_grounding_jsonl(&t.path().join("ok.jsonl"), None).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].size, s[0].bbox), ((20, 10), [1.0, 2.0, 20.0, 10.0]));
    assert_eq!(s[0].image, t.path().join("im/a.png"));
    // An explicit image root.
    let s =
        load_grounding_jsonl(&t.path().join("ok.jsonl"), Some(&t.path().join("x"))).unwrap_err();
    assert!(s.to_string().contains("missing image"), "{s}");
    let lines = [
        good,
        r#"{"image": "im/a.png", "expression": "", "box": [1, 2, 3, 4]}"#,
        r#"{"image": "im/b.png", "expression": "gone", "box": [1, 2, 3, 4]}"#,
        r#"{"image": "im/a.png", "expression": "wide", "box": [1, 2, 21, 4]}"#,
        r#"{"image": "im/a.png", "expression": "flat", "box": [5, 2, 5, 4]}"#,
        r#"{"image": "im/a.png", "box": [5, 2, 6, 4]}"#,
        r#"[1, 2, 3]"#,
    ];
    std::fs::write(t.path().join("bad.jsonl"), lines.join("\n")).unwrap();
    let r = verify_grounding_jsonl(&t.path().join("bad.jsonl"), None).unwrap();
    let kinds: Vec<(ProblemKind, usize)> = r.counts();
    assert_eq!(
        kinds,
        vec![
            (ProblemKind::WrongKind, 2),
            (ProblemKind::MissingImage, 1),
            (ProblemKind::BoxOutsideImage, 1),
            (ProblemKind::EmptyBox, 1),
            (ProblemKind::EmptyExpression, 1),
        ]
    );
    assert_eq!(r.files[0].samples, 1);
    let text = r.to_string();
    assert!(
        text.contains("line 3: missing image") && text.contains("line 7: wrong kind"),
        "{text}"
    );
    let e = load_grounding_jsonl(&t.path().join("bad.jsonl"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.jsonl") && e.contains("6 problem(s)"), "{e}");
}

#[test]
fn world_grounding_dataset_loads_with_its_boxes() {
    let t = TempDir::new("gworld");
    let opts = vladapt_world::GroundingOptions {
        images: 30,
        image_size: 64,
        ..Default::default()
    };
    let summary = vladapt_world::generate_grounding(t.path(), &opts).unwrap();
    let d = load_grounding_dir(t.path()).unwrap();
    assert_eq!(
        (d.train.len(), d.val.len(), d.test.len()),
        summary.expressions
    );
    for s in d.train.iter().chain(&d.val).chain(&d.test) {
        assert_eq!(s.size, (64, 64));
        assert!(s.bbox[2] > s.bbox[0] && s.bbox[3] > s.bbox[1] && s.bbox[2] <= 64.0);
    }
    let r = verify_grounding_jsonl(t.path(), None).unwrap();
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.files.len(), 3);
}
