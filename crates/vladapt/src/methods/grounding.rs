//! Grounding methods on the TransVG model (spec `mmca.md` §2.6): which tensors train, in which
//! learning-rate group, and the forward that rebuilds the model from them at every step.
//!
//! Trainable tensors live in a [`Params`] store under their **official checkpoint names**
//! (`visumodel.backbone.0.body.layer2.0.conv1.weight`, `textmodel.bert.…`, `bbox_embed.…`), the
//! frozen ones (ResNet stem and `layer1`, every frozen-BN buffer, BERT's unused pooler) in a
//! flat list. Each forward rebuilds the modules from a [`Weights`] view over both — the tensors
//! are shared, not copied — so one code path serves loading, training and saving.
use crate::methods::mmca::{self, MmcaAdapters, MmcaHook, MmcaTrace};
use crate::methods::mmca_config::{MmcaConfig, MMCA_PRESETS};
use crate::methods::Params;
use crate::models::grounding::visual::VisualTokens;
use crate::models::grounding::weights::FlatTensor;
use crate::models::grounding::{GroundingBatch, GroundingConfig, NoHook, TransVg, Weights};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Which grounding method adapts the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum GroundingMethodConfig {
    /// Plain TransVG: full fine-tuning, no adapters.
    #[default]
    Transvg,
    /// TransVG + MMCA's text-conditioned adapters (spec §2), full fine-tuning plus adapters.
    Mmca(MmcaConfig),
}

impl GroundingMethodConfig {
    /// `transvg`, or an MMCA preset (`official`, `fixed`, `mmca`, `mmca-no-gate`,
    /// `static-lora`, `transformer-only`, `conv-only`; see [`MmcaConfig::preset`];
    /// `mmca-official` / `mmca-fixed` are accepted too).
    pub fn preset(name: &str) -> Result<Self> {
        if name == "transvg" {
            return Ok(Self::Transvg);
        }
        let mmca_name = match name {
            "mmca-official" => "official",
            "mmca-fixed" => "fixed",
            other => other,
        };
        MmcaConfig::preset(mmca_name).map(Self::Mmca).map_err(|_| {
            VladaptError::unknown_name(
                "grounding method",
                name,
                ["transvg", "mmca-official", "mmca-fixed"]
                    .into_iter()
                    .chain(MMCA_PRESETS.iter().copied()),
            )
        })
    }

    /// The MMCA configuration, if any.
    pub fn mmca(&self) -> Option<&MmcaConfig> {
        match self {
            Self::Transvg => None,
            Self::Mmca(c) => Some(c),
        }
    }
}

impl std::str::FromStr for GroundingMethodConfig {
    type Err = VladaptError;
    fn from_str(s: &str) -> Result<Self> {
        Self::preset(s)
    }
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
    /// Split the model tensors of `weights` (a TransVG or MMCA checkpoint, or a random source
    /// that has already built a model) into trainable and frozen, and initialise the method's
    /// own tensors: MMCA's adapters are read from `weights` when it holds them (official names),
    /// else initialised ([`MmcaConfig::init`], seeded by `init_seed`); a checkpoint holding only
    /// some of them, or adapters this configuration does not build, is an error naming them.
    pub fn new(
        model_config: &GroundingConfig,
        weights: &Weights,
        method: GroundingMethodConfig,
        device: &Device,
    ) -> Result<Self> {
        let mut frozen = Vec::new();
        let mut params = Params::new();
        let all = weights.materialise(device)?;
        let expected: Vec<(String, Vec<usize>)> = match &method {
            GroundingMethodConfig::Transvg => Vec::new(),
            GroundingMethodConfig::Mmca(c) => {
                mmca::check_model(c, model_config)?;
                mmca::adapter_shapes(c, model_config)
            }
        };
        let held: Vec<&str> = all
            .iter()
            .map(|(n, _, _)| n.as_str())
            .filter(|n| mmca::is_adapter_name(n))
            .collect();
        let foreign: Vec<&str> = held
            .iter()
            .copied()
            .filter(|n| !expected.iter().any(|(e, _)| e == n))
            .collect();
        if !foreign.is_empty() {
            return Err(VladaptError::Checkpoint {
                source_name: "grounding weights".into(),
                reason: format!(
                "the weights hold {} MMCA adapter tensor(s) that the `{}` method does not build                  (e.g. `{}`): choose the MMCA configuration (placement, gate, conditioning)                  the checkpoint was trained with",
                foreign.len(),
                match &method {
                    GroundingMethodConfig::Transvg => "transvg",
                    GroundingMethodConfig::Mmca(_) => "mmca",
                },
                foreign[0]
            ),
            });
        }
        if !held.is_empty() && held.len() < expected.len() {
            let missing: Vec<&str> = expected
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| !held.contains(n))
                .collect();
            return Err(VladaptError::Checkpoint {
                source_name: "grounding weights".into(),
                reason: format!(
                    "the weights hold only {} of the {} MMCA adapter tensors; missing e.g. `{}`",
                    held.len(),
                    expected.len(),
                    missing[0]
                ),
            });
        }
        let fresh = match (&method, held.is_empty()) {
            (GroundingMethodConfig::Mmca(c), true) => mmca::init_adapters(c, model_config),
            _ => Vec::new(),
        };
        for (name, shape, t) in all {
            if is_trainable(&name) {
                params.push_tensor_flat(name, &shape, t);
            } else {
                frozen.push((name, shape, t));
            }
        }
        for (name, shape, vals) in fresh {
            let n = vals.len();
            let t = Tensor::from_data(TensorData::new(vals, [n]), device);
            params.push_tensor_flat(name, &shape, t);
        }
        let this = Self {
            model_config: model_config.clone(),
            method,
            frozen,
            params,
        };
        // Every tensor the model reads must be present with its shape.
        this.model()?;
        this.adapters()?;
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

    /// A copy with every tensor — frozen and trainable (without autodiff) — on `device`: a
    /// data-parallel replica.
    pub fn to_device(&self, device: &Device) -> Self {
        let mut params = self.params.clone();
        for e in params.entries_mut() {
            e.value = e.value.clone().without_autodiff().to_device(device);
        }
        Self {
            model_config: self.model_config.clone(),
            method: self.method.clone(),
            frozen: self
                .frozen
                .iter()
                .map(|(n, s, t)| (n.clone(), s.clone(), t.clone().to_device(device)))
                .collect(),
            params,
        }
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
        let device = self.device();
        TransVg::load(&self.weights().root(), &self.model_config, &device)
    }

    /// MMCA's adapters built from the current tensors (`None` for TransVG).
    pub fn adapters(&self) -> Result<Option<MmcaAdapters>> {
        let Some(cfg) = self.method.mmca() else {
            return Ok(None);
        };
        let device = self.device();
        MmcaAdapters::load(&self.weights().root(), cfg, &self.model_config, &device).map(Some)
    }

    fn device(&self) -> Device {
        self.params
            .entries()
            .first()
            .map(|p| p.value.device())
            .or_else(|| self.frozen.first().map(|(_, _, t)| t.device()))
            .unwrap_or_else(Device::flex)
    }

    /// The whole forward with its intermediate results (see [`GroundingOutput`]); `trace`
    /// records MMCA's coefficients and deltas.
    pub fn forward_full(&self, batch: &GroundingBatch, trace: bool) -> Result<GroundingOutput> {
        let model = self.model()?;
        let (text, visual, text_condition, trace) = self.encode(&model, batch, trace)?;
        let boxes = model.fuse(text, &batch.text_mask, &visual)?;
        Ok(GroundingOutput {
            boxes,
            visual,
            text_condition,
            trace,
        })
    }

    /// Text features `[B, L, d]` then the visual branch with the method's hook (§2.1: MMCA
    /// conditions the visual branch on the text, so the text runs first); everything before
    /// fusion.
    #[allow(clippy::type_complexity)]
    fn encode(
        &self,
        model: &TransVg,
        batch: &GroundingBatch,
        trace: bool,
    ) -> Result<(Tensor<3>, VisualTokens, Option<Tensor<2>>, MmcaTrace)> {
        let [b, _, h, w] = batch.images.dims();
        if batch.pixel_mask.len() != b * h * w || batch.ids.len() != batch.text_mask.len() {
            return Err(VladaptError::Shape {
                what: "grounding batch".into(),
                expected: format!(
                    "{} pixel flags for images {:?} and as many ids as text-mask entries",
                    b * h * w,
                    batch.images.dims()
                ),
                actual: format!(
                    "{} pixel flags, {} ids and {} text-mask entries",
                    batch.pixel_mask.len(),
                    batch.ids.len(),
                    batch.text_mask.len()
                ),
            });
        }
        let device = batch.images.device();
        let text = model.encode_text(&batch.ids, &batch.text_mask, b, &device)?;
        match self.adapters()? {
            None => {
                let visual = model.encode_visual(batch.images.clone(), &batch.pixel_mask, &NoHook);
                Ok((text, visual, None, MmcaTrace::default()))
            }
            Some(adapters) => {
                let t = mmca::text_condition(text.clone(), &batch.text_mask);
                let hook = MmcaHook::new(&adapters, t.clone(), &batch.pixel_mask, (h, w), trace)?;
                let visual = model.encode_visual(batch.images.clone(), &batch.pixel_mask, &hook);
                Ok((text, visual, Some(t), hook.into_trace()))
            }
        }
    }

    /// Boxes `[B, 4]`, normalised `(cx, cy, w, h)` on the padded canvas.
    pub fn forward(&self, batch: &GroundingBatch) -> Result<Tensor<2>> {
        Ok(self.forward_full(batch, false)?.boxes)
    }

    /// The visual-encoder output (DETR memory `[B, h·w, d]` before `visu_proj`) under this
    /// method's hook — text-dependent for MMCA, not for TransVG.
    pub fn visual_tokens(&self, batch: &GroundingBatch) -> Result<VisualTokens> {
        Ok(self.encode(&self.model()?, batch, false)?.1)
    }
}

/// One forward's results.
#[derive(Debug)]
pub struct GroundingOutput {
    /// Boxes `[B, 4]`.
    pub boxes: Tensor<2>,
    /// Visual-encoder output (before `visu_proj`).
    pub visual: VisualTokens,
    /// MMCA's text condition `t [B, d]` (`None` for TransVG).
    pub text_condition: Option<Tensor<2>>,
    /// MMCA's coefficients and deltas (when traced).
    pub trace: MmcaTrace,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_and_serde_round_trip() {
        assert_eq!(
            "transvg".parse::<GroundingMethodConfig>().unwrap(),
            GroundingMethodConfig::Transvg
        );
        let m: GroundingMethodConfig = "mmca-no-gate".parse().unwrap();
        assert!(!m.mmca().unwrap().gate);
        let e = "lora"
            .parse::<GroundingMethodConfig>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("static-lora") && e.contains("transvg"), "{e}");
        let official = GroundingMethodConfig::preset("official").unwrap();
        let json = serde_json::to_string(&official).unwrap();
        assert!(
            json.contains("\"name\":\"mmca\"") && json.contains("visual-pooling"),
            "{json}"
        );
        let back: GroundingMethodConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, official);
        let c: GroundingMethodConfig =
            serde_json::from_str(r#"{"name": "mmca", "rank": 8, "placement": "conv"}"#).unwrap();
        assert_eq!(c.mmca().unwrap().rank, 8);
        let e = serde_json::from_str::<GroundingMethodConfig>(r#"{"name": "mmca", "rank": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank"), "{e}");
    }

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
