//! The CoOp/Dassl datasets that ship a frozen `split_zhou_<Name>.json`.
use std::path::Path;

use super::common::{read_split_file, split_from_file};
use super::image_folder::{load_folder_tree, FolderRules};
use super::DatasetSource;
use crate::error::DataError;
use crate::types::Dataset;

/// One Dassl dataset: `ROOT/<dir>/split_zhou_<json>.json` with image paths relative to `ROOT/<dir>/<images>`.
#[derive(Debug, Clone, Copy)]
pub struct DasslJson {
    /// Registry name.
    pub name: &'static str,
    /// Extra accepted names.
    pub aliases: &'static [&'static str],
    /// Folder under the data root (CoOp's `dataset_dir`).
    pub dir: &'static str,
    /// Image folder inside `dir` (CoOp's `image_dir`; empty = `dir` itself).
    pub images: &'static str,
    /// `<Name>` of `split_zhou_<Name>.json`.
    pub json: &'static str,
    /// CUSTOM_TEMPLATES entry.
    pub template: &'static str,
    /// When the json is missing, build a seeded 50/20/30 split from the class folders with these
    /// rules (as CoOp does for DTD, EuroSAT and Caltech101); `None` = the json is required.
    pub folder_fallback: Option<FolderRules>,
    /// Class-name replacements applied to the json's names too (idempotent).
    pub rename: &'static [(&'static str, &'static str)],
}

impl DasslJson {
    fn layout_text(&self) -> String {
        let img = if self.images.is_empty() {
            String::new()
        } else {
            format!("{}/", self.images)
        };
        format!(
            "ROOT/{}/split_zhou_{}.json and ROOT/{}/{}<relative paths from the json>",
            self.dir, self.json, self.dir, img
        )
    }
}

impl DatasetSource for DasslJson {
    fn name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn layout(&self) -> &'static str {
        "CoOp DATASETS.md layout with split_zhou_<Name>.json"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let dir = root.join(self.dir);
        let image_root = if self.images.is_empty() {
            dir.clone()
        } else {
            dir.join(self.images)
        };
        let json = dir.join(format!("split_zhou_{}.json", self.json));
        if !json.is_file() {
            if let Some(rules) = self.folder_fallback {
                if image_root.is_dir() {
                    tracing::warn!(
                        "{}: {} not found; using a seeded 50/20/30 split of {} (results will not match the frozen CoOp split)",
                        self.name,
                        json.display(),
                        image_root.display()
                    );
                    return load_folder_tree(&image_root, self.name, self.template, &rules);
                }
            }
            return Err(DataError::Missing {
                dataset: self.name.into(),
                path: json,
                layout: self.layout_text(),
            });
        }
        if !image_root.is_dir() {
            return Err(DataError::Missing {
                dataset: self.name.into(),
                path: image_root,
                layout: self.layout_text(),
            });
        }
        let sf = read_split_file(&json)?;
        let (split, mut classnames) = split_from_file(&sf, &image_root, &json)?;
        for c in classnames.iter_mut() {
            if let Some((_, n)) = self.rename.iter().find(|(f, _)| f.replace('_', " ") == *c) {
                *c = n.to_string();
            }
        }
        Ok(Dataset {
            name: self.name.into(),
            classnames,
            template: self.template.into(),
            split,
            root: image_root,
        })
    }
}

const CALTECH_RENAME: &[(&str, &str)] = &[
    ("airplanes", "airplane"),
    ("Faces", "face"),
    ("Leopards", "leopard"),
    ("Motorbikes", "motorbike"),
];

const EUROSAT_RENAME: &[(&str, &str)] = &[
    ("AnnualCrop", "Annual Crop Land"),
    ("Forest", "Forest"),
    ("HerbaceousVegetation", "Herbaceous Vegetation Land"),
    ("Highway", "Highway or Road"),
    ("Industrial", "Industrial Buildings"),
    ("Pasture", "Pasture Land"),
    ("PermanentCrop", "Permanent Crop Land"),
    ("Residential", "Residential Buildings"),
    ("River", "River"),
    ("SeaLake", "Sea or Lake"),
];

/// Caltech101 (`caltech-101/101_ObjectCategories`).
pub static CALTECH101: DasslJson = DasslJson {
    name: "Caltech101",
    aliases: &["caltech", "caltech-101"],
    dir: "caltech-101",
    images: "101_ObjectCategories",
    json: "Caltech101",
    template: "a photo of a {}.",
    folder_fallback: Some(FolderRules {
        ignore: &["BACKGROUND_Google", "Faces_easy"],
        rename: CALTECH_RENAME,
    }),
    rename: CALTECH_RENAME,
};

/// OxfordPets (`oxford_pets/images`).
pub static OXFORD_PETS: DasslJson = DasslJson {
    name: "OxfordPets",
    aliases: &["pets", "oxford_pets"],
    dir: "oxford_pets",
    images: "images",
    json: "OxfordPets",
    template: "a photo of a {}, a type of pet.",
    folder_fallback: None,
    rename: &[],
};

/// StanfordCars (`stanford_cars/`, paths like `cars_test/00001.jpg`).
pub static STANFORD_CARS: DasslJson = DasslJson {
    name: "StanfordCars",
    aliases: &["cars", "stanford_cars"],
    dir: "stanford_cars",
    images: "",
    json: "StanfordCars",
    template: "a photo of a {}.",
    folder_fallback: None,
    rename: &[],
};

/// Flowers102 (`oxford_flowers/jpg`).
pub static OXFORD_FLOWERS: DasslJson = DasslJson {
    name: "OxfordFlowers",
    aliases: &["flowers", "flowers102", "oxford_flowers"],
    dir: "oxford_flowers",
    images: "jpg",
    json: "OxfordFlowers",
    template: "a photo of a {}, a type of flower.",
    folder_fallback: None,
    rename: &[],
};

/// Food101 (`food-101/images`).
pub static FOOD101: DasslJson = DasslJson {
    name: "Food101",
    aliases: &["food", "food-101"],
    dir: "food-101",
    images: "images",
    json: "Food101",
    template: "a photo of {}, a type of food.",
    folder_fallback: None,
    rename: &[],
};

/// SUN397 (`sun397/SUN397`).
pub static SUN397: DasslJson = DasslJson {
    name: "SUN397",
    aliases: &["sun"],
    dir: "sun397",
    images: "SUN397",
    json: "SUN397",
    template: "a photo of a {}.",
    folder_fallback: None,
    rename: &[],
};

/// DTD (`dtd/images`).
pub static DTD: DasslJson = DasslJson {
    name: "DescribableTextures",
    aliases: &["dtd"],
    dir: "dtd",
    images: "images",
    json: "DescribableTextures",
    template: "{} texture.",
    folder_fallback: Some(FolderRules {
        ignore: &[],
        rename: &[],
    }),
    rename: &[],
};

/// EuroSAT (`eurosat/2750`).
pub static EUROSAT: DasslJson = DasslJson {
    name: "EuroSAT",
    aliases: &["eurosat"],
    dir: "eurosat",
    images: "2750",
    json: "EuroSAT",
    template: "a centered satellite photo of {}.",
    folder_fallback: Some(FolderRules {
        ignore: &[],
        rename: EUROSAT_RENAME,
    }),
    rename: EUROSAT_RENAME,
};

/// UCF101 middle frames (`ucf101/UCF-101-midframes`).
pub static UCF101: DasslJson = DasslJson {
    name: "UCF101",
    aliases: &["ucf"],
    dir: "ucf101",
    images: "UCF-101-midframes",
    json: "UCF101",
    template: "a photo of a person doing {}.",
    folder_fallback: None,
    rename: &[],
};
