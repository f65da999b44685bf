//! `imagefolder`: a folder per class (`root/<class>/*.jpg`), or `root/{train,val,test}/<class>/...`.
use std::collections::HashMap;
use std::path::Path;

use super::common::{sorted_images, sorted_subdirs, split_per_class, DEFAULT_SPLIT_SEED};
use super::DatasetSource;
use crate::error::DataError;
use crate::types::{Dataset, ImageRef, Sample, Split};

/// Class-name clean-up rules for a folder-per-class tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderRules {
    /// Folder names to skip (e.g. Caltech101's `BACKGROUND_Google`).
    pub ignore: &'static [&'static str],
    /// `(folder, classname)` replacements applied before `_` → space.
    pub rename: &'static [(&'static str, &'static str)],
}

impl FolderRules {
    fn clean(&self, folder: &str, overrides: &HashMap<String, String>) -> String {
        if let Some(n) = overrides.get(folder) {
            return n.clone();
        }
        let base = self
            .rename
            .iter()
            .find(|(f, _)| *f == folder)
            .map(|(_, n)| *n)
            .unwrap_or(folder);
        base.replace('_', " ")
    }
}

/// Optional `classnames.txt` in the root: lines `folder class name words`.
fn read_overrides(root: &Path) -> Result<HashMap<String, String>, DataError> {
    let p = root.join("classnames.txt");
    let mut map = HashMap::new();
    if !p.is_file() {
        return Ok(map);
    }
    for k in crate::classlist::read_keyed_class_list(&p)? {
        let name = k.name.unwrap_or_else(|| k.key.clone());
        map.insert(k.key, name);
    }
    Ok(map)
}

fn class_folders(dir: &Path, rules: &FolderRules) -> Result<Vec<String>, DataError> {
    Ok(sorted_subdirs(dir)?
        .into_iter()
        .filter(|f| !rules.ignore.contains(&f.as_str()))
        .collect())
}

fn samples_of(dir: &Path, folders: &[String]) -> Result<Vec<Sample>, DataError> {
    let mut out = Vec::new();
    for (label, f) in folders.iter().enumerate() {
        let d = dir.join(f);
        if !d.is_dir() {
            continue;
        }
        for p in sorted_images(&d)? {
            out.push(Sample {
                image: ImageRef::File(p),
                label,
            });
        }
    }
    Ok(out)
}

/// Load a folder-per-class tree. Classes are the sorted folder names (`_` → space, `rules` applied,
/// or names from `root/classnames.txt`). With `train/` (and optionally `val/`, `test/`) sub-folders
/// those are the split; otherwise a seeded per-class 50/20/30 split is made.
pub fn load_folder_tree(
    root: &Path,
    name: &str,
    template: &str,
    rules: &FolderRules,
) -> Result<Dataset, DataError> {
    if !root.is_dir() {
        return Err(DataError::Missing {
            dataset: name.to_string(),
            path: root.to_path_buf(),
            layout: "a folder with one sub-folder of images per class".into(),
        });
    }
    let overrides = read_overrides(root)?;
    let train_dir = root.join("train");
    let (split, folders) = if train_dir.is_dir() && !sorted_subdirs(&train_dir)?.is_empty() {
        let folders = class_folders(&train_dir, rules)?;
        let part = |p: &str| -> Result<Vec<Sample>, DataError> {
            let d = root.join(p);
            if d.is_dir() {
                samples_of(&d, &folders)
            } else {
                Ok(Vec::new())
            }
        };
        (
            Split {
                train: part("train")?,
                val: part("val")?,
                test: part("test")?,
            },
            folders,
        )
    } else {
        let folders = class_folders(root, rules)?;
        let all = samples_of(root, &folders)?;
        (split_per_class(all, 0.5, 0.2, DEFAULT_SPLIT_SEED), folders)
    };
    if folders.is_empty() {
        return Err(DataError::format(
            "image folder",
            root,
            "no class sub-folders found",
        ));
    }
    let classnames = folders.iter().map(|f| rules.clean(f, &overrides)).collect();
    Ok(Dataset {
        name: name.to_string(),
        classnames,
        template: template.to_string(),
        split,
        root: root.to_path_buf(),
    })
}

/// The `imagefolder` source: `root` is the folder of class folders.
#[derive(Debug, Clone, Copy)]
pub struct ImageFolder;

impl DatasetSource for ImageFolder {
    fn name(&self) -> &'static str {
        "imagefolder"
    }
    fn layout(&self) -> &'static str {
        "ROOT/<class>/*.{jpg,png,...} or ROOT/{train,val,test}/<class>/*; optional ROOT/classnames.txt lines `folder name`"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imagefolder".into());
        load_folder_tree(root, &name, "a photo of a {}.", &FolderRules::default())
    }
}
