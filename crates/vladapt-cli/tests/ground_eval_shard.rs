//! `vladapt ground eval --shard i/N` + `vladapt ground eval-merge` on the tiny preset: three
//! shards (run concurrently, one taking its index from `JOB_COMPLETION_INDEX`) merge to the
//! single-process table and JSON byte for byte; missing, duplicate and mismatched shards are
//! refused with a message naming them.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cmd(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vladapt"));
    c.args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID");
    c
}

fn vladapt(args: &[String]) -> Output {
    cmd(args).output().expect("run vladapt")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "unexpectedly succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

/// `ground eval` of `model` on two splits of the world `w`, batches of 2, plus `extra`.
fn eval_args(model: &Path, w: &Path, extra: &[String]) -> Vec<String> {
    let mut a = args(&["ground", "eval", "--model"]);
    a.push(s(model));
    a.extend(args(&["--split"]));
    a.push(format!("val={}", s(w)));
    a.extend(args(&["--split"]));
    a.push(format!("test={}", s(w)));
    a.extend(args(&["--batch", "2"]));
    a.extend_from_slice(extra);
    a
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn three_shards_merge_to_the_single_process_result_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let (w, m, m2) = (t.path().join("w"), t.path().join("m"), t.path().join("m2"));
    ok(&vladapt(&args(&[
        "world",
        "generate",
        "--out",
        &s(&w),
        "--n",
        "7",
        "--size",
        "96",
        "--seed",
        "5",
    ])));
    for (dir, seed) in [(&m, "1"), (&m2, "2")] {
        ok(&vladapt(&args(&[
            "ground",
            "init",
            "--preset",
            "tiny",
            "--out",
            &s(dir),
            "--seed",
            seed,
        ])));
    }
    let (one_json, one_table) = (t.path().join("one.json"), t.path().join("one.md"));
    let one_out = ok(&vladapt(&eval_args(
        &m,
        &w,
        &[
            "--json".into(),
            s(&one_json),
            "--table".into(),
            s(&one_table),
        ],
    )));
    let v: serde_json::Value = serde_json::from_slice(&read(&one_json)).unwrap();
    let n = v["splits"][0]["n"].as_u64().unwrap();
    // Enough expressions that 3 shards of 2-row batches are uneven (and none is empty).
    assert!(n >= 7, "{n} expressions");

    // Three shards at once; shard 1 takes its index from the Kubernetes variable.
    let shard_file = |i: usize| t.path().join(format!("shard{i}.json"));
    let children: Vec<_> = (0..3)
        .map(|i| {
            let extra = if i == 1 {
                vec![
                    "--shards".into(),
                    "3".into(),
                    "--out".into(),
                    s(&shard_file(i)),
                ]
            } else {
                vec![
                    "--shard".into(),
                    format!("{i}/3"),
                    "--out".into(),
                    s(&shard_file(i)),
                ]
            };
            let mut c = cmd(&eval_args(&m, &w, &extra));
            if i == 1 {
                c.env("JOB_COMPLETION_INDEX", "1");
            }
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(&c.wait_with_output().unwrap());
    }
    // Each shard holds a disjoint, contiguous, batch-aligned run of rows.
    let mut next = 0;
    for i in 0..3 {
        let v: serde_json::Value = serde_json::from_slice(&read(&shard_file(i))).unwrap();
        assert_eq!(v["shard"], format!("{i}/3"));
        let (a, b) = (
            v["splits"][0]["start"].as_u64().unwrap(),
            v["splits"][0]["end"].as_u64().unwrap(),
        );
        assert_eq!(a, next);
        assert!(a % 2 == 0 && b > a, "shard {i}: rows {a}..{b}");
        next = b;
    }
    assert_eq!(next, n);

    let (mj, mt) = (t.path().join("merged.json"), t.path().join("merged.md"));
    let merge = |files: &[PathBuf], out: bool| {
        let mut a = args(&["ground", "eval-merge"]);
        a.extend(files.iter().map(|p| s(p)));
        if out {
            a.extend(["--json".into(), s(&mj), "--table".into(), s(&mt)]);
        }
        vladapt(&a)
    };
    // Any order of the files.
    let merged_out = ok(&merge(&[shard_file(2), shard_file(0), shard_file(1)], true));
    assert_eq!(read(&mj), read(&one_json), "merged JSON differs");
    assert_eq!(read(&mt), read(&one_table), "merged table differs");
    assert_eq!(merged_out, one_out);

    // Missing, duplicate, mismatched.
    let e = fails(&merge(&[shard_file(0), shard_file(1)], false));
    assert!(e.contains("2/3") && e.contains("missing"), "{e}");
    let e = fails(&merge(
        &[shard_file(0), shard_file(1), shard_file(0)],
        false,
    ));
    assert!(e.contains("shard 0/3 is also in"), "{e}");
    let other = t.path().join("other.json");
    ok(&vladapt(&eval_args(
        &m2,
        &w,
        &["--shard".into(), "2/3".into(), "--out".into(), s(&other)],
    )));
    let e = fails(&merge(
        &[shard_file(0), shard_file(1), other.clone()],
        false,
    ));
    assert!(
        e.contains("different model") && e.contains("model files differ"),
        "{e}"
    );
    let mut batch3 = eval_args(
        &m,
        &w,
        &["--shard".into(), "2/3".into(), "--out".into(), s(&other)],
    );
    let b = batch3.iter().position(|x| x == "--batch").unwrap();
    batch3[b + 1] = "3".into();
    ok(&vladapt(&batch3));
    let e = fails(&merge(
        &[shard_file(0), shard_file(1), other.clone()],
        false,
    ));
    assert!(e.contains("--batch 2 vs 3"), "{e}");
    std::fs::write(&other, "{\"not\": \"a shard\"}").unwrap();
    let e = fails(&merge(&[shard_file(0), shard_file(1), other], false));
    assert!(e.contains("other.json") && e.contains("not a"), "{e}");

    // Bad shard requests.
    let e = fails(&vladapt(&eval_args(
        &m,
        &w,
        &[
            "--shard".into(),
            "3/3".into(),
            "--out".into(),
            s(&t.path().join("x.json")),
        ],
    )));
    assert!(e.contains("3/3"), "{e}");
    let e = fails(&vladapt(&eval_args(
        &m,
        &w,
        &[
            "--shards".into(),
            "3".into(),
            "--out".into(),
            s(&t.path().join("x.json")),
        ],
    )));
    assert!(e.contains("JOB_COMPLETION_INDEX"), "{e}");
    let e = fails(&vladapt(&eval_args(
        &m,
        &w,
        &[
            "--shard".into(),
            "0/3".into(),
            "--out".into(),
            s(&t.path().join("x.json")),
            "--json".into(),
            s(&t.path().join("y.json")),
        ],
    )));
    assert!(e.contains("eval-merge"), "{e}");
}
