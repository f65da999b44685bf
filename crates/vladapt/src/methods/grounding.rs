//! Grounding methods on the TransVG model (spec `mmca.md` §2.6): which tensors train, in which
//! learning-rate group, and the forward that rebuilds the model from them at every step.
//!
//! Trainable tensors live in a [`Params`] store under their **official checkpoint names**
//! (`visumodel.backbone.0.body.layer2.0.conv1.weight`, `textmodel.bert.…`, `bbox_embed.…`), the
//! frozen ones (ResNet stem and `layer1`, every frozen-BN buffer, BERT's unused pooler) in a
//! flat list. Each forward rebuilds the modules from a [`Weights`] view over both — the tensors
//! are shared, not copied — so one code path serves loading, training and saving.
use crate::methods::Params;
use crate::models::grounding::weights::FlatTensor;
use crate::models::grounding::{GroundingBatch, GroundingConfig, TransVg, Weights};
use crate::Result;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which grounding method adapts the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum GroundingMethodConfig {
    /// Plain TransVG: full fine-tuning, no adapters.
    #[default]
    Transvg,
}

/// The official parameter groups of `train.py` (spec §2.6), chosen by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamGroup {
    /// Not under `visumodel` or `textmodel`: projections, `[REG]`, positions, fusion, head
    /// (lr 1e-4).
    Rest,
    /// Under `visumodel`, name contains `backbone`: ResNet `layer2`–`layer4` and MMCA's conv
    /// adapters (lr 1e-5).
    VisuCnn,
    /// Under `visumodel`, not `backbone`: DETR encoder with MMCA's q/k adapters, `input_proj`
    /// (lr 1e-5).
    VisuTra,
    /// Under `textmodel`: BERT (lr 1e-5).
    Text,
}

impl ParamGroup {
    /// The group of an official parameter name.
    pub fn of(name: &str) -> Self {
        if let Some(rest) = name.strip_prefix("visumodel.") {
            if rest.contains("backbone") {
                ParamGroup::VisuCnn
            } else {
                ParamGroup::VisuTra
            }
        } else if name.starts_with("textmodel.") {
            ParamGroup::Text
        } else {
            ParamGroup::Rest
        }
    }
}

/// Whether the official recipe trains the model tensor `name` (spec §2.6): everything except
/// the ResNet stem and `layer1`, the frozen BatchNorm tensors (buffers in PyTorch), and BERT's
/// pooler (built but unused, so it never receives a gradient).
pub fn is_trainable(name: &str) -> bool {
    const BODY: &str = "visumodel.backbone.0.body.";
    if let Some(b) = name.strip_prefix(BODY) {
        let frozen_bn =
            b.split('.').any(|part| part.starts_with("bn")) || b.contains(".downsample.1.");
        return !(b.starts_with("conv1.") || b.starts_with("layer1.") || frozen_bn);
    }
    !name.starts_with("textmodel.bert.pooler.")
}

/// A grounding model with its trainable tensors split out.
pub struct GroundingMethod {
    /// Model sizes.
    pub model_config: GroundingConfig,
    /// The method.
    pub method: GroundingMethodConfig,
    frozen: Vec<FlatTensor>,
    params: Params,
}

impl GroundingMethod {
    /// Split the model tensors of `weights` (a TransVG checkpoint, or a random source that has
    /// already built a model) into trainable and frozen, and initialise the method's own tensors.
    pub fn new(
        model_config: &GroundingConfig,
        weights: &Weights,
        method: GroundingMethodConfig,
        device: &Device,
    ) -> Result<Self> {
        let mut frozen = Vec::new();
        let mut params = Params::new();
        for (name, shape, t) in weights.materialise(device)? {
            if is_trainable(&name) {
                params.push_tensor_flat(name, &shape, t);
            } else {
                frozen.push((name, shape, t));
            }
        }
        let this = Self {
            model_config: model_config.clone(),
            method,
            frozen,
            params,
        };
        // Every tensor the model reads must be present with its shape.
        this.model()?;
        Ok(this)
    }

    /// Trainable tensors (official names).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Mutable trainable tensors (optimiser, checkpoint loading).
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// Frozen tensors (official names, flat).
    pub fn frozen(&self) -> &[FlatTensor] {
        &self.frozen
    }

    fn weights(&self) -> Weights {
        let mut all = self.frozen.clone();
        all.extend(
            self.params
                .entries()
                .iter()
                .map(|p| (p.name.clone(), p.shape.clone(), p.value.clone())),
        );
        Weights::from_tensors("<grounding method>", all)
    }

    /// The model built from the current tensors (tracked ones carry their autodiff graph).
    pub fn model(&self) -> Result<TransVg> {
        let device = self
            .params
            .entries()
            .first()
            .map(|p| p.value.device())
            .or_else(|| self.frozen.first().map(|(_, _, t)| t.device()))
            .unwrap_or_else(Device::flex);
        TransVg::load(&self.weights().root(), &self.model_config, &device)
    }

    /// Boxes `[B, 4]`, normalised `(cx, cy, w, h)` on the padded canvas.
    pub fn forward(&self, batch: &GroundingBatch) -> Result<Tensor<2>> {
        match &self.method {
            GroundingMethodConfig::Transvg => self.model()?.forward(batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_groups_and_frozen_parts_follow_train_py() {
        let b = "visumodel.backbone.0.body.";
        assert!(!is_trainable(&format!("{b}conv1.weight")));
        assert!(!is_trainable(&format!("{b}layer1.0.conv1.weight")));
        assert!(!is_trainable(&format!("{b}layer2.0.bn1.running_var")));
        assert!(!is_trainable(&format!("{b}layer3.0.downsample.1.weight")));
        assert!(is_trainable(&format!("{b}layer3.0.downsample.0.weight")));
        assert!(is_trainable(&format!("{b}layer4.2.conv3.weight")));
        assert!(!is_trainable("textmodel.bert.pooler.dense.weight"));
        assert!(is_trainable(
            "textmodel.bert.embeddings.word_embeddings.weight"
        ));
        assert_eq!(
            ParamGroup::of(&format!("{b}layer2.0.conv1.weight")),
            ParamGroup::VisuCnn
        );
        assert_eq!(
            ParamGroup::of("visumodel.transformer.encoder.layers.0.linear1.weight"),
            ParamGroup::VisuTra
        );
        assert_eq!(
            ParamGroup::of("visumodel.input_proj.weight"),
            ParamGroup::VisuTra
        );
        assert_eq!(
            ParamGroup::of("textmodel.bert.encoder.layer.0.output.dense.bias"),
            ParamGroup::Text
        );
        assert_eq!(ParamGroup::of("vl_pos_embed.weight"), ParamGroup::Rest);
        assert_eq!(ParamGroup::of("bbox_embed.layers.2.bias"), ParamGroup::Rest);
    }
}
