//! Dataset sources and the name registry. A new source is one file implementing [`DatasetSource`]
//! plus one line in [`SOURCES`].
use std::path::Path;

use crate::error::DataError;
use crate::types::Dataset;

pub mod aircraft;
pub mod common;
pub mod csv;
pub mod dassl;
pub mod idx;
pub mod image_folder;
pub mod imagenet;
pub mod vladapt;

/// A way to turn a folder (or file) on disk into a [`Dataset`].
pub trait DatasetSource: Send + Sync {
    /// Canonical registry name.
    fn name(&self) -> &'static str;
    /// Other accepted names (matched case-insensitively, ignoring `-` and `_`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// One-line description of the expected layout, for help texts and errors.
    fn layout(&self) -> &'static str;
    /// Load the dataset found under `root`.
    fn load(&self, root: &Path) -> Result<Dataset, DataError>;
}

/// Every registered source, in [`dataset_names`] order.
pub static SOURCES: &[&dyn DatasetSource] = &[
    &imagenet::ImageNet,
    &dassl::CALTECH101,
    &dassl::OXFORD_PETS,
    &dassl::STANFORD_CARS,
    &dassl::OXFORD_FLOWERS,
    &dassl::FOOD101,
    &aircraft::FgvcAircraft,
    &dassl::SUN397,
    &dassl::DTD,
    &dassl::EUROSAT,
    &dassl::UCF101,
    &imagenet::IMAGENET_V2,
    &imagenet::IMAGENET_SKETCH,
    &imagenet::IMAGENET_A,
    &imagenet::IMAGENET_R,
    &vladapt::Fetched {
        name: "fashion-mnist",
        aliases: &["fmnist"],
    },
    &vladapt::Fetched {
        name: "animal-mnist",
        aliases: &[],
    },
    &vladapt::Fetched {
        name: "mnist",
        aliases: &[],
    },
    &vladapt::Fetched {
        name: "textile-defects",
        aliases: &["textile"],
    },
    &image_folder::ImageFolder,
    &csv::Csv,
    &idx::Idx,
    &vladapt::Vladapt,
];

const NAMES: &[&str] = &[
    "ImageNet",
    "Caltech101",
    "OxfordPets",
    "StanfordCars",
    "OxfordFlowers",
    "Food101",
    "FGVCAircraft",
    "SUN397",
    "DescribableTextures",
    "EuroSAT",
    "UCF101",
    "ImageNetV2",
    "ImageNetSketch",
    "ImageNetA",
    "ImageNetR",
    "fashion-mnist",
    "animal-mnist",
    "mnist",
    "textile-defects",
    "imagefolder",
    "csv",
    "idx",
    "vladapt",
];

/// Canonical names of all registered datasets and generic sources.
pub fn dataset_names() -> &'static [&'static str] {
    NAMES
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect()
}

fn unknown(name: &str) -> DataError {
    DataError::UnknownDataset {
        name: name.to_string(),
        known: NAMES.join(", "),
    }
}

/// The source registered under `name` or one of its aliases (case-insensitive, `-`/`_` ignored).
pub fn find_source(name: &str) -> Result<&'static dyn DatasetSource, DataError> {
    let key = normalise(name);
    SOURCES
        .iter()
        .copied()
        .find(|s| normalise(s.name()) == key || s.aliases().iter().any(|a| normalise(a) == key))
        .ok_or_else(|| unknown(name))
}

/// Canonical name for `name` (for config files); an unknown name lists the known ones.
pub fn parse_dataset_name(name: &str) -> Result<&'static str, DataError> {
    find_source(name).map(|s| s.name())
}

/// Load dataset `name` from the data root `root` (for `imagefolder`/`csv`/`idx`/`vladapt`, `root`
/// is the folder or file itself). An unregistered name whose folder `root/<name>/` holds a
/// `vladapt_dataset.json` (e.g. a generated world) is loaded from there.
pub fn load_dataset(name: &str, root: &Path) -> Result<Dataset, DataError> {
    match find_source(name) {
        Ok(src) => src.load(root),
        Err(e) => {
            let dir = root.join(name);
            if dir.join(vladapt::DESCRIPTOR_FILE).is_file() {
                vladapt::load_vladapt_dir(&dir)
            } else {
                Err(e)
            }
        }
    }
}
