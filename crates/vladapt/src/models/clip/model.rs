//! The two-tower CLIP model: `logits = exp(logit_scale) · cos(image, text)`.
use super::config::ClipConfig;
use super::hooks::TowerHook;
use super::text::TextTower;
use super::vision::VisionTower;
use crate::Result;
use burn::tensor::Tensor;

/// A frozen CLIP.
#[derive(Debug, Clone)]
pub struct ClipModel {
    /// Text tower.
    pub text: TextTower,
    /// Vision tower.
    pub vision: VisionTower,
    /// The stored (log) logit scale; the multiplier is `exp(logit_scale)` (100 for OpenAI CLIP).
    pub logit_scale: f32,
    /// Configuration.
    pub config: ClipConfig,
}

impl ClipModel {
    /// Unnormalised text features `[N, proj]` of tokenized text.
    pub fn encode_text(&self, ids: &[Vec<u32>], hook: &dyn TowerHook) -> Result<Tensor<2>> {
        self.text.encode_ids(ids, hook)
    }

    /// Unnormalised image features `[B, proj]` of preprocessed pixels `[B, 3, S, S]`.
    pub fn encode_image(&self, pixels: Tensor<4>, hook: &dyn TowerHook) -> Result<Tensor<2>> {
        self.vision.forward(pixels, hook)
    }

    /// `exp(logit_scale)`.
    pub fn scale(&self) -> f64 {
        (self.logit_scale as f64).exp()
    }

    /// `exp(logit_scale) · norm(img) · norm(txt)ᵀ` → `[B, C]` for unnormalised features.
    pub fn logits(&self, image_features: Tensor<2>, text_features: Tensor<2>) -> Tensor<2> {
        l2_normalize(image_features)
            .matmul(l2_normalize(text_features).transpose())
            .mul_scalar(self.scale())
    }
}

/// L2-normalise the rows of `[N, D]`.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt();
    x / norm
}
