//! vladapt-world: a deterministic procedural image–text world.
//!
//! No pretrained CLIP can be downloaded where vladapt is developed, so vladapt pretrains a
//! small CLIP on this world and then runs the base-to-novel adaptation experiments of the
//! CoOp / CoCoOp / MaPLe papers on a classification task drawn from the same world in a
//! different style. This crate generates both data sets:
//!
//! * [`generate_pretrain`]: images with 1–4 coloured shapes, compositional captions
//!   (`captions.csv`) and per-object boxes and referring expressions (`annotations.jsonl`);
//! * [`generate_grounding`]: referring-expression grounding data (train/val/test JSONL, each
//!   expression naming exactly one object, with direction words);
//! * [`generate_task`]: a colour×shape classification task in Dassl format (`split.json`,
//!   `vladapt_dataset.json`) whose base and novel classes both cover all colours and shapes.
//!
//! Everything is seeded with ChaCha8 (one stream per image), so the same seed gives
//! byte-identical files regardless of thread count.

mod background;
mod captions;
mod error;
mod grounding;
mod output;
mod pretrain;
mod records;
mod render;
mod scene;
mod sdf;
mod style;
mod task;
mod vocab;

pub use background::{Background, BackgroundKind, Pattern};
pub use captions::{article, describe, Language, ObjectFacts};
pub use error::WorldError;
pub use grounding::{
    candidate_expressions, generate_grounding, relation_holds, Description, Expression, Extreme,
    GroundObject, GroundingLine, GroundingOptions, GroundingScene, GroundingSummary,
};
pub use pretrain::{generate_pretrain, PretrainSummary};
pub use records::{ImageRecord, ObjectRecord};
pub use render::{render_scene, PixelBox, Rendered};
pub use scene::{sample_scene, sample_task_scene, Scene, SceneObject, WorldOptions};
pub use sdf::shape_sdf;
pub use style::{rotate_hue, Style, CAST_HUE_DEGREES};
pub use task::{
    classes_of, colour_classes, generate_task, task_classes, ClassKind, DatasetManifest,
    SplitEntry, SplitFile, TaskClass, TaskSpec, TaskSummary, MAX_CLASSES,
};
pub use vocab::{count_word, Colour, Relation, Shape, SizeClass};
