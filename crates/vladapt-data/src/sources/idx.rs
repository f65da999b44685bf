//! `idx`: MNIST-format files in a folder (`train-images-idx3-ubyte[.gz]`, `t10k-...`).
use std::path::{Path, PathBuf};

use super::common::{carve_val, DEFAULT_SPLIT_SEED};
use super::DatasetSource;
use crate::error::DataError;
use crate::idx::{read_idx_labels, IdxImages};
use crate::types::{Dataset, ImageRef, Sample, Split};

/// The IDX source. Train/test are the official files; val is 10% of each train class (fixed seed).
/// Class names come from `ROOT/classnames.txt` (one per line) or are the label numbers.
#[derive(Debug, Clone, Copy)]
pub struct Idx;

fn find(root: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| root.join(n))
        .find(|p| p.is_file())
}

fn part(root: &Path, prefix: &str) -> Result<Vec<Sample>, DataError> {
    let layout = "ROOT/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]";
    let img_stem = format!("{prefix}-images-idx3-ubyte");
    let lab_stem = format!("{prefix}-labels-idx1-ubyte");
    let img = find(root, &img_stem).ok_or_else(|| DataError::Missing {
        dataset: "idx".into(),
        path: root.join(&img_stem),
        layout: layout.into(),
    })?;
    let lab = find(root, &lab_stem).ok_or_else(|| DataError::Missing {
        dataset: "idx".into(),
        path: root.join(&lab_stem),
        layout: layout.into(),
    })?;
    let labels = read_idx_labels(&lab)?;
    let images: std::sync::Arc<IdxImages> = crate::idx::cached_idx_images(&img)?;
    if images.count != labels.len() {
        return Err(DataError::format(
            "IDX label file",
            &lab,
            format!(
                "{} labels for {} images in {}",
                labels.len(),
                images.count,
                img.display()
            ),
        ));
    }
    Ok(labels
        .iter()
        .enumerate()
        .map(|(index, &l)| Sample {
            image: ImageRef::Idx {
                path: img.clone(),
                index,
            },
            label: l as usize,
        })
        .collect())
}

/// Load an IDX folder (see [`Idx`]).
pub fn load_idx_dir(root: &Path, name: &str) -> Result<Dataset, DataError> {
    let train_all = part(root, "train")?;
    let test = part(root, "t10k")?;
    let (train, val) = carve_val(train_all, 0.1, DEFAULT_SPLIT_SEED);
    let n = train
        .iter()
        .chain(&val)
        .chain(&test)
        .map(|s| s.label + 1)
        .max()
        .unwrap_or(0);
    let names_file = root.join("classnames.txt");
    let classnames = if names_file.is_file() {
        let v: Vec<String> = crate::classlist::read_class_list(&names_file)?
            .into_iter()
            .map(|l| l.replace('_', " "))
            .collect();
        if v.len() < n {
            return Err(DataError::format(
                "classnames.txt",
                &names_file,
                format!("{} names for {n} labels", v.len()),
            ));
        }
        v
    } else {
        (0..n).map(|i| i.to_string()).collect()
    };
    Ok(Dataset {
        name: name.into(),
        classnames,
        template: "a photo of a {}.".into(),
        split: Split { train, val, test },
        root: root.to_path_buf(),
    })
}

impl DatasetSource for Idx {
    fn name(&self) -> &'static str {
        "idx"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["mnist-idx"]
    }
    fn layout(&self) -> &'static str {
        "ROOT/train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz], optional classnames.txt"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "idx".into());
        load_idx_dir(root, &name)
    }
}
