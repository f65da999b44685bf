//! IDX (MNIST-format) image and label files, gzip'd or not, with a process-wide cache.
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use vladapt_image::RgbImage;

use crate::error::DataError;

/// All images of one IDX3 file, kept in memory (uint8, row-major).
#[derive(Debug)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` grey values.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Grey pixels of image `index`, or `None` when out of range.
    pub fn grey(&self, index: usize) -> Option<&[u8]> {
        let n = self.rows * self.cols;
        if index >= self.count {
            return None;
        }
        self.pixels.get(index * n..(index + 1) * n)
    }

    /// Image `index` replicated to RGB8.
    pub fn rgb(&self, index: usize) -> Option<RgbImage> {
        let g = self.grey(index)?;
        let mut data = Vec::with_capacity(g.len() * 3);
        for &v in g {
            data.extend_from_slice(&[v, v, v]);
        }
        RgbImage::from_raw(self.cols as u32, self.rows as u32, data)
    }
}

/// Read a whole file, transparently gunzipping when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io("cannot read", path, e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::format("gzip file", path, e.to_string()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Parse an IDX3 uint8 image file (magic 0x00000803).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let b = read_maybe_gz(path)?;
    if b.len() < 16 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != 3 {
        return Err(DataError::format(
            "IDX image file",
            path,
            "expected magic 0x00000803 (uint8, 3 dimensions)",
        ));
    }
    let (count, rows, cols) = (be_u32(&b, 4), be_u32(&b, 8), be_u32(&b, 12));
    let need = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| DataError::format("IDX image file", path, "dimensions overflow"))?;
    if b.len() - 16 != need {
        return Err(DataError::format(
            "IDX image file",
            path,
            format!(
                "header says {count}x{rows}x{cols} = {need} bytes but the file holds {}",
                b.len() - 16
            ),
        ));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: b[16..].to_vec(),
    })
}

/// Parse an IDX1 uint8 label file (magic 0x00000801).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let b = read_maybe_gz(path)?;
    if b.len() < 8 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != 1 {
        return Err(DataError::format(
            "IDX label file",
            path,
            "expected magic 0x00000801 (uint8, 1 dimension)",
        ));
    }
    let count = be_u32(&b, 4);
    if b.len() - 8 != count {
        return Err(DataError::format(
            "IDX label file",
            path,
            format!(
                "header says {count} labels but the file holds {}",
                b.len() - 8
            ),
        ));
    }
    Ok(b[8..].to_vec())
}

type Cache = Mutex<HashMap<PathBuf, Arc<IdxImages>>>;

/// IDX image file from a process-wide cache (each file is parsed once).
pub fn cached_idx_images(path: &Path) -> Result<Arc<IdxImages>, DataError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(f) = cache.lock().ok().and_then(|c| c.get(path).cloned()) {
        return Ok(f);
    }
    let f = Arc::new(read_idx_images(path)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(path.to_path_buf(), f.clone());
    }
    Ok(f)
}

/// Encode an IDX3 image file (uncompressed); used by tests and tools.
pub fn encode_idx_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for v in [count, rows, cols] {
        out.extend_from_slice(&(v as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encode an IDX1 label file (uncompressed); used by tests and tools.
pub fn encode_idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}
