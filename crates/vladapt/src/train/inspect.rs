//! One forward/backward pass on a fixed batch, for parity checks against reference
//! implementations (`vladapt inspect-step`): logits, loss and the gradient of every trainable
//! tensor, without an optimiser step.
use super::loss::cross_entropy;
use crate::methods::{AdaptMethod, ClassSet};
use crate::models::clip::ClipModel;
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32};
use crate::{Result, VladaptError};
use burn::tensor::Tensor;
use std::path::Path;
use vladapt_tokenizer::ClipTokenizer;

/// What one step produced.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// `[B, C]` row-major.
    pub logits: Vec<f32>,
    /// Logit shape.
    pub logits_shape: [usize; 2],
    /// Mean cross-entropy.
    pub loss: f32,
    /// `(tensor name, shape, gradient)` for every trainable tensor, in parameter order.
    pub grads: Vec<(String, Vec<usize>, Vec<f32>)>,
}

/// Run one forward/backward pass of `method` on `pixels` `[B, 3, S, S]` with `labels`.
pub fn inspect_step(
    method: &mut dyn AdaptMethod,
    clip: &ClipModel,
    tok: &ClipTokenizer,
    classnames: &[String],
    template: &str,
    pixels: Tensor<4>,
    labels: &[usize],
) -> Result<StepOutput> {
    method.set_classes(&ClassSet {
        clip,
        tokenizer: tok,
        classnames,
        template,
    })?;
    method.params_mut().track();
    let feats = method.image_features(clip, pixels)?;
    let logits = method.logits(clip, feats)?;
    let logits_shape = logits.dims();
    let loss = cross_entropy(logits.clone(), labels)?;
    let loss_value = to_vec_f32(&loss)[0];
    let mut grads_out = Vec::new();
    if !method.params().entries().is_empty() {
        let grads = loss.backward();
        for (p, g) in method
            .params()
            .entries()
            .iter()
            .zip(method.params().grads(&grads))
        {
            let g = g.ok_or_else(|| VladaptError::NoGradient {
                tensor: p.name.clone(),
            })?;
            grads_out.push((p.name.clone(), p.shape.clone(), to_vec_f32(&g)));
        }
    }
    method.params_mut().untrack();
    Ok(StepOutput {
        logits: to_vec_f32(&logits),
        logits_shape,
        loss: loss_value,
        grads: grads_out,
    })
}

impl StepOutput {
    /// Write `logits`, `loss` and `grad.<name>` tensors to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = vec![
            (
                "logits".to_string(),
                self.logits_shape.to_vec(),
                self.logits.clone(),
            ),
            ("loss".to_string(), vec![1], vec![self.loss]),
        ];
        for (n, s, g) in &self.grads {
            t.push((format!("grad.{n}"), s.clone(), g.clone()));
        }
        save_safetensors_atomic(path, &t, None)
    }
}
