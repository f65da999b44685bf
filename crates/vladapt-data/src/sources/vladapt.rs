//! `vladapt`: our own descriptor, `vladapt_dataset.json` + a Dassl-shaped `split.json`.
//! `fetch` and the procedural world generator write this layout; it is the universal format.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::common::{read_split_file, split_file_from, split_from_file, write_json};
use super::DatasetSource;
use crate::error::DataError;
use crate::types::{Dataset, Split};

/// File name of the descriptor inside a dataset folder.
pub const DESCRIPTOR_FILE: &str = "vladapt_dataset.json";

/// Content of `vladapt_dataset.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Dataset name.
    pub name: String,
    /// Class names by label.
    pub classnames: Vec<String>,
    /// Prompt template with one `{}`.
    pub template: String,
    /// Split file, relative to the dataset folder (Dassl shape).
    #[serde(default = "default_split")]
    pub split_file: String,
    /// Image folder, relative to the dataset folder; split paths are relative to it.
    #[serde(default = "default_images")]
    pub image_root: String,
}

fn default_split() -> String {
    "split.json".into()
}
fn default_images() -> String {
    "images".into()
}

/// Load a dataset folder holding `vladapt_dataset.json`.
pub fn load_vladapt_dir(dir: &Path) -> Result<Dataset, DataError> {
    let dpath = dir.join(DESCRIPTOR_FILE);
    let text =
        std::fs::read_to_string(&dpath).map_err(|e| DataError::io("cannot read", &dpath, e))?;
    let d: Descriptor = serde_json::from_str(&text)
        .map_err(|e| DataError::format("dataset descriptor", &dpath, e.to_string()))?;
    if !d.template.contains("{}") {
        return Err(DataError::format(
            "dataset descriptor",
            &dpath,
            format!("template '{}' has no {{}} placeholder", d.template),
        ));
    }
    let spath = dir.join(&d.split_file);
    let image_root = dir.join(&d.image_root);
    let sf = read_split_file(&spath)?;
    let (split, names) = split_from_file(&sf, &image_root, &spath)?;
    if names.len() > d.classnames.len() {
        return Err(DataError::format(
            "split file",
            &spath,
            format!(
                "uses {} labels but {} lists {} class names",
                names.len(),
                dpath.display(),
                d.classnames.len()
            ),
        ));
    }
    let classnames = d.classnames.iter().map(|c| c.replace('_', " ")).collect();
    Ok(Dataset {
        name: d.name,
        classnames,
        template: d.template,
        split,
        root: image_root,
    })
}

/// Write `dir/vladapt_dataset.json` and `dir/split.json` for samples whose files lie under `dir/images`.
pub fn write_vladapt_dir(
    dir: &Path,
    name: &str,
    classnames: &[String],
    template: &str,
    split: &Split,
) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io("cannot create", dir, e))?;
    let image_root = dir.join(default_images());
    let sf = split_file_from(split, classnames, &image_root)?;
    write_json(&dir.join(default_split()), &sf)?;
    let d = Descriptor {
        name: name.into(),
        classnames: classnames.to_vec(),
        template: template.into(),
        split_file: default_split(),
        image_root: default_images(),
    };
    write_json(&dir.join(DESCRIPTOR_FILE), &d)
}

/// The descriptor source; `root` is the dataset folder (or its parent holding one dataset folder per name).
#[derive(Debug, Clone, Copy)]
pub struct Vladapt;

impl DatasetSource for Vladapt {
    fn name(&self) -> &'static str {
        "vladapt"
    }
    fn layout(&self) -> &'static str {
        "ROOT/vladapt_dataset.json {name, classnames, template, split_file, image_root} + ROOT/split.json"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        super::common::require(&root.join(DESCRIPTOR_FILE), "vladapt", self.layout())?;
        load_vladapt_dir(root)
    }
}

/// A fetched dataset: `ROOT/<name>/vladapt_dataset.json`, written by [`crate::fetch`].
#[derive(Debug, Clone, Copy)]
pub struct Fetched {
    /// Registry and folder name.
    pub name: &'static str,
    /// Accepted aliases.
    pub aliases: &'static [&'static str],
}

impl DatasetSource for Fetched {
    fn name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn layout(&self) -> &'static str {
        "ROOT/<name>/vladapt_dataset.json, written by `vladapt data fetch <name>`"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let dir = root.join(self.name);
        if !dir.join(DESCRIPTOR_FILE).is_file() {
            return Err(DataError::Missing {
                dataset: self.name.into(),
                path: dir.join(DESCRIPTOR_FILE),
                layout: format!(
                    "run `vladapt data fetch {} --root {}` first",
                    self.name,
                    root.display()
                ),
            });
        }
        load_vladapt_dir(&dir)
    }
}
