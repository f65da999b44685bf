//! Contrastive CLIP pretraining from scratch (image–caption pairs, symmetric InfoNCE), for the
//! embedded default model trained on the procedural world of `vladapt-world`.
//!
//! * [`config`]: model presets (`tiny`, `small`, JSON) and training hyper-parameters;
//! * [`data`]: `captions.csv` / `image,caption` CSV loading, images decoded once into memory;
//! * [`schedule`]: per-step linear warm-up + cosine learning rate;
//! * [`run`]: the resumable training loop (checkpoints, metrics, plot, final HF model).
pub mod config;
pub mod data;
pub mod run;
pub mod schedule;

pub use config::{model_preset, read_model_config, PretrainConfig, PRESETS};
pub use data::{PairData, CAPTIONS_CSV};
pub use run::{contrastive_loss, pretrain, Event, PretrainOutcome, MAX_LOGIT_SCALE};
pub use schedule::WarmupCosine;
