//! CoCoOp (Zhou et al., "Conditional Prompt Learning for Vision-Language Models", CVPR 2022),
//! Eq. 3: `v_m(x) = v_m + π`, `π = h_θ(x)` with the meta-net `h_θ = Linear(vis → vis/16) →
//! ReLU → Linear(vis/16 → width)` applied to the L2-normalised image feature. Every image gets
//! its own prompts for all C classes, so the text tower runs on `B·C` sequences.
use super::{check_range, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use serde::{Deserialize, Serialize};
use super::init::{linear_t, torch_linear};
use super::prompts::{clean_classname, init_context, PromptTokens};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel, NoHook};
use crate::{Result, VladaptError};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use vladapt_tokenizer::ClipTokenizer;

/// CoCoOp (Zhou et al., CVPR 2022).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CocoopConfig {
    /// Context length.
    pub n_ctx: usize,
    /// Context initialisation words.
    pub ctx_init: Option<String>,
}

impl Default for CocoopConfig {
    fn default() -> Self {
        Self {
            n_ctx: 4,
            ctx_init: Some("a photo of a".into()),
        }
    }
}


impl MethodSpec for CocoopConfig {
    const NAME: &'static str = "cocoop";

    fn validate(&self) -> Result<()> {
        check_range("n_ctx", self.n_ctx, 1, 72)
    }

    /// Batch 1 × 10 epochs.
    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::sgd(0.002, 10, true).batch(1)
    }

    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 1,
            overrides: &[],
        })
    }

    fn build(
        &self,
        clip: &ClipModel,
        tokenizer: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(Cocoop::new(self.clone(), clip, tokenizer, device)?))
    }
}


/// CoCoOp.
pub struct Cocoop {
    params: Params,
    n_ctx: usize,
    width: usize,
    prefix_text: String,
    prompts: Option<PromptTokens>,
}

impl Cocoop {
    /// Context from `ctx_init` (or N(0, 0.02²)); meta-net with PyTorch-default init.
    pub fn new(
        config: CocoopConfig,
        clip: &ClipModel,
        tok: &ClipTokenizer,
        device: &Device,
    ) -> Result<Self> {
        let width = clip.config.text.width;
        let vis = clip.config.projection_dim;
        let hidden = (vis / 16).max(1);
        let mut params = Params::new();
        let (n_ctx, prefix_text) = match &config.ctx_init {
            Some(init) => {
                let init = init.replace('_', " ");
                let ctx = init_context(clip, tok, &init)?;
                let n = ctx.dims()[0];
                params.push_tensor("cocoop.ctx", ctx);
                (n, init)
            }
            None => {
                if config.n_ctx == 0 {
                    return Err(VladaptError::config_value("method.n_ctx", 0, "at least 1"));
                }
                params.push_normal("cocoop.ctx", &[config.n_ctx, width], 0.02, device);
                (config.n_ctx, vec!["X"; config.n_ctx].join(" "))
            }
        };
        let (w1, b1) = torch_linear(hidden, vis, device);
        let (w2, b2) = torch_linear(width, hidden, device);
        params.push_tensor("cocoop.meta_net.linear1.weight", w1);
        params.push_tensor("cocoop.meta_net.linear1.bias", b1);
        params.push_tensor("cocoop.meta_net.linear2.weight", w2);
        params.push_tensor("cocoop.meta_net.linear2.bias", b2);
        Ok(Self {
            params,
            n_ctx,
            width,
            prefix_text,
            prompts: None,
        })
    }
}

impl AdaptMethod for Cocoop {
    fn kind(&self) -> MethodKind {
        MethodKind::Cocoop
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let texts: Vec<String> = classes
            .classnames
            .iter()
            .map(|c| format!("{} {}.", self.prefix_text, clean_classname(c)))
            .collect();
        self.prompts = Some(PromptTokens::new(classes.clip, classes.tokenizer, &texts)?);
        Ok(())
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let p = self
            .prompts
            .as_ref()
            .ok_or(VladaptError::CallOrder {
                method: "cocoop",
                call: "set_classes",
            })?;
        let [c, l, d] = p.embeds.dims();
        let (m, b) = (self.n_ctx, image_features.dims()[0]);
        let f = l2_normalize(image_features);
        let h = relu(linear_t(
            f.clone(),
            self.params.get("cocoop.meta_net.linear1.weight"),
            Some(self.params.get("cocoop.meta_net.linear1.bias")),
        ));
        let pi = linear_t(
            h,
            self.params.get("cocoop.meta_net.linear2.weight"),
            Some(self.params.get("cocoop.meta_net.linear2.bias")),
        ); // [B, width]
        let ctx = self.params.get::<2>("cocoop.ctx").unsqueeze::<3>() + pi.unsqueeze_dim::<3>(1); // [B, M, width]
        let ctx = ctx.unsqueeze_dim::<4>(1).expand([b, c, m, d]);
        let prefix = p
            .embeds
            .clone()
            .narrow(1, 0, 1)
            .unsqueeze::<4>()
            .expand([b, c, 1, d]);
        let suffix = p
            .embeds
            .clone()
            .narrow(1, 1 + m, l - 1 - m)
            .unsqueeze::<4>()
            .expand([b, c, l - 1 - m, d]);
        let x = Tensor::cat(vec![prefix, ctx, suffix], 2).reshape([b * c, l, self.width]);
        let eot: Vec<usize> = (0..b).flat_map(|_| p.eot.iter().copied()).collect();
        let text = l2_normalize(clip.text.forward_embeds(x, &eot, &NoHook)).reshape([
            b,
            c,
            clip.config.projection_dim,
        ]);
        let logits = f
            .unsqueeze_dim::<3>(1)
            .matmul(text.swap_dims(1, 2))
            .reshape([b, c]);
        Ok(logits.mul_scalar(clip.scale()))
    }
}
