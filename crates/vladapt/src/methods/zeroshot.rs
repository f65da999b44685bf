//! Zero-shot CLIP (Radford et al. 2021): `logits = exp(s) · cos(f_img, mean_t norm(f_text(t(c))))`,
//! with the dataset template or an ensemble of templates (CoOp `zsclip.py`).
use super::{check_template, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use vladapt_tokenizer::ClipTokenizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::ClipModel;
use crate::{Result, VladaptError};
use burn::tensor::Tensor;

/// Zero-shot CLIP.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZeroShotConfig {
    /// Templates to ensemble; empty = the dataset's template.
    pub templates: Vec<String>,
}


impl MethodSpec for ZeroShotConfig {
    const NAME: &'static str = "zeroshot";
    const GRADIENT_STEPS: bool = false;

    fn validate(&self) -> Result<()> {
        for t in &self.templates {
            check_template("templates", t)?;
        }
        Ok(())
    }

    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::no_training()
    }

    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 0,
            overrides: &[],
        })
    }

    fn build(
        &self,
        _: &ClipModel,
        _: &ClipTokenizer,
        _: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(ZeroShot::new(self.clone())))
    }
}


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
            .ok_or(VladaptError::CallOrder {
                method: "zero-shot",
                call: "set_classes",
            })?;
        Ok(clip.logits_unit_text(image_features, w))
    }
}
