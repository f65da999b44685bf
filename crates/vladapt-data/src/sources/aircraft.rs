//! FGVCAircraft: the official variant txt files, no json.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::DatasetSource;
use crate::error::DataError;
use crate::types::{Dataset, ImageRef, Sample, Split};

/// `ROOT/fgvc_aircraft/{images/, variants.txt, images_variant_{train,val,test}.txt}`; also accepts the
/// official archive's `ROOT/fgvc-aircraft-2013b/data/`.
#[derive(Debug, Clone, Copy)]
pub struct FgvcAircraft;

fn read_lines(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
    Ok(text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

impl DatasetSource for FgvcAircraft {
    fn name(&self) -> &'static str {
        "FGVCAircraft"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["aircraft", "fgvc_aircraft", "fgvc-aircraft"]
    }
    fn layout(&self) -> &'static str {
        "ROOT/fgvc_aircraft/{images/*.jpg, variants.txt, images_variant_train.txt, images_variant_val.txt, images_variant_test.txt}"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        let candidates: [PathBuf; 2] = [
            root.join("fgvc_aircraft"),
            root.join("fgvc-aircraft-2013b").join("data"),
        ];
        let dir = candidates
            .iter()
            .find(|d| d.join("variants.txt").is_file())
            .cloned()
            .unwrap_or_else(|| candidates[0].clone());
        let variants_path = dir.join("variants.txt");
        super::common::require(&variants_path, self.name(), self.layout())?;
        let classnames = crate::classlist::read_class_list(&variants_path)?;
        let label_of: HashMap<&str, usize> = classnames
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let images = dir.join("images");
        let part = |file: &str| -> Result<Vec<Sample>, DataError> {
            let p = dir.join(file);
            super::common::require(&p, "FGVCAircraft", self.layout())?;
            let mut out = Vec::new();
            for (i, line) in read_lines(&p)?.iter().enumerate() {
                let (im, variant) = line.split_once(' ').ok_or_else(|| {
                    DataError::format(
                        "variant list",
                        &p,
                        format!("line {}: expected `image_id variant name`", i + 1),
                    )
                })?;
                let label = *label_of.get(variant.trim()).ok_or_else(|| {
                    DataError::format(
                        "variant list",
                        &p,
                        format!("line {}: variant '{variant}' is not in variants.txt", i + 1),
                    )
                })?;
                out.push(Sample {
                    image: ImageRef::File(images.join(format!("{im}.jpg"))),
                    label,
                });
            }
            Ok(out)
        };
        let split = Split {
            train: part("images_variant_train.txt")?,
            val: part("images_variant_val.txt")?,
            test: part("images_variant_test.txt")?,
        };
        Ok(Dataset {
            name: "FGVCAircraft".into(),
            classnames,
            template: "a photo of a {}, a type of aircraft.".into(),
            split,
            root: images,
        })
    }
}
