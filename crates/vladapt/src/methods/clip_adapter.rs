//! CLIP-Adapter (Gao et al., IJCV 2023), Eq. 1–3: a bias-free bottleneck
//! `A(f) = ReLU(ReLU(f W₁ᵀ) W₂ᵀ)` blended with the frozen feature,
//! `f' = α·A(f) + (1−α)·f` (α = 0.2), on the image feature `[B, C]`; optionally on the text
//! feature too (the paper's text adapter, absent from the official code).
use super::{check_range, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use vladapt_tokenizer::ClipTokenizer;
use serde::{Deserialize, Serialize};
use super::init::{linear_t, torch_linear};
use super::prompts::{fill_template, PromptTokens};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{ClipModel, NoHook};
use crate::{Result, VladaptError};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// CLIP-Adapter (Gao et al., IJCV 2023).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipAdapterConfig {
    /// Bottleneck reduction (C → C/r → C).
    pub reduction: usize,
    /// Residual ratio α: `f' = α·A(f) + (1−α)·f`.
    pub ratio: f64,
    /// Also adapt the text feature (described in the paper, absent from the official code).
    pub text_adapter: bool,
}

impl Default for ClipAdapterConfig {
    fn default() -> Self {
        Self {
            reduction: 4,
            ratio: 0.2,
            text_adapter: false,
        }
    }
}


impl MethodSpec for ClipAdapterConfig {
    const NAME: &'static str = "clip-adapter";

    fn validate(&self) -> Result<()> {
        check_range("reduction", self.reduction, 1, 1 << 20)?;
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(VladaptError::config_value("method.ratio", self.ratio, "0..=1"));
        }
        Ok(())
    }

    /// CoOp's schedule; Tip-Adapter's 10 augmented views per image ("augment_epoch"),
    /// computed once.
    fn recipe(&mut self, _: Protocol, shots: usize) -> Recipe {
        Recipe {
            cache_views: 10,
            ..Recipe::sgd(0.002, Recipe::coop_epochs(shots), true)
        }
    }

    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 5,
            overrides: &[],
        })
    }

    fn build(
        &self,
        clip: &ClipModel,
        _: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(ClipAdapter::new(self.clone(), clip, device)?))
    }
}


/// CLIP-Adapter.
pub struct ClipAdapter {
    config: ClipAdapterConfig,
    params: Params,
    /// Unnormalised frozen text features `[C, proj]` of the dataset template.
    text: Option<Tensor<2>>,
}

impl ClipAdapter {
    /// New adapter with PyTorch-default initialisation.
    pub fn new(config: ClipAdapterConfig, clip: &ClipModel, device: &Device) -> Result<Self> {
        config.validate()?;
        let c = clip.config.projection_dim;
        if config.reduction == 0 || c / config.reduction == 0 {
            return Err(VladaptError::config_value(
                "method.reduction",
                config.reduction,
                format!("1..={c}, at most the feature size {c} of this model"),
            ));
        }
        let h = c / config.reduction;
        let mut params = Params::new();
        let branches: &[&str] = if config.text_adapter {
            &["visual", "text"]
        } else {
            &["visual"]
        };
        for br in branches {
            params.push_tensor(
                format!("clip_adapter.{br}.fc1.weight"),
                torch_linear(h, c, device).0,
            );
            params.push_tensor(
                format!("clip_adapter.{br}.fc2.weight"),
                torch_linear(c, h, device).0,
            );
        }
        Ok(Self {
            config,
            params,
            text: None,
        })
    }

    fn adapt(&self, branch: &str, f: Tensor<2>) -> Tensor<2> {
        let w1 = self
            .params
            .get::<2>(&format!("clip_adapter.{branch}.fc1.weight"));
        let w2 = self
            .params
            .get::<2>(&format!("clip_adapter.{branch}.fc2.weight"));
        let a = relu(linear_t(relu(linear_t(f.clone(), w1, None)), w2, None));
        a.mul_scalar(self.config.ratio) + f.mul_scalar(1.0 - self.config.ratio)
    }
}

impl AdaptMethod for ClipAdapter {
    fn kind(&self) -> MethodKind {
        MethodKind::ClipAdapter
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let p = PromptTokens::new(
            classes.clip,
            classes.tokenizer,
            &fill_template(classes.template, classes.classnames),
        )?;
        self.text = Some(classes.clip.text.forward_embeds(p.embeds, &p.eot, &NoHook));
        Ok(())
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let text = self.text.clone().ok_or(VladaptError::CallOrder {
            method: "clip-adapter",
            call: "set_classes",
        })?;
        let text = if self.config.text_adapter {
            self.adapt("text", text)
        } else {
            text
        };
        let img = self.adapt("visual", image_features);
        Ok(clip.logits(img, text))
    }
}
