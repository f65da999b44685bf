//! Per-step learning rate: linear warm-up from 0 to `base_lr` over `warmup_steps`, then cosine
//! decay to `min_lr` at `total_steps` (open_clip's `cosine_lr`).
use serde::{Deserialize, Serialize};

/// Linear warm-up + cosine decay, evaluated per optimisation step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupCosine {
    /// Peak learning rate.
    pub base_lr: f64,
    /// Final learning rate.
    pub min_lr: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
    /// Total steps of the run.
    pub total_steps: usize,
}

impl WarmupCosine {
    /// Learning rate of 0-based step `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let e = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + (std::f64::consts::PI * e).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = WarmupCosine {
            base_lr: 1.0,
            min_lr: 0.0,
            warmup_steps: 4,
            total_steps: 14,
        };
        assert!((s.lr(0) - 0.25).abs() < 1e-12);
        assert!((s.lr(3) - 1.0).abs() < 1e-12);
        assert!((s.lr(4) - 1.0).abs() < 1e-12);
        assert!((s.lr(9) - 0.5).abs() < 1e-12);
        assert!(s.lr(13) < 0.03 && s.lr(13) > 0.0);
        assert!(s.lr(14).abs() < 1e-12);
    }
}
