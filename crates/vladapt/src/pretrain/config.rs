//! Model presets and training hyper-parameters of contrastive pretraining.
use crate::models::clip::{Activation, ClipConfig, Layout, TextConfig, VisionConfig};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Names accepted by [`model_preset`].
pub const PRESETS: &[&str] = &["tiny", "small"];

#[allow(clippy::too_many_arguments)]
fn clip(
    tw: usize,
    tl: usize,
    th: usize,
    vw: usize,
    vl: usize,
    vh: usize,
    patch: usize,
    proj: usize,
) -> ClipConfig {
    ClipConfig {
        text: TextConfig {
            vocab_size: 49408,
            width: tw,
            layers: tl,
            heads: th,
            intermediate: 4 * tw,
            context_length: 32,
            activation: Activation::QuickGelu,
            eps: 1e-5,
        },
        vision: VisionConfig {
            width: vw,
            layers: vl,
            heads: vh,
            intermediate: 4 * vw,
            image_size: 64,
            patch_size: patch,
            activation: Activation::QuickGelu,
            eps: 1e-5,
        },
        projection_dim: proj,
        layout: Layout::HuggingFace,
        image_mean: None,
        image_std: None,
    }
}

/// A model preset: `tiny` (width 128, 2 layers per tower, 64×64 images, patch 16,
/// context 32; ≈ 6 minutes on 2 CPU cores for 16k world images × 3 epochs) or `small`
/// (width 256, 4 layers per tower, patch 8).
/// Both use OpenAI's BPE vocabulary (49 408 tokens) and quick-GELU.
pub fn model_preset(name: &str) -> Result<ClipConfig> {
    match name {
        "tiny" => Ok(clip(128, 2, 4, 128, 2, 4, 16, 128)),
        "small" => Ok(clip(256, 4, 4, 256, 4, 4, 8, 256)),
        other => Err(VladaptError::unknown_name(
            "pretraining preset",
            other,
            PRESETS,
        )),
    }
}

/// Read a model configuration from JSON: either vladapt's own [`ClipConfig`] serialisation
/// (`{"text": {...}, "vision": {...}, "projection_dim": ..}`) or a Hugging Face `config.json`
/// (`text_config` / `vision_config`).
pub fn read_model_config(path: &Path) -> Result<ClipConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| VladaptError::io(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| VladaptError::config(path, format!("invalid JSON: {e}")))?;
    let cfg = if v.get("text").is_some() || v.get("vision").is_some() {
        serde_json::from_value::<ClipConfig>(v)
            .map_err(|e| VladaptError::config(path, format!("not a vladapt model config: {e}")))?
    } else if v.get("text_config").is_some() || v.get("vision_config").is_some() {
        ClipConfig::from_hf_json(path)?
    } else {
        return Err(VladaptError::config(
            path,
            "expected a vladapt model config (`text`, `vision`, `projection_dim`, `layout`, \
             `image_mean`, `image_std`) or a Hugging Face CLIP config.json (`text_config`, \
             `vision_config`)",
        ));
    };
    cfg.validate(path)?;
    Ok(cfg)
}

/// Training hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    /// Passes over the images (one caption sampled per image per epoch).
    pub epochs: usize,
    /// Image–caption pairs per step (the contrastive batch; the last partial batch is dropped).
    pub batch_size: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Final learning rate of the cosine.
    pub min_lr: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// Decoupled weight decay (applied to every tensor).
    pub weight_decay: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂ (CLIP uses 0.98).
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Global gradient-norm clip.
    pub grad_clip: Option<f64>,
    /// Seed of initialisation and sampling.
    pub seed: u64,
    /// Light augmentation: random-resized crop with scale 0.7–1 and no flip (flips would
    /// contradict "left of" / "right of" captions).
    pub augment: bool,
    /// Stop (as if interrupted) after this many completed epochs; a later `--resume` continues.
    pub stop_after_epochs: Option<usize>,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 128,
            lr: 1e-3,
            min_lr: 1e-5,
            warmup_steps: 30,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-6,
            grad_clip: Some(1.0),
            seed: 0,
            augment: false,
            stop_after_epochs: None,
        }
    }
}

impl PretrainConfig {
    /// Check ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(VladaptError::config_value(key, value, allowed))
        };
        if self.epochs == 0 {
            return bad("epochs", &self.epochs, "at least 1");
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                &self.batch_size,
                "at least 2 (contrastive loss needs negatives)",
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", &self.lr, "a positive number");
        }
        if self.min_lr < 0.0 || self.min_lr > self.lr {
            return bad("min_lr", &self.min_lr, &format!("0..={} (lr)", self.lr));
        }
        Ok(())
    }
}
