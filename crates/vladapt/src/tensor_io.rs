//! Safetensors I/O: memory-mapped reading with shape checks, and atomic writing.
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A memory-mapped safetensors file.
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: memmap2::Mmap,
}

impl SafetensorsFile {
    /// Map `path` and validate its header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| VladaptError::io(path, e))?;
        // SAFETY: the file is opened read-only; we never mutate the mapping. A file truncated by
        // another process while mapped would fault, which is the accepted risk of mmap loaders.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| VladaptError::io(path, e))?;
        let this = Self {
            path: path.to_path_buf(),
            mmap,
        };
        this.parse()?;
        Ok(this)
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn parse(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.mmap).map_err(|e| VladaptError::Safetensors {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Names of all tensors in the file.
    pub fn names(&self) -> Result<Vec<String>> {
        Ok(self
            .parse()?
            .names()
            .into_iter()
            .map(|s| s.to_string())
            .collect())
    }

    /// Shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Result<Option<Vec<usize>>> {
        Ok(self.parse()?.tensor(name).ok().map(|t| t.shape().to_vec()))
    }

    /// Read a tensor as f32 values with its shape (F32, F16, BF16, F64 are converted).
    pub fn read_f32(&self, name: &str) -> Result<Option<(Vec<f32>, Vec<usize>)>> {
        let st = self.parse()?;
        let Ok(view) = st.tensor(name) else {
            return Ok(None);
        };
        let vals = view_to_f32(&self.path, name, &view)?;
        self.release(view.data());
        check_finite(&self.path, name, &vals)?;
        Ok(Some((vals, view.shape().to_vec())))
    }

    /// Drop the mapped pages of `bytes` (a slice of this mapping) from the resident set once
    /// their values are copied out, so that loading never holds the file's pages and the
    /// tensors in memory at the same time (the peak stays at one copy of the weights).
    fn release(&self, bytes: &[u8]) {
        #[cfg(unix)]
        {
            let offset = (bytes.as_ptr() as usize).wrapping_sub(self.mmap.as_ptr() as usize);
            if offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= self.mmap.len())
            {
                // SAFETY: a read-only file mapping that is never written: dropped pages are
                // read back from the file if they are touched again (e.g. a second read).
                let _ = unsafe {
                    self.mmap.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        offset,
                        bytes.len(),
                    )
                };
            }
        }
    }

    /// Read a tensor as i64 values (I64, I32 and U32 are accepted).
    pub fn read_i64(&self, name: &str) -> Result<Option<(Vec<i64>, Vec<usize>)>> {
        let st = self.parse()?;
        let Ok(view) = st.tensor(name) else {
            return Ok(None);
        };
        let data = view.data();
        let vals: Vec<i64> = match view.dtype() {
            Dtype::I64 => data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
            Dtype::I32 => data
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64)
                .collect(),
            Dtype::U32 => data
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64)
                .collect(),
            other => {
                return Err(VladaptError::Dtype {
                    path: self.path.clone(),
                    name: name.into(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        Ok(Some((vals, view.shape().to_vec())))
    }
}

/// Refuse NaN/±inf values (a corrupt or diverged checkpoint would otherwise print `NaN%`).
fn check_finite(path: &Path, name: &str, vals: &[f32]) -> Result<()> {
    if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
        let count = vals.iter().filter(|v| !v.is_finite()).count();
        return Err(VladaptError::NonFinite {
            path: path.to_path_buf(),
            name: name.to_string(),
            index: i,
            value: vals[i],
            count,
        });
    }
    Ok(())
}

fn view_to_f32(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Vec<f32>> {
    let data = view.data();
    let out = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        other => {
            return Err(VladaptError::Dtype {
                path: path.into(),
                name: name.into(),
                dtype: format!("{other:?}"),
            })
        }
    };
    Ok(out)
}

/// IEEE half → single conversion.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if frac == 0 {
            sign
        } else {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (frac << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (frac << 13)
    };
    f32::from_bits(bits)
}

/// A set of safetensors files (one, or the shards of an index) read by tensor name, with
/// shape checks and a record of which tensors were used.
pub struct WeightStore {
    files: Vec<SafetensorsFile>,
    location: BTreeMap<String, usize>,
    used: std::cell::RefCell<BTreeSet<String>>,
    label: PathBuf,
}

impl WeightStore {
    /// Open a single safetensors file.
    pub fn open(path: &Path) -> Result<Self> {
        Self::from_files(vec![SafetensorsFile::open(path)?], path)
    }

    /// Open the shards listed by a `model.safetensors.index.json` (`weight_map`).
    pub fn open_index(index: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(index).map_err(|e| VladaptError::io(index, e))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| VladaptError::config(index, format!("invalid JSON: {e}")))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| VladaptError::config(index, "missing object field `weight_map`"))?;
        let dir = index.parent().unwrap_or(Path::new("."));
        let mut shards: Vec<String> = map
            .values()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        shards.sort();
        shards.dedup();
        let files = shards
            .iter()
            .map(|s| SafetensorsFile::open(&dir.join(s)))
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(files, index)
    }

    fn from_files(files: Vec<SafetensorsFile>, label: &Path) -> Result<Self> {
        let mut location = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            for n in f.names()? {
                location.insert(n, i);
            }
        }
        Ok(Self {
            files,
            location,
            used: Default::default(),
            label: label.to_path_buf(),
        })
    }

    /// The path used in error messages.
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.location.contains_key(name)
    }

    /// The shape of `name` as stored (`None` when absent).
    pub fn shape(&self, name: &str) -> Result<Option<Vec<usize>>> {
        match self.location.get(name) {
            Some(&idx) => self.files[idx].shape(name),
            None => Ok(None),
        }
    }

    /// Read `name` as f32 and check its shape equals `expected`.
    pub fn get_f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let idx = *self
            .location
            .get(name)
            .ok_or_else(|| VladaptError::MissingTensor {
                path: self.label.clone(),
                name: name.to_string(),
            })?;
        let file = &self.files[idx];
        let (vals, shape) = file
            .read_f32(name)?
            .ok_or_else(|| VladaptError::MissingTensor {
                path: file.path().to_path_buf(),
                name: name.to_string(),
            })?;
        // A 0-dim scalar is accepted where a 1-element tensor is expected and vice versa.
        let same = shape == expected
            || (shape.iter().product::<usize>() == 1 && expected.iter().product::<usize>() == 1);
        if !same {
            return Err(VladaptError::ShapeMismatch {
                path: file.path().to_path_buf(),
                name: name.to_string(),
                actual: shape,
                expected: expected.to_vec(),
            });
        }
        self.used.borrow_mut().insert(name.to_string());
        Ok(vals)
    }

    /// Read a tensor with a checked shape onto `device`.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let vals = self.get_f32(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(vals, shape), device))
    }

    /// Tensors present in the files that were never read.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.location
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect()
    }
}

/// A named host tensor: `(name, shape, values)`.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Write named f32 tensors to `path` atomically (temp file in the same directory, then rename).
pub fn save_safetensors_atomic(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<()> {
    let mut bytes_store: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, shape, vals) in tensors {
        let mut b = Vec::with_capacity(vals.len() * 4);
        for v in vals {
            b.extend_from_slice(&v.to_le_bytes());
        }
        bytes_store.push((name.clone(), shape.clone(), b));
    }
    let views: Vec<(String, TensorView<'_>)> = bytes_store
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| {
                    VladaptError::serialize(format!("{}: tensor `{n}`", path.display()), e)
                })
        })
        .collect::<Result<_>>()?;
    let data = safetensors::serialize(views, metadata)
        .map_err(|e| VladaptError::serialize(path.display(), e))?;
    write_atomic(path, &data)
}

pub use crate::io::write_atomic;

/// Copy a tensor's values to the host as f32.
pub fn to_vec_f32<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        // 1.0, -2.0, 0.5, 65504 (max), smallest subnormal 2^-24
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3800), 0.5);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
