//! Evaluation of a method on a list of samples with the model's test preprocessing, streamed
//! through the bounded-prefetch loader (memory stays flat on large test sets).
use crate::methods::AdaptMethod;
use crate::models::clip::ClipPipeline;
use crate::tensor_io::to_vec_f32;
use crate::Result;
use serde::{Deserialize, Serialize};
use vladapt_data::metrics::{accuracy, confusion_matrix, per_class_accuracy, ConfusionMatrix};
use vladapt_data::{Loader, LoaderConfig, Sample};

/// Accuracy and confusion of one evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalResult {
    /// Top-1 accuracy in %.
    pub accuracy: f64,
    /// Per-class accuracy in % (`None` for classes without test images).
    pub per_class: Vec<Option<f64>>,
    /// Confusion matrix.
    pub confusion: ConfusionMatrix,
    /// Number of images evaluated.
    pub count: usize,
    /// Images skipped because they failed to decode.
    pub skipped: usize,
}

/// Predicted labels (argmax of the logits) for `samples`.
pub fn predict(
    method: &dyn AdaptMethod,
    pipe: &ClipPipeline,
    samples: &[Sample],
    batch: usize,
    progress: bool,
) -> Result<(Vec<usize>, Vec<usize>, usize)> {
    let pre = pipe.preprocess.clone();
    let loader = Loader::try_new(
        samples.to_vec(),
        LoaderConfig::eval(batch.max(1)),
        move |img, _| pre.apply(img),
    )?;
    let bar = super::progress::bar(loader.num_batches() as u64, "eval", progress);
    let (mut pred, mut target) = (Vec::new(), Vec::new());
    for b in loader.epoch(0) {
        let b = b?;
        let chw: Vec<Vec<f32>> = b
            .images
            .chunks(b.images.len() / b.labels.len().max(1))
            .map(|c| c.to_vec())
            .collect();
        let px = pipe.pixels_from_chw(chw);
        let feats = method.image_features(&pipe.model, px)?;
        let logits = method.logits(&pipe.model, feats)?;
        let [n, c] = logits.dims();
        let v = to_vec_f32(&logits);
        for i in 0..n {
            let row = &v[i * c..(i + 1) * c];
            pred.push(
                (0..c)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0),
            );
        }
        target.extend(b.labels);
        bar.inc(1);
    }
    bar.finish();
    Ok((pred, target, loader.skipped()))
}

/// Evaluate `method` (its classes already set) on `samples` labelled `0..classnames.len()`.
pub fn evaluate(
    method: &dyn AdaptMethod,
    pipe: &ClipPipeline,
    samples: &[Sample],
    classnames: &[String],
    batch: usize,
    progress: bool,
) -> Result<EvalResult> {
    let (pred, target, skipped) = predict(method, pipe, samples, batch, progress)?;
    Ok(EvalResult {
        accuracy: accuracy(&pred, &target),
        per_class: per_class_accuracy(&pred, &target, classnames.len()),
        confusion: confusion_matrix(&pred, &target, classnames),
        count: pred.len(),
        skipped,
    })
}
