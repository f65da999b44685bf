//! torchvision ResNet trunk, bottleneck v1.5 (stride on the 3×3 conv), frozen BatchNorm, no
//! dilation (output stride 32), `fc` dropped; only the `layer4` output is used (spec §1.2).
//! Module names mirror torchvision: `conv1`, `bn1`, `layer{1..4}.{i}.{conv,bn}{1..3}`,
//! `layer{s}.0.downsample.{0,1}`.
use super::config::ResNetConfig;
use super::hooks::GroundingHook;
use super::layers::ConvBn;
use super::weights::{ConvShape, View};
use crate::Result;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

/// One bottleneck: `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1 x))))))) + shortcut(x))`.
#[derive(Debug, Clone)]
pub struct Bottleneck {
    /// 1×1 reduce.
    pub conv1: ConvBn,
    /// 3×3 (carries the stride).
    pub conv2: ConvBn,
    /// 1×1 expand.
    pub conv3: ConvBn,
    /// 1×1 strided projection on the first block of a stage.
    pub downsample: Option<ConvBn>,
}

impl Bottleneck {
    fn load(
        v: &View<'_>,
        c_in: usize,
        planes: usize,
        stride: usize,
        device: &Device,
    ) -> Result<Self> {
        let out = 4 * planes;
        let sh = |c_in, c_out, kernel, stride| ConvShape {
            c_in,
            c_out,
            kernel,
            stride,
        };
        Ok(Self {
            conv1: v.conv_bn("conv1", "bn1", sh(c_in, planes, 1, 1), device)?,
            conv2: v.conv_bn("conv2", "bn2", sh(planes, planes, 3, stride), device)?,
            conv3: v.conv_bn("conv3", "bn3", sh(planes, out, 1, 1), device)?,
            downsample: if stride != 1 || c_in != out {
                Some(v.conv_bn(
                    "downsample.0",
                    "downsample.1",
                    sh(c_in, out, 1, stride),
                    device,
                )?)
            } else {
                None
            },
        })
    }

    /// `[B, C_in, H, W]` → `[B, 4·planes, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.conv1.forward(x.clone()));
        let y = relu(self.conv2.forward(y));
        let y = self.conv3.forward(y);
        let id = match &self.downsample {
            Some(d) => d.forward(x),
            None => x,
        };
        relu(y + id)
    }
}

/// The trunk: 7×7/2 stem, 3×3/2 max-pool, four stages.
#[derive(Debug, Clone)]
pub struct ResNet {
    /// `conv1` + `bn1`.
    pub stem: ConvBn,
    /// `layer1` … `layer4`.
    pub stages: Vec<Vec<Bottleneck>>,
}

impl ResNet {
    /// Load from a view rooted at the trunk (`backbone.0.body`).
    pub fn load(v: &View<'_>, cfg: &ResNetConfig, device: &Device) -> Result<Self> {
        let stem = v.conv_bn(
            "conv1",
            "bn1",
            ConvShape {
                c_in: 3,
                c_out: cfg.stem_width,
                kernel: 7,
                stride: 2,
            },
            device,
        )?;
        let mut c_in = cfg.stem_width;
        let mut stages = Vec::with_capacity(4);
        for (s, &n) in cfg.layers.iter().enumerate() {
            let sv = v.pp(format!("layer{}", s + 1));
            let planes = cfg.planes(s);
            let mut blocks = Vec::with_capacity(n);
            for i in 0..n {
                let stride = if s > 0 && i == 0 { 2 } else { 1 };
                blocks.push(Bottleneck::load(&sv.pp(i), c_in, planes, stride, device)?);
                c_in = 4 * planes;
            }
            stages.push(blocks);
        }
        Ok(Self { stem, stages })
    }

    /// `images [B, 3, H, W]` → `layer4` features `[B, C, ⌈H/32⌉, ⌈W/32⌉]`. `hook.conv_branch`
    /// runs around the last block of stages 2–4 (stage indices 1–3) when that block keeps the
    /// shape (the stage has ≥ 2 blocks, as every real ResNet; a one-block stage has no hook).
    pub fn forward<H: GroundingHook>(&self, images: Tensor<4>, hook: &H) -> Tensor<4> {
        let x = relu(self.stem.forward(images));
        let mut x = max_pool2d(
            x,
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        );
        for (s, blocks) in self.stages.iter().enumerate() {
            let last = blocks.len() - 1;
            for (i, block) in blocks.iter().enumerate() {
                if s > 0 && i == last && i > 0 {
                    let branch = hook.conv_branch(s, &x);
                    let y = block.forward(x);
                    x = match branch {
                        Some(b) => y + b,
                        None => y,
                    };
                } else {
                    x = block.forward(x);
                }
            }
        }
        x
    }
}
