//! TransVG (spec §1): visual branch + BERT + `[REG]` fusion + box head. Names as the official
//! checkpoint: `visumodel.*`, `textmodel.bert.*`, `visu_proj`, `text_proj`, `reg_token.weight`,
//! `vl_pos_embed.weight`, `vl_transformer.encoder.layers.N.*`, `bbox_embed.layers.{0,1,2}`.
use super::bert::Bert;
use super::config::GroundingConfig;
use super::hooks::{GroundingHook, NoHook};
use super::layers::{key_padding_bias, EncoderLayer};
use super::visual::{VisualEncoder, VisualTokens};
use super::weights::View;
use crate::models::clip::layers::Linear;
use crate::{Result, VladaptError};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

/// A batch for the grounding model (spec §1.1).
#[derive(Debug, Clone)]
pub struct GroundingBatch {
    /// Images `[B, 3, S, S]` on the padded canvas, ImageNet-normalised.
    pub images: Tensor<4>,
    /// `B·S·S` pixel flags, true = padding.
    pub pixel_mask: Vec<bool>,
    /// Token ids `B·L` (`[CLS] … [SEP]`, zero-padded).
    pub ids: Vec<i64>,
    /// Attention mask `B·L`, 1 = real token.
    pub text_mask: Vec<i64>,
}

/// The TransVG model.
#[derive(Debug, Clone)]
pub struct TransVg {
    /// Visual branch.
    pub visual: VisualEncoder,
    /// Language branch.
    pub bert: Bert,
    /// `visu_proj`: d_detr → d_fusion.
    pub visu_proj: Linear,
    /// `text_proj`: hidden → d_fusion.
    pub text_proj: Linear,
    /// `[REG]` token `[1, d]`.
    pub reg_token: Tensor<2>,
    /// Learned positions `[1 + L + N, d]`.
    pub vl_pos: Tensor<2>,
    /// Fusion encoder.
    pub fusion: Vec<EncoderLayer>,
    /// `bbox_embed`: d → d → d → 4.
    pub bbox: [Linear; 3],
    /// Sizes.
    pub config: GroundingConfig,
}

impl TransVg {
    /// Load from a view rooted at the TransVG model.
    pub fn load(v: &View<'_>, cfg: &GroundingConfig, device: &Device) -> Result<Self> {
        let f = &cfg.fusion;
        let d = f.d_model;
        let head = v.pp("bbox_embed.layers");
        Ok(Self {
            visual: VisualEncoder::load(&v.pp("visumodel"), cfg, device)?,
            bert: Bert::load(&v.pp("textmodel.bert"), &cfg.bert, device)?,
            visu_proj: v.linear("visu_proj", cfg.detr.d_model, d, true, device)?,
            text_proj: v.linear("text_proj", cfg.bert.hidden, d, true, device)?,
            reg_token: v.tensor("reg_token.weight", [1, d], device)?,
            vl_pos: v.tensor("vl_pos_embed.weight", [cfg.fusion_len(), d], device)?,
            fusion: (0..f.layers)
                .map(|i| {
                    EncoderLayer::load(
                        &v.pp("vl_transformer.encoder.layers").pp(i),
                        d,
                        f.heads,
                        f.ffn,
                        device,
                    )
                })
                .collect::<Result<_>>()?,
            bbox: [
                head.linear("0", d, d, true, device)?,
                head.linear("1", d, d, true, device)?,
                head.linear("2", d, 4, true, device)?,
            ],
            config: cfg.clone(),
        })
    }

    /// BERT then `text_proj`: `[B, L, d]`.
    pub fn encode_text(
        &self,
        ids: &[i64],
        mask: &[i64],
        batch: usize,
        device: &Device,
    ) -> Result<Tensor<3>> {
        Ok(self
            .text_proj
            .forward(self.bert.forward(ids, mask, batch, device)?))
    }

    /// The visual branch with `hook` (MMCA builds its hook from the text features first).
    pub fn encode_visual<H: GroundingHook>(
        &self,
        images: Tensor<4>,
        pixel_mask: &[bool],
        hook: &H,
    ) -> VisualTokens {
        self.visual.forward(images, pixel_mask, hook)
    }

    /// Fusion and head: `[REG] + text + visu_proj(visual)` with learned positions → sigmoid box
    /// `[B, 4]`, normalised `(cx, cy, w, h)` on the padded canvas.
    pub fn fuse(
        &self,
        text: Tensor<3>,
        text_mask: &[i64],
        visual: &VisualTokens,
    ) -> Result<Tensor<2>> {
        let [b, l, d] = text.dims();
        let n = visual.mask.len() / b.max(1);
        if 1 + l + n != self.config.fusion_len() {
            return Err(VladaptError::Shape {
                what: "fusion tokens".into(),
                expected: format!(
                    "{} = the learned positions (max_query_len {}, image_size {})",
                    self.config.fusion_len(),
                    self.config.max_query_len,
                    self.config.image_size
                ),
                actual: format!("1 + {l} text + {n} visual = {}", 1 + l + n),
            });
        }
        let device = text.device();
        let vis = self.visu_proj.forward(visual.tokens.clone());
        let reg = self.reg_token.clone().unsqueeze::<3>().expand([b, 1, d]);
        let mut x = Tensor::cat(vec![reg, text, vis], 1);
        let mut pad = Vec::with_capacity(b * (1 + l + n));
        for i in 0..b {
            pad.push(false);
            pad.extend(text_mask[i * l..(i + 1) * l].iter().map(|&m| m == 0));
            pad.extend_from_slice(&visual.mask[i * n..(i + 1) * n]);
        }
        let bias = key_padding_bias(&pad, b, &device);
        let pos = self.vl_pos.clone().unsqueeze::<3>();
        for layer in &self.fusion {
            x = layer.forward(x, Some(&pos), Some(&bias), None, None);
        }
        let reg_out = x.narrow(1, 0, 1).reshape([b, d]);
        let h = relu(self.bbox[0].forward(reg_out));
        let h = relu(self.bbox[1].forward(h));
        Ok(sigmoid(self.bbox[2].forward(h)))
    }

    /// The whole forward with `hook` → boxes `[B, 4]`.
    pub fn forward_with<H: GroundingHook>(
        &self,
        batch: &GroundingBatch,
        hook: &H,
    ) -> Result<Tensor<2>> {
        let [b, _, _, _] = batch.images.dims();
        let device = batch.images.device();
        let text = self.encode_text(&batch.ids, &batch.text_mask, b, &device)?;
        let visual = self.encode_visual(batch.images.clone(), &batch.pixel_mask, hook);
        self.fuse(text, &batch.text_mask, &visual)
    }

    /// The plain TransVG forward → boxes `[B, 4]`.
    pub fn forward(&self, batch: &GroundingBatch) -> Result<Tensor<2>> {
        self.forward_with(batch, &NoHook)
    }
}
