//! Accuracy, per-class accuracy, confusion matrix, harmonic mean and mean ± std.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// Top-1 accuracy in percent (0–100) over paired predictions and targets; 0 for empty input.
/// Extra elements of the longer slice are ignored.
pub fn accuracy(pred: &[usize], target: &[usize]) -> f64 {
    let n = pred.len().min(target.len());
    if n == 0 {
        return 0.0;
    }
    let correct = pred.iter().zip(target).filter(|(p, t)| p == t).count();
    100.0 * correct as f64 / n as f64
}

/// Accuracy in percent for each class `0..num_classes` over its targets; `None` for a class
/// without test samples.
pub fn per_class_accuracy(
    pred: &[usize],
    target: &[usize],
    num_classes: usize,
) -> Vec<Option<f64>> {
    let mut total = vec![0usize; num_classes];
    let mut correct = vec![0usize; num_classes];
    for (p, &t) in pred.iter().zip(target) {
        if t < num_classes {
            total[t] += 1;
            if *p == t {
                correct[t] += 1;
            }
        }
    }
    total
        .iter()
        .zip(&correct)
        .map(|(&n, &c)| (n > 0).then(|| 100.0 * c as f64 / n as f64))
        .collect()
}

/// Confusion counts: `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names by label.
    pub labels: Vec<String>,
    /// Rows = true class, columns = predicted class.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Row-normalised matrix (each row sums to 1, empty rows stay 0).
    pub fn normalised(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|r| {
                let s: u64 = r.iter().sum();
                r.iter()
                    .map(|&c| if s == 0 { 0.0 } else { c as f64 / s as f64 })
                    .collect()
            })
            .collect()
    }

    /// Add the counts of `other` (same labels): merging per-shard matrices gives the matrix of
    /// the whole evaluation, since each image adds 1 to exactly one cell.
    pub fn add(&mut self, other: &ConfusionMatrix) -> Result<(), DataError> {
        if self.labels != other.labels {
            return Err(DataError::Invalid {
                name: "confusion matrix",
                reason: format!(
                    "labels differ ({} vs {} classes, first difference at {:?})",
                    self.labels.len(),
                    other.labels.len(),
                    self.labels
                        .iter()
                        .zip(&other.labels)
                        .position(|(a, b)| a != b)
                ),
            });
        }
        for (r, o) in self.counts.iter_mut().zip(&other.counts) {
            for (c, x) in r.iter_mut().zip(o) {
                *c += x;
            }
        }
        Ok(())
    }

    /// Images counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Top-1 accuracy in % from the counts: the same value as [`accuracy`] of the pairs.
    pub fn accuracy(&self) -> f64 {
        let n = self.total();
        if n == 0 {
            return 0.0;
        }
        let correct: u64 = (0..self.counts.len()).map(|i| self.counts[i][i]).sum();
        100.0 * correct as f64 / n as f64
    }

    /// Per-class accuracy from the counts: the same values as [`per_class_accuracy`].
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let n: u64 = r.iter().sum();
                (n > 0).then(|| 100.0 * r[i] as f64 / n as f64)
            })
            .collect()
    }

    /// Write as pretty JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), DataError> {
        crate::sources::common::write_json(path, self)
    }
}

/// Build a confusion matrix; pairs with a label or prediction `>= labels.len()` are ignored.
pub fn confusion_matrix(pred: &[usize], target: &[usize], labels: &[String]) -> ConfusionMatrix {
    let n = labels.len();
    let mut counts = vec![vec![0u64; n]; n];
    for (&p, &t) in pred.iter().zip(target) {
        if p < n && t < n {
            counts[t][p] += 1;
        }
    }
    ConfusionMatrix {
        labels: labels.to_vec(),
        counts,
    }
}

/// Harmonic mean 2·b·n / (b + n); 0 when both are 0.
pub fn harmonic_mean(b: f64, n: f64) -> f64 {
    if b + n == 0.0 {
        0.0
    } else {
        2.0 * b * n / (b + n)
    }
}

/// Mean and population standard deviation (NumPy's default `np.std`, ddof = 0, as CoOp's
/// `parse_test_res.py` reports); (0, 0) for an empty slice.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod shard_merge_tests {
    use super::*;

    #[test]
    fn shard_matrices_add_up_to_the_whole() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let pred = [0, 1, 2, 2, 0, 1, 1, 0];
        let target = [0, 1, 1, 2, 2, 1, 0, 0];
        let whole = confusion_matrix(&pred, &target, &labels);
        let mut merged = confusion_matrix(&pred[..3], &target[..3], &labels);
        merged
            .add(&confusion_matrix(&pred[3..], &target[3..], &labels))
            .unwrap();
        assert_eq!(merged, whole);
        // 5 of 8 correct; class a: 2/3, b: 2/3, c: 1/2 (hand-counted).
        assert_eq!(merged.accuracy(), 62.5);
        assert_eq!(merged.accuracy(), accuracy(&pred, &target));
        assert_eq!(
            merged.per_class_accuracy(),
            per_class_accuracy(&pred, &target, 3)
        );
        assert_eq!(merged.per_class_accuracy()[2], Some(50.0));
        let other = confusion_matrix(&pred, &target, &labels[..2]);
        assert!(merged
            .add(&other)
            .unwrap_err()
            .to_string()
            .contains("labels differ"));
    }
}
