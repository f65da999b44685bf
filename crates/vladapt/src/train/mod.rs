//! Training: loss, one forward/backward step, optimisers, schedules, checkpoints.
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod schedule;
