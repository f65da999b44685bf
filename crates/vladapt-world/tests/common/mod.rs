//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Reads every file under `root` into a map from relative path to bytes.
pub fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("readable dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, fs::read(&p).expect("readable file"));
            }
        }
    }
    out
}

/// Parses `annotations.jsonl` as generic JSON values.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .expect("jsonl readable")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid json line"))
        .collect()
}

/// Nominal colours, typed in independently of the crate's table.
pub const NOMINAL: [(&str, [u8; 3]); 10] = [
    ("red", [220, 30, 30]),
    ("green", [40, 170, 60]),
    ("blue", [40, 70, 220]),
    ("yellow", [240, 220, 40]),
    ("purple", [140, 50, 180]),
    ("orange", [250, 140, 20]),
    ("pink", [250, 130, 190]),
    ("cyan", [40, 210, 220]),
    ("white", [245, 245, 245]),
    ("black", [15, 15, 15]),
];

pub const SHAPES: [&str; 10] = [
    "circle", "square", "triangle", "star", "cross", "diamond", "hexagon", "ring", "pentagon",
    "crescent",
];

pub fn nominal(colour: &str) -> [u8; 3] {
    NOMINAL
        .iter()
        .find(|(n, _)| *n == colour)
        .map(|(_, c)| *c)
        .expect("known colour")
}
