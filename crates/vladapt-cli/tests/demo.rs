//! `vladapt demo --quick`: the whole pipeline (world → pretraining → base-to-novel for all six
//! methods) runs offline and writes a paper-style table; the same seed gives the same table.
use std::process::Command;

fn run_demo(out: &std::path::Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_vladapt"))
        .args(["demo", "--quick", "--output"])
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
