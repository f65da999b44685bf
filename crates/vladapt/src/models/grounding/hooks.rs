//! Hook points of the grounding model, where MMCA's adapters plug in (spec `mmca.md` §2.4).
//!
//! The model's forward is generic over the hook, so [`NoHook`]'s empty defaults compile away:
//! the plain TransVG pays nothing for them.
use burn::tensor::Tensor;

/// Per-forward hooks into the visual branch.
pub trait GroundingHook {
    /// A branch parallel to the **last bottleneck block** of ResNet stage `stage`
    /// (1 = `layer2`, 2 = `layer3`, 3 = `layer4`; `layer1` has no hook). Given the block input
    /// `x_in [B, C, H, W]`, the returned tensor (same shape) is added to the block output, after
    /// its final ReLU (MMCA's conv adapter, §2.4b). Not called for a one-block stage (its only
    /// block changes the shape).
    fn conv_branch(&self, _stage: usize, _x_in: &Tensor<4>) -> Option<Tensor<4>> {
        None
    }

    /// Deltas added to the query and key inputs of DETR encoder layer `layer` (0-based), given
    /// that layer's input `src [B, S, d]` without positions: `q = src + pos + Δq`,
    /// `k = src + pos + Δk` (MMCA's linear adapters, §2.4a). Values are never adapted.
    fn qk_deltas(&self, _layer: usize, _src: &Tensor<3>) -> (Option<Tensor<3>>, Option<Tensor<3>>) {
        (None, None)
    }
}

/// No hooks: the plain TransVG.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

impl GroundingHook for NoHook {}
