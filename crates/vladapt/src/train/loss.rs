//! Losses.
use crate::{Result, VladaptError};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

/// Mean cross-entropy of `logits` `[B, C]` against integer `labels` (no label smoothing, as all
/// the official trainers). A label outside `0..C` is an error naming it.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Result<Tensor<1>> {
    let [b, c] = logits.dims();
    if labels.len() != b {
        return Err(VladaptError::Shape {
            what: "labels".into(),
            expected: format!("[{b}] (one per image of the batch)"),
            actual: format!("[{}]", labels.len()),
        });
    }
    let mut onehot = vec![0f32; b * c];
    for (i, &y) in labels.iter().enumerate() {
        if y >= c {
            return Err(VladaptError::argument(
                "labels",
                format!("label {y} is outside the {c} classes"),
            ));
        }
        onehot[i * c + y] = 1.0;
    }
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, c]), &logits.device());
    Ok((log_softmax(logits, 1) * onehot)
        .sum()
        .neg()
        .div_scalar(b as f64))
}
