//! MaPLe (Khattak et al., "MaPLe: Multi-modal Prompt Learning", CVPR 2023), Eq. 4–8:
//! learned text prompts `P_t` replace the first `n_ctx` words of "a photo of a {class}." (layer 1)
//! and the same positions at the input of blocks 2..J (deep prompts, replacing the previous
//! layer's outputs there); vision prompts are coupled, `P_v = F(P_t)` with per-layer linear maps
//! `F: width_t → width_v`, appended after the positional embedding (layer 1) and replacing the
//! last `n_ctx` tokens at blocks 2..J.
use super::{check_range, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use serde::{Deserialize, Serialize};
use super::init::{linear_t, torch_linear};
use super::prompts::{clean_classname, init_context, PromptTokens};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel, TowerHook};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};
use vladapt_tokenizer::ClipTokenizer;

/// MaPLe (Khattak et al., CVPR 2023).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapleConfig {
    /// Prompt tokens per layer.
    pub n_ctx: usize,
    /// Template whose first `n_ctx` words are replaced by the learned context.
    pub ctx_init: String,
    /// Prompt depth J (layers 1..J get prompts; 9 base-to-novel, 3 cross-dataset).
    pub depth: usize,
}

impl Default for MapleConfig {
    fn default() -> Self {
        Self {
            n_ctx: 2,
            ctx_init: "a photo of a".into(),
            depth: 9,
        }
    }
}


impl MethodSpec for MapleConfig {
    const NAME: &'static str = "maple";

    fn validate(&self) -> Result<()> {
        check_range("n_ctx", self.n_ctx, 1, 72)?;
        check_range("depth", self.depth, 1, 1 << 10)
    }

    /// Batch 4 × 5 epochs, lr 0.0035.
    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::sgd(0.0035, 5, true).batch(4)
    }

    /// The demo's tiny CLIP has fewer blocks than ViT-B/16: prompt the same fraction (9 of 12).
    fn quick_demo() -> Option<QuickDemo> {
        Some(QuickDemo {
            quick_epochs: 1,
            overrides: &["method.depth=2"],
        })
    }

    fn build(
        &self,
        clip: &ClipModel,
        tokenizer: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(Maple::new(self.clone(), clip, tokenizer, device)?))
    }
}


/// MaPLe.
pub struct Maple {
    config: MapleConfig,
    params: Params,
    prefix_text: String,
    prompts: Option<PromptTokens>,
    cached_text: Option<Tensor<2>>,
}

impl Maple {
    /// Initialise: ctx from the first `n_ctx` tokens of `ctx_init`, deep prompts N(0, 0.02²),
    /// coupling maps with PyTorch-default init.
    pub fn new(
        config: MapleConfig,
        clip: &ClipModel,
        tok: &ClipTokenizer,
        device: &Device,
    ) -> Result<Self> {
        clip.vision.vit_for("maple")?;
        let (wt, wv) = (clip.config.text.width, clip.config.vision.width);
        let max_depth = clip.config.text.layers.min(clip.config.vision.layers);
        if config.depth == 0 || config.depth > max_depth {
            return Err(VladaptError::config_value(
                "method.depth",
                config.depth,
                format!(
                    "1..={max_depth}, the number of layers of this model; set it with \
                     --set maple:method.depth={max_depth} (or a smaller depth)"
                ),
            ));
        }
        if config.n_ctx == 0 {
            return Err(VladaptError::config_value("method.n_ctx", 0, "at least 1"));
        }
        let init = config.ctx_init.replace('_', " ");
        let words = init_context(clip, tok, &init)?;
        let mut params = Params::new();
        let prefix_text = if words.dims()[0] >= config.n_ctx {
            params.push_tensor("maple.ctx", words.narrow(0, 0, config.n_ctx));
            init
        } else {
            params.push_normal("maple.ctx", &[config.n_ctx, wt], 0.02, device);
            vec!["X"; config.n_ctx].join(" ")
        };
        let (w, b) = torch_linear(wv, wt, device);
        params.push_tensor("maple.proj.weight", w);
        params.push_tensor("maple.proj.bias", b);
        for i in 0..config.depth - 1 {
            params.push_normal(
                format!("maple.text_prompts.{i}"),
                &[config.n_ctx, wt],
                0.02,
                device,
            );
        }
        for i in 0..config.depth - 1 {
            let (w, b) = torch_linear(wv, wt, device);
            params.push_tensor(format!("maple.coupling.{i}.weight"), w);
            params.push_tensor(format!("maple.coupling.{i}.bias"), b);
        }
        Ok(Self {
            config,
            params,
            prefix_text,
            prompts: None,
            cached_text: None,
        })
    }

    fn text_features(&self, clip: &ClipModel) -> Result<Tensor<2>> {
        if let Some(t) = &self.cached_text {
            return Ok(t.clone());
        }
        let p = self
            .prompts
            .as_ref()
            .ok_or(VladaptError::CallOrder {
                method: "maple",
                call: "set_classes",
            })?;
        let [c, l, d] = p.embeds.dims();
        let n = self.config.n_ctx;
        let ctx = self
            .params
            .get::<2>("maple.ctx")
            .unsqueeze::<3>()
            .expand([c, n, d]);
        let x = Tensor::cat(
            vec![
                p.embeds.clone().narrow(1, 0, 1),
                ctx,
                p.embeds.clone().narrow(1, 1 + n, l - 1 - n),
            ],
            1,
        );
        let hook = TextPrompts { maple: self };
        Ok(l2_normalize(clip.text.forward_embeds(x, &p.eot, &hook)))
    }
}

/// Replace `n` positions starting at `start` of `[B, T, d]` with `p` `[n, d]`.
fn replace(x: Tensor<3>, start: usize, p: Tensor<2>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let n = p.dims()[0];
    let p = p.unsqueeze::<3>().expand([b, n, d]);
    let mut parts = vec![x.clone().narrow(1, 0, start), p];
    if start + n < t {
        parts.push(x.narrow(1, start + n, t - start - n));
    }
    Tensor::cat(parts, 1)
}

struct TextPrompts<'a> {
    maple: &'a Maple,
}

impl TowerHook for TextPrompts<'_> {
    fn before_block(&self, layer: usize, x: Tensor<3>) -> Tensor<3> {
        if layer >= 1 && layer < self.maple.config.depth {
            replace(
                x,
                1,
                self.maple
                    .params
                    .get(&format!("maple.text_prompts.{}", layer - 1)),
            )
        } else {
            x
        }
    }
}

struct VisionPrompts<'a> {
    maple: &'a Maple,
}

impl TowerHook for VisionPrompts<'_> {
    fn append_tokens(&self, batch: usize) -> Option<Tensor<3>> {
        let p = &self.maple.params;
        let v = linear_t(
            p.get::<2>("maple.ctx"),
            p.get("maple.proj.weight"),
            Some(p.get("maple.proj.bias")),
        );
        let [n, d] = v.dims();
        Some(v.unsqueeze::<3>().expand([batch, n, d]))
    }
    fn before_block(&self, layer: usize, x: Tensor<3>) -> Tensor<3> {
        if layer >= 1 && layer < self.maple.config.depth {
            let i = layer - 1;
            let p = &self.maple.params;
            let v = linear_t(
                p.get::<2>(&format!("maple.text_prompts.{i}")),
                p.get(&format!("maple.coupling.{i}.weight")),
                Some(p.get(&format!("maple.coupling.{i}.bias"))),
            );
            let t = x.dims()[1];
            replace(x, t - self.maple.config.n_ctx, v)
        } else {
            x
        }
    }
}

impl AdaptMethod for Maple {
    fn kind(&self) -> MethodKind {
        MethodKind::Maple
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        self.cached_text = None;
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let texts: Vec<String> = classes
            .classnames
            .iter()
            .map(|c| format!("{} {}.", self.prefix_text, clean_classname(c)))
            .collect();
        self.prompts = Some(PromptTokens::new(classes.clip, classes.tokenizer, &texts)?);
        self.cached_text = None;
        Ok(())
    }
    fn frozen_image_features(&self) -> bool {
        false
    }
    fn image_features(&self, clip: &ClipModel, pixels: Tensor<4>) -> Result<Tensor<2>> {
        clip.encode_image(pixels, &VisionPrompts { maple: self })
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
