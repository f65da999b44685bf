//! TransVG / ReSC split index files (`data/<ds>/<ds>_<split>.pth`, spec §4.1): a `torch.save`d
//! Python list of tuples, read with the restricted unpickler (nothing executed).
//!
//! - referit: `(image, id, [x1, y1, x2, y2], phrase, attr)`;
//! - unc, unc+, gref, gref_umd: `(image, id, [x, y, w, h], phrase, attr)` → corners;
//! - flickr: `(image, [x1, y1, x2, y2], phrase)`.
//!
//! Boxes are truncated to integers as TransVG does (`np.array(bbox, dtype=int)`, then
//! `x2 = x + w`, `y2 = y + h` for the COCO-based sets).
use std::path::{Path, PathBuf};

use super::entries::{check_entries, problems_error, Problem, ProblemKind, RawEntry, SizeCache};
use super::GroundingSample;
use crate::error::DataError;
use crate::pickle::Object;
use crate::pth::Checkpoint;

/// The datasets of TransVG's `--dataset` (spec §4.1 table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroundingSplitKind {
    /// ReferItGame (`referit`): boxes in corners.
    ReferIt,
    /// RefCOCO, UNC split (`unc`).
    Unc,
    /// RefCOCO+, UNC split (`unc+`).
    UncPlus,
    /// RefCOCOg, Google split (`gref`).
    Gref,
    /// RefCOCOg, UMD split (`gref_umd`).
    GrefUmd,
    /// Flickr30k Entities (`flickr`): 3-tuples.
    Flickr,
}

impl GroundingSplitKind {
    /// All six, in the order of the spec's table.
    pub const ALL: [GroundingSplitKind; 6] = [
        GroundingSplitKind::ReferIt,
        GroundingSplitKind::Unc,
        GroundingSplitKind::UncPlus,
        GroundingSplitKind::Gref,
        GroundingSplitKind::GrefUmd,
        GroundingSplitKind::Flickr,
    ];

    /// TransVG's `--dataset` name.
    pub fn name(self) -> &'static str {
        match self {
            GroundingSplitKind::ReferIt => "referit",
            GroundingSplitKind::Unc => "unc",
            GroundingSplitKind::UncPlus => "unc+",
            GroundingSplitKind::Gref => "gref",
            GroundingSplitKind::GrefUmd => "gref_umd",
            GroundingSplitKind::Flickr => "flickr",
        }
    }

    /// From TransVG's `--dataset` name (also `refcoco`, `refcoco+`, `refcocog`,
    /// `refcocog_umd`, `referitgame`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "referit" | "referitgame" => GroundingSplitKind::ReferIt,
            "unc" | "refcoco" => GroundingSplitKind::Unc,
            "unc+" | "refcoco+" => GroundingSplitKind::UncPlus,
            "gref" | "refcocog" | "refcocog_google" => GroundingSplitKind::Gref,
            "gref_umd" | "refcocog_umd" => GroundingSplitKind::GrefUmd,
            "flickr" | "flickr30k" => GroundingSplitKind::Flickr,
            _ => return None,
        })
    }

    /// The splits TransVG ships for this dataset.
    pub fn splits(self) -> &'static [&'static str] {
        match self {
            GroundingSplitKind::ReferIt => &["train", "val", "trainval", "test"],
            GroundingSplitKind::Unc | GroundingSplitKind::UncPlus => {
                &["train", "val", "trainval", "testA", "testB"]
            }
            GroundingSplitKind::Gref => &["train", "val"],
            GroundingSplitKind::GrefUmd | GroundingSplitKind::Flickr => &["train", "val", "test"],
        }
    }

    /// The splits evaluated in the papers (spec §4.1).
    pub fn eval_splits(self) -> &'static [&'static str] {
        match self {
            GroundingSplitKind::ReferIt => &["test"],
            GroundingSplitKind::Unc | GroundingSplitKind::UncPlus => &["val", "testA", "testB"],
            GroundingSplitKind::Gref => &["val"],
            GroundingSplitKind::GrefUmd => &["val", "test"],
            GroundingSplitKind::Flickr => &["test"],
        }
    }

    /// TransVG's `max_query_len` (spec §1.3): 40 for RefCOCOg, 20 otherwise.
    pub fn max_query_len(self) -> usize {
        match self {
            GroundingSplitKind::Gref | GroundingSplitKind::GrefUmd => 40,
            _ => 20,
        }
    }

    /// The image folder under TransVG's `ln_data/`.
    pub fn image_subdir(self) -> &'static str {
        match self {
            GroundingSplitKind::ReferIt => "referit/images",
            GroundingSplitKind::Flickr => "Flickr30k/flickr30k_images",
            _ => "other/images/mscoco/images/train2014",
        }
    }

    /// `data_root/<ds>/<ds>_<split>.pth`.
    pub fn split_file(self, data_root: &Path, split: &str) -> PathBuf {
        data_root
            .join(self.name())
            .join(format!("{}_{split}.pth", self.name()))
    }

    fn arity(self) -> usize {
        if self == GroundingSplitKind::Flickr {
            3
        } else {
            5
        }
    }

    fn shape(self) -> &'static str {
        match self {
            GroundingSplitKind::ReferIt => "(image, id, [x1, y1, x2, y2], phrase, attr)",
            GroundingSplitKind::Flickr => "(image, [x1, y1, x2, y2], phrase)",
            _ => "(image, id, [x, y, w, h], phrase, attr)",
        }
    }
}

impl std::fmt::Display for GroundingSplitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn text(o: &Object) -> Option<String> {
    match o {
        Object::Str(s) => Some(s.clone()),
        Object::Bytes(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

/// `int(v)` as NumPy's `astype(int)` does: truncation toward zero.
fn truncated(o: &Object) -> Option<f32> {
    match o {
        Object::Int(v) => Some(*v as f32),
        Object::Bool(b) => Some(f32::from(u8::from(*b))),
        Object::Float(v) if v.is_finite() => Some(v.trunc() as f32),
        _ => None,
    }
}

fn four_numbers(o: &Object) -> Option<[f32; 4]> {
    let items = match o {
        Object::List(v) | Object::Tuple(v) => v,
        _ => return None,
    };
    let v: Vec<f32> = items.iter().map(truncated).collect::<Option<_>>()?;
    v.try_into().ok()
}

/// Decodes one list item into a raw entry, or says why it is not of `kind`.
fn entry(kind: GroundingSplitKind, item: &Object, image_root: &Path) -> Result<RawEntry, String> {
    let fields = match item {
        Object::Tuple(v) | Object::List(v) => v,
        other => {
            return Err(format!(
                "a {} where a tuple was expected",
                other.type_name()
            ))
        }
    };
    if fields.len() != kind.arity() {
        return Err(format!(
            "a {}-tuple where {} expects {}-tuples {}",
            fields.len(),
            kind,
            kind.arity(),
            kind.shape()
        ));
    }
    let (img, bbox, phrase) = if kind == GroundingSplitKind::Flickr {
        (&fields[0], &fields[1], &fields[2])
    } else {
        (&fields[0], &fields[2], &fields[3])
    };
    let field = |what: &str, o: &Object| {
        format!(
            "field {what} is a {} (expected {})",
            o.type_name(),
            kind.shape()
        )
    };
    let image = text(img).ok_or_else(|| field("image", img))?;
    let mut b = four_numbers(bbox).ok_or_else(|| field("bbox", bbox))?;
    let expression = text(phrase).ok_or_else(|| field("phrase", phrase))?;
    if !matches!(
        kind,
        GroundingSplitKind::ReferIt | GroundingSplitKind::Flickr
    ) {
        b[2] += b[0];
        b[3] += b[1];
    }
    Ok(RawEntry {
        sample: String::new(),
        image: image_root.join(image),
        expression,
        bbox: b,
        size: None,
    })
}

/// The raw entries of a split file and the entries that are not of `kind`; a file that is not a
/// list (or not a torch.save file) is one `WrongKind` problem.
pub(crate) fn read_split_entries(
    file: &Path,
    image_root: &Path,
    kind: GroundingSplitKind,
) -> Result<(Vec<RawEntry>, Vec<Problem>), DataError> {
    if !file.is_file() {
        return Err(DataError::io(
            "cannot open split file",
            file,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let whole = |detail: String| Problem {
        file: file.to_path_buf(),
        sample: "file".into(),
        kind: ProblemKind::WrongKind,
        detail,
    };
    let root = match Checkpoint::open(file) {
        Ok(c) => c.root,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            return Ok((Vec::new(), vec![whole(msg)]));
        }
    };
    let Object::List(items) = root else {
        return Ok((
            Vec::new(),
            vec![whole(format!(
                "the file holds a {}, not the list of {} tuples {} of a TransVG split file",
                root.type_name(),
                kind,
                kind.shape()
            ))],
        ));
    };
    let mut entries = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let sample = format!("entry {i}");
        match entry(kind, item, image_root) {
            Ok(e) => entries.push(RawEntry { sample, ..e }),
            Err(detail) => problems.push(Problem {
                file: file.to_path_buf(),
                sample,
                kind: ProblemKind::WrongKind,
                detail,
            }),
        }
    }
    Ok((entries, problems))
}

/// Every problem of a split file and its good samples.
pub(crate) fn check_split(
    file: &Path,
    image_root: &Path,
    kind: GroundingSplitKind,
) -> Result<(Vec<GroundingSample>, Vec<Problem>), DataError> {
    let (entries, mut problems) = read_split_entries(file, image_root, kind)?;
    let (samples, more) = check_entries(file, entries, &mut SizeCache::default());
    problems.extend(more);
    Ok((samples, problems))
}

/// Reads a TransVG split file of `kind` with images under `image_root` (the folder holding the
/// image files, e.g. `ln_data/other/images/mscoco/images/train2014`, see
/// [`GroundingSplitKind::image_subdir`]). Any problem is an error naming the file, the entry
/// index and the count of all problems.
pub fn load_transvg_split(
    file: &Path,
    image_root: &Path,
    kind: GroundingSplitKind,
) -> Result<Vec<GroundingSample>, DataError> {
    let (samples, problems) = check_split(file, image_root, kind)?;
    if !problems.is_empty() {
        return Err(problems_error("TransVG split file", file, &problems));
    }
    Ok(samples)
}

/// `load_transvg_split` with TransVG's folder layout: `data_root/<ds>/<ds>_<split>.pth` and
/// images under `ln_data/<image_subdir>`.
pub fn load_transvg_dataset(
    data_root: &Path,
    ln_data: &Path,
    kind: GroundingSplitKind,
    split: &str,
) -> Result<Vec<GroundingSample>, DataError> {
    if !kind.splits().contains(&split) {
        return Err(DataError::Invalid {
            name: "split",
            reason: format!(
                "{kind} has no split {split:?}; it has {}",
                kind.splits().join(", ")
            ),
        });
    }
    load_transvg_split(
        &kind.split_file(data_root, split),
        &ln_data.join(kind.image_subdir()),
        kind,
    )
}
