//! CLIP (OpenAI / Hugging Face / OpenCLIP) on burn.
//!
//! The towers accept input embeddings, per-layer token replacement/appending and per-layer
//! parallel branches through [`TowerHook`], so every method reuses one encoder.
pub mod config;
mod config_fields;
pub mod cpu_kernels;
pub mod hooks;
pub mod init;
pub mod layers;
pub mod load;
pub mod model;
pub mod pipeline;
pub mod resnet;
pub mod save;
pub mod text;
pub mod vision;
pub mod zero_shot;

pub use config::{Activation, ClipConfig, Layout, TextConfig, VisionConfig};
pub use hooks::{NoHook, TowerHook};
pub use load::load_clip;
pub use model::{l2_normalize, ClipModel, ImageTower};
pub use pipeline::ClipPipeline;
pub use text::TextTower;
pub use vision::VisionTower;
