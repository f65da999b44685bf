//! Metrics against hand-computed numbers.
use vladapt_data::metrics::{
    accuracy, confusion_matrix, harmonic_mean, mean_std, per_class_accuracy,
};

const PRED: [usize; 7] = [0, 1, 1, 2, 2, 2, 0];
const TARGET: [usize; 7] = [0, 1, 2, 2, 2, 0, 0];

#[test]
fn accuracy_and_per_class() {
    assert!((accuracy(&PRED, &TARGET) - 500.0 / 7.0).abs() < 1e-9);
    assert_eq!(accuracy(&[], &[]), 0.0);
    let pc = per_class_accuracy(&PRED, &TARGET, 4);
    assert!((pc[0].unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(pc[1], Some(100.0));
    assert!((pc[2].unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(pc[3], None);
}

#[test]
fn confusion_counts_and_json() {
    let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let cm = confusion_matrix(&PRED, &TARGET, &labels);
    assert_eq!(cm.counts, vec![vec![2, 0, 1], vec![0, 1, 0], vec![0, 1, 2]]);
    let norm = cm.normalised();
    assert!((norm[0][2] - 1.0 / 3.0).abs() < 1e-12);
    let v = serde_json::to_value(&cm).unwrap();
    assert_eq!(v["counts"][2], serde_json::json!([0, 1, 2]));
    assert_eq!(v["labels"][1], "b");
}

#[test]
fn harmonic_mean_and_mean_std() {
    // Spec: HM(69.34, 74.22) = 71.70.
    assert!((harmonic_mean(69.34, 74.22) - 71.70).abs() < 0.005);
    assert_eq!(harmonic_mean(0.0, 0.0), 0.0);
    assert!((harmonic_mean(50.0, 100.0) - 200.0 / 3.0).abs() < 1e-12);
    let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m, 2.5);
    assert!((s - 1.25f64.sqrt()).abs() < 1e-12);
    assert_eq!(mean_std(&[]), (0.0, 0.0));
}
