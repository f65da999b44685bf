//! The grounding JSONL layout: one line per expression,
//! `{"image": "<path>", "expression": "...", "box": [x1, y1, x2, y2]}` (pixels, corners) plus
//! optional `id`, `width` and `height`; image paths relative to the JSONL file's folder or to a
//! given image root. A dataset folder holds `train.jsonl`, `val.jsonl` and `test.jsonl`.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::entries::{check_entries, problems_error, Problem, ProblemKind, RawEntry, SizeCache};
use super::GroundingSample;
use crate::error::DataError;

#[derive(Deserialize)]
struct Line {
    image: String,
    expression: String,
    #[serde(rename = "box")]
    bbox: [f64; 4],
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

/// The raw entries of a JSONL file and the lines that are not grounding records.
pub(crate) fn read_jsonl_entries(
    path: &Path,
    image_root: Option<&Path>,
) -> Result<(Vec<RawEntry>, Vec<Problem>), DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
    let root: PathBuf = match image_root {
        Some(r) => r.to_path_buf(),
        None => path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sample = format!("line {}", i + 1);
        match serde_json::from_str::<Line>(line) {
            Ok(l) => entries.push(RawEntry {
                sample,
                image: root.join(&l.image),
                expression: l.expression,
                bbox: l.bbox.map(|v| v as f32),
                size: l.width.zip(l.height),
            }),
            Err(e) => problems.push(Problem {
                file: path.to_path_buf(),
                sample,
                kind: ProblemKind::WrongKind,
                detail: format!(
                    "not a grounding record {{\"image\", \"expression\", \"box\": [x1, y1, x2, y2]}}: {e}"
                ),
            }),
        }
    }
    Ok((entries, problems))
}

/// Every problem of a JSONL file (unreadable file → error) and its good samples.
pub(crate) fn check_jsonl(
    path: &Path,
    image_root: Option<&Path>,
) -> Result<(Vec<GroundingSample>, Vec<Problem>), DataError> {
    let (entries, mut problems) = read_jsonl_entries(path, image_root)?;
    let (samples, more) = check_entries(path, entries, &mut SizeCache::default());
    problems.extend(more);
    Ok((samples, problems))
}

/// Reads a grounding JSONL file (layout in the module docs). Image paths are relative to
/// `image_root`, or to the file's folder when `None`; the image size comes from `width`/`height`
/// when given, else from the image header. Any problem (malformed line, missing image, empty
/// or out-of-image box, empty expression) is an error naming the file, the line and the count of
/// all problems.
pub fn load_grounding_jsonl(
    path: &Path,
    image_root: Option<&Path>,
) -> Result<Vec<GroundingSample>, DataError> {
    let (samples, problems) = check_jsonl(path, image_root)?;
    if !problems.is_empty() {
        return Err(problems_error("grounding JSONL", path, &problems));
    }
    Ok(samples)
}

/// The three splits of a grounding dataset folder.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundingSplits {
    /// `train.jsonl`.
    pub train: Vec<GroundingSample>,
    /// `val.jsonl`.
    pub val: Vec<GroundingSample>,
    /// `test.jsonl`.
    pub test: Vec<GroundingSample>,
}

/// Reads `dir/train.jsonl`, `dir/val.jsonl` and `dir/test.jsonl` (images relative to `dir`), as
/// `vladapt world grounding` writes them.
pub fn load_grounding_dir(dir: &Path) -> Result<GroundingSplits, DataError> {
    let one = |name: &str| load_grounding_jsonl(&dir.join(format!("{name}.jsonl")), None);
    Ok(GroundingSplits {
        train: one("train")?,
        val: one("val")?,
        test: one("test")?,
    })
}
