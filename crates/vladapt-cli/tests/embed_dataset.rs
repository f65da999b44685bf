//! `vladapt embed-dataset`: N = 4 concurrent shard processes (one interrupted and one killed,
//! both restarted) merge to the same bytes as one process; resumption skips finished parts;
//! failures go to the error file; merge/verify catch missing parts and mismatched settings.
//! `vladapt eval --shard` results merge to the unsharded evaluation.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vladapt_table::{arrow_array, half};

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn tiny_model() -> String {
    s(&fixtures().join("models/tiny-hf"))
}

/// `n` small PNGs of varied size and colour, one corrupt file and one missing file, listed in a
/// CSV manifest with ids and labels.
fn make_manifest(dir: &Path, n: usize) -> PathBuf {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    let mut csv = String::from("id,path,label\n");
    for i in 0..n {
        let (w, h) = (20 + (i * 7) % 30, 18 + (i * 5) % 25);
        let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            image::Rgb([
                (x * 9 + i as u32 * 31) as u8,
                (y * 7 + i as u32 * 17) as u8,
                ((x + y) * 3 + i as u32 * 5) as u8,
            ])
        });
        let name = format!("img/{i:03}.png");
        img.save(dir.join(&name)).unwrap();
        csv.push_str(&format!("item-{i},{name},{}\n", i % 3));
    }
    std::fs::write(dir.join("img/corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    csv.push_str("bad-1,img/corrupt.png,0\n");
    csv.push_str("bad-2,img/missing.png,1\n");
    let m = dir.join("manifest.csv");
    std::fs::write(&m, csv).unwrap();
    m
}

fn run_args(manifest: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "embed-dataset",
        "run",
        "--model",
        &tiny_model(),
        "--manifest",
        &s(manifest),
        "--out",
        &s(out),
        "--batch-size",
        "2",
        "--part-size",
        "4",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    v.extend(extra.iter().map(|x| x.to_string()));
    v
}

fn spawn(args: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args(["--log", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start vladapt")
}

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_str(stdout(o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn four_concurrent_shards_with_kill_and_resume_merge_to_the_single_process_bytes() {
    let t = TempDir::new("embed-shards");
    let m = make_manifest(t.path(), 38); // 40 rows → 10 parts of 4
    let single = t.path().join("single");
    let sharded = t.path().join("sharded");

    // One process: runs all parts and merges (with .npy).
    let a = run_args(&m, &single, &["--npy"]);
    let refs: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    let v = json(&vladapt(&refs));
    assert_eq!(v["parts"], 10);
    assert_eq!(v["images"], 38);
    assert_eq!(v["failed"], 2);
    assert_eq!(v["merged"]["rows"], 38);
    assert_eq!(v["merged"]["errors"], 2);

    // Four concurrent shards. Shard 1 stops after its first part (an interruption at a part
    // boundary); shard 2 is SIGKILLed as soon as its first part exists (mid-way, or after the
    // end when it was quicker: either way the restart must give the same bytes).
    let mut kids = Vec::new();
    for i in 0..4 {
        let shard = format!("{i}/4");
        let mut extra = vec!["--shard", shard.as_str()];
        if i == 1 {
            extra.extend(["--stop-after-parts", "1"]);
        }
        kids.push(spawn(&run_args(&m, &sharded, &extra)));
    }
    // Shard 2 owns parts [5, 7) of 10.
    let first_of_2 = sharded.join("parts/part-000005.parquet");
    let t0 = Instant::now();
    while !first_of_2.exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = kids[2].kill();
    let mut outs = Vec::new();
    for k in kids {
        outs.push(k.wait_with_output().unwrap());
    }
    assert!(outs[0].status.success(), "{}", stderr(&outs[0]));
    assert!(outs[3].status.success(), "{}", stderr(&outs[3]));
    assert!(!outs[1].status.success());
    assert!(stderr(&outs[1]).contains("stopped after 1 parts"));

    // Merging now names the missing part(s).
    let o = vladapt(&["embed-dataset", "merge", "--out", &s(&sharded)]);
    assert_one_line_error(&o, &["parts are not written yet", "part"]);

    // Shard 1 owns parts [2, 5): part 2 is done; the restart must not rewrite it.
    let part2 = sharded.join("parts/part-000002.parquet");
    let before = std::fs::metadata(&part2).unwrap().modified().unwrap();
    let bytes_before = read(&part2);
    std::thread::sleep(Duration::from_millis(20));
    let v1 = json(&vladapt(
        &run_args(&m, &sharded, &["--shard", "1/4"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    assert_eq!(v1["parts"], 3);
    assert_eq!(v1["parts_resumed"], 1);
    assert_eq!(
        std::fs::metadata(&part2).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(read(&part2), bytes_before);
    let v2 = json(&vladapt(
        &run_args(&m, &sharded, &["--shard", "2/4"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    assert_eq!(v2["parts"], 2);
    assert!(v2["parts_resumed"].as_u64().unwrap() >= 1, "{v2}");

    let mv = json(&vladapt(&[
        "embed-dataset",
        "merge",
        "--out",
        &s(&sharded),
        "--npy",
    ]));
    assert_eq!(mv["rows"], 38);
    assert_eq!(mv["errors"], 2);
    for f in [
        "embeddings.parquet",
        "errors.jsonl",
        "embeddings.npy",
        "plan.json",
    ] {
        assert_eq!(
            read(&single.join(f)),
            read(&sharded.join(f)),
            "{f} differs between 1 and 4 shards"
        );
    }
    for p in 0..10 {
        let f = format!("parts/part-{p:06}.parquet");
        assert_eq!(read(&single.join(&f)), read(&sharded.join(&f)), "{f}");
    }
    // No temp files left behind in either folder after the restarts.
    for d in [&single, &sharded] {
        for e in std::fs::read_dir(d.join("parts")).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.starts_with('.'), "stale temp file {n}");
        }
    }

    // Errors: the corrupt and the missing file, with ids and messages.
    let errs = String::from_utf8(read(&single.join("errors.jsonl"))).unwrap();
    let lines: Vec<serde_json::Value> = errs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "bad-1");
    assert_eq!(lines[0]["row"], 38);
    assert_eq!(lines[1]["id"], "bad-2");
    assert!(lines[1]["error"].as_str().unwrap().contains("missing.png"));

    // verify: merged table and parts.
    let v = json(&vladapt(&[
        "embed-dataset",
        "verify",
        "--out",
        &s(&sharded),
    ]));
    assert_eq!(v["rows"], 38);
    let v = json(&vladapt(&[
        "embed-dataset",
        "verify",
        "--out",
        &s(&sharded),
        "--parts",
    ]));
    assert_eq!(v["errors"], 2);
}

#[test]
fn rows_hold_the_embed_command_s_embeddings_and_npy_matches() {
    let t = TempDir::new("embed-values");
    let m = make_manifest(t.path(), 5);
    let out = t.path().join("out");
    let a = run_args(&m, &out, &["--npy"]);
    json(&vladapt(&a.iter().map(|x| x.as_str()).collect::<Vec<_>>()));
    // The same images through `vladapt embed` (batch of all five).
    let imgs: Vec<String> = (0..5)
        .map(|i| s(&t.path().join(format!("img/{i:03}.png"))))
        .collect();
    let mut args = vec!["embed", "--model"];
    let model = tiny_model();
    args.push(&model);
    for i in &imgs {
        args.extend(["--image", i.as_str()]);
    }
    let e = json(&vladapt(&args));
    let want: Vec<Vec<f32>> = serde_json::from_value(e["image_embeds"].clone()).unwrap();

    let reader =
        vladapt_table::parquet_io::read_batches(&out.join("embeddings.parquet"), 1024).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&reader.schema().metadata()["vladapt"]).unwrap();
    assert_eq!(meta["normalised"], "l2");
    assert_eq!(meta["dtype"], "float32");
    let table = reader.map(|b| b.unwrap()).collect::<Vec<_>>();
    use arrow_array::cast::AsArray;
    let b = &table[0];
    assert_eq!(b.num_rows(), 5);
    let ids = b.column_by_name("id").unwrap().as_string::<i32>();
    let labels = b
        .column_by_name("label")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    let emb = b.column_by_name("embedding").unwrap().as_fixed_size_list();
    let dim = emb.value_length() as usize;
    let vals = emb
        .values()
        .as_primitive::<arrow_array::types::Float32Type>()
        .values()
        .to_vec();
    for (i, w) in want.iter().enumerate() {
        assert_eq!(ids.value(i), format!("item-{i}"));
        assert_eq!(labels.value(i), (i % 3) as i64);
        let got = &vals[i * dim..(i + 1) * dim];
        let err = got
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Batches of 2 here vs one batch of 5 in `embed`: equal up to float reassociation.
        assert!(err < 1e-5, "row {i}: max |Δ| {err}");
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} norm {norm}");
    }
    // .npy: NumPy format 1.0 header, then the same float32 values in row order.
    let npy = read(&out.join("embeddings.npy"));
    assert_eq!(&npy[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let header = String::from_utf8_lossy(&npy[10..10 + hlen]).into_owned();
    assert!(header.contains(&format!("'shape': (5, {dim})")), "{header}");
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert_eq!((10 + hlen) % 64, 0);
    let body: Vec<f32> = npy[10 + hlen..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(body, vals);
}

#[test]
fn fp16_output_rounds_the_float32_values() {
    let t = TempDir::new("embed-fp16");
    let m = make_manifest(t.path(), 4);
    let (o32, o16) = (t.path().join("f32"), t.path().join("f16"));
    json(&vladapt(
        &run_args(&m, &o32, &[])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    json(&vladapt(
        &run_args(&m, &o16, &["--fp16"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    use arrow_array::cast::AsArray;
    let get = |d: &Path| {
        vladapt_table::parquet_io::read_batches(&d.join("embeddings.parquet"), 1024)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    };
    let (b32, b16) = (get(&o32), get(&o16));
    let v32 = b32
        .column_by_name("embedding")
        .unwrap()
        .as_fixed_size_list()
        .values()
        .as_primitive::<arrow_array::types::Float32Type>()
        .values()
        .to_vec();
    let v16 = b16
        .column_by_name("embedding")
        .unwrap()
        .as_fixed_size_list()
        .values()
        .as_primitive::<arrow_array::types::Float16Type>()
        .values()
        .to_vec();
    assert_eq!(v32.len(), v16.len());
    for (a, h) in v32.iter().zip(&v16) {
        assert_eq!(*h, half::f16::from_f32(*a));
    }
}

#[test]
fn settings_mismatch_and_bad_shards_are_one_line_errors() {
    let t = TempDir::new("embed-errors");
    let m = make_manifest(t.path(), 4);
    let out = t.path().join("out");
    json(&vladapt(
        &run_args(&m, &out, &["--no-merge"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    // Same folder, other part size → the plan check refuses to mix runs.
    let mut a = run_args(&m, &out, &[]);
    let i = a.iter().position(|x| x == "--part-size").unwrap();
    a[i + 1] = "6".into();
    let o = vladapt(&a.iter().map(|x| x.as_str()).collect::<Vec<_>>());
    assert_one_line_error(&o, &["plan.json", "part size", "found 4", "has 6"]);
    // Part size not a multiple of the batch size.
    let mut a = run_args(&m, &t.path().join("o2"), &[]);
    let i = a.iter().position(|x| x == "--batch-size").unwrap();
    a[i + 1] = "3".into();
    let o = vladapt(&a.iter().map(|x| x.as_str()).collect::<Vec<_>>());
    assert_one_line_error(&o, &["--part-size 4", "multiple of --batch-size 3"]);
    // Bad shard spec.
    let a = run_args(&m, &t.path().join("o3"), &["--shard", "4/4"]);
    let o = vladapt(&a.iter().map(|x| x.as_str()).collect::<Vec<_>>());
    assert_one_line_error(&o, &["shard 4/4"]);
    // --shards without a job index in the environment.
    let mut c = Command::new(env!("CARGO_BIN_EXE_vladapt"));
    c.args(["--log", "warn"])
        .args(run_args(&m, &t.path().join("o4"), &["--shards", "2"]))
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID");
    let o = c.output().unwrap();
    assert_one_line_error(&o, &["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]);
    // Kubernetes-style index from the environment.
    let mut c = Command::new(env!("CARGO_BIN_EXE_vladapt"));
    c.args(["--log", "warn"])
        .args(run_args(&m, &t.path().join("o5"), &["--shards", "2"]))
        .env("JOB_COMPLETION_INDEX", "1");
    let v = json(&c.output().unwrap());
    assert_eq!(v["shard"], "1/2");
    // Verify of a folder whose merged table is absent names the file.
    let o = vladapt(&["embed-dataset", "verify", "--out", &s(&t.path().join("o5"))]);
    assert_one_line_error(&o, &["embeddings.parquet"]);
}

/// `root/{train,val,test}/<class>/i.png`: noisy colour patches, 3 classes.
fn make_image_folder(root: &Path, test_per_class: usize) {
    let colours = [
        ("red", [200u8, 30, 30]),
        ("green", [30, 200, 30]),
        ("blue", [30, 30, 200]),
    ];
    for (split, n) in [("train", 2), ("val", 1), ("test", test_per_class)] {
        for (ci, (name, c)) in colours.iter().enumerate() {
            let d = root.join(split).join(name);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                let img = image::RgbImage::from_fn(24, 24, |x, y| {
                    let k = ((x * 31 + y * 17 + i as u32 * 13 + ci as u32 * 7) % 97) as u8;
                    image::Rgb([
                        c[0].saturating_add(k),
                        c[1].saturating_sub(k / 2),
                        c[2].wrapping_add(k / 3),
                    ])
                });
                img.save(d.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn sharded_eval_merges_to_the_unsharded_result() {
    let t = TempDir::new("eval-shards");
    let root = t.path().join("ds");
    make_image_folder(&root, 23); // 69 test images → 9 batches of 8 over 3 shards
    let run = t.path().join("run");
    let o = vladapt(&[
        "train",
        "--method",
        "zeroshot",
        "--model",
        &tiny_model(),
        "--dataset",
        "imagefolder",
        "--root",
        &s(&root),
        "--shots",
        "1",
        "--output",
        &s(&run),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval = |extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--run",
            &s(&run),
            "--dataset",
            "imagefolder",
            "--root",
            &s(&root),
            "--batch-size",
            "8",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        a.extend(extra.iter().map(|x| x.to_string()));
        json(&vladapt(&a.iter().map(|x| x.as_str()).collect::<Vec<_>>()))
    };
    let whole = eval(&[]);
    assert_eq!(whole["count"], 69);
    let mut files = Vec::new();
    let mut counts = Vec::new();
    for i in 0..3 {
        let f = t.path().join(format!("shard{i}.json"));
        let v = eval(&["--shard", &format!("{i}/3"), "--out", &s(&f)]);
        assert_eq!(v["shard"], format!("{i}/3"));
        counts.push(v["count"].as_u64().unwrap());
        files.push(s(&f));
    }
    // 9 batches of 8 (the last holds 5) cut 3/3/3: 24 + 24 + 21 images.
    assert_eq!(counts, vec![24, 24, 21]);
    let mut a = vec!["eval-merge"];
    a.extend(files.iter().map(|f| f.as_str()));
    let merged = json(&vladapt(&a));
    assert_eq!(merged, whole);
    // Accuracy from the merged counts equals the pair-wise accuracy of `vladapt train`'s own
    // test evaluation (results.json: computed from predictions, not from a confusion matrix).
    let res: serde_json::Value = serde_json::from_slice(&read(&run.join("results.json"))).unwrap();
    assert_eq!(res["base"]["count"], 69);
    let conf: Vec<Vec<u64>> = serde_json::from_value(merged["confusion"].clone()).unwrap();
    let diag: u64 = (0..3).map(|i| conf[i][i]).sum();
    assert_eq!(
        merged["accuracy"].as_f64().unwrap(),
        100.0 * diag as f64 / 69.0
    );
    let o = vladapt(&["eval-merge", &files[0], &files[2]]);
    assert_one_line_error(&o, &["shards [1] of 3 are missing"]);
    let o = vladapt(&["eval-merge", &files[0], &files[0], &files[1]]);
    assert_one_line_error(&o, &["shard 0/3 is also in"]);
}

/// Rows `(id, text, label, embedding)` of a merged text table.
fn text_table(path: &Path) -> Vec<(String, String, Option<i64>, Vec<f32>)> {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let mut out = Vec::new();
    for b in vladapt_table::parquet_io::read_batches(path, 1024).unwrap() {
        let b = b.unwrap();
        let ids = b.column_by_name("id").unwrap().as_string::<i32>();
        let texts = b.column_by_name("text").unwrap().as_string::<i32>();
        let labels = b
            .column_by_name("label")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>();
        let emb = b.column_by_name("embedding").unwrap().as_fixed_size_list();
        let d = emb.value_length() as usize;
        let vals = emb
            .values()
            .as_primitive::<arrow_array::types::Float32Type>()
            .values()
            .to_vec();
        for i in 0..b.num_rows() {
            out.push((
                ids.value(i).to_string(),
                texts.value(i).to_string(),
                (!labels.is_null(i)).then(|| labels.value(i)),
                vals[i * d..(i + 1) * d].to_vec(),
            ));
        }
    }
    out
}

#[test]
fn captions_and_class_prompts_equal_embed_text_and_shards_merge_to_the_same_bytes() {
    let t = TempDir::new("embed-texts");
    // A JSON Lines manifest with a caption column (one caption with a comma and quotes).
    let captions = [
        "a red square",
        "two \"blue\" circles, side by side",
        "a green triangle",
        "nothing at all",
        "a very small yellow star",
    ];
    let mut jsonl = String::new();
    for (i, c) in captions.iter().enumerate() {
        let row = serde_json::json!({"id": format!("c{i}"), "path": format!("img/{i}.png"), "caption": c, "label": i % 2});
        jsonl.push_str(&format!("{row}\n"));
    }
    let m = t.path().join("captions.jsonl");
    std::fs::write(&m, jsonl).unwrap();
    let names = t.path().join("classes.txt");
    std::fs::write(&names, "cat\ndog\nsea turtle\n").unwrap();
    let text_args = |out: &Path, extra: &[&str]| {
        let mut a = run_args(
            &m,
            out,
            &[
                "--no-images",
                "--text-column",
                "caption",
                "--class-prompts",
                "--classnames",
                &s(&names),
                "--template",
                "a drawing of a {}.",
            ],
        );
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let one = t.path().join("one");
    let v = json(&vladapt(
        &text_args(&one, &[])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    assert_eq!(v["texts"]["texts"], 5, "{v}");
    assert_eq!(v["texts"]["merged"]["rows"], 5, "{v}");
    assert_eq!(v["class_prompts"]["texts"], 3, "{v}");
    assert!(v.get("images").is_none(), "{v}");
    assert!(!one.join("embeddings.parquet").exists());

    // The same texts through `vladapt embed --text` (one batch).
    let prompts = [
        "a drawing of a cat.",
        "a drawing of a dog.",
        "a drawing of a sea turtle.",
    ];
    let model = tiny_model();
    let mut args = vec!["embed", "--model", model.as_str()];
    for c in captions.iter().chain(prompts.iter()) {
        args.extend(["--text", c]);
    }
    let e = json(&vladapt(&args));
    let want: Vec<Vec<f32>> = serde_json::from_value(e["text_embeds"].clone()).unwrap();
    let caps = text_table(&one.join("texts/embeddings.parquet"));
    let cls = text_table(&one.join("class_prompts/embeddings.parquet"));
    assert_eq!(caps.len(), 5);
    assert_eq!(cls.len(), 3);
    for (i, (id, text, label, emb)) in caps.iter().chain(cls.iter()).enumerate() {
        if i < 5 {
            assert_eq!(
                (id.as_str(), text.as_str()),
                (format!("c{i}").as_str(), captions[i])
            );
            assert_eq!(*label, Some((i % 2) as i64));
        } else {
            let k = i - 5;
            assert_eq!(id, ["cat", "dog", "sea turtle"][k]);
            assert_eq!(text, prompts[k]);
            assert_eq!(*label, Some(k as i64));
        }
        let err = emb
            .iter()
            .zip(&want[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "text {i}: max |Δ| {err}");
    }

    // Two concurrent shards, one stopped after its first part and resumed, then merge.
    let two = t.path().join("two");
    let kids: Vec<_> = (0..2)
        .map(|i| {
            let shard = format!("{i}/2");
            let mut extra = vec!["--shard", shard.as_str()];
            if i == 0 {
                extra.extend(["--stop-after-parts", "1"]);
            }
            spawn(&text_args(&two, &extra))
        })
        .collect();
    let outs: Vec<_> = kids
        .into_iter()
        .map(|k| k.wait_with_output().unwrap())
        .collect();
    assert!(!outs[0].status.success() && outs[1].status.success());
    let r = json(&vladapt(
        &text_args(&two, &["--shard", "0/2"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    ));
    assert_eq!(r["texts"]["parts_resumed"], 1, "{r}");
    let mv = json(&vladapt(&["embed-dataset", "merge", "--out", &s(&two)]));
    assert_eq!(mv["texts"]["rows"], 5, "{mv}");
    assert_eq!(mv["class_prompts"]["rows"], 3, "{mv}");
    for f in [
        "texts/embeddings.parquet",
        "class_prompts/embeddings.parquet",
    ] {
        assert!(read(&one.join(f)) == read(&two.join(f)), "{f} differs");
    }
    let vv = json(&vladapt(&["embed-dataset", "verify", "--out", &s(&two)]));
    assert_eq!(vv["texts"]["verified"], true);

    // A text column the manifest does not have is a one-line error naming it.
    let o = vladapt(
        &run_args(&m, &t.path().join("bad"), &["--text-column", "title"])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    );
    assert_one_line_error(&o, &["captions.jsonl", "`title`"]);
}

#[test]
fn a_repeated_id_in_a_streamed_manifest_is_caught_by_the_merge() {
    // The manifest is streamed (no per-row memory), so ids are checked where every row is
    // seen once anyway: the merge (and `verify`).
    let t = TempDir::new("embed-dup");
    let m = make_manifest(t.path(), 3);
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("item-2,", "item-0,");
    std::fs::write(&m, text).unwrap();
    let out = t.path().join("out");
    let o = vladapt(
        &run_args(&m, &out, &[])
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>(),
    );
    assert_one_line_error(&o, &["id `item-0` appears twice"]);
    let o = vladapt(&["embed-dataset", "verify", "--parts", "--out", &s(&out)]);
    assert_one_line_error(&o, &["id `item-0` appears twice"]);
}
