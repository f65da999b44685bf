//! TransVG's visual branch ("visumodel", spec §1.2): ResNet trunk → `input_proj` (1×1 conv) →
//! sine positions → 6-layer post-norm DETR encoder. Names: `backbone.0.body.*`, `input_proj.*`,
//! `transformer.encoder.layers.N.*`.
use super::config::GroundingConfig;
use super::hooks::GroundingHook;
use super::layers::{key_padding_bias, Conv2d, EncoderLayer};
use super::position::{downsample_mask, sine_position};
use super::resnet::ResNet;
use super::weights::{ConvShape, View};
use crate::Result;
use burn::tensor::{Device, Tensor};

/// The visual encoder.
#[derive(Debug, Clone)]
pub struct VisualEncoder {
    /// ResNet trunk.
    pub backbone: ResNet,
    /// 1×1 conv, trunk channels → `d_model`.
    pub input_proj: Conv2d,
    /// DETR encoder layers.
    pub layers: Vec<EncoderLayer>,
    /// `d_model`.
    pub d_model: usize,
}

/// Visual tokens and their padding flags.
#[derive(Debug, Clone)]
pub struct VisualTokens {
    /// Encoder memory `[B, h·w, d]` (row-major over the feature map).
    pub tokens: Tensor<3>,
    /// `B·h·w` flags, true = padding (the downsampled pixel mask).
    pub mask: Vec<bool>,
    /// Feature map size `(h, w)`.
    pub size: (usize, usize),
}

impl VisualEncoder {
    /// Load from a view rooted at the DETR model (`visumodel` in TransVG, the root of a DETR file).
    pub fn load(v: &View<'_>, cfg: &GroundingConfig, device: &Device) -> Result<Self> {
        let e = &cfg.detr;
        let layers = (0..e.layers)
            .map(|i| {
                EncoderLayer::load(
                    &v.pp("transformer.encoder.layers").pp(i),
                    e.d_model,
                    e.heads,
                    e.ffn,
                    device,
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            backbone: ResNet::load(&v.pp("backbone.0.body"), &cfg.resnet, device)?,
            input_proj: v.conv2d(
                "input_proj",
                ConvShape {
                    c_in: cfg.resnet.out_channels(3),
                    c_out: e.d_model,
                    kernel: 1,
                    stride: 1,
                },
                true,
                device,
            )?,
            layers,
            d_model: e.d_model,
        })
    }

    /// `images [B, 3, H, W]` with `pixel_mask` (`B·H·W`, true = padding) → encoder memory.
    pub fn forward<H: GroundingHook>(
        &self,
        images: Tensor<4>,
        pixel_mask: &[bool],
        hook: &H,
    ) -> VisualTokens {
        let [b, _, hh, ww] = images.dims();
        let device = images.device();
        let feat = self.backbone.forward(images, hook);
        let [_, _, h, w] = feat.dims();
        let mask = downsample_mask(pixel_mask, b, (hh, ww), (h, w));
        let d = self.d_model;
        let pos = sine_position(&mask, b, h, w, d, &device)
            .reshape([b, d, h * w])
            .swap_dims(1, 2);
        let mut src = self
            .input_proj
            .forward(feat)
            .reshape([b, d, h * w])
            .swap_dims(1, 2);
        let bias = key_padding_bias(&mask, b, &device);
        for (i, layer) in self.layers.iter().enumerate() {
            let (dq, dk) = hook.qk_deltas(i, &src);
            src = layer.forward(src, Some(&pos), Some(&bias), dq, dk);
        }
        VisualTokens {
            tokens: src,
            mask,
            size: (h, w),
        }
    }
}
