//! Hook points of the CLIP towers.
//!
//! A method implements [`TowerHook`] for the text and/or vision tower. The default methods do
//! nothing, so a hook only overrides what it needs:
//! - CoOp / CoCoOp feed learned context through `TextTower::forward_embeds` (input embeddings);
//! - MaPLe appends vision prompts with [`TowerHook::append_tokens`] and replaces deep prompts
//!   with [`TowerHook::before_block`];
//! - MMA adds a branch parallel to a whole block with [`TowerHook::parallel_branch`].
use burn::tensor::Tensor;

/// Per-forward hooks into a tower. Layers are 0-based block indices.
pub trait TowerHook {
    /// Tokens appended after the positional embedding, before `ln_pre` (vision only).
    /// Returns `[B, n, width]` for a batch of `batch` images.
    fn append_tokens(&self, _batch: usize) -> Option<Tensor<3>> {
        None
    }

    /// Transform the residual stream `[B, T, width]` at the input of block `layer`
    /// (e.g. replace the prompt positions with this layer's deep prompts).
    fn before_block(&self, _layer: usize, x: Tensor<3>) -> Tensor<3> {
        x
    }

    /// A branch parallel to block `layer`: given `ln_1(x_in)` `[B, T, width]`, returns a tensor
    /// of the same shape added to the block output (after the MLP residual).
    fn parallel_branch(&self, _layer: usize, _ln1_x: &Tensor<3>) -> Option<Tensor<3>> {
        None
    }
}

/// The identity hook: the frozen CLIP.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl TowerHook for NoHook {}
