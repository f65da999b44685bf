//! `vladapt ground train` / `ground eval` and `vladapt demo grounding --quick` end to end on the
//! tiny preset: the run directory is a model directory, a finished run is refused under a
//! changed configuration unless `--overwrite`, eval writes its table, JSON and PNG sheet.
mod common;
use common::{ok, s, vladapt_plain as vladapt};

#[test]
fn train_then_eval_writes_a_model_dir_table_json_and_sheet() {
    let t = tempfile::tempdir().unwrap();
    let (w, m, run) = (t.path().join("w"), t.path().join("m"), t.path().join("run"));
    ok(&vladapt(&[
        "world",
        "generate",
        "--out",
        s(&w),
        "--n",
        "6",
        "--size",
        "128",
        "--seed",
        "3",
    ]));
    ok(&vladapt(&[
        "ground",
        "init",
        "--preset",
        "tiny",
        "--out",
        s(&m),
        "--seed",
        "1",
    ]));
    let train = |extra: &[&str]| {
        let mut a = vec![
            "ground",
            "train",
            "--train",
            s(&w),
            "--model",
            s(&m),
            "--output",
            s(&run),
            "--set",
            "train.epochs=2",
            "--set",
            "train.augment=false",
        ];
        a.extend_from_slice(extra);
        vladapt(&a)
    };
    let out = ok(&train(&["--val", s(&w)]));
    assert!(out.contains("val: Acc@0.5"), "{out}");
    for f in [
        "model.safetensors",
        "grounding_config.json",
        "vocab.txt",
        "grounding_method.json",
        "run_config.json",
        "metrics.jsonl",
        "log.txt",
        "eval.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    // The same configuration again: reused, not retrained.
    let o = train(&[]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already finished"));
    // Another configuration on the finished run: refused, naming the key and --overwrite.
    let o = train(&["--set", "train.lr.rest=0.01"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("train.lr.rest") && err.contains("--overwrite"),
        "{err}"
    );
    ok(&train(&["--set", "train.lr.rest=0.01", "--overwrite"]));
    // Bad configuration values are refused with the range, before training starts.
    let other = t.path().join("other");
    let o = vladapt(&[
        "ground",
        "train",
        "--train",
        s(&w),
        "--model",
        s(&m),
        "--output",
        s(&other),
        "--set",
        "train.batch_size=0",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("train.batch_size = 0"),
        "{err}"
    );
    assert!(!other.join("run_config.json").exists());

    let (table, json, sheet) = (
        t.path().join("t.md"),
        t.path().join("m.json"),
        t.path().join("sheet.png"),
    );
    let out = ok(&vladapt(&[
        "ground",
        "eval",
        "--model",
        s(&run),
        "--split",
        &format!("val={}", s(&w)),
        "--split",
        &format!("test={}", s(&w)),
        "--table",
        s(&table),
        "--json",
        s(&json),
        "--sheet",
        s(&sheet),
        "--sheet-size",
        "4",
    ]));
    assert!(out.starts_with("| method | val | test |"), "{out}");
    assert!(out.contains("| transvg |"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let acc = v["splits"][0]["acc_at_05"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&acc));
    assert_eq!(
        std::fs::read_to_string(&table).unwrap(),
        out.trim_end().to_string() + "\n"
    );
    let img = image::open(&sheet).unwrap();
    assert!(img.width() >= 2 * 128 && img.height() >= 2 * 128);
}

#[test]
fn quick_grounding_demo_prints_a_row_per_method() {
    let t = tempfile::tempdir().unwrap();
    let out = ok(&vladapt(&[
        "demo",
        "grounding",
        "--quick",
        "--output",
        s(&t.path().join("d")),
    ]));
    let row = out
        .lines()
        .find(|l| l.starts_with("| transvg |"))
        .unwrap_or_else(|| panic!("no transvg row in\n{out}"));
    let acc: f64 = row
        .split('|')
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&acc), "{row}");
    assert!(t.path().join("d/results.md").is_file());
    // The data is the grounding world's: one folder with train.jsonl / test.jsonl on disjoint
    // images, and within an image each expression names exactly one box (unique referents).
    let worlds: Vec<_> = std::fs::read_dir(t.path().join("d/world"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(worlds.len(), 1, "{worlds:?}");
    let read = |f: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(worlds[0].join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (train, test) = (read("train.jsonl"), read("test.jsonl"));
    assert!(!train.is_empty() && !test.is_empty());
    let images = |v: &[serde_json::Value]| -> std::collections::BTreeSet<String> {
        v.iter()
            .map(|l| l["image"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(images(&train).is_disjoint(&images(&test)));
    // 12 training and 6 test images (the quick plan), 2–4 objects each.
    assert_eq!((images(&train).len(), images(&test).len()), (12, 6));
    let mut referent = std::collections::HashMap::new();
    for l in train.iter().chain(&test) {
        let key = (l["image"].to_string(), l["expression"].to_string());
        let b = l["box"].to_string();
        assert_eq!(referent.entry(key).or_insert_with(|| b.clone()), &b, "{l}");
    }
}
