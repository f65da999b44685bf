//! TransVG visual grounding (spec `mmca.md` §1): ResNet + DETR encoder + BERT + `[REG]` fusion,
//! loaded from official TransVG checkpoints or assembled from DETR (official or transformers) and
//! BERT files; hook points for MMCA's adapters ([`GroundingHook`]).
pub mod bert;
pub mod config;
pub mod hooks;
pub mod layers;
pub mod pipeline;
pub mod position;
pub mod preprocess;
pub mod resnet;
pub mod transvg;
pub mod visual;
pub mod weights;

pub use config::{BertConfig, EncoderConfig, GroundingConfig, ResNetConfig, PRESETS};
pub use hooks::{GroundingHook, NoHook};
pub use pipeline::{GroundingPipeline, Prediction};
pub use transvg::{GroundingBatch, TransVg};
pub use weights::{Layout, View, Weights};
