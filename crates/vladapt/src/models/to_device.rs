//! Moving a frozen model to another device ([`ToDevice`]): every weight tensor is copied with
//! burn's `Tensor::to_device` (which routes between backends, e.g. Flex → NdArray or CUDA:0 →
//! CUDA:1), everything else (configs, eps, strides, head counts) is cloned. Data-parallel
//! training builds one copy of the frozen towers per device with it.
use super::clip::layers::{Attention, LayerNorm, Linear, ResidualBlock};
use super::clip::model::{ClipModel, ImageTower};
use super::clip::text::TextTower;
use super::clip::vision::VisionTower;
use super::grounding::bert::{Bert, BertLayer};
use super::grounding::layers::{Conv2d, ConvBn, EncoderLayer, MultiHeadAttention};
use super::grounding::resnet::{Bottleneck, ResNet};
use super::grounding::transvg::TransVg;
use super::grounding::visual::VisualEncoder;
use burn::tensor::{Device, Tensor};

/// A value whose tensors can be copied to `device` (the original stays where it is).
pub trait ToDevice: Sized {
    /// A copy with every tensor on `device`.
    fn to_device(&self, device: &Device) -> Self;
}

impl<const D: usize> ToDevice for Tensor<D> {
    fn to_device(&self, device: &Device) -> Self {
        Tensor::to_device(self.clone(), device)
    }
}

impl<T: ToDevice> ToDevice for Option<T> {
    fn to_device(&self, device: &Device) -> Self {
        self.as_ref().map(|t| t.to_device(device))
    }
}

impl<T: ToDevice> ToDevice for Vec<T> {
    fn to_device(&self, device: &Device) -> Self {
        self.iter().map(|t| t.to_device(device)).collect()
    }
}

impl<T: ToDevice, const N: usize> ToDevice for [T; N] {
    fn to_device(&self, device: &Device) -> Self {
        std::array::from_fn(|i| self[i].to_device(device))
    }
}

/// `ToDevice` for a struct: the listed tensor-holding fields are moved, the `keep` fields cloned.
/// Every field must be listed (the struct literal does not compile otherwise).
macro_rules! to_device_struct {
    ($t:ty { $($f:ident),* $(,)? } $(keep { $($k:ident),* $(,)? })?) => {
        impl $crate::models::to_device::ToDevice for $t {
            fn to_device(&self, device: &burn::tensor::Device) -> Self {
                Self {
                    $($f: $crate::models::to_device::ToDevice::to_device(&self.$f, device),)*
                    $($($k: self.$k.clone(),)*)?
                }
            }
        }
    };
}
pub(crate) use to_device_struct;

// CLIP.
to_device_struct!(Linear { weight, bias });
to_device_struct!(LayerNorm { weight, bias } keep { eps });
to_device_struct!(Attention { qkv, out } keep { heads });
to_device_struct!(ResidualBlock { ln_1, attn, ln_2, fc1, fc2 } keep { act });
to_device_struct!(TextTower { token_embedding, position_embedding, blocks, ln_final, projection } keep { config });
to_device_struct!(VisionTower {
    patch_weight,
    class_embedding,
    position_embedding,
    ln_pre,
    blocks,
    ln_post,
    projection,
} keep { config });
to_device_struct!(ClipModel { text, vision } keep { logit_scale, config });

impl ToDevice for ImageTower {
    fn to_device(&self, device: &Device) -> Self {
        match self {
            Self::Vit(v) => Self::Vit(v.to_device(device)),
            Self::ResNet(r) => Self::ResNet(r.to_device(device)),
        }
    }
}

// Grounding (TransVG: ResNet + DETR encoder, BERT, fusion, head); also the CLIP ResNet's parts.
to_device_struct!(Conv2d { weight, bias } keep { stride, padding });
to_device_struct!(ConvBn { conv, scale, shift });
to_device_struct!(MultiHeadAttention { q, k, v, out } keep { heads });
to_device_struct!(EncoderLayer {
    attn,
    linear1,
    linear2,
    norm1,
    norm2
});
to_device_struct!(Bottleneck {
    conv1,
    conv2,
    conv3,
    downsample
});
to_device_struct!(ResNet { stem, stages });
to_device_struct!(BertLayer {
    attn,
    attn_ln,
    intermediate,
    output,
    out_ln
});
to_device_struct!(Bert { word, position, token_type, emb_ln, layers } keep { config });
to_device_struct!(VisualEncoder { backbone, input_proj, layers } keep { d_model });
to_device_struct!(TransVg {
    visual,
    bert,
    visu_proj,
    text_proj,
    reg_token,
    vl_pos,
    fusion,
    bbox,
} keep { config });
