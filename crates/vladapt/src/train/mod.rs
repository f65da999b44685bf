//! Training: loss, optimisers, schedules, the loop, checkpoints, evaluation.
pub mod config;
pub mod data_parallel;
pub mod eval;
pub mod grounding_loss;
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod progress;
pub mod run_dir;
pub mod schedule;
pub mod trainer;

pub use config::{Protocol, RunConfig, TrainConfig};
pub use eval::{evaluate, EvalResult};
pub use trainer::{train, train_step, StepInput, StepOutput, TrainData, TrainOptions};
