//! Zero-shot CLIP (Radford et al. 2021): `logits = exp(s) · cos(f_img, mean_t norm(f_text(t(c))))`,
//! with the dataset template or an ensemble of templates (CoOp `zsclip.py`).
use super::config::{MethodKind, ZeroShotConfig};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel};
use crate::{Result, VladaptError};
use burn::tensor::Tensor;

/// Zero-shot CLIP; no trainable tensors.
pub struct ZeroShot {
    config: ZeroShotConfig,
    params: Params,
    /// Normalised class weights `[C, proj]`.
    weights: Option<Tensor<2>>,
}

impl ZeroShot {
    /// New zero-shot classifier.
    pub fn new(config: ZeroShotConfig) -> Self {
        Self {
            config,
            params: Params::new(),
            weights: None,
        }
    }
}

/// Normalised ensemble of text features over templates → `[C, proj]`.
pub fn ensemble_text_features(classes: &ClassSet<'_>, templates: &[String]) -> Result<Tensor<2>> {
    crate::models::clip::zero_shot::ensemble_text_features(
        classes.clip,
        classes.tokenizer,
        classes.classnames,
        templates,
    )
}

impl AdaptMethod for ZeroShot {
    fn kind(&self) -> MethodKind {
        MethodKind::Zeroshot
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let templates = if self.config.templates.is_empty() {
            vec![classes.template.to_string()]
        } else {
            self.config.templates.clone()
        };
        self.weights = Some(ensemble_text_features(classes, &templates)?);
        Ok(())
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let w = self
            .weights
            .clone()
            .ok_or_else(|| VladaptError::Invalid("zero-shot: set_classes was not called".into()))?;
        Ok(l2_normalize(image_features)
            .matmul(w.transpose())
            .mul_scalar(clip.scale()))
    }
}
