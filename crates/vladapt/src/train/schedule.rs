//! Learning-rate schedules. Dassl's schedule is epoch-level: the lr changes once per epoch
//! (methods.md §0). With a constant warm-up of W epochs at `warmup_lr`, epoch e ≥ W uses
//! `base · (1 + cos(π·(e−W)/max_epoch)) / 2` — the cosine is shifted and never reaches 0.
use serde::{Deserialize, Serialize};

/// Shape of the schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// `CosineAnnealingLR(T_max = max_epoch, eta_min = 0)`.
    Cosine,
    /// Constant.
    Constant,
}

/// Epoch-level learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrSchedule {
    /// Base learning rate.
    pub base_lr: f64,
    /// Epochs of training (`MAX_EPOCH`).
    pub max_epoch: usize,
    /// Constant warm-up epochs (`WARMUP_EPOCH`).
    pub warmup_epochs: usize,
    /// Warm-up learning rate (`WARMUP_CONS_LR`).
    pub warmup_lr: f64,
    /// Cosine or constant.
    pub kind: ScheduleKind,
}

impl Default for LrSchedule {
    fn default() -> Self {
        Self {
            base_lr: 0.002,
            max_epoch: 10,
            warmup_epochs: 1,
            warmup_lr: 1e-5,
            kind: ScheduleKind::Cosine,
        }
    }
}

impl LrSchedule {
    /// Learning rate used during 0-based epoch `epoch`.
    pub fn lr(&self, epoch: usize) -> f64 {
        if epoch < self.warmup_epochs {
            return self.warmup_lr;
        }
        match self.kind {
            ScheduleKind::Constant => self.base_lr,
            ScheduleKind::Cosine => {
                let e = (epoch - self.warmup_epochs) as f64;
                self.base_lr
                    * (1.0 + (std::f64::consts::PI * e / self.max_epoch.max(1) as f64).cos())
                    / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn maple_sequence_from_the_spec() {
        // methods.md §0: 1e-5, 3.5e-3, 3.166e-3, 2.291e-3, 1.209e-3 (MaPLe issue #17 log).
        let s = LrSchedule {
            base_lr: 0.0035,
            max_epoch: 5,
            warmup_epochs: 1,
            warmup_lr: 1e-5,
            kind: ScheduleKind::Cosine,
        };
        let got: Vec<f64> = (0..5).map(|e| s.lr(e)).collect();
        close(&got, &[1e-5, 3.5e-3, 3.166e-3, 2.291e-3, 1.209e-3], 5e-7);
    }

    #[test]
    fn mma_sequence_from_the_spec() {
        // methods.md §0: 1.5e-3, 1.357e-3, 9.82e-4, 5.18e-4, 1.43e-4 (no warm-up).
        let s = LrSchedule {
            base_lr: 0.0015,
            max_epoch: 5,
            warmup_epochs: 0,
            warmup_lr: 0.0,
            kind: ScheduleKind::Cosine,
        };
        let got: Vec<f64> = (0..5).map(|e| s.lr(e)).collect();
        close(&got, &[1.5e-3, 1.357e-3, 9.82e-4, 5.18e-4, 1.43e-4], 5e-7);
    }
}
