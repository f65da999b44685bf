//! MMA (Yang et al., "MMA: Multi-Modal Adapter for Vision-Language Models", CVPR 2024), Eq. 4–6:
//! for blocks k..L of both towers, a branch parallel to the whole block on its `ln_1` input,
//! `a = α · Up_m(Shared_l(Down_m(LN1(x))))` (ReLU after Down and Shared), added after the MLP
//! residual; `Shared_l` is one 32→32 projection per layer used by both modalities.
//! Gradient scaling as the official code: the branch input passes `α×` the gradient and the
//! branch output `1/α×`, so adapter parameters receive `1/α ×` the true gradient while the
//! residual stream receives the true one (methods.md §2.6, §6.1).
use super::{check_range, check_template, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use vladapt_tokenizer::ClipTokenizer;
use serde::{Deserialize, Serialize};
use super::init::{kaiming_normal_fan_out, linear_t, scale_grad};
use super::prompts::{fill_template, PromptTokens};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel, NoHook, TowerHook};
use crate::{Result, VladaptError};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// MMA (Yang et al., CVPR 2024).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MmaConfig {
    /// First adapted block, 1-based (5 base-to-novel, 9 cross-dataset).
    pub adapter_start: usize,
    /// Last adapted block, 1-based inclusive (`0` = the last block).
    pub adapter_end: usize,
    /// Bottleneck width.
    pub dim: usize,
    /// Branch scale α.
    pub alpha: f64,
    /// Fixed text template.
    pub template: String,
}

impl Default for MmaConfig {
    fn default() -> Self {
        Self {
            adapter_start: 5,
            adapter_end: 0,
            dim: 32,
            alpha: 0.001,
            template: "a photo of a {}.".into(),
        }
    }
}


impl MethodSpec for MmaConfig {
    const NAME: &'static str = "mma";

    fn validate(&self) -> Result<()> {
        check_range("adapter_start", self.adapter_start, 1, 1 << 10)?;
        if self.adapter_end != 0 && self.adapter_end < self.adapter_start {
            return Err(VladaptError::config_value(
                "method.adapter_end",
                self.adapter_end,
                format!("0 for the last block, or {}..", self.adapter_start),
            ));
        }
        check_range("dim", self.dim, 1, 1 << 20)?;
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(VladaptError::config_value("method.alpha", self.alpha, "> 0"));
        }
        check_template("template", &self.template)
    }

    /// Batch 16 × 5 epochs, lr 0.0015, no warm-up.
    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::sgd(0.0015, 5, false).batch(16)
    }

    /// The demo adapts the upper 2/3 of the tiny CLIP's blocks, as blocks 5–12 of 12.
    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 1,
            overrides: &["method.adapter_start=1"],
        })
    }

    fn build(
        &self,
        clip: &ClipModel,
        _: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(Mma::new(self.clone(), clip, device)?))
    }
}


/// Frozen text state below the first adapted block, per class set.
struct TextState {
    prompts: PromptTokens,
    /// Residual stream at the input of the first adapted block `[C, L, width]`.
    hidden: Tensor<3>,
}

/// MMA.
pub struct Mma {
    config: MmaConfig,
    params: Params,
    /// 0-based adapted blocks.
    layers: std::ops::Range<usize>,
    text: Option<TextState>,
    cached_text: Option<Tensor<2>>,
}

impl Mma {
    /// Adapters for blocks `adapter_start..=adapter_end` (1-based), Kaiming-normal fan-out
    /// weights and zero biases.
    pub fn new(config: MmaConfig, clip: &ClipModel, device: &Device) -> Result<Self> {
        config.validate()?;
        clip.vision.vit_for("mma")?;
        let (wt, wv) = (clip.config.text.width, clip.config.vision.width);
        let depth = clip.config.text.layers.min(clip.config.vision.layers);
        let end = if config.adapter_end == 0 {
            depth
        } else {
            config.adapter_end
        };
        if config.adapter_start == 0 || config.adapter_start > end || end > depth {
            return Err(VladaptError::config_value(
                "method.adapter_start..adapter_end",
                format!("{}..{}", config.adapter_start, config.adapter_end),
                format!("1 ≤ start ≤ end ≤ {depth}, the number of layers of this model"),
            ));
        }
        let r = config.dim;
        let mut params = Params::new();
        let layers = (config.adapter_start - 1)..end;
        for l in layers.clone() {
            for (m, w) in [("text", wt), ("vision", wv)] {
                params.push_tensor(
                    format!("mma.{m}.down.{l}.weight"),
                    kaiming_normal_fan_out(r, w, device),
                );
                params.push(format!("mma.{m}.down.{l}.bias"), &[r], vec![0.0; r], device);
                params.push_tensor(
                    format!("mma.{m}.up.{l}.weight"),
                    kaiming_normal_fan_out(w, r, device),
                );
                params.push(format!("mma.{m}.up.{l}.bias"), &[w], vec![0.0; w], device);
            }
            params.push_tensor(
                format!("mma.shared.{l}.weight"),
                kaiming_normal_fan_out(r, r, device),
            );
            params.push(format!("mma.shared.{l}.bias"), &[r], vec![0.0; r], device);
        }
        Ok(Self {
            config,
            params,
            layers,
            text: None,
            cached_text: None,
        })
    }

    fn text_features(&self, clip: &ClipModel) -> Result<Tensor<2>> {
        if let Some(t) = &self.cached_text {
            return Ok(t.clone());
        }
        let s = self
            .text
            .as_ref()
            .ok_or(VladaptError::CallOrder {
                method: "mma",
                call: "set_classes",
            })?;
        let hook = Branch {
            mma: self,
            modality: "text",
        };
        let x = clip.text.run_blocks(
            s.hidden.clone(),
            self.layers.start..clip.text.blocks.len(),
            &hook,
        );
        Ok(l2_normalize(clip.text.pool(x, &s.prompts.eot)))
    }
}

struct Branch<'a> {
    mma: &'a Mma,
    modality: &'static str,
}

impl TowerHook for Branch<'_> {
    fn parallel_branch(&self, layer: usize, ln1_x: &Tensor<3>) -> Option<Tensor<3>> {
        if !self.mma.layers.contains(&layer) {
            return None;
        }
        let (p, m, a) = (&self.mma.params, self.modality, self.mma.config.alpha);
        let lin = |x: Tensor<3>, name: String| {
            linear_t(
                x,
                p.get(&format!("{name}.weight")),
                Some(p.get(&format!("{name}.bias"))),
            )
        };
        let x = scale_grad(ln1_x.clone(), a);
        let h = relu(lin(x, format!("mma.{m}.down.{layer}")));
        let h = relu(lin(h, format!("mma.shared.{layer}")));
        let out = lin(h, format!("mma.{m}.up.{layer}")).mul_scalar(a);
        Some(scale_grad(out, 1.0 / a))
    }
}

impl AdaptMethod for Mma {
    fn kind(&self) -> MethodKind {
        MethodKind::Mma
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        self.cached_text = None;
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let prompts = PromptTokens::new(
            classes.clip,
            classes.tokenizer,
            &fill_template(&self.config.template, classes.classnames),
        )?;
        // The text tower below the first adapted block does not depend on the adapters:
        // compute it once per class set.
        let x = classes.clip.text.add_positions(prompts.embeds.clone());
        let hidden = classes
            .clip
            .text
            .run_blocks(x, 0..self.layers.start, &NoHook);
        self.text = Some(TextState { prompts, hidden });
        self.cached_text = None;
        Ok(())
    }
    fn frozen_image_features(&self) -> bool {
        false
    }
    fn image_features(&self, clip: &ClipModel, pixels: Tensor<4>) -> Result<Tensor<2>> {
        clip.encode_image(
            pixels,
            &Branch {
                mma: self,
                modality: "vision",
            },
        )
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let text = self.text_features(clip)?;
        Ok(clip.logits_unit_text(image_features, text))
    }
    fn freeze_for_inference(&mut self, clip: &ClipModel) -> Result<()> {
        self.cached_text = None;
        self.cached_text = Some(self.text_features(clip)?);
        Ok(())
    }
}
