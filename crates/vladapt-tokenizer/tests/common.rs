//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One fixture string with its open_clip reference results.
pub struct Case {
    pub text: String,
    pub ids: Vec<u32>,
    pub encode: Vec<u32>,
    pub decoded: String,
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture() -> Value {
    let path = crate_dir().join("../../fixtures/tokenizer/reference_ids.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

pub fn cases() -> Vec<Case> {
    fixture()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().expect("text").to_string(),
            ids: ids(&c["ids"]),
            encode: ids(&c["encode"]),
            decoded: c["decoded"].as_str().expect("decoded").to_string(),
        })
        .collect()
}

pub fn special_literal_cases() -> Vec<(String, Vec<u32>)> {
    fixture()["special_literal_cases"]
        .as_array()
        .expect("special_literal_cases")
        .iter()
        .map(|c| {
            (
                c["text"].as_str().expect("text").to_string(),
                ids(&c["encode"]),
            )
        })
        .collect()
}

/// A fresh, empty scratch directory under the system temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vladapt-tok-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Check `tok` against every fixture case; returns the descriptions of the mismatches.
pub fn mismatches(tok: &vladapt_tokenizer::ClipTokenizer, cases: &[Case]) -> Vec<String> {
    let mut bad = Vec::new();
    for c in cases {
        let got = tok.tokenize(&c.text, 77);
        if got != c.ids {
            bad.push(format!(
                "{:?}: got {:?} want {:?} (cleaned {:?})",
                c.text,
                &got[..got.len().min(12)],
                &c.ids[..c.ids.len().min(12)],
                vladapt_tokenizer::clean_text(&c.text)
            ));
        }
    }
    bad
}

pub fn write(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
