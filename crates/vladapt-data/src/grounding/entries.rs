//! Checks shared by every grounding reader: one raw entry per expression (before the image is
//! opened), and every problem an entry can have, each naming its file and sample.
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BoxXyxy, GroundingSample};
use crate::error::DataError;

/// One expression as a reader found it: where, which image, which text and box (pixels,
/// corners), before the image is looked at.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEntry {
    /// Where in the file: `line 7` (JSONL) or `entry 7` (split file; 0-based list index).
    pub sample: String,
    /// Image file (root already joined).
    pub image: PathBuf,
    /// The expression.
    pub expression: String,
    /// Box `[x1, y1, x2, y2]` in pixels.
    pub bbox: BoxXyxy,
    /// Image size when the file states it (`width` / `height` in JSONL).
    pub size: Option<(u32, u32)>,
}

/// What is wrong with a sample or a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The file is not the kind expected (a dict instead of a list, tuples of the wrong arity
    /// or types, a JSON line that is not an object with image/expression/box).
    WrongKind,
    /// The referenced image does not exist.
    MissingImage,
    /// The image exists but its header cannot be read.
    UnreadableImage,
    /// The box reaches outside the image.
    BoxOutsideImage,
    /// The box has no area (`x2 <= x1` or `y2 <= y1`) or a non-finite coordinate.
    EmptyBox,
    /// The expression is empty or only whitespace.
    EmptyExpression,
}

impl ProblemKind {
    /// Short English name.
    pub fn describe(self) -> &'static str {
        match self {
            ProblemKind::WrongKind => "wrong kind of entry",
            ProblemKind::MissingImage => "missing image",
            ProblemKind::UnreadableImage => "unreadable image",
            ProblemKind::BoxOutsideImage => "box outside the image",
            ProblemKind::EmptyBox => "zero-area box",
            ProblemKind::EmptyExpression => "empty expression",
        }
    }
}

/// One problem: the file, the sample, the kind and the details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The split or JSONL file.
    pub file: PathBuf,
    /// `line 7`, `entry 7`, or `file` for the file as a whole.
    pub sample: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// Details (the image path, the box, the type found, …).
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}: {}",
            self.file.display(),
            self.sample,
            self.kind.describe(),
            self.detail
        )
    }
}

/// An image's size, or why it has none.
type SizeOrProblem = Result<(u32, u32), (ProblemKind, String)>;

/// Image sizes read from headers, once per distinct file.
#[derive(Default)]
pub(crate) struct SizeCache(HashMap<PathBuf, SizeOrProblem>);

impl SizeCache {
    pub(crate) fn size(&mut self, image: &Path) -> SizeOrProblem {
        self.0
            .entry(image.to_path_buf())
            .or_insert_with(|| {
                if !image.is_file() {
                    return Err((ProblemKind::MissingImage, image.display().to_string()));
                }
                image::image_dimensions(image).map_err(|e| {
                    (
                        ProblemKind::UnreadableImage,
                        format!("{}: {e}", image.display()),
                    )
                })
            })
            .clone()
    }
}

/// Checks `entries` of `file`: every problem of every entry (not only the first), and the
/// samples of the entries without problems.
pub(crate) fn check_entries(
    file: &Path,
    entries: Vec<RawEntry>,
    sizes: &mut SizeCache,
) -> (Vec<GroundingSample>, Vec<Problem>) {
    let mut samples = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for e in entries {
        let mut bad = |kind, detail: String| {
            problems.push(Problem {
                file: file.to_path_buf(),
                sample: e.sample.clone(),
                kind,
                detail,
            })
        };
        let mut ok = true;
        if e.expression.trim().is_empty() {
            bad(
                ProblemKind::EmptyExpression,
                format!("expression {:?} for {}", e.expression, e.image.display()),
            );
            ok = false;
        }
        let [x1, y1, x2, y2] = e.bbox;
        let box_ok = e.bbox.iter().all(|v| v.is_finite()) && x2 > x1 && y2 > y1;
        if !box_ok {
            bad(
                ProblemKind::EmptyBox,
                format!("box {:?} in {}", e.bbox, e.image.display()),
            );
            ok = false;
        }
        let size = match e.size {
            Some(s) => Ok(s),
            None => sizes.size(&e.image),
        };
        match size {
            Err((kind, detail)) => bad(kind, detail),
            Ok((w, h)) => {
                if box_ok && (x1 < 0.0 || y1 < 0.0 || x2 > w as f32 || y2 > h as f32) {
                    bad(
                        ProblemKind::BoxOutsideImage,
                        format!(
                            "box {:?} outside the {w}×{h} image {}",
                            e.bbox,
                            e.image.display()
                        ),
                    );
                    ok = false;
                }
                if ok {
                    samples.push(GroundingSample {
                        image: e.image,
                        size: (w, h),
                        expression: e.expression,
                        bbox: e.bbox,
                    });
                }
            }
        }
    }
    (samples, problems)
}

/// The error a loader returns for the problems of a file: the first few named, with the total
/// per kind.
pub(crate) fn problems_error(what: &'static str, file: &Path, problems: &[Problem]) -> DataError {
    let mut counts: Vec<(ProblemKind, usize)> = Vec::new();
    for p in problems {
        match counts.iter_mut().find(|(k, _)| *k == p.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((p.kind, 1)),
        }
    }
    let totals: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} × {}", k.describe()))
        .collect();
    let first: Vec<String> = problems
        .iter()
        .take(3)
        .map(|p| format!("{}: {}: {}", p.sample, p.kind.describe(), p.detail))
        .collect();
    DataError::format(
        what,
        file,
        format!(
            "{} problem(s) ({}); first: {}{}",
            problems.len(),
            totals.join(", "),
            first.join("; "),
            if problems.len() > 3 {
                " (run `vladapt data verify` for the full list)"
            } else {
                ""
            }
        ),
    )
}
