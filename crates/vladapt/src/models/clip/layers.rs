//! Building blocks of the CLIP towers: linear, LayerNorm, multi-head attention, MLP and the
//! pre-LN residual block. Weights are plain tensors: frozen when a method adapts the model
//! (gradients flow through them to the method's trainable tensors), trained when pretraining
//! rebuilds the model from autodiff leaves (`ClipModel::from_params`).
use super::config::Activation;
use super::hooks::TowerHook;
use crate::models::keymap::View;
use crate::Result;
use burn::tensor::activation::{gelu, sigmoid, softmax};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};

/// `y = x W + b` with `W` stored `[in, out]` (transposed from PyTorch's `[out, in]` at load).
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[in, out]`.
    pub weight: Tensor<2>,
    /// `[out]`.
    pub bias: Option<Tensor<1>>,
}

impl Linear {
    /// Apply to `[..., in]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::linear(x, self.weight.clone(), self.bias.clone())
    }
}

/// LayerNorm over the last dimension, written from primitives (differentiable everywhere).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Scale `[d]`.
    pub weight: Tensor<1>,
    /// Shift `[d]`.
    pub bias: Tensor<1>,
    /// Epsilon.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalise `[..., d]` with burn's `layer_norm` module op: one fused kernel on backends that
    /// have one (Flex), and on autodiff devices burn's default decomposition into differentiable
    /// primitives (mean, centred variance, sqrt, affine) — the same maths as [`Self::forward_reference`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::layer_norm(x, self.weight.clone(), Some(self.bias.clone()), self.eps)
    }

    /// The same LayerNorm written from tensor primitives (kept for tests and as documentation).
    pub fn forward_reference<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mean = x.clone().mean_dim(D - 1);
        let xc = x - mean;
        let var = xc.clone().square().mean_dim(D - 1);
        let y = xc / var.add_scalar(self.eps).sqrt();
        y * self.weight.clone().unsqueeze::<D>() + self.bias.clone().unsqueeze::<D>()
    }
}

/// Apply the configured activation.
pub fn activate<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    match act {
        Activation::QuickGelu if super::cpu_kernels::fused_cpu_path(&x) => {
            super::cpu_kernels::quick_gelu_flex(x)
        }
        Activation::QuickGelu => x.clone() * sigmoid(x.mul_scalar(1.702)),
        Activation::Gelu => gelu(x),
    }
}

/// Multi-head self-attention with a packed q/k/v projection (`[d, 3d]`).
#[derive(Debug, Clone)]
pub struct Attention {
    /// Packed input projection, columns ordered q | k | v.
    pub qkv: Linear,
    /// Output projection.
    pub out: Linear,
    /// Number of heads.
    pub heads: usize,
}

impl Attention {
    /// Packed projection, then q, k, v as `[B, heads, T, head_dim]` each.
    fn split_heads(&self, x: Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, d] = x.dims();
        let hd = d / self.heads;
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, t, 3, self.heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let head =
            |i: usize| -> Tensor<4> { qkv.clone().narrow(0, i, 1).reshape([b, self.heads, t, hd]) };
        (head(0), head(1), head(2))
    }

    /// `x`: `[B, T, d]`, `mask`: optional additive `[T, T]`. Returns `[B, T, d]`.
    pub fn forward(&self, x: Tensor<3>, mask: Option<&Tensor<2>>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let hd = d / self.heads;
        let (q, k, v) = self.split_heads(x);
        // burn's attention op: softmax(q kᵀ / √hd + mask) v. Flex runs it as one kernel per
        // (batch, head) without materialising the scaled scores; autodiff devices use burn's
        // differentiable fallback (the same composition as `forward_reference`).
        let out = burn::tensor::module::attention(
            q,
            k,
            v,
            None,
            mask.map(|m| m.clone().unsqueeze::<4>()),
            AttentionModuleOptions {
                scale: Some(1.0 / (hd as f64).sqrt()),
                softcap: None,
                is_causal: false,
            },
        );
        self.out.forward(out.swap_dims(1, 2).reshape([b, t, d]))
    }

    /// The same attention written from tensor primitives (kept for tests and as documentation).
    pub fn forward_reference(&self, x: Tensor<3>, mask: Option<&Tensor<2>>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let hd = d / self.heads;
        let (q, k, v) = self.split_heads(x);
        let mut att = q
            .mul_scalar(1.0 / (hd as f64).sqrt())
            .matmul(k.swap_dims(2, 3));
        if let Some(m) = mask {
            att = att + m.clone().unsqueeze::<4>();
        }
        let out = softmax(att, 3).matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        self.out.forward(out)
    }
}

/// Dimensions of one residual block.
#[derive(Debug, Clone, Copy)]
pub struct BlockDims {
    /// Residual width.
    pub width: usize,
    /// MLP hidden size.
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP activation.
    pub act: Activation,
    /// LayerNorm epsilon.
    pub eps: f64,
}

impl BlockDims {
    /// Dimensions of a block of `width` with MLP size `hidden`, `heads` heads, `act`, `eps`.
    pub fn new(width: usize, hidden: usize, heads: usize, act: Activation, eps: f64) -> Self {
        Self {
            width,
            hidden,
            heads,
            act,
            eps,
        }
    }
}

/// The pre-LN residual block: `x = x + MHA(LN1(x)); x = x + MLP(LN2(x))`, plus an optional
/// parallel branch from the hook on `LN1(x_in)` added at the end (MMA, Eq. 4–6 of the paper).
#[derive(Debug, Clone)]
pub struct ResidualBlock {
    /// `ln_1` / `layer_norm1`.
    pub ln_1: LayerNorm,
    /// Self-attention.
    pub attn: Attention,
    /// `ln_2` / `layer_norm2`.
    pub ln_2: LayerNorm,
    /// `c_fc` / `fc1`.
    pub fc1: Linear,
    /// `c_proj` / `fc2`.
    pub fc2: Linear,
    /// MLP activation.
    pub act: Activation,
}

impl ResidualBlock {
    /// Load a block from `v` in the canonical (OpenAI/OpenCLIP) naming: `ln_1`, `attn`, `ln_2`,
    /// `mlp.c_fc`, `mlp.c_proj`. The attention's input projection is the packed
    /// `attn.in_proj_weight` `[3d, d]` / `in_proj_bias` `[3d]`, or — for a Hugging Face file,
    /// whose rename table maps `self_attn.{q,k,v}_proj` to `attn.{q,k,v}_proj` — the three
    /// separate projections, packed here (columns q | k | v).
    pub fn load(v: &View<'_>, dims: BlockDims, device: &Device) -> Result<Self> {
        let BlockDims {
            width: d,
            hidden,
            heads,
            act,
            eps,
        } = dims;
        let a = v.pp("attn");
        let qkv = if a.contains("in_proj_weight") {
            let w: Tensor<2> = a.tensor("in_proj_weight", [3 * d, d], device)?;
            Linear {
                weight: w.transpose(),
                bias: Some(a.tensor("in_proj_bias", [3 * d], device)?),
            }
        } else {
            let [q, k, vp] =
                ["q_proj", "k_proj", "v_proj"].map(|n| a.linear(n, d, d, true, device));
            let (q, k, vp) = (q?, k?, vp?);
            let bias = |l: &Linear| l.bias.clone().expect("loaded with bias");
            Linear {
                weight: Tensor::cat(
                    vec![q.weight.clone(), k.weight.clone(), vp.weight.clone()],
                    1,
                ),
                bias: Some(Tensor::cat(vec![bias(&q), bias(&k), bias(&vp)], 0)),
            }
        };
        Ok(Self {
            ln_1: v.layer_norm("ln_1", d, eps, device)?,
            attn: Attention {
                qkv,
                out: a.linear("out_proj", d, d, true, device)?,
                heads,
            },
            ln_2: v.layer_norm("ln_2", d, eps, device)?,
            fc1: v.pp("mlp").linear("c_fc", d, hidden, true, device)?,
            fc2: v.pp("mlp").linear("c_proj", hidden, d, true, device)?,
            act,
        })
    }

    /// Run the block as block number `layer` with `hook`.
    pub fn forward(
        &self,
        layer: usize,
        x: Tensor<3>,
        mask: Option<&Tensor<2>>,
        hook: &dyn TowerHook,
    ) -> Tensor<3> {
        let x = hook.before_block(layer, x);
        let h = self.ln_1.forward(x.clone());
        let branch = hook.parallel_branch(layer, &h);
        let x = x + self.attn.forward(h, mask);
        let m = self.fc2.forward(activate(
            self.act,
            self.fc1.forward(self.ln_2.forward(x.clone())),
        ));
        let x = x + m;
        match branch {
            Some(b) => x + b,
            None => x,
        }
    }
}

/// Additive causal mask `[t, t]`: 0 on and below the diagonal, a large negative above.
pub fn causal_mask(t: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; t * t];
    for i in 0..t {
        for j in (i + 1)..t {
            v[i * t + j] = -1e9;
        }
    }
    Tensor::from_data(burn::tensor::TensorData::new(v, [t, t]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_io::to_vec_f32;
    use burn::tensor::Distribution;

    fn rand<const D: usize>(shape: [usize; D], dev: &Device) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 0.5), dev)
    }

    fn max_diff<const D: usize>(a: &Tensor<D>, b: &Tensor<D>) -> f32 {
        to_vec_f32(a)
            .iter()
            .zip(to_vec_f32(b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn fused_ops_match_the_primitive_reference() {
        for dev in [Device::flex(), Device::flex().autodiff()] {
            let (b, t, d, heads) = (2, 7, 16, 4);
            let ln = LayerNorm {
                weight: rand([d], &dev).add_scalar(1.0),
                bias: rand([d], &dev),
                eps: 1e-5,
            };
            let x = rand([b, t, d], &dev).add_scalar(0.3);
            assert!(max_diff(&ln.forward(x.clone()), &ln.forward_reference(x.clone())) < 1e-5);
            let attn = Attention {
                qkv: Linear {
                    weight: rand([d, 3 * d], &dev),
                    bias: Some(rand([3 * d], &dev)),
                },
                out: Linear {
                    weight: rand([d, d], &dev),
                    bias: Some(rand([d], &dev)),
                },
                heads,
            };
            let mask = causal_mask(t, &dev);
            for m in [None, Some(&mask)] {
                let diff = max_diff(
                    &attn.forward(x.clone(), m),
                    &attn.forward_reference(x.clone(), m),
                );
                assert!(diff < 1e-5, "attention differs by {diff}");
            }
        }
    }
}
