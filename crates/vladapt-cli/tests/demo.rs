//! `vladapt demo --quick`: the whole pipeline (world → pretraining → base-to-novel for all six
//! methods) runs offline and writes a paper-style table; the same seed gives the same table.
use std::process::Command;

fn run_demo(out: &std::path::Path) -> String {
    run_demo_with(out, &["--quick"])
}

fn run_demo_with(out: &std::path::Path, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .arg("demo")
        .args(extra)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "demo failed: {stderr}");
    assert!(!stderr.contains("panicked"));
    std::fs::read_to_string(out.join("base2novel/results.md")).unwrap()
}

#[test]
fn quick_demo_produces_the_base_to_novel_table_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let table = run_demo(&tmp.path().join("a"));
    for m in ["zeroshot", "coop", "cocoop", "clip-adapter", "maple", "mma"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {m} |")))
            .unwrap_or_else(|| panic!("no row for {m} in\n{table}"));
        // Base, novel and HM are numbers in [0, 100].
        let cells: Vec<&str> = row.split('|').map(|c| c.trim()).collect();
        for c in &cells[2..5] {
            let v: f64 = c
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{m}: cell `{c}`"));
            assert!((0.0..=100.0).contains(&v), "{m}: {v}");
        }
    }
    // The pretrained checkpoint is in the Hugging Face layout.
    for f in [
        "config.json",
        "model.safetensors",
        "vocab.json",
        "merges.txt",
        "preprocessor_config.json",
    ] {
        assert!(
            tmp.path().join("a/pretrain/model").join(f).is_file(),
            "{f} missing"
        );
    }
    let strip = |t: &str| {
        t.lines()
            .map(|l| l.rsplitn(3, '|').nth(2).unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    let again = run_demo(&tmp.path().join("b"));
    assert_eq!(
        strip(&table),
        strip(&again),
        "same seed, different table (ignoring the timing column)"
    );
}

/// Mean (Base, Novel) of a method's row in a results.md table.
fn base_novel(table: &str, method: &str) -> (f64, f64) {
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("| {method} |")))
        .unwrap_or_else(|| panic!("no row for {method} in\n{table}"));
    let cells: Vec<f64> = row
        .split('|')
        .skip(2)
        .take(2)
        .map(|c| c.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    (cells[0], cells[1])
}

/// The full demo (about 3 minutes on 2 cores) shows real learning, as the README states:
/// zero-shot far above chance (5-way: 20 %) on base and novel classes, and every adapted method
/// above zero-shot on the base classes.
#[test]
fn full_demo_shows_learning_and_adaptation_gains() {
    let tmp = tempfile::tempdir().unwrap();
    let table = run_demo_with(&tmp.path().join("full"), &[]);
    let (zs_base, zs_novel) = base_novel(&table, "zeroshot");
    assert!(
        zs_base >= 40.0 && zs_novel >= 40.0,
        "zero-shot near chance:\n{table}"
    );
    for m in ["coop", "cocoop", "maple", "mma"] {
        let (b, _) = base_novel(&table, m);
        assert!(
            b >= zs_base + 10.0,
            "{m} base {b} vs zero-shot {zs_base}:\n{table}"
        );
    }
    let (b, _) = base_novel(&table, "clip-adapter");
    assert!(
        b > zs_base,
        "clip-adapter base {b} vs zero-shot {zs_base}:\n{table}"
    );
}
