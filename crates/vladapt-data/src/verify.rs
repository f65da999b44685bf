//! Dataset check: counts per class and split, missing files, undecodable files.
use std::collections::HashSet;
use std::fmt;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vladapt_image::ImageLimits;

use crate::types::{open_rgb, Dataset, ImageRef};

/// Sample counts of one class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Label id.
    pub label: usize,
    /// Class name.
    pub name: String,
    /// Train samples.
    pub train: usize,
    /// Val samples.
    pub val: usize,
    /// Test samples.
    pub test: usize,
}

/// One problem file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadFile {
    /// Which split(s) reference it (first one found).
    pub split: String,
    /// The image reference as text (`path` or `path#index`).
    pub image: String,
    /// Why it is bad.
    pub reason: String,
}

/// Result of [`verify`]. Printable with `Display`, serialisable as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Dataset name.
    pub dataset: String,
    /// Image root.
    pub root: String,
    /// Number of classes.
    pub num_classes: usize,
    /// Totals per split: train, val, test.
    pub totals: [usize; 3],
    /// Counts per class.
    pub per_class: Vec<ClassCounts>,
    /// Labels outside `0..num_classes`.
    pub bad_labels: Vec<BadFile>,
    /// Referenced files that do not exist.
    pub missing: Vec<BadFile>,
    /// Files that exist but fail to decode (only when decoding was requested).
    pub undecodable: Vec<BadFile>,
    /// Whether every file was decoded.
    pub decoded: bool,
    /// Classes with no training sample (when the train split is not empty).
    pub empty_train_classes: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is missing, undecodable or mislabelled.
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.undecodable.is_empty() && self.bad_labels.is_empty()
    }
}

/// Check a dataset: count per class and split, find missing files and (when `decode`) files that do
/// not decode within `limits`. File checks run in parallel; each distinct image is checked once.
pub fn verify(d: &Dataset, limits: &ImageLimits, decode: bool) -> VerifyReport {
    let n = d.num_classes();
    let mut per_class: Vec<ClassCounts> = d
        .classnames
        .iter()
        .enumerate()
        .map(|(label, name)| ClassCounts {
            label,
            name: name.clone(),
            train: 0,
            val: 0,
            test: 0,
        })
        .collect();
    let mut bad_labels = Vec::new();
    let mut seen = HashSet::new();
    let mut refs: Vec<(&'static str, &ImageRef)> = Vec::new();
    let mut totals = [0usize; 3];
    for (i, (part, list)) in d.split.parts().into_iter().enumerate() {
        totals[i] = list.len();
        for s in list {
            match per_class.get_mut(s.label) {
                Some(c) => match i {
                    0 => c.train += 1,
                    1 => c.val += 1,
                    _ => c.test += 1,
                },
                None => bad_labels.push(BadFile {
                    split: part.into(),
                    image: s.image.to_string(),
                    reason: format!("label {} is not below the {n} classes", s.label),
                }),
            }
            if seen.insert(&s.image) {
                refs.push((part, &s.image));
            }
        }
    }
    let results: Vec<(Option<BadFile>, Option<BadFile>)> = refs
        .par_iter()
        .map(|(part, r)| {
            let bad = |reason: String| BadFile {
                split: (*part).into(),
                image: r.to_string(),
                reason,
            };
            if !r.path().is_file() {
                return (Some(bad("file not found".into())), None);
            }
            if decode {
                if let Err(e) = open_rgb(r, limits) {
                    return (None, Some(bad(e.to_string())));
                }
            } else if let ImageRef::Idx { path, index } = r {
                match crate::idx::cached_idx_images(path) {
                    Ok(f) if *index < f.count => {}
                    Ok(f) => {
                        return (
                            None,
                            Some(bad(format!(
                                "index {index} out of range ({} images)",
                                f.count
                            ))),
                        )
                    }
                    Err(e) => return (None, Some(bad(e.to_string()))),
                }
            }
            (None, None)
        })
        .collect();
    let mut missing = Vec::new();
    let mut undecodable = Vec::new();
    for (m, u) in results {
        missing.extend(m);
        undecodable.extend(u);
    }
    let empty_train_classes = if totals[0] > 0 {
        per_class
            .iter()
            .filter(|c| c.train == 0)
            .map(|c| c.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    VerifyReport {
        dataset: d.name.clone(),
        root: d.root.display().to_string(),
        num_classes: n,
        totals,
        per_class,
        bad_labels,
        missing,
        undecodable,
        decoded: decode,
        empty_train_classes,
    }
}

const MAX_LISTED: usize = 20;

fn list(f: &mut fmt::Formatter<'_>, title: &str, items: &[BadFile]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "{title} ({}):", items.len())?;
    for b in items.iter().take(MAX_LISTED) {
        writeln!(f, "  [{}] {}: {}", b.split, b.image, b.reason)?;
    }
    if items.len() > MAX_LISTED {
        writeln!(f, "  ... and {} more", items.len() - MAX_LISTED)?;
    }
    Ok(())
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dataset {} ({} classes) at {}",
            self.dataset, self.num_classes, self.root
        )?;
        writeln!(
            f,
            "train {} / val {} / test {}",
            self.totals[0], self.totals[1], self.totals[2]
        )?;
        let w = self
            .per_class
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .clamp(5, 40);
        writeln!(
            f,
            "{:>5}  {:<w$}  {:>7} {:>7} {:>7}",
            "label", "class", "train", "val", "test"
        )?;
        for c in &self.per_class {
            let name: String = c.name.chars().take(w).collect();
            writeln!(
                f,
                "{:>5}  {:<w$}  {:>7} {:>7} {:>7}",
                c.label, name, c.train, c.val, c.test
            )?;
        }
        list(f, "labels out of range", &self.bad_labels)?;
        list(f, "missing files", &self.missing)?;
        list(f, "files that fail to decode", &self.undecodable)?;
        if !self.empty_train_classes.is_empty() {
            writeln!(
                f,
                "classes with no training sample: {}",
                self.empty_train_classes.join(", ")
            )?;
        }
        let decoded = match (self.decoded, self.undecodable.len()) {
            (false, _) => "existence only, not decoded".to_string(),
            (true, 0) => "all files decoded".to_string(),
            (true, 1) => "every file was read; 1 failed to decode".to_string(),
            (true, n) => format!("every file was read; {n} failed to decode"),
        };
        writeln!(
            f,
            "{} ({decoded})",
            if self.is_ok() { "OK" } else { "PROBLEMS FOUND" }
        )
    }
}
