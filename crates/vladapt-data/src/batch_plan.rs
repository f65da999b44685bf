//! The one shuffle/batch planner: a seeded ChaCha8 permutation of `0..n` per epoch, cut into
//! batches. Used by the data [`Loader`](crate::Loader), the adaptation trainer
//! (`vladapt::train::batches`) and contrastive pretraining (`vladapt::pretrain::PairData`).
//!
//! A plan depends only on `(seed, epoch, n)` and its settings, so a resumed run replays the
//! same batches. The permutation is rand's Fisher–Yates `shuffle` driven by the epoch's
//! generator ([`BatchPlan::epoch_rng`]); how that generator derives from `(seed, epoch)` is
//! the plan's [`EpochSeed`]. Each user keeps the derivation its saved runs were made with, so
//! that resumed runs and the `vladapt demo` table stay bit-identical.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The golden-ratio constant that mixes the epoch into the trainer's seed.
const EPOCH_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// How an epoch's generator derives from `(seed, epoch)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochSeed {
    /// `ChaCha8Rng::seed_from_u64(seed ^ epoch·0x9E3779B97F4A7C15)` (the adaptation trainer).
    Mixed,
    /// `ChaCha8Rng::seed_from_u64(seed ^ salt)` on stream `epoch + offset` (the loader:
    /// salt 0, offset 0; pretraining: its own salt, offset 1).
    Stream {
        /// XOR-ed into the seed.
        salt: u64,
        /// Added to the epoch to give the stream.
        offset: u64,
    },
}

/// An epoch → batches planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Seed of the run.
    pub seed: u64,
    /// Derivation of each epoch's generator.
    pub seeding: EpochSeed,
    /// Samples per batch (0 is treated as 1).
    pub batch: usize,
    /// Shuffle each epoch (else the identity order).
    pub shuffle: bool,
    /// Drop the last partial batch (PyTorch's `drop_last=True`) — unless there are fewer
    /// samples than one batch: then one batch of all of them.
    pub drop_last: bool,
}

impl BatchPlan {
    /// The adaptation trainer's plan: shuffled, [`EpochSeed::Mixed`], `drop_last`.
    pub fn trainer(seed: u64, batch: usize) -> Self {
        Self {
            seed,
            seeding: EpochSeed::Mixed,
            batch,
            shuffle: true,
            drop_last: true,
        }
    }

    /// The generator of `epoch` (see [`EpochSeed`]). After [`order`](Self::order) has used it
    /// for the permutation, callers may keep drawing per-sample choices from the same stream.
    pub fn epoch_rng(&self, epoch: u64) -> ChaCha8Rng {
        match self.seeding {
            EpochSeed::Mixed => {
                ChaCha8Rng::seed_from_u64(self.seed ^ epoch.wrapping_mul(EPOCH_MIX))
            }
            EpochSeed::Stream { salt, offset } => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ salt);
                rng.set_stream(epoch.wrapping_add(offset));
                rng
            }
        }
    }

    /// The sample order of `epoch` over `n` samples, drawn from `rng` (normally
    /// [`epoch_rng`](Self::epoch_rng)`(epoch)`): identity without shuffle.
    pub fn order_with(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        if self.shuffle {
            order.shuffle(rng);
        }
        order
    }

    /// The sample order of `epoch` over `n` samples.
    pub fn order(&self, epoch: u64, n: usize) -> Vec<usize> {
        self.order_with(n, &mut self.epoch_rng(epoch))
    }

    /// Batches per epoch over `n` samples.
    pub fn num_batches(&self, n: usize) -> usize {
        let b = self.batch.max(1);
        if self.drop_last && n >= b {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// `order` cut into this plan's batches.
    pub fn cut<T: Clone>(&self, order: &[T]) -> Vec<Vec<T>> {
        let b = self.batch.max(1);
        order
            .chunks(b)
            .take(self.num_batches(order.len()))
            .map(<[T]>::to_vec)
            .collect()
    }

    /// The batches of `epoch` over `n` samples.
    pub fn batches(&self, epoch: u64, n: usize) -> Vec<Vec<usize>> {
        self.cut(&self.order(epoch, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_last_keeps_full_batches_and_one_batch_when_fewer_than_a_batch() {
        let p = BatchPlan::trainer(7, 4);
        let b = p.batches(3, 10);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|x| x.len() == 4));
        let mut all = b.concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "no sample twice");
        assert_eq!(p.num_batches(10), 2);
        let small = p.batches(0, 3);
        assert_eq!(small.len(), 1);
        let mut s = small[0].clone();
        s.sort();
        assert_eq!(s, [0, 1, 2]);
        assert_eq!(p.num_batches(0), 0);
        // Without drop_last the remainder is a last, short batch.
        let keep = BatchPlan {
            drop_last: false,
            shuffle: false,
            ..p
        };
        assert_eq!(
            keep.batches(0, 10),
            [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
        );
    }

    #[test]
    fn the_seedings_are_the_documented_chacha8_streams() {
        // Independent of the planner: rand's shuffle on the generator the docs describe.
        let manual = |mut rng: ChaCha8Rng| {
            let mut v: Vec<usize> = (0..20).collect();
            v.shuffle(&mut rng);
            v
        };
        let p = BatchPlan::trainer(11, 5);
        assert_eq!(
            p.order(2, 20),
            manual(ChaCha8Rng::seed_from_u64(11 ^ 2u64.wrapping_mul(EPOCH_MIX)))
        );
        let s = BatchPlan {
            seeding: EpochSeed::Stream {
                salt: 0xAB,
                offset: 1,
            },
            ..p
        };
        let mut rng = ChaCha8Rng::seed_from_u64(11 ^ 0xAB);
        rng.set_stream(3);
        assert_eq!(s.order(2, 20), manual(rng));
        assert_ne!(p.order(2, 20), p.order(3, 20));
        assert_ne!(p.order(2, 20), BatchPlan::trainer(12, 5).order(2, 20));
    }
}
