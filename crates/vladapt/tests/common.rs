//! Shared helpers for the integration tests: fixture paths and reading reference tensors.
#![allow(dead_code)]
use std::path::PathBuf;
use vladapt::tensor_io::SafetensorsFile;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn read_f32(file: &SafetensorsFile, name: &str) -> (Vec<f32>, Vec<usize>) {
    file.read_f32(name)
        .unwrap()
        .unwrap_or_else(|| panic!("fixture lacks tensor {name}"))
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// max |a-b| / max(|b|_inf, tiny): relative to the reference's scale.
pub fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().map(|v| v.abs()).fold(0.0f32, f32::max).max(1e-12);
    max_abs_diff(a, b) / scale
}
