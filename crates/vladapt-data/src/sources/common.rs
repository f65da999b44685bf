//! Helpers shared by the dataset sources: folder listing, seeded per-class splits, split JSON files.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::types::{ImageRef, Sample, Split};

/// Seed of the per-class 50/20/30 split made when a source has no split of its own.
pub const DEFAULT_SPLIT_SEED: u64 = 0;

/// File extensions treated as images when listing folders (compared lower-case).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "gif", "webp"];

/// Sorted names of the visible sub-folders of `dir`.
pub fn sorted_subdirs(dir: &Path) -> Result<Vec<String>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io("cannot list", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DataError::io("cannot list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.path().is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Sorted visible image files directly inside `dir` (by extension).
pub fn sorted_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io("cannot list", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DataError::io("cannot list", dir, e))?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !p.is_file() {
            continue;
        }
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Python's `round()` (half to even) for non-negative values, as Dassl's split code uses it.
pub fn round_half_even(x: f64) -> usize {
    let f = x.floor();
    let diff = x - f;
    let r = if (diff - 0.5).abs() < 1e-12 {
        if (f as u64) & 1 == 0 {
            f
        } else {
            f + 1.0
        }
    } else {
        x.round()
    };
    r.max(0.0) as usize
}

/// Split samples per class: shuffle each class (one ChaCha8 stream, classes in label order) and take
/// `round(n·p_train)` for train, `round(n·p_val)` for val, the rest for test — Dassl's
/// `read_and_split_data` proportions (50/20/30 by default). Order inside each part follows label order.
pub fn split_per_class(samples: Vec<Sample>, p_train: f64, p_val: f64, seed: u64) -> Split {
    let mut by_class: BTreeMap<usize, Vec<Sample>> = BTreeMap::new();
    for s in samples {
        by_class.entry(s.label).or_default().push(s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = Split::default();
    for (_, mut items) in by_class {
        items.shuffle(&mut rng);
        let n = items.len();
        let n_train = round_half_even(n as f64 * p_train).min(n);
        let n_val = round_half_even(n as f64 * p_val).min(n - n_train);
        let mut it = items.into_iter();
        split.train.extend(it.by_ref().take(n_train));
        split.val.extend(it.by_ref().take(n_val));
        split.test.extend(it);
    }
    split
}

/// Move a seeded fraction of each class of `train` into a validation list (train keeps its order).
pub fn carve_val(train: Vec<Sample>, frac: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in train.iter().enumerate() {
        by_class.entry(s.label).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut is_val = vec![false; train.len()];
    for (_, mut idx) in by_class {
        idx.shuffle(&mut rng);
        let n_val = round_half_even(idx.len() as f64 * frac);
        for &i in idx.iter().take(n_val) {
            is_val[i] = true;
        }
    }
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (s, v) in train.into_iter().zip(is_val) {
        if v {
            va.push(s)
        } else {
            tr.push(s)
        }
    }
    (tr, va)
}

/// One entry of a Dassl split file: `[relative_impath, label, classname]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitEntry(pub String, pub usize, pub String);

/// A Dassl `split_zhou_*.json` file (also used for our `split.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitFile {
    /// Training entries.
    #[serde(default)]
    pub train: Vec<SplitEntry>,
    /// Validation entries.
    #[serde(default)]
    pub val: Vec<SplitEntry>,
    /// Test entries.
    #[serde(default)]
    pub test: Vec<SplitEntry>,
}

/// Read a split file.
pub fn read_split_file(path: &Path) -> Result<SplitFile, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
    serde_json::from_str(&text).map_err(|e| DataError::format("split file", path, e.to_string()))
}

/// Convert a split file into samples whose paths are `image_root/relative_impath`, and collect the
/// class names by label (`_` → space). Every label in `0..max+1` must have a name, and one name only.
pub fn split_from_file(
    sf: &SplitFile,
    image_root: &Path,
    path: &Path,
) -> Result<(Split, Vec<String>), DataError> {
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut conv = |list: &[SplitEntry], part: &str| -> Result<Vec<Sample>, DataError> {
        let mut out = Vec::with_capacity(list.len());
        for (i, SplitEntry(rel, label, cname)) in list.iter().enumerate() {
            let cname = cname.replace('_', " ");
            match names.get(label) {
                Some(prev) if *prev != cname => {
                    return Err(DataError::format(
                        "split file",
                        path,
                        format!(
                            "{part}[{i}]: label {label} is named '{cname}' but earlier '{prev}'"
                        ),
                    ))
                }
                Some(_) => {}
                None => {
                    names.insert(*label, cname);
                }
            }
            out.push(Sample {
                image: ImageRef::File(image_root.join(rel)),
                label: *label,
            });
        }
        Ok(out)
    };
    let split = Split {
        train: conv(&sf.train, "train")?,
        val: conv(&sf.val, "val")?,
        test: conv(&sf.test, "test")?,
    };
    let n = names
        .keys()
        .next_back()
        .map(|m| m.saturating_add(1))
        .unwrap_or(0);
    // Capacity from the names found, not from the largest label (a label can be any number).
    let mut classnames = Vec::with_capacity(names.len());
    for l in 0..n {
        match names.remove(&l) {
            Some(c) => classnames.push(c),
            None => {
                return Err(DataError::format(
                    "split file",
                    path,
                    format!("label {l} never occurs (labels must be 0..{n})"),
                ))
            }
        }
    }
    Ok((split, classnames))
}

/// Build a split file from samples whose image paths lie under `image_root`.
pub fn split_file_from(
    split: &Split,
    classnames: &[String],
    image_root: &Path,
) -> Result<SplitFile, DataError> {
    let conv = |list: &[Sample]| -> Result<Vec<SplitEntry>, DataError> {
        list.iter()
            .map(|s| {
                let p = s.image.path();
                let rel = p.strip_prefix(image_root).map_err(|_| DataError::Invalid {
                    name: "image path",
                    reason: format!("{} is not under {}", p.display(), image_root.display()),
                })?;
                let name = classnames
                    .get(s.label)
                    .cloned()
                    .unwrap_or_else(|| s.label.to_string());
                Ok(SplitEntry(
                    rel.to_string_lossy().replace('\\', "/"),
                    s.label,
                    name,
                ))
            })
            .collect()
    };
    Ok(SplitFile {
        train: conv(&split.train)?,
        val: conv(&split.val)?,
        test: conv(&split.test)?,
    })
}

/// Write JSON with a trailing newline.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), DataError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| DataError::format("JSON output", path, e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| DataError::io("cannot write", path, e))
}

/// Error unless `path` exists.
pub fn require(path: &Path, dataset: &str, layout: &str) -> Result<(), DataError> {
    if path.exists() {
        Ok(())
    } else {
        Err(DataError::Missing {
            dataset: dataset.to_string(),
            path: path.to_path_buf(),
            layout: layout.to_string(),
        })
    }
}
