//! The papers' evaluation protocols on top of the trainer: one run (few-shot or base-to-novel),
//! few-shot curves (shots × seeds), base-to-novel tables, cross-dataset transfer and domain
//! generalisation. Each run writes `results.json` (and finished runs are skipped on re-run).
pub mod run;
pub mod suite;
pub mod tables;

pub use run::{run_one, RunResult, RunSpec};
