//! Core dataset types: image references, samples, splits and datasets.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vladapt_image::{ImageLimits, RgbImage};

use crate::error::DataError;

/// Where the pixels of one sample live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageRef {
    /// An encoded image file (PNG, JPEG, ...).
    File(PathBuf),
    /// Image number `index` of an IDX3 file (MNIST layout, gzip'd or not).
    Idx {
        /// The `*-images-idx3-ubyte[.gz]` file.
        path: PathBuf,
        /// Zero-based image index inside the file.
        index: usize,
    },
}

impl ImageRef {
    /// The file that holds the image.
    pub fn path(&self) -> &Path {
        match self {
            ImageRef::File(p) => p,
            ImageRef::Idx { path, .. } => path,
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRef::File(p) => write!(f, "{}", p.display()),
            ImageRef::Idx { path, index } => write!(f, "{}#{}", path.display(), index),
        }
    }
}

/// One labelled image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    /// The image.
    pub image: ImageRef,
    /// Class id, an index into [`Dataset::classnames`].
    pub label: usize,
}

/// Train / val / test lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training samples.
    pub train: Vec<Sample>,
    /// Validation samples.
    pub val: Vec<Sample>,
    /// Test samples.
    pub test: Vec<Sample>,
}

impl Split {
    /// The three lists with their names, in train/val/test order.
    pub fn parts(&self) -> [(&'static str, &Vec<Sample>); 3] {
        [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ]
    }
}

/// A loaded dataset: class names, prompt template and split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Registry name (e.g. `"OxfordPets"`) or the descriptor's name.
    pub name: String,
    /// Class names, already cleaned for prompting (underscores replaced by spaces), indexed by label.
    pub classnames: Vec<String>,
    /// Hand-crafted prompt template with one `{}` placeholder, e.g. `"a photo of a {}."`.
    pub template: String,
    /// The samples.
    pub split: Split,
    /// The folder images are resolved against.
    pub root: PathBuf,
}

impl Dataset {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classnames.len()
    }

    /// The template formatted with the name of class `label` (underscores become spaces).
    pub fn prompt(&self, label: usize) -> Option<String> {
        self.classnames
            .get(label)
            .map(|c| format_template(&self.template, c))
    }

    /// All prompts, one per class in label order.
    pub fn prompts(&self) -> Vec<String> {
        self.classnames
            .iter()
            .map(|c| format_template(&self.template, c))
            .collect()
    }
}

/// Replace the first `{}` of `template` by `classname` with `_` turned into spaces.
pub fn format_template(template: &str, classname: &str) -> String {
    let name = classname.replace('_', " ");
    if template.contains("{}") {
        template.replacen("{}", &name, 1)
    } else {
        format!("{template} {name}")
    }
}

/// Decode the image a reference points to as RGB8. IDX images (grey 28×28) are replicated to RGB.
pub fn open_rgb(image: &ImageRef, limits: &ImageLimits) -> Result<RgbImage, DataError> {
    match image {
        ImageRef::File(p) => vladapt_image::load_rgb(p, limits).map_err(|e| DataError::Image {
            image: p.display().to_string(),
            reason: e.to_string(),
        }),
        ImageRef::Idx { path, index } => {
            let file = crate::idx::cached_idx_images(path)?;
            file.rgb(*index).ok_or_else(|| DataError::Image {
                image: image.to_string(),
                reason: format!(
                    "index {index} is out of range, the file holds {} images",
                    file.count
                ),
            })
        }
    }
}
