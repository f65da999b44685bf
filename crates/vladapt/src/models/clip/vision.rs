//! The CLIP vision tower (ViT): patch embedding, class token, positions, `ln_pre`, pre-LN
//! transformer, `ln_post` on the class token, projection.
use super::config::VisionConfig;
use super::hooks::TowerHook;
use super::layers::{BlockDims, LayerNorm, ResidualBlock};
use crate::models::keymap::View;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};

/// The ViT image tower.
#[derive(Debug, Clone)]
pub struct VisionTower {
    /// Patch projection `[3·p·p, width]` (the bias-free conv, flattened in (c, y, x) order).
    pub patch_weight: Tensor<2>,
    /// `[width]`.
    pub class_embedding: Tensor<1>,
    /// `[grid²+1, width]`.
    pub position_embedding: Tensor<2>,
    /// `ln_pre` / `pre_layrnorm`.
    pub ln_pre: LayerNorm,
    /// Residual blocks.
    pub blocks: Vec<ResidualBlock>,
    /// `ln_post` / `post_layernorm`.
    pub ln_post: LayerNorm,
    /// `[width, projection_dim]`.
    pub projection: Tensor<2>,
    /// Dimensions.
    pub config: VisionConfig,
}

impl VisionTower {
    /// Load from `v` in the canonical (OpenAI/OpenCLIP) naming: `conv1.weight` `[d, 3, p, p]`,
    /// `class_embedding`, `positional_embedding`, `ln_pre`, `transformer.resblocks.{i}`,
    /// `ln_post`, `proj` (`[d, proj]`, or a Hugging Face `proj.weight` `[proj, d]`).
    pub fn load(
        v: &View<'_>,
        cfg: &VisionConfig,
        proj_dim: usize,
        device: &Device,
    ) -> Result<Self> {
        let d = cfg.width;
        let p = cfg.patch_size;
        let conv: Tensor<4> = v.pp("conv1").tensor("weight", [d, 3, p, p], device)?;
        let dims = BlockDims::new(d, cfg.intermediate, cfg.heads, cfg.activation, cfg.eps);
        let blocks = v.pp("transformer").pp("resblocks");
        let blocks = (0..cfg.layers)
            .map(|i| ResidualBlock::load(&blocks.pp(i), dims, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            patch_weight: conv.reshape([d, 3 * p * p]).transpose(),
            class_embedding: v.tensor("class_embedding", [d], device)?,
            position_embedding: v.tensor("positional_embedding", [cfg.tokens(), d], device)?,
            ln_pre: v.layer_norm("ln_pre", d, cfg.eps, device)?,
            blocks,
            ln_post: v.layer_norm("ln_post", d, cfg.eps, device)?,
            projection: v.projection("proj", d, proj_dim, device)?,
            config: cfg.clone(),
        })
    }

    /// Patch + class + position embeddings of `[B, 3, H, W]` pixels → `[B, grid²+1, width]`.
    pub fn embed(&self, pixels: Tensor<4>) -> Result<Tensor<3>> {
        let [b, c, h, w] = pixels.dims();
        let s = self.config.image_size;
        if c != 3 || h != s || w != s {
            return Err(VladaptError::Shape {
                what: "pixel tensor".into(),
                expected: format!("[B, 3, {s}, {s}] (this model's image size)"),
                actual: format!("[{b}, {c}, {h}, {w}]"),
            });
        }
        let p = self.config.patch_size;
        let g = self.config.grid();
        let d = self.config.width;
        let patches = pixels
            .reshape([b, 3, g, p, g, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b, g * g, 3 * p * p])
            .matmul(self.patch_weight.clone().unsqueeze::<3>());
        let cls = self
            .class_embedding
            .clone()
            .reshape([1, 1, d])
            .expand([b, 1, d]);
        let x = Tensor::cat(vec![cls, patches], 1);
        Ok(x + self.position_embedding.clone().unsqueeze::<3>())
    }

    /// Run blocks `range` on the residual stream (no mask).
    pub fn run_blocks(
        &self,
        x: Tensor<3>,
        range: std::ops::Range<usize>,
        hook: &dyn TowerHook,
    ) -> Tensor<3> {
        let mut x = x;
        for i in range {
            x = self.blocks[i].forward(i, x, None, hook);
        }
        x
    }

    /// `ln_post` on the class token and projection → `[B, proj]`.
    pub fn pool(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = x.dims();
        let cls: Tensor<2> = x.narrow(1, 0, 1).reshape([b, d]);
        self.ln_post.forward(cls).matmul(self.projection.clone())
    }

    /// Full forward with hooks; returns unnormalised projected features `[B, proj]`.
    pub fn forward(&self, pixels: Tensor<4>, hook: &dyn TowerHook) -> Result<Tensor<2>> {
        let b = pixels.dims()[0];
        let mut x = self.embed(pixels)?;
        if let Some(extra) = hook.append_tokens(b) {
            x = Tensor::cat(vec![x, extra], 1);
        }
        let x = self.ln_pre.forward(x);
        let x = self.run_blocks(x, 0..self.blocks.len(), hook);
        Ok(self.pool(x))
    }
}
