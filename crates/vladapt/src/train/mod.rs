//! Training: one loop for every task ([`task`]), its batch planner, loss, optimisers, schedules,
//! checkpoints, evaluation; classification ([`trainer`]).
pub mod batches;
pub mod config;
pub mod data_parallel;
pub mod eval;
pub mod grounding;
pub mod grounding_config;
pub mod grounding_eval;
pub mod grounding_loss;
pub mod grounding_parallel;
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod progress;
pub mod run_dir;
pub mod schedule;
pub mod task;
pub mod trainer;

pub use config::{Protocol, RunConfig, TrainConfig};
pub use eval::{evaluate, EvalResult};
pub use task::{run_epochs, EpochLr, LoopSpec, StepStats, TrainTask};
pub use trainer::{train, train_step, StepInput, StepOutput, TrainData, TrainOptions};
