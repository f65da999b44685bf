//! Adaptation methods: one file each behind one trait, [`AdaptMethod`].
//!
//! A method holds only its trainable tensors ([`Params`]) and the class-dependent frozen
//! buffers it derives from the class names; it plugs into the frozen towers through
//! [`TowerHook`](crate::models::clip::TowerHook). Adding a method = one file (the method, its
//! configuration and that configuration's [`MethodSpec`]: name, recipe, checks, demo settings,
//! constructor) + one registration line in the [`methods!`] list below.
#[macro_use]
mod registry;
pub mod config;
pub mod grounding;
pub mod init;
pub mod mmca;
pub mod mmca_config;
pub mod prompts;

pub use crate::params::{Param, Params};
pub use registry::{check_range, check_template, MethodSpec, Protocol, QuickDemo, Recipe};

use crate::models::clip::{ClipModel, NoHook};
use crate::Result;
use burn::tensor::{Device, Tensor};
use vladapt_tokenizer::ClipTokenizer;

/// What a method needs to (re)build its class-dependent buffers.
pub struct ClassSet<'a> {
    /// The frozen CLIP.
    pub clip: &'a ClipModel,
    /// Its tokenizer.
    pub tokenizer: &'a ClipTokenizer,
    /// Class names (`_` already replaced by spaces or not: methods replace it).
    pub classnames: &'a [String],
    /// The dataset's hand-written template with `{}` (used by zero-shot and CLIP-Adapter).
    pub template: &'a str,
}

/// The interface every method implements.
///
/// The forward pass is split in two so that trainers can skip work: [`image_features`] (hooked
/// vision tower; frozen for most methods, so cacheable) and [`logits`] (text side + head).
pub trait AdaptMethod: Send {
    /// Which method this is.
    fn kind(&self) -> MethodKind;

    /// Trainable tensors.
    fn params(&self) -> &Params;

    /// Mutable trainable tensors (optimiser, checkpoint loading).
    fn params_mut(&mut self) -> &mut Params;

    /// Rebuild class-dependent buffers (prompt token embeddings, cached text features) for a
    /// class set. Called before training and again for evaluation on other classes
    /// (base-to-novel), since checkpoints exclude these buffers (methods.md §6.13).
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()>;

    /// Whether [`image_features`] ignores the trainable tensors (then it can be computed
    /// without autodiff and cached).
    fn frozen_image_features(&self) -> bool {
        true
    }

    /// Unnormalised image features `[B, proj]` of preprocessed pixels `[B, 3, S, S]`.
    fn image_features(&self, clip: &ClipModel, pixels: Tensor<4>) -> Result<Tensor<2>> {
        clip.encode_image(pixels, &NoHook)
    }

    /// Class logits `[B, C]` from the output of [`image_features`].
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>>;

    /// Whether the method is fitted in closed form on frozen image features (the linear probe)
    /// instead of by gradient steps; the trainer then calls [`fit_features`](Self::fit_features)
    /// once.
    fn fits_in_closed_form(&self) -> bool {
        false
    }

    /// Fit from L2-normalised image features (one row per image, test preprocessing) and labels
    /// of the training and validation sets over `n_cls` classes; returns a line for the run log.
    fn fit_features(
        &mut self,
        _train: (&[Vec<f32>], &[usize]),
        _val: (&[Vec<f32>], &[usize]),
        _n_cls: usize,
    ) -> Result<String> {
        Err(crate::VladaptError::Unsupported {
            what: self.kind().to_string(),
            reason: "is trained by gradient steps, not fitted in closed form".into(),
        })
    }

    /// Called when the trainable tensors stop changing (end of training, after loading a
    /// checkpoint): methods may cache text features for inference.
    fn freeze_for_inference(&mut self, _clip: &ClipModel) -> Result<()> {
        Ok(())
    }
}

methods! {
    zeroshot::Zeroshot(ZeroShotConfig),
    linear_probe::LinearProbe(LinearProbeConfig),
    coop::Coop(CoopConfig),
    cocoop::Cocoop(CocoopConfig),
    clip_adapter::ClipAdapter(ClipAdapterConfig),
    maple::Maple(MapleConfig),
    mma::Mma(MmaConfig),
    #[cfg(test)]
    toy::Toy(ToyConfig),
}

/// Build a method from its configuration for a model (fresh initialisation on `device`).
pub fn build(
    config: &MethodConfig,
    clip: &ClipModel,
    tokenizer: &ClipTokenizer,
    device: &Device,
) -> Result<Box<dyn AdaptMethod>> {
    config.validate()?;
    config.build_method(clip, tokenizer, device)
}
