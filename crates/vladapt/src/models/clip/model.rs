//! The two-tower CLIP model: `logits = exp(logit_scale) · cos(image, text)`.
use super::config::ClipConfig;
use super::hooks::TowerHook;
use super::resnet::ResNetTower;
use super::text::TextTower;
use super::vision::VisionTower;
use crate::{Result, VladaptError};
use burn::tensor::Tensor;

/// A CLIP: frozen while a method adapts it, trained by `pretrain` (via [`ClipModel::from_params`]).
#[derive(Debug, Clone)]
pub struct ClipModel {
    /// Text tower.
    pub text: TextTower,
    /// Image tower (ViT or ModifiedResNet).
    pub vision: ImageTower,
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
        self.logits_unit_text(image_features, l2_normalize(text_features))
    }

    /// `exp(logit_scale) · norm(img) · textᵀ` → `[B, C]` for unnormalised image features
    /// `[B, D]` and text features `[C, D]` that are already L2-normalised (the head of every
    /// method: CLIP Eq. in §2.3, CoOp Eq. 3, MaPLe, MMA, CLIP-Adapter, zero-shot).
    pub fn logits_unit_text(&self, image_features: Tensor<2>, text_unit: Tensor<2>) -> Tensor<2> {
        l2_normalize(image_features)
            .matmul(text_unit.transpose())
            .mul_scalar(self.scale())
    }
}

/// The image tower: a ViT (every method) or an OpenAI `ModifiedResNet` (methods that only
/// need `encode_image`: zero-shot, linear probe, CoOp, CoCoOp, CLIP-Adapter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum ImageTower {
    /// Vision transformer.
    Vit(VisionTower),
    /// `ModifiedResNet` with attention pooling.
    ResNet(ResNetTower),
}

impl ImageTower {
    /// Unnormalised features `[B, proj]`. The hook only reaches a ViT's blocks; methods that
    /// hook the image tower (MaPLe, MMA) refuse a ResNet when they are built ([`Self::vit_for`]).
    pub fn forward(&self, pixels: Tensor<4>, hook: &dyn TowerHook) -> Result<Tensor<2>> {
        match self {
            Self::Vit(v) => v.forward(pixels, hook),
            Self::ResNet(r) => r.forward(pixels),
        }
    }

    /// The ViT, or an error naming `method` and the ResNet's `vision_cfg.layers`.
    pub fn vit_for(&self, method: &str) -> Result<&VisionTower> {
        match self {
            Self::Vit(v) => Ok(v),
            Self::ResNet(r) => Err(not_a_vit(method, r)),
        }
    }

    /// The ViT, mutably, or the error of [`Self::vit_for`].
    pub fn vit_mut_for(&mut self, method: &str) -> Result<&mut VisionTower> {
        match self {
            Self::Vit(v) => Ok(v),
            Self::ResNet(r) => Err(not_a_vit(method, r)),
        }
    }

    /// The final projection weight `[width, proj]` (ViT `proj`, ResNet attention-pool `c_proj`).
    pub fn projection(&self) -> Tensor<2> {
        match self {
            Self::Vit(v) => v.projection.clone(),
            Self::ResNet(r) => r.projection.weight.clone(),
        }
    }
}

fn not_a_vit(method: &str, r: &ResNetTower) -> VladaptError {
    VladaptError::Unsupported {
        what: method.to_string(),
        reason: format!(
            "needs a ViT image tower; this model's image tower is a ResNet \
             (vision_cfg.layers = {:?})",
            r.dims.layers
        ),
    }
}

/// L2-normalise the rows of `[N, D]`.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt();
    x / norm
}
