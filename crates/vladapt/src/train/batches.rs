//! The trainer's batch plan, shared by every task: [`vladapt_data::BatchPlan::trainer`] (a
//! seeded permutation per epoch cut into batches). Depends only on `(seed, epoch, n, batch)`,
//! so a resumed run replays the same batches.
use vladapt_data::BatchPlan;

/// The batches of 0-based `epoch` over `n` samples: the samples in a ChaCha8 permutation seeded
/// with `seed ^ epoch·0x9E3779B97F4A7C15`, cut into `n / batch` full batches (the remainder is
/// dropped, PyTorch's `drop_last=True`); with fewer than `batch` samples, one batch of all of
/// them (with none, one empty batch: the task then reports that it has no samples). `batch` 0
/// is treated as 1.
pub fn epoch_batches(seed: u64, epoch: usize, n: usize, batch: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    BatchPlan::trainer(seed, batch).batches(epoch as u64, n)
}

/// Optimiser steps per epoch for `n` samples in batches of `batch` (see [`epoch_batches`]).
pub fn steps_per_epoch(n: usize, batch: usize) -> usize {
    BatchPlan::trainer(0, batch).num_batches(n).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_once_per_epoch_up_to_the_dropped_remainder() {
        let b = epoch_batches(7, 3, 10, 4);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|x| x.len() == 4));
        let mut all: Vec<usize> = b.concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "no sample twice");
        assert_eq!(steps_per_epoch(10, 4), 2);
        // Fewer samples than a batch: one batch of all of them.
        let small = epoch_batches(7, 0, 3, 8);
        assert_eq!(small.len(), 1);
        let mut s = small[0].clone();
        s.sort();
        assert_eq!(s, vec![0, 1, 2]);
        assert_eq!(steps_per_epoch(3, 8), 1);
    }

    #[test]
    fn order_depends_on_seed_and_epoch_only() {
        assert_eq!(epoch_batches(1, 2, 50, 5), epoch_batches(1, 2, 50, 5));
        assert_ne!(epoch_batches(1, 2, 50, 5), epoch_batches(1, 3, 50, 5));
        assert_ne!(epoch_batches(1, 2, 50, 5), epoch_batches(2, 2, 50, 5));
    }
}
