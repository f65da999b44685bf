//! ImageNet and its domain-generalisation targets (V2, Sketch, A, R).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::common::{sorted_images, sorted_subdirs};
use super::DatasetSource;
use crate::error::DataError;
use crate::types::{Dataset, ImageRef, Sample, Split};

const TEMPLATE: &str = "a photo of a {}.";

/// `classnames.txt`: lines `wnid class name words`, in ImageNet label order.
/// Read with [`crate::classlist::read_keyed_class_list`] (wnids unique); a line without a
/// name is an error naming it.
pub fn read_imagenet_classnames(path: &Path) -> Result<Vec<(String, String)>, DataError> {
    crate::classlist::read_keyed_class_list(path)?
        .into_iter()
        .map(|k| match k.name {
            Some(name) => Ok((k.key, name)),
            None => Err(DataError::format(
                "classnames.txt",
                path,
                format!("line {}: expected `wnid class name`", k.line),
            )),
        })
        .collect()
}

/// Find `classnames.txt`: in the dataset's own folder first, then `ROOT/imagenet/`.
fn find_classnames(
    root: &Path,
    own_dir: &Path,
    dataset: &str,
) -> Result<Vec<(String, String)>, DataError> {
    for p in [
        own_dir.join("classnames.txt"),
        root.join("imagenet").join("classnames.txt"),
    ] {
        if p.is_file() {
            return read_imagenet_classnames(&p);
        }
    }
    Err(DataError::Missing {
        dataset: dataset.into(),
        path: own_dir.join("classnames.txt"),
        layout: "ImageNet classnames.txt (lines `wnid name`, from CoOp) in the dataset folder or ROOT/imagenet/".into(),
    })
}

/// Samples from `dir/<wnid>/*` with the label given by `label_of(folder)`.
fn folder_samples(
    dir: &Path,
    folders: &[String],
    label_of: impl Fn(&str) -> Option<usize>,
) -> Result<Vec<Sample>, DataError> {
    let mut out = Vec::new();
    for f in folders {
        if let Some(label) = label_of(f) {
            for p in sorted_images(&dir.join(f))? {
                out.push(Sample {
                    image: ImageRef::File(p),
                    label,
                });
            }
        }
    }
    Ok(out)
}

fn check_not_flat(dir: &Path, dataset: &str) -> Result<Vec<String>, DataError> {
    let folders = sorted_subdirs(dir)?;
    if folders.is_empty() {
        let n = sorted_images(dir)?.len();
        return Err(DataError::format(
            "image folder",
            dir,
            format!(
                "{dataset}: no class sub-folders ({n} loose images); a flat layout gives an empty split — \
                 sort the images into one folder per wnid (e.g. with the ILSVRC valprep script)"
            ),
        ));
    }
    Ok(folders)
}

/// ImageNet: `ROOT/imagenet/images/{train,val}/<wnid>/*`, `ROOT/imagenet/classnames.txt`.
/// Labels are the sorted wnid folders; the official val set is the test set and also the val set.
#[derive(Debug, Clone, Copy)]
pub struct ImageNet;

impl DatasetSource for ImageNet {
    fn name(&self) -> &'static str {
        "ImageNet"
    }
    fn layout(&self) -> &'static str {
        "ROOT/imagenet/images/{train,val}/<wnid>/*.JPEG and ROOT/imagenet/classnames.txt"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let dir = root.join("imagenet");
        let images = dir.join("images");
        let names = find_classnames(root, &dir, "ImageNet")?;
        let name_of: HashMap<&str, &str> = names
            .iter()
            .map(|(w, n)| (w.as_str(), n.as_str()))
            .collect();
        let val_dir = images.join("val");
        super::common::require(&val_dir, "ImageNet", self.layout())?;
        let train_dir = images.join("train");
        let folders = if train_dir.is_dir() {
            check_not_flat(&train_dir, "ImageNet")?
        } else {
            check_not_flat(&val_dir, "ImageNet")?
        };
        let mut classnames = Vec::with_capacity(folders.len());
        for f in &folders {
            let n = name_of.get(f.as_str()).ok_or_else(|| {
                DataError::format(
                    "classnames.txt",
                    dir.join("classnames.txt"),
                    format!("no name for wnid folder {f}"),
                )
            })?;
            classnames.push(n.to_string());
        }
        let index: HashMap<&str, usize> = folders
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), i))
            .collect();
        let val_folders = check_not_flat(&val_dir, "ImageNet")?;
        let test = folder_samples(&val_dir, &val_folders, |f| index.get(f).copied())?;
        let train = if train_dir.is_dir() {
            folder_samples(&train_dir, &folders, |f| index.get(f).copied())?
        } else {
            Vec::new()
        };
        Ok(Dataset {
            name: "ImageNet".into(),
            classnames,
            template: TEMPLATE.into(),
            split: Split {
                train,
                val: test.clone(),
                test,
            },
            root: images,
        })
    }
}

/// Which ImageNet test-only variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// ImageNetV2 matched-frequency: folders `0..999` in ImageNet label order.
    V2,
    /// ImageNet-Sketch: 1000 wnid folders.
    Sketch,
    /// ImageNet-A: 200 wnid folders, labels 0..199.
    A,
    /// ImageNet-R: 200 wnid folders, labels 0..199.
    R,
}

/// A domain-generalisation target (test split only).
#[derive(Debug, Clone, Copy)]
pub struct ImageNetVariant {
    /// Registry name.
    pub name: &'static str,
    /// Accepted aliases.
    pub aliases: &'static [&'static str],
    /// Which variant.
    pub variant: Variant,
    /// Dataset folder under ROOT.
    pub dir: &'static str,
    /// Image folder inside it.
    pub images: &'static str,
}

impl DatasetSource for ImageNetVariant {
    fn name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn layout(&self) -> &'static str {
        match self.variant {
            Variant::V2 => "ROOT/imagenetv2/imagenetv2-matched-frequency-format-val/<0..999>/* plus classnames.txt",
            Variant::Sketch => "ROOT/imagenet-sketch/images/<wnid>/* plus classnames.txt",
            Variant::A => "ROOT/imagenet-adversarial/imagenet-a/<wnid>/* plus classnames.txt",
            Variant::R => "ROOT/imagenet-rendition/imagenet-r/<wnid>/* plus classnames.txt",
        }
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let dir = root.join(self.dir);
        let images: PathBuf = dir.join(self.images);
        super::common::require(&images, self.name, self.layout())?;
        let names = find_classnames(root, &dir, self.name)?;
        let (classnames, test) = match self.variant {
            Variant::V2 => {
                let folders: Vec<String> = (0..names.len()).map(|i| i.to_string()).collect();
                let present: Vec<String> = folders
                    .into_iter()
                    .filter(|f| images.join(f).is_dir())
                    .collect();
                let test = folder_samples(&images, &present, |f| f.parse().ok())?;
                (names.into_iter().map(|(_, n)| n).collect(), test)
            }
            Variant::Sketch | Variant::A | Variant::R => {
                let name_of: HashMap<&str, &str> = names
                    .iter()
                    .map(|(w, n)| (w.as_str(), n.as_str()))
                    .collect();
                let folders = check_not_flat(&images, self.name)?;
                let mut classnames = Vec::with_capacity(folders.len());
                for f in &folders {
                    let n = name_of.get(f.as_str()).ok_or_else(|| {
                        DataError::format(
                            "classnames.txt",
                            dir.join("classnames.txt"),
                            format!("no name for wnid folder {f}"),
                        )
                    })?;
                    classnames.push(n.to_string());
                }
                let index: HashMap<&str, usize> = folders
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.as_str(), i))
                    .collect();
                let test = folder_samples(&images, &folders, |f| index.get(f).copied())?;
                (classnames, test)
            }
        };
        Ok(Dataset {
            name: self.name.into(),
            classnames,
            template: TEMPLATE.into(),
            split: Split {
                train: Vec::new(),
                val: Vec::new(),
                test,
            },
            root: images,
        })
    }
}

/// ImageNetV2 matched-frequency.
pub static IMAGENET_V2: ImageNetVariant = ImageNetVariant {
    name: "ImageNetV2",
    aliases: &["imagenet-v2"],
    variant: Variant::V2,
    dir: "imagenetv2",
    images: "imagenetv2-matched-frequency-format-val",
};
/// ImageNet-Sketch.
pub static IMAGENET_SKETCH: ImageNetVariant = ImageNetVariant {
    name: "ImageNetSketch",
    aliases: &["imagenet-sketch", "sketch"],
    variant: Variant::Sketch,
    dir: "imagenet-sketch",
    images: "images",
};
/// ImageNet-A (200 classes).
pub static IMAGENET_A: ImageNetVariant = ImageNetVariant {
    name: "ImageNetA",
    aliases: &["imagenet-a", "imagenet-adversarial"],
    variant: Variant::A,
    dir: "imagenet-adversarial",
    images: "imagenet-a",
};
/// ImageNet-R (200 classes).
pub static IMAGENET_R: ImageNetVariant = ImageNetVariant {
    name: "ImageNetR",
    aliases: &["imagenet-r", "imagenet-rendition"],
    variant: Variant::R,
    dir: "imagenet-rendition",
    images: "imagenet-r",
};
