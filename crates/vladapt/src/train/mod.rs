//! Training: loss, one forward/backward step, optimisers, schedules, checkpoints.
pub mod inspect;
pub mod loss;
