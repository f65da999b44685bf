//! Shared helpers for the integration tests: fixture paths and a minimal `.npy` reader.
#![allow(dead_code)]
use std::path::PathBuf;

/// `fixtures/image/<name>` at the workspace root.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/image")
        .join(name)
}

/// A parsed `.npy` array: shape and raw little-endian payload.
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Npy {
    /// Read a version 1/2 `.npy` file (C order only).
    pub fn read(name: &str) -> Npy {
        let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&bytes[..6], b"\x93NUMPY", "{name}: not npy");
        let (hlen, start) = if bytes[6] == 1 {
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        } else {
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        };
        let header = std::str::from_utf8(&bytes[start..start + hlen]).unwrap();
        assert!(
            header.contains("'fortran_order': False"),
            "{name}: {header}"
        );
        let descr = header
            .split("'descr': '")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        let shape_s = header
            .split("'shape': (")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        let shape = shape_s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        Npy {
            descr: descr.to_string(),
            shape,
            data: bytes[start + hlen..].to_vec(),
        }
    }

    /// Payload as `f32` (requires `<f4`).
    pub fn f32s(&self) -> Vec<f32> {
        assert_eq!(self.descr, "<f4");
        self.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Payload as `u8` (requires `|u1`).
    pub fn u8s(&self) -> Vec<u8> {
        assert_eq!(self.descr, "|u1");
        self.data.clone()
    }
}

/// Largest |a-b| expressed in 8-bit pixel levels (`|diff| * std * 255`) for CHW tensors, and the
/// fraction of values off by more than half a level.
pub fn level_error(a: &[f32], b: &[f32], std: &[f32; 3]) -> (f32, f64) {
    assert_eq!(a.len(), b.len());
    let plane = a.len() / 3;
    let mut max = 0f32;
    let mut over_half = 0usize;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = (x - y).abs() * std[i / plane] * 255.0;
        max = max.max(d);
        if d > 0.5 {
            over_half += 1;
        }
    }
    (max, over_half as f64 / a.len() as f64)
}
