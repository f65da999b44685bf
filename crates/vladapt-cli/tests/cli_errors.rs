//! `vladapt embed` / `classify` end to end: bad inputs fail with one clear line (no panic), and the
//! happy path matches the Python reference (fixtures/expected/tiny-hf.*).
mod common;

use common::*;
use std::path::{Path, PathBuf};
use vladapt::tensor_io::SafetensorsFile;

fn tiny_hf() -> PathBuf {
    fixtures().join("models/tiny-hf")
}

fn image(name: &str) -> String {
    fixtures()
        .join("images")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A PNG whose header claims `w`×`h` RGB pixels (the data is a token IDAT).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of a few zero bytes (stored block).
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn missing_model_dir() {
    let t = TempDir::new("missing");
    let dir = t.path().join("no-such-model");
    let o = vladapt(&["embed", "--model", &s(&dir), "--text", "hi"]);
    assert_one_line_error(&o, &["no-such-model"]);
    let o = vladapt(&[
        "classify",
        "--model",
        &s(&dir),
        "--classes",
        "a,b",
        &image("img0_32x32.png"),
    ]);
    assert_one_line_error(&o, &["no-such-model"]);
}

#[test]
fn truncated_safetensors() {
    let t = TempDir::new("trunc");
    let m = t.path().join("m");
    copy_dir(&tiny_hf(), &m);
    let f = m.join("model.safetensors");
    let len = std::fs::metadata(&f).unwrap().len();
    for keep in [len / 2, 7] {
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(keep).unwrap();
        drop(file);
        let o = vladapt(&["embed", "--model", &s(&m), "--text", "hi"]);
        assert_one_line_error(&o, &["model.safetensors"]);
    }
}

#[test]
fn config_does_not_match_weights() {
    let t = TempDir::new("mismatch");
    let m = t.path().join("m");
    copy_dir(&tiny_hf(), &m);
    let cfg = m.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["text_config"]["hidden_size"] = 24.into();
    std::fs::write(&cfg, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let o = vladapt(&["embed", "--model", &s(&m), "--text", "hi"]);
    let line = assert_one_line_error(&o, &["model.safetensors", "text_model."]);
    assert!(line.contains("24"), "{line}");

    // A config that is not JSON names the file.
    std::fs::write(&cfg, "{").unwrap();
    let o = vladapt(&["embed", "--model", &s(&m), "--text", "hi"]);
    assert_one_line_error(&o, &["config.json"]);
}

#[test]
fn duplicate_and_bom_class_names() {
    let model = s(&tiny_hf());
    let o = vladapt(&[
        "classify",
        "--model",
        &model,
        "--classes",
        "cat,dog,cat",
        &image("img1_32x32.png"),
    ]);
    assert_one_line_error(&o, &["\"cat\"", "twice"]);
    let t = TempDir::new("bom");
    let f = t.path().join("classes.txt");
    std::fs::write(&f, "\u{feff}cat\ndog\n").unwrap();
    let o = vladapt(&[
        "classify",
        "--model",
        &model,
        "--classes-file",
        &s(&f),
        "--json",
        &image("img1_32x32.png"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\u{feff}'), "BOM kept: {out}");
}

#[test]
fn no_ansi_colours_when_stderr_is_not_a_terminal() {
    // Logs at info level go to stderr, which is a pipe here.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args([
            "--log",
            "info",
            "classify",
            "--model",
            &s(&tiny_hf()),
            "--classes",
            "cat,dog",
        ])
        .arg(image("img1_32x32.png"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains('\u{1b}'),
        "ANSI escape in: {:?}",
        stderr(&o)
    );
}

#[test]
fn os_errors_are_printed_once() {
    let t = TempDir::new("os-once");
    let run = t.path().join("no-such-run");
    let o = vladapt(&["eval", "--run", &s(&run), "--root", &s(t.path())]);
    let line = assert_one_line_error(&o, &["no-such-run"]);
    assert_eq!(line.matches("os error 2").count(), 1, "{line}");
}

#[test]
fn bad_images_name_the_file() {
    let t = TempDir::new("images");
    let not_image = t.path().join("notes.png");
    std::fs::write(&not_image, "this is text, not an image\n").unwrap();
    let empty = t.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let truncated = t.path().join("truncated.png");
    let full = std::fs::read(image("img0_32x32.png")).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 3]).unwrap();
    let huge = t.path().join("huge.png");
    std::fs::write(&huge, png_header_only(30000, 30000)).unwrap();
    let model = s(&tiny_hf());
    for (p, needle) in [
        (&not_image, "notes.png"),
        (&empty, "empty.png"),
        (&truncated, "truncated.png"),
        (&huge, "huge.png"),
    ] {
        let o = vladapt(&["embed", "--model", &model, "--image", &s(p)]);
        assert_one_line_error(&o, &[needle]);
        // classify answers the good images and reports the bad one by name, exit 1.
        let good = image("img1_32x32.png");
        let o = vladapt(&[
            "classify",
            "--model",
            &model,
            "--classes",
            "cat,dog",
            "--json",
            &good,
            &s(p),
            &image("img2_32x32.png"),
        ]);
        assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.lines().any(|l| l.contains(needle)), "{err}");
        assert!(err.contains("1 of 3 images"), "{err}");
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        let answered: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["image"].as_str().unwrap())
            .collect();
        assert_eq!(answered.len(), 2, "{v}");
        assert!(answered[0].ends_with("img1_32x32.png") && answered[1].ends_with("img2_32x32.png"));
    }
    let o = vladapt(&["embed", "--model", &model, "--image", &s(&huge)]);
    assert_one_line_error(&o, &["30000"]);
}

fn reference() -> SafetensorsFile {
    SafetensorsFile::open(&fixtures().join("expected/tiny-hf.safetensors")).unwrap()
}

fn expected_json() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("expected/tiny-hf.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn embed_matches_reference() {
    let meta = expected_json();
    let texts: Vec<String> = meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let images: Vec<String> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| image(t.as_str().unwrap()))
        .collect();
    let model = s(&tiny_hf());
    let mut args: Vec<&str> = vec!["embed", "--model", &model];
    for t in &texts {
        args.extend(["--text", t.as_str()]);
    }
    for i in &images {
        args.extend(["--image", i.as_str()]);
    }
    let o = vladapt(&args);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let r = reference();
    for (key, n) in [("text_embeds", texts.len()), ("image_embeds", images.len())] {
        let (want, shape) = r.read_f32(key).unwrap().unwrap();
        assert_eq!(shape[0], n);
        let got: Vec<f32> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{key}");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let tol = 1e-5;
        assert!(worst < tol, "{key}: max |diff| {worst} ≥ {tol}");
    }
}

#[test]
fn classify_json_probabilities_and_top1() {
    let meta = expected_json();
    let texts: Vec<String> = meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    // Classes = reference texts 1..6 used verbatim as prompts through the template "{}".
    let classes: Vec<&str> = texts[1..6].iter().map(|s| s.as_str()).collect();
    assert!(classes
        .iter()
        .all(|c| !c.contains('\n') && !c.contains('_')));
    let t = TempDir::new("classify");
    let classes_file = t.path().join("classes.txt");
    std::fs::write(&classes_file, classes.join("\n")).unwrap();
    let classes_file = s(&classes_file);
    let (logits, shape) = reference().read_f32("logits_per_image").unwrap().unwrap();
    let ncols = shape[1];
    let model = s(&tiny_hf());
    let names: Vec<String> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let imgs: Vec<String> = names.iter().map(|n| image(n)).collect();
    let mut args = vec![
        "classify",
        "--model",
        &model,
        "--classes-file",
        &classes_file,
        "--template",
        "{}",
        "--json",
        "--top-k",
        "5",
    ];
    args.extend(imgs.iter().map(|s| s.as_str()));
    let o = vladapt(&args);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), imgs.len());
    for (i, r) in results.iter().enumerate() {
        let preds = r["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), classes.len());
        let sum: f64 = preds
            .iter()
            .map(|p| p["probability"].as_f64().unwrap())
            .sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "image {i}: probabilities sum to {sum}"
        );
        let row = &logits[i * ncols..(i + 1) * ncols];
        let best = (1..6).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(
            preds[0]["class"].as_str().unwrap(),
            texts[best],
            "image {} top-1",
            names[i]
        );
    }
}
