//! `vladapt ground predict --model RUN_DIR` on directories written by `vladapt ground train`
//! (TransVG and MMCA): the printed box equals the one the library's batched evaluation path
//! (`load_trained` + `EncodedSet` + `predict_boxes`, as `ground eval` runs it) gives for the same
//! sample; unfinished, inconsistent or adapter-less run directories are clear errors.
mod common;
use common::{copy_dir, fails, ok, s, vladapt_plain as vladapt};
use std::path::Path;
use vladapt::train::grounding::{load_trained, EncodedSet};
use vladapt::train::grounding_eval::predict_boxes;
use vladapt_data::grounding::load_grounding_jsonl;

#[test]
fn predict_on_transvg_and_mmca_run_dirs_matches_the_batched_library_forward() {
    let t = tempfile::tempdir().unwrap();
    let (w, m) = (t.path().join("w"), t.path().join("m"));
    ok(&vladapt(&[
        "world",
        "grounding",
        "--out",
        s(&w),
        "--images",
        "6",
        "--size",
        "96",
        "--seed",
        "5",
    ]));
    ok(&vladapt(&[
        "ground",
        "init",
        "--preset",
        "tiny",
        "--out",
        s(&m),
        "--seed",
        "2",
    ]));
    let test_split = w.join("test.jsonl");
    let samples = load_grounding_jsonl(&test_split, None).unwrap();
    let sample = samples[0].clone();
    let device = vladapt::device::parse_device("cpu").unwrap();
    for method in ["transvg", "mmca"] {
        let run = t.path().join(format!("run-{method}"));
        ok(&vladapt(&[
            "ground",
            "train",
            "--train",
            s(&w.join("train.jsonl")),
            "--model",
            s(&m),
            "--method",
            method,
            "--output",
            s(&run),
            "--set",
            "train.epochs=1",
            "--set",
            "train.augment=false",
        ]));
        let out = ok(&vladapt(&[
            "ground",
            "predict",
            "--model",
            s(&run),
            "--image",
            s(&sample.image),
            "--text",
            &sample.expression,
            "--json",
        ]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let cli: Vec<f64> = v["box_xyxy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        // The batched path of `ground eval`: canvas (cx, cy, w, h), mapped back to pixels.
        let trained = load_trained(&run, &device).unwrap();
        let data = EncodedSet::new(
            vec![sample.clone()],
            &trained.method.model_config,
            &trained.tokenizer,
        )
        .unwrap();
        let canvas = predict_boxes(&trained.method, &data, 4, &device, false).unwrap()[0];
        let want = data.prepared(0).letterbox.box_from_canvas(canvas);
        for (c, w) in cli.iter().zip(want) {
            assert!(
                (c - w as f64).abs() < 1e-3,
                "{method}: cli {cli:?} vs library {want:?}"
            );
        }
        if method == "mmca" {
            // The adapters take part: the bare TransVG forward of the same weights differs.
            let (b, _) = data.batch(&[0], &device);
            let bare = trained.method.model().unwrap().forward(&b).unwrap();
            let bare = vladapt::tensor_io::to_vec_f32(&bare);
            let diff = bare
                .iter()
                .zip(canvas)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff > 1e-6, "MMCA prediction equals plain TransVG ({diff})");
        }
    }
    let img = s(&sample.image);
    let predict = |dir: &Path| {
        vladapt(&[
            "ground",
            "predict",
            "--model",
            s(dir),
            "--image",
            img,
            "--text",
            "the red one",
        ])
    };
    // An interrupted run (no model files yet) names the resume command.
    let unfinished = t.path().join("unfinished");
    copy_dir(&t.path().join("run-mmca"), &unfinished);
    std::fs::remove_file(unfinished.join("model.safetensors")).unwrap();
    let err = fails(&predict(&unfinished));
    assert!(
        err.contains("has not finished") && err.contains("--output"),
        "{err}"
    );
    // Model files of another run: the method disagrees with run_config.json.
    let mixed = t.path().join("mixed");
    copy_dir(&t.path().join("run-transvg"), &mixed);
    std::fs::copy(
        t.path().join("run-mmca/grounding_method.json"),
        mixed.join("grounding_method.json"),
    )
    .unwrap();
    let err = fails(&predict(&mixed));
    assert!(
        err.contains("grounding_method.json") && err.contains("disagrees with run_config.json"),
        "{err}"
    );
    // An MMCA method over base-model weights: no adapters to run.
    let base = t.path().join("base");
    copy_dir(&m, &base);
    std::fs::copy(
        t.path().join("run-mmca/grounding_method.json"),
        base.join("grounding_method.json"),
    )
    .unwrap();
    let err = fails(&predict(&base));
    assert!(err.contains("none of its"), "{err}");
    // A run directory without its model config.
    let noconf = t.path().join("noconf");
    copy_dir(&t.path().join("run-mmca"), &noconf);
    std::fs::remove_file(noconf.join("grounding_config.json")).unwrap();
    let err = fails(&predict(&noconf));
    assert!(err.contains("grounding_config.json is missing"), "{err}");
}
