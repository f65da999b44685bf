//! `vladapt ground init` / `predict` end to end on the `tiny` preset, and the bad inputs of the
//! issue: empty and over-long expressions, a 1×1 image, wrong-shaped and missing tensors.
use std::path::Path;
use std::process::{Command, Output};

fn vladapt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args(args)
        .output()
        .expect("run vladapt")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn tiny_model(dir: &Path) {
    let o = vladapt(&[
        "ground",
        "init",
        "--preset",
        "tiny",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
}

fn image(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 90])
    });
    img.save(path).unwrap();
}

#[test]
fn predict_prints_a_box_inside_the_image_and_draws_it() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("m");
    tiny_model(&model);
    let img = t.path().join("a.png");
    image(&img, 300, 120);
    let drawn = t.path().join("out.png");
    let o = vladapt(&[
        "ground",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--image",
        img.to_str().unwrap(),
        "--text",
        "the red circle left of the blue square",
        "--json",
        "--draw",
        drawn.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b: Vec<f64> = v["box_xyxy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(
        b[0] <= b[2] && b[1] <= b[3] && b[2] <= 300.0 && b[3] <= 120.0 && b[0] >= 0.0,
        "{b:?}"
    );
    assert_eq!(v["truncated"], false);
    let d = image::open(&drawn).unwrap();
    assert_eq!((d.width(), d.height()), (300, 120));
    // the plain output is the same box, four numbers
    let o = vladapt(&[
        "ground",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--image",
        img.to_str().unwrap(),
        "--text",
        "the red circle left of the blue square",
    ]);
    let nums: Vec<f64> = text(&o)
        .0
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    for (a, e) in nums.iter().zip(&b) {
        assert!((a - e).abs() < 0.06, "{nums:?} vs {b:?}");
    }
}

#[test]
fn bad_inputs_are_one_line_errors_or_notes() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("m");
    tiny_model(&model);
    let m = model.to_str().unwrap();
    let one = t.path().join("one.png");
    image(&one, 1, 1);
    let o = t.path().join("one.png");
    let one_s = o.to_str().unwrap();
    // 1×1 image: resized onto the canvas, box clamped into the single pixel.
    let long = "word ".repeat(40);
    let out = vladapt(&[
        "ground", "predict", "--model", m, "--image", one_s, "--text", &long,
    ]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("truncated to the first 18"), "{err}");
    let nums: Vec<f64> = stdout
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(nums.iter().all(|v| (0.0..=1.0).contains(v)), "{nums:?}");
    for empty in ["", "   "] {
        let out = vladapt(&[
            "ground", "predict", "--model", m, "--image", one_s, "--text", empty,
        ]);
        assert!(!out.status.success());
        assert!(
            text(&out).1.contains("expression is empty"),
            "{:?}",
            text(&out)
        );
    }
    // a config that disagrees with the weights names the tensor and both shapes
    let cfg_path = model.join("grounding_config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["fusion"]["ffn"] = 65.into();
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    let out = vladapt(&[
        "ground", "predict", "--model", m, "--image", one_s, "--text", "a dog",
    ]);
    let err = text(&out).1;
    assert!(!out.status.success());
    assert!(
        err.contains("vl_transformer.encoder.layers.0.linear1.weight") && err.contains("[64, 32]"),
        "{err}"
    );
    v["fusion"]["ffn"] = 64.into();
    v["detr"]["layers"] = 3.into();
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    let out = vladapt(&[
        "ground", "predict", "--model", m, "--image", one_s, "--text", "a dog",
    ]);
    let err = text(&out).1;
    assert!(
        err.contains("missing tensor") && err.contains("visumodel.transformer.encoder.layers.2."),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bench_ground_runs_without_the_reference() {
    let o = vladapt(&[
        "bench",
        "ground",
        "--preset",
        "tiny",
        "--iters",
        "1",
        "--warmup",
        "0",
        "--no-reference",
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["vladapt"]["images_per_s"].as_f64().unwrap() > 0.0,
        "{out}"
    );
    assert!(
        v["pytorch"]["error"]
            .as_str()
            .unwrap()
            .contains("--no-reference"),
        "{out}"
    );
}

/// An official-form TransVG checkpoint (`torch.save({'model', 'epoch', 'args'})`, F16, the
/// `tiny` shapes with a 32-word vocabulary; tools/fixtures/build_grounding.py) through
/// `vladapt convert` and `vladapt ground predict --json`: the box equals the float64 PyTorch
/// reference TransVG's within 1e-4 (canvas-normalised) / 1e-4 · 128 px.
#[test]
fn predict_on_a_converted_official_checkpoint_matches_pytorch() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grounding/transvg-pth");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    let o = vladapt(&[
        "convert",
        fx.join("checkpoint.pth").to_str().unwrap(),
        dir.join("model.safetensors").to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("\"model\""), "{out}");
    for f in ["grounding_config.json", "vocab.txt"] {
        std::fs::copy(fx.join(f), dir.join(f)).unwrap();
    }
    let exp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("expected.json")).unwrap()).unwrap();
    let o = vladapt(&[
        "ground",
        "predict",
        "--model",
        dir.to_str().unwrap(),
        "--image",
        fx.join("image.png").to_str().unwrap(),
        "--text",
        exp["text"].as_str().unwrap(),
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let diff = |key: &str| -> f64 {
        let a = got[key].as_array().unwrap();
        let b = exp[key].as_array().unwrap();
        assert_eq!(a.len(), 4, "{key}");
        a.iter()
            .zip(b)
            .map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs())
            .fold(0.0, f64::max)
    };
    let dc = diff("box_canvas_cxcywh");
    let dp = diff("box_xyxy");
    eprintln!("converted TransVG: canvas box max err {dc:.2e}, pixel box max err {dp:.2e}");
    assert!(dc < 1e-4, "canvas box differs by {dc}: {out}");
    assert!(dp < 1e-4 * 128.0, "pixel box differs by {dp}: {out}");
}
