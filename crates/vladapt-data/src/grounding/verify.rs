//! `vladapt data verify` for grounding datasets: every problem of every file (missing images,
//! boxes outside the image or of zero area, empty expressions, entries or files of the wrong
//! kind), with counts per kind.
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::entries::{Problem, ProblemKind};
use super::jsonl::check_jsonl;
use super::transvg::{check_split, GroundingSplitKind};
use super::GroundingSample;
use crate::error::DataError;

/// The check of one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingFileReport {
    /// The JSONL or split file.
    pub file: PathBuf,
    /// Good samples (no problem).
    pub samples: usize,
    /// Distinct images of the good samples.
    pub images: usize,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

/// Result of [`verify_grounding_jsonl`] / [`verify_transvg`]: one entry per file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingReport {
    /// Dataset name (`grounding` for JSONL, else the TransVG name).
    pub dataset: String,
    /// Per file.
    pub files: Vec<GroundingFileReport>,
}

impl GroundingReport {
    /// No problem in any file.
    pub fn is_ok(&self) -> bool {
        self.files.iter().all(|f| f.problems.is_empty())
    }

    /// Problems per kind over all files, in kind order.
    pub fn counts(&self) -> Vec<(ProblemKind, usize)> {
        let mut out: Vec<(ProblemKind, usize)> = Vec::new();
        for p in self.files.iter().flat_map(|f| &f.problems) {
            match out.iter_mut().find(|(k, _)| *k == p.kind) {
                Some((_, n)) => *n += 1,
                None => out.push((p.kind, 1)),
            }
        }
        out.sort();
        out
    }
}

/// How many problems per file `Display` lists before "… and N more".
const SHOWN: usize = 20;

impl fmt::Display for GroundingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "grounding dataset {}", self.dataset)?;
        for r in &self.files {
            writeln!(
                f,
                "  {}: {} good samples over {} images, {} problem(s)",
                r.file.display(),
                r.samples,
                r.images,
                r.problems.len()
            )?;
            for p in r.problems.iter().take(SHOWN) {
                writeln!(f, "    {}: {}: {}", p.sample, p.kind.describe(), p.detail)?;
            }
            if r.problems.len() > SHOWN {
                writeln!(f, "    … and {} more", r.problems.len() - SHOWN)?;
            }
        }
        let counts = self.counts();
        if counts.is_empty() {
            writeln!(f, "ok")
        } else {
            let c: Vec<String> = counts
                .iter()
                .map(|(k, n)| format!("{n} × {}", k.describe()))
                .collect();
            writeln!(f, "problems: {}", c.join(", "))
        }
    }
}

fn file_report(
    file: &Path,
    samples: Vec<GroundingSample>,
    problems: Vec<Problem>,
) -> GroundingFileReport {
    let images: HashSet<&PathBuf> = samples.iter().map(|s| &s.image).collect();
    GroundingFileReport {
        file: file.to_path_buf(),
        samples: samples.len(),
        images: images.len(),
        problems,
    }
}

/// Checks a grounding JSONL file, or every `*.jsonl` of a folder except `scenes.jsonl` (sorted),
/// with images relative to `image_root` or each file's folder.
pub fn verify_grounding_jsonl(
    path: &Path,
    image_root: Option<&Path>,
) -> Result<GroundingReport, DataError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| DataError::io("cannot list", path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "jsonl")
                    && p.file_name().is_some_and(|n| n != "scenes.jsonl")
            })
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(DataError::Missing {
                dataset: "grounding".into(),
                path: path.join("train.jsonl"),
                layout: "a folder of JSONL files (train.jsonl, val.jsonl, test.jsonl), one {\"image\", \"expression\", \"box\"} per line".into(),
            });
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        let (samples, problems) = check_jsonl(&f, image_root)?;
        out.push(file_report(&f, samples, problems));
    }
    Ok(GroundingReport {
        dataset: "grounding".into(),
        files: out,
    })
}

/// Checks TransVG split files of `kind` under `data_root/<ds>/` with images under
/// `ln_data/<image_subdir>`: the given split, or every split of the dataset that exists (at
/// least one must).
pub fn verify_transvg(
    data_root: &Path,
    ln_data: &Path,
    kind: GroundingSplitKind,
    split: Option<&str>,
) -> Result<GroundingReport, DataError> {
    let image_root = ln_data.join(kind.image_subdir());
    let files: Vec<PathBuf> = match split {
        Some(s) => vec![kind.split_file(data_root, s)],
        None => {
            let v: Vec<PathBuf> = kind
                .splits()
                .iter()
                .map(|s| kind.split_file(data_root, s))
                .filter(|p| p.is_file())
                .collect();
            if v.is_empty() {
                return Err(DataError::Missing {
                    dataset: kind.name().into(),
                    path: kind.split_file(data_root, kind.splits()[0]),
                    layout: format!(
                        "data/{0}/{0}_<split>.pth for splits {1} (TransVG's data.tar), images in ln_data/{2}",
                        kind.name(),
                        kind.splits().join(", "),
                        kind.image_subdir()
                    ),
                });
            }
            v
        }
    };
    let mut out = Vec::new();
    for f in files {
        let (samples, problems) = check_split(&f, &image_root, kind)?;
        out.push(file_report(&f, samples, problems));
    }
    Ok(GroundingReport {
        dataset: kind.name().into(),
        files: out,
    })
}
