//! Convolution with frozen BatchNorm, and the post-norm transformer encoder layer shared by the
//! DETR encoder and the TransVG fusion encoder (spec `mmca.md` §1.2, §1.4).
use crate::models::clip::layers::{LayerNorm, Linear};
use crate::{Result, VladaptError};
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::{AttentionModuleOptions, ConvOptions};
use burn::tensor::Tensor;

/// A 2-D convolution, `weight [out, in, k, k]`, padding `k / 2`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// `[out, in, k, k]`.
    pub weight: Tensor<4>,
    /// `[out]`.
    pub bias: Option<Tensor<1>>,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl Conv2d {
    /// `x [B, in, H, W]` → `[B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(x, self.weight.clone(), self.bias.clone(), self.options())
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1)
    }
}

/// A bias-free convolution followed by DETR's `FrozenBatchNorm2d`:
/// `y = conv(x) · scale + shift` with `scale = w · rsqrt(running_var + 1e-5)` and
/// `shift = b − running_mean · scale` (eps 1e-5, as DETR computes it). The BatchNorm is folded
/// into the convolution at each forward (`conv(x, W · scale) + shift`), one pass instead of three,
/// and the convolution weight stays a separate tensor so it can be trained.
#[derive(Debug, Clone)]
pub struct ConvBn {
    /// The convolution (no bias).
    pub conv: Conv2d,
    /// Per-channel BN scale `[out]`.
    pub scale: Tensor<1>,
    /// Per-channel BN shift `[out]`.
    pub shift: Tensor<1>,
}

/// DETR's FrozenBatchNorm2d epsilon.
pub const FROZEN_BN_EPS: f64 = 1e-5;

impl ConvBn {
    /// Fold the four BN buffers into `scale` / `shift`.
    pub fn new(
        conv: Conv2d,
        weight: Tensor<1>,
        bias: Tensor<1>,
        running_mean: Tensor<1>,
        running_var: Tensor<1>,
    ) -> Result<Self> {
        if conv.bias.is_some() {
            return Err(VladaptError::Unsupported {
                what: "a conv before a frozen BatchNorm".into(),
                reason: "has no bias (this one has one)".into(),
            });
        }
        let scale = weight * running_var.add_scalar(FROZEN_BN_EPS).sqrt().recip();
        let shift = bias - running_mean * scale.clone();
        Ok(Self { conv, scale, shift })
    }

    /// `x [B, in, H, W]` → `[B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [o, _, _, _] = self.conv.weight.dims();
        let w = self.conv.weight.clone() * self.scale.clone().reshape([o, 1, 1, 1]);
        conv2d(x, w, Some(self.shift.clone()), self.conv.options())
    }

    /// The unfolded composition `conv(x) · scale + shift` (tests and documentation).
    pub fn forward_reference(&self, x: Tensor<4>) -> Tensor<4> {
        let [o, _, _, _] = self.conv.weight.dims();
        let y = self.conv.forward(x);
        y * self.scale.clone().reshape([1, o, 1, 1]) + self.shift.clone().reshape([1, o, 1, 1])
    }
}

/// Multi-head attention with separate q/k/v inputs (`nn.MultiheadAttention` semantics,
/// batch-first here): `softmax((x_q W_q)(x_k W_k)ᵀ / √d_h + key_bias) (x_v W_v) W_o`.
#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    /// Query projection.
    pub q: Linear,
    /// Key projection.
    pub k: Linear,
    /// Value projection.
    pub v: Linear,
    /// Output projection.
    pub out: Linear,
    /// Heads.
    pub heads: usize,
}

impl MultiHeadAttention {
    fn heads_of(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, s, d] = x.dims();
        x.reshape([b, s, self.heads, d / self.heads])
            .swap_dims(1, 2)
    }

    /// `q_in, k_in, v_in [B, S, d]`, `key_bias [B, 1, 1, S]` additive (0 or −∞-like for
    /// padding) → `[B, S, d]`.
    pub fn forward(
        &self,
        q_in: Tensor<3>,
        k_in: Tensor<3>,
        v_in: Tensor<3>,
        key_bias: Option<&Tensor<4>>,
    ) -> Tensor<3> {
        let [b, s, d] = q_in.dims();
        let hd = d / self.heads;
        let q = self.heads_of(self.q.forward(q_in));
        let k = self.heads_of(self.k.forward(k_in));
        let v = self.heads_of(self.v.forward(v_in));
        let out = burn::tensor::module::attention(
            q,
            k,
            v,
            None,
            key_bias.cloned(),
            AttentionModuleOptions {
                scale: Some(1.0 / (hd as f64).sqrt()),
                softcap: None,
                is_causal: false,
            },
        );
        self.out.forward(out.swap_dims(1, 2).reshape([b, s, d]))
    }
}

/// Additive key-padding bias `[B, 1, 1, S]` from `pad` (`B·S` flags, true = padding): 0 for real
/// keys, −1e9 for padded ones (weights exactly 0 after softmax in f32, as PyTorch's −∞).
pub fn key_padding_bias(pad: &[bool], batch: usize, device: &burn::tensor::Device) -> Tensor<4> {
    let s = pad.len() / batch.max(1);
    let v: Vec<f32> = pad.iter().map(|&p| if p { -1e9 } else { 0.0 }).collect();
    Tensor::<1>::from_data(burn::tensor::TensorData::new(v, [batch * s]), device)
        .reshape([batch, 1, 1, s])
}

/// The post-norm encoder layer (DETR `TransformerEncoderLayer.forward_post`, dropout off):
/// `q = src + pos (+ Δq)`, `k = src + pos (+ Δk)`, `v = src`;
/// `src = norm1(src + MHA(q, k, v))`; `src = norm2(src + linear2(relu(linear1(src))))`.
#[derive(Debug, Clone)]
pub struct EncoderLayer {
    /// Self-attention.
    pub attn: MultiHeadAttention,
    /// FFN in.
    pub linear1: Linear,
    /// FFN out.
    pub linear2: Linear,
    /// Post-attention LayerNorm.
    pub norm1: LayerNorm,
    /// Post-FFN LayerNorm.
    pub norm2: LayerNorm,
}

impl EncoderLayer {
    /// Load `self_attn.{in_proj_weight,in_proj_bias | q_proj,k_proj,v_proj}`, `self_attn.out_proj`,
    /// `linear1`, `linear2`, `norm1`, `norm2` (LayerNorm eps 1e-5).
    pub fn load(
        v: &super::weights::View<'_>,
        d: usize,
        heads: usize,
        ffn: usize,
        device: &burn::tensor::Device,
    ) -> Result<Self> {
        let a = v.pp("self_attn");
        let (q, k, vv) = if a.contains("in_proj_weight") {
            let w: Tensor<2> = a.tensor("in_proj_weight", [3 * d, d], device)?;
            let b: Tensor<1> = a.tensor("in_proj_bias", [3 * d], device)?;
            let part = |i: usize| Linear {
                weight: w.clone().narrow(0, i * d, d).transpose(),
                bias: Some(b.clone().narrow(0, i * d, d)),
            };
            (part(0), part(1), part(2))
        } else {
            (
                a.linear("q_proj", d, d, true, device)?,
                a.linear("k_proj", d, d, true, device)?,
                a.linear("v_proj", d, d, true, device)?,
            )
        };
        Ok(Self {
            attn: MultiHeadAttention {
                q,
                k,
                v: vv,
                out: a.linear("out_proj", d, d, true, device)?,
                heads,
            },
            linear1: v.linear("linear1", d, ffn, true, device)?,
            linear2: v.linear("linear2", ffn, d, true, device)?,
            norm1: v.layer_norm("norm1", d, 1e-5, device)?,
            norm2: v.layer_norm("norm2", d, 1e-5, device)?,
        })
    }

    /// `src [B, S, d]`, `pos` broadcastable to it, `key_bias [B, 1, 1, S]`, optional deltas
    /// added to the query / key inputs (MMCA's adapters, spec §2.4a).
    pub fn forward(
        &self,
        src: Tensor<3>,
        pos: Option<&Tensor<3>>,
        key_bias: Option<&Tensor<4>>,
        delta_q: Option<Tensor<3>>,
        delta_k: Option<Tensor<3>>,
    ) -> Tensor<3> {
        let qk = match pos {
            Some(p) => src.clone() + p.clone(),
            None => src.clone(),
        };
        let q = match delta_q {
            Some(d) => qk.clone() + d,
            None => qk.clone(),
        };
        let k = match delta_k {
            Some(d) => qk + d,
            None => qk,
        };
        let a = self.attn.forward(q, k, src.clone(), key_bias);
        let src = self.norm1.forward(src + a);
        let f = self
            .linear2
            .forward(relu(self.linear1.forward(src.clone())));
        self.norm2.forward(src + f)
    }
}
