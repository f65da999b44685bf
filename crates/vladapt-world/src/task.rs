//! Writer of downstream classification tasks (Dassl-style split, base-to-novel ready).

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::WorldError;
use crate::output::{create_dir, image_rng, render_and_write, write_json, write_jsonl};
use crate::records::ImageRecord;
use crate::scene::{sample_task_scene, validate_common};
use crate::style::Style;
use crate::vocab::{Colour, Shape};

/// Domain constant mixed into the seed of task images.
const TASK_DOMAIN: u64 = 0x5441_534B_5441_534B; // "TASKTASK"

/// Largest number of classes: five even and five odd colour–shape diagonals of 10 each.
pub const MAX_CLASSES: usize = 100;

/// Description of a downstream classification task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Data set name written to `vladapt_dataset.json`.
    pub name: String,
    /// Number of colour–shape classes (1..=100, default 20).
    pub num_classes: usize,
    /// Training images per class (default 32; few-shot subsets are drawn by the trainer).
    pub train_per_class: usize,
    /// Validation images per class (default 8).
    pub val_per_class: usize,
    /// Test images per class (default 50).
    pub test_per_class: usize,
    /// Rendering style (default `outline`, a shift away from pretraining).
    pub style: Style,
    /// Most small distractor objects per image (default 0 = one object per image).
    pub max_distractors: usize,
    /// Image side in pixels (default 64).
    pub image_size: u32,
    /// Supersampling factor per axis at edges (default 4).
    pub supersample: u32,
    /// Prompt template with one `{}` (default `a photo of a {}.`).
    pub template: String,
    /// What the classes distinguish (default colour–shape combinations).
    #[serde(default)]
    pub class_kind: ClassKind,
}

/// What the classes of a task distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClassKind {
    /// Colour–shape combinations ("red circle"), 1..=100 classes.
    #[default]
    ColourShape,
    /// Colour names ("red"), 1..=10 classes; each image shows one object of the class colour
    /// in a random shape (distractors never share the class colour).
    Colour,
}

impl ClassKind {
    /// Most classes of this kind.
    pub fn max_classes(self) -> usize {
        match self {
            ClassKind::ColourShape => MAX_CLASSES,
            ClassKind::Colour => Colour::ALL.len(),
        }
    }
}

impl std::str::FromStr for ClassKind {
    type Err = WorldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "colour-shape" | "color-shape" => Ok(ClassKind::ColourShape),
            "colour" | "color" => Ok(ClassKind::Colour),
            other => Err(WorldError::InvalidOption {
                field: "class_kind",
                reason: format!("unknown class kind {other:?} (known: colour-shape, colour)"),
            }),
        }
    }
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            name: "world_outline".into(),
            num_classes: 20,
            train_per_class: 32,
            val_per_class: 8,
            test_per_class: 50,
            style: Style::Outline,
            max_distractors: 0,
            image_size: 64,
            supersample: 4,
            template: "a photo of a {}.".into(),
            class_kind: ClassKind::ColourShape,
        }
    }
}

impl TaskSpec {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), WorldError> {
        validate_common(self.image_size, self.supersample)?;
        let bad =
            |field: &'static str, reason: String| Err(WorldError::InvalidOption { field, reason });
        let max = self.class_kind.max_classes();
        if !(1..=max).contains(&self.num_classes) {
            return bad(
                "num_classes",
                format!(
                    "must be in 1..={max} for {:?} classes, got {}",
                    self.class_kind, self.num_classes
                ),
            );
        }
        if self.train_per_class == 0 {
            return bad("train_per_class", "must be at least 1".into());
        }
        for (field, v) in [
            ("train_per_class", self.train_per_class),
            ("val_per_class", self.val_per_class),
            ("test_per_class", self.test_per_class),
        ] {
            if v >= 1 << 20 {
                return bad(field, format!("must be below 1048576, got {v}"));
            }
        }
        if self.max_distractors > 5 {
            return bad(
                "max_distractors",
                format!("must be at most 5, got {}", self.max_distractors),
            );
        }
        if self.template.matches("{}").count() != 1 {
            return bad(
                "template",
                format!("must contain exactly one {{}}, got {:?}", self.template),
            );
        }
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty".into());
        }
        Ok(())
    }
}

/// One class of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskClass {
    /// Colour of the dominant object.
    pub colour: Colour,
    /// Shape of the dominant object; `None` for colour-only classes (random shape per image).
    pub shape: Option<Shape>,
}

impl TaskClass {
    /// Class name, e.g. "red circle" (or "red" for a colour-only class).
    pub fn name(&self) -> String {
        match self.shape {
            Some(s) => format!("{} {}", self.colour.name(), s.name()),
            None => self.colour.name().to_string(),
        }
    }

    /// Directory-safe name, e.g. "red_circle".
    pub fn dir_name(&self) -> String {
        self.name().replace(' ', "_")
    }
}

/// The classes of `spec` in label order: [`task_classes`] or [`colour_classes`].
pub fn classes_of(spec: &TaskSpec) -> Result<Vec<TaskClass>, WorldError> {
    match spec.class_kind {
        ClassKind::ColourShape => task_classes(spec.num_classes),
        ClassKind::Colour => colour_classes(spec.num_classes),
    }
}

/// The first `n` colours as classes, in canonical colour order (red, green, blue, yellow,
/// purple | orange, pink, cyan, white, black): the first `ceil(n/2)` are base, the rest novel.
pub fn colour_classes(n: usize) -> Result<Vec<TaskClass>, WorldError> {
    let k = Colour::ALL.len();
    if !(1..=k).contains(&n) {
        return Err(WorldError::InvalidOption {
            field: "num_classes",
            reason: format!("must be in 1..={k} for colour classes, got {n}"),
        });
    }
    Ok(Colour::ALL[..n]
        .iter()
        .map(|&colour| TaskClass {
            colour,
            shape: None,
        })
        .collect())
}

/// The `n` classes of a task in label order. Colour `i` and shape `(i + d) mod 10` form
/// diagonal `d` of the 10×10 colour–shape grid; every diagonal contains each colour and each
/// shape exactly once. Base classes (the first `ceil(n/2)` labels) are taken from diagonals
/// 0, 2, 4, … and novel classes from diagonals 1, 3, 5, …, so
/// * base and novel classes never share a colour–shape combination;
/// * with `n >= 20`, base and novel classes each cover all colours and all shapes;
/// * with `n < 20` they cover the same colours and overlapping shapes.
///
/// The list is independent of the seed, like the papers' fixed base/novel split.
pub fn task_classes(n: usize) -> Result<Vec<TaskClass>, WorldError> {
    if !(1..=MAX_CLASSES).contains(&n) {
        return Err(WorldError::InvalidOption {
            field: "num_classes",
            reason: format!("must be in 1..={MAX_CLASSES}, got {n}"),
        });
    }
    let k = Colour::ALL.len();
    let diagonal = |parity: usize| {
        (0..)
            .step_by(2)
            .map(move |d| d + parity)
            .take(5)
            .flat_map(move |d| {
                (0..k).map(move |i| TaskClass {
                    colour: Colour::ALL[i],
                    shape: Some(Shape::ALL[(i + d) % k]),
                })
            })
    };
    let base = n.div_ceil(2);
    Ok(diagonal(0)
        .take(base)
        .chain(diagonal(1).take(n - base))
        .collect())
}

/// One split entry: `[relpath, label, classname]` with `relpath` relative to `image_root`.
pub type SplitEntry = (String, usize, String);

/// Contents of `split.json` (Dassl / CoOp format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitFile {
    /// Training entries.
    pub train: Vec<SplitEntry>,
    /// Validation entries.
    pub val: Vec<SplitEntry>,
    /// Test entries.
    pub test: Vec<SplitEntry>,
}

/// Contents of `vladapt_dataset.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetManifest {
    /// Data set name.
    pub name: String,
    /// Class names in label order.
    pub classnames: Vec<String>,
    /// Prompt template with one `{}`.
    pub template: String,
    /// Split file name relative to the data set directory.
    pub split_file: String,
    /// Image folder relative to the data set directory.
    pub image_root: String,
}

/// What [`generate_task`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Class names in label order.
    pub classnames: Vec<String>,
    /// Number of base classes (`ceil(n/2)`); the rest are novel.
    pub num_base: usize,
    /// Images per split name.
    pub counts: BTreeMap<String, usize>,
}

/// Generates a classification task into `out`: `images/{split}/{class_dir}/NNNNN.png`,
/// `split.json` ([`SplitFile`]), `vladapt_dataset.json` ([`DatasetManifest`]),
/// `annotations.jsonl` (one [`ImageRecord`] per image with split, label and class name) and
/// `world.json` (spec, seed, base/novel class lists).
///
/// Each image depends only on `(seed, split, label, index)`, so changing one split's size does
/// not change the others.
pub fn generate_task(out: &Path, seed: u64, task: &TaskSpec) -> Result<TaskSummary, WorldError> {
    task.validate()?;
    let classes = classes_of(task)?;
    let splits = [
        ("train", task.train_per_class),
        ("val", task.val_per_class),
        ("test", task.test_per_class),
    ];
    let mut jobs: Vec<(usize, &str, usize, usize)> = Vec::new();
    for (s, (split, per_class)) in splits.iter().enumerate() {
        for (label, class) in classes.iter().enumerate() {
            create_dir(&out.join("images").join(split).join(class.dir_name()))?;
            for k in 0..*per_class {
                jobs.push((s, split, label, k));
            }
        }
    }
    let records: Vec<ImageRecord> = jobs
        .par_iter()
        .map(|&(s, split, label, k)| {
            let class = classes[label];
            let stream = ((s as u64) << 48) | ((label as u64) << 24) | k as u64;
            let mut rng = image_rng(seed, TASK_DOMAIN, stream);
            let shape = class
                .shape
                .unwrap_or_else(|| Shape::ALL[rng.random_range(0..Shape::ALL.len())]);
            let scene = sample_task_scene(
                &mut rng,
                task.image_size,
                task.style,
                task.supersample,
                (class.colour, shape),
                task.max_distractors,
                class.shape.is_none(),
            );
            let rel = format!("images/{split}/{}/{k:05}.png", class.dir_name());
            let mut rec = render_and_write(out, &rel, &scene, &mut rng)?;
            rec.split = Some(split.to_string());
            rec.label = Some(label);
            rec.classname = Some(class.name());
            Ok(rec)
        })
        .collect::<Result<_, WorldError>>()?;

    let mut split_file = SplitFile {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    let mut counts = BTreeMap::new();
    for (rec, &(s, split, label, _)) in records.iter().zip(&jobs) {
        let rel = rec
            .image
            .strip_prefix("images/")
            .unwrap_or(&rec.image)
            .to_string();
        let entry = (rel, label, classes[label].name());
        match s {
            0 => split_file.train.push(entry),
            1 => split_file.val.push(entry),
            _ => split_file.test.push(entry),
        }
        *counts.entry(split.to_string()).or_insert(0) += 1;
    }
    write_json(&out.join("split.json"), &split_file)?;
    let classnames: Vec<String> = classes.iter().map(TaskClass::name).collect();
    let manifest = DatasetManifest {
        name: task.name.clone(),
        classnames: classnames.clone(),
        template: task.template.clone(),
        split_file: "split.json".into(),
        image_root: "images".into(),
    };
    write_json(&out.join("vladapt_dataset.json"), &manifest)?;
    write_jsonl(&out.join("annotations.jsonl"), &records)?;
    let num_base = classes.len().div_ceil(2);
    let world = serde_json::json!({
        "generator": "vladapt-world",
        "kind": "task",
        "seed": seed,
        "spec": task,
        "base_classes": &classnames[..num_base],
        "novel_classes": &classnames[num_base..],
        "counts": &counts,
    });
    write_json(&out.join("world.json"), &world)?;
    Ok(TaskSummary {
        classnames,
        num_base,
        counts,
    })
}
