//! The OpenAI/OpenCLIP `ModifiedResNet` image tower (Radford et al. 2021, §2.4): a 3-conv stem
//! (`conv1`/`bn1` 3×3/2, `conv2`/`bn2`, `conv3`/`bn3`, ReLU each, then 2×2 average pooling),
//! four stages of bottlenecks with anti-aliased strided downsampling (`AvgPool2d(stride)` before
//! `conv3` and before the 1×1 `downsample` conv, expansion 4), and attention pooling: the mean
//! token is prepended to the `H·W` grid tokens, positions are added, and one multi-head attention
//! with the mean token as query gives the image feature (`c_proj` maps to `embed_dim`).
//! BatchNorm runs in eval mode with the running statistics, folded into the convolution
//! ([`ConvBn`], shared with the grounding trunk).
use crate::models::clip::layers::Linear;
use crate::models::grounding::layers::{Conv2d, ConvBn, MultiHeadAttention};
use crate::models::keymap::View;
use crate::{Result, VladaptError};
use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

/// `ModifiedResNet` dimensions (`vision_cfg.layers` as a list, `vision_cfg.width`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResNetDims {
    /// Bottlenecks per stage, e.g. `[3, 4, 6, 3]` for RN50.
    pub layers: Vec<usize>,
    /// Stem width (64 for RN50); the trunk output has `32·width` channels.
    pub width: usize,
    /// Attention-pool heads (`width·32 / head_width`).
    pub heads: usize,
    /// Input resolution (a multiple of 32).
    pub image_size: usize,
}

/// `conv` (bias-free, padding `k/2`) + eval BatchNorm `{prefix_bn}.{weight,bias,running_mean,running_var}`.
fn conv_bn(
    v: &View<'_>,
    conv: &str,
    bn: &str,
    (c_in, c_out, k, stride): (usize, usize, usize, usize),
    device: &Device,
) -> Result<ConvBn> {
    let weight: Tensor<4> = v.pp(conv).tensor("weight", [c_out, c_in, k, k], device)?;
    let bn = v.pp(bn);
    let v = |leaf: &str| bn.tensor::<1>(leaf, [c_out], device);
    ConvBn::new(
        Conv2d {
            weight,
            bias: None,
            stride,
            padding: k / 2,
        },
        v("weight")?,
        v("bias")?,
        v("running_mean")?,
        v("running_var")?,
    )
}

fn avg_pool(x: Tensor<4>, k: usize) -> Tensor<4> {
    if k == 1 {
        return x;
    }
    avg_pool2d(x, AvgPoolOptions::new([k, k]).with_stride([k, k]))
}

/// One anti-aliased bottleneck:
/// `relu(bn3(conv3(pool_s(relu(bn2(conv2(relu(bn1(conv1 x)))))))) + shortcut(x))` with
/// `shortcut(x) = bn(conv1x1(pool_s(x)))` when the shape changes, else `x`.
#[derive(Debug, Clone)]
pub struct RnBottleneck {
    conv1: ConvBn,
    conv2: ConvBn,
    conv3: ConvBn,
    downsample: Option<ConvBn>,
    stride: usize,
}

impl RnBottleneck {
    fn load(
        v: &View<'_>,
        c_in: usize,
        planes: usize,
        stride: usize,
        device: &Device,
    ) -> Result<Self> {
        let out = 4 * planes;
        Ok(Self {
            conv1: conv_bn(v, "conv1", "bn1", (c_in, planes, 1, 1), device)?,
            conv2: conv_bn(v, "conv2", "bn2", (planes, planes, 3, 1), device)?,
            conv3: conv_bn(v, "conv3", "bn3", (planes, out, 1, 1), device)?,
            downsample: if stride > 1 || c_in != out {
                Some(conv_bn(
                    v,
                    "downsample.0",
                    "downsample.1",
                    (c_in, out, 1, 1),
                    device,
                )?)
            } else {
                None
            },
            stride,
        })
    }

    /// `[B, C_in, H, W]` → `[B, 4·planes, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.conv1.forward(x.clone()));
        let y = relu(self.conv2.forward(y));
        let y = self.conv3.forward(avg_pool(y, self.stride));
        let id = match &self.downsample {
            Some(d) => d.forward(avg_pool(x, self.stride)),
            None => x,
        };
        relu(y + id)
    }
}

/// The `ModifiedResNet` image tower.
#[derive(Debug, Clone)]
pub struct ResNetTower {
    stem: [ConvBn; 3],
    stages: Vec<Vec<RnBottleneck>>,
    /// Attention-pool positions `[grid²+1, 32·width]`.
    pub positional_embedding: Tensor<2>,
    /// Attention pool (`q_proj`, `k_proj`, `v_proj`, output `c_proj` → `embed_dim`).
    pub attn: MultiHeadAttention,
    /// The attention pool's output projection `c_proj` (`[32·width, embed_dim]`).
    pub projection: Linear,
    /// Dimensions.
    pub dims: ResNetDims,
}

impl ResNetTower {
    /// Load from `v` (OpenCLIP's `visual`: `conv1.weight`, `layer1.0.*`, `attnpool.*`).
    pub fn load(v: &View<'_>, dims: &ResNetDims, proj_dim: usize, device: &Device) -> Result<Self> {
        let w = dims.width;
        if dims.layers.len() != 4 || dims.layers.contains(&0) {
            return Err(VladaptError::config_value(
                "vision_cfg.layers",
                format!("{:?}", dims.layers),
                "four stages of at least one block (a ModifiedResNet)",
            ));
        }
        let stem = [
            conv_bn(v, "conv1", "bn1", (3, w / 2, 3, 2), device)?,
            conv_bn(v, "conv2", "bn2", (w / 2, w / 2, 3, 1), device)?,
            conv_bn(v, "conv3", "bn3", (w / 2, w, 3, 1), device)?,
        ];
        let mut c_in = w;
        let mut stages = Vec::with_capacity(4);
        for (s, &n) in dims.layers.iter().enumerate() {
            let planes = w << s;
            let mut blocks = Vec::with_capacity(n);
            for i in 0..n {
                let stride = if s > 0 && i == 0 { 2 } else { 1 };
                let p = v.pp(format!("layer{}", s + 1)).pp(i);
                blocks.push(RnBottleneck::load(&p, c_in, planes, stride, device)?);
                c_in = 4 * planes;
            }
            stages.push(blocks);
        }
        let d = 32 * w;
        let grid = dims.image_size / 32;
        let pool = v.pp("attnpool");
        let lin = |n: &str, o: usize| pool.linear(n, d, o, true, device);
        let projection = lin("c_proj", proj_dim)?;
        Ok(Self {
            stem,
            stages,
            positional_embedding: pool.tensor(
                "positional_embedding",
                [grid * grid + 1, d],
                device,
            )?,
            attn: MultiHeadAttention {
                q: lin("q_proj", d)?,
                k: lin("k_proj", d)?,
                v: lin("v_proj", d)?,
                out: projection.clone(),
                heads: dims.heads,
            },
            projection,
            dims: dims.clone(),
        })
    }

    /// `[B, 3, S, S]` → trunk features `[B, 32·width, S/32, S/32]`.
    pub fn trunk(&self, pixels: Tensor<4>) -> Tensor<4> {
        let mut x = pixels;
        for c in &self.stem {
            x = relu(c.forward(x));
        }
        let mut x = avg_pool(x, 2);
        for blocks in &self.stages {
            for b in blocks {
                x = b.forward(x);
            }
        }
        x
    }

    /// Unnormalised image features `[B, embed_dim]` of preprocessed pixels `[B, 3, S, S]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Result<Tensor<2>> {
        let [b, c, h, w] = pixels.dims();
        let s = self.dims.image_size;
        if c != 3 || h != s || w != s {
            return Err(VladaptError::Shape {
                what: "pixel tensor".into(),
                expected: format!("[B, 3, {s}, {s}] (this model's image size)"),
                actual: format!("[{b}, {c}, {h}, {w}]"),
            });
        }
        let f = self.trunk(pixels);
        let [b, d, gh, gw] = f.dims();
        let tokens = f.reshape([b, d, gh * gw]).swap_dims(1, 2); // [B, HW, d]
        let mean = tokens.clone().mean_dim(1); // [B, 1, d]
        let x =
            Tensor::cat(vec![mean, tokens], 1) + self.positional_embedding.clone().unsqueeze::<3>();
        let q = x.clone().narrow(1, 0, 1);
        let out = self.attn.forward(q, x.clone(), x, None); // [B, 1, embed_dim]
        let e = out.dims()[2];
        Ok(out.reshape([b, e]))
    }
}

crate::models::to_device::to_device_struct!(RnBottleneck { conv1, conv2, conv3, downsample } keep { stride });
crate::models::to_device::to_device_struct!(ResNetTower { stem, stages, positional_embedding, attn, projection } keep { dims });
