//! Random initialisation of a CLIP from a [`ClipConfig`] (OpenAI CLIP's scheme) and the
//! conversion of a whole [`ClipModel`] to and from a flat [`Params`] set, so that every weight
//! can be trained with the optimisers of `train::optim`.
//!
//! Parameter names follow the internal layout (linear weights `[in, out]`, packed q|k|v):
//! `logit_scale`, `text.token_embedding`, `text.position_embedding`,
//! `text.blocks.{i}.{ln_1,attn.qkv,attn.out,ln_2,fc1,fc2}.{weight,bias}`, `text.ln_final.*`,
//! `text.projection`, `vision.patch_weight`, `vision.class_embedding`,
//! `vision.position_embedding`, `vision.ln_pre.*`, `vision.blocks.{i}.*`, `vision.ln_post.*`,
//! `vision.projection`. The Hugging Face names and layout are produced only when saving
//! (see [`super::save`]).
use super::config::{ClipConfig, TextConfig, VisionConfig};
use super::layers::{Attention, LayerNorm, Linear, ResidualBlock};
use super::model::{ClipModel, ImageTower};
use super::text::TextTower;
use super::vision::VisionTower;
use crate::methods::Params;
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `ln(1 / 0.07)`: CLIP's initial logit scale.
pub const INIT_LOGIT_SCALE: f32 = 2.659_26;

/// Host-side seeded sampler (Box–Muller normals), so an initialisation is reproducible on every
/// backend and thread count.
struct Sampler {
    rng: ChaCha8Rng,
}

impl Sampler {
    fn normal(&mut self, n: usize, std: f64) -> Vec<f32> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
            let u2: f64 = self.rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let t = std::f64::consts::TAU * u2;
            out.push((r * t.cos() * std) as f32);
            out.push((r * t.sin() * std) as f32);
        }
        out.truncate(n);
        out
    }

    fn uniform(&mut self, n: usize, bound: f64) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
            .collect()
    }
}

fn t1(v: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn t2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn layer_norm(d: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNorm {
        weight: t1(vec![1.0; d], device),
        bias: t1(vec![0.0; d], device),
        eps,
    }
}

/// Blocks with OpenAI CLIP's `initialize_parameters` stds: `attn_std = w^-½` for the packed
/// in-projection, `proj_std = w^-½ (2L)^-½` for the attention out-projection and `c_proj`,
/// `fc_std = (2w)^-½` for `c_fc`; biases 0 (as `nn.MultiheadAttention`). OpenAI applies this to
/// the text transformer only; vladapt uses it for the vision transformer too (as its default
/// init is not reproducible across frameworks anyway).
#[allow(clippy::too_many_arguments)]
fn blocks(
    s: &mut Sampler,
    width: usize,
    layers: usize,
    heads: usize,
    hidden: usize,
    act: super::Activation,
    eps: f64,
    device: &Device,
) -> Vec<ResidualBlock> {
    let w = width as f64;
    let attn_std = w.powf(-0.5);
    let proj_std = w.powf(-0.5) * (2.0 * layers as f64).powf(-0.5);
    let fc_std = (2.0 * w).powf(-0.5);
    (0..layers)
        .map(|_| ResidualBlock {
            ln_1: layer_norm(width, eps, device),
            attn: Attention {
                qkv: Linear {
                    weight: t2(
                        s.normal(width * 3 * width, attn_std),
                        [width, 3 * width],
                        device,
                    ),
                    bias: Some(t1(vec![0.0; 3 * width], device)),
                },
                out: Linear {
                    weight: t2(s.normal(width * width, proj_std), [width, width], device),
                    bias: Some(t1(vec![0.0; width], device)),
                },
                heads,
            },
            ln_2: layer_norm(width, eps, device),
            fc1: Linear {
                weight: t2(s.normal(width * hidden, fc_std), [width, hidden], device),
                bias: Some(t1(vec![0.0; hidden], device)),
            },
            fc2: Linear {
                weight: t2(s.normal(hidden * width, proj_std), [hidden, width], device),
                bias: Some(t1(vec![0.0; width], device)),
            },
            act,
        })
        .collect()
}

impl ClipModel {
    /// A randomly initialised CLIP (OpenAI CLIP's scheme): token embedding N(0, 0.02²),
    /// text positions N(0, 0.01²), class token / vision positions / projections N(0, w^-1),
    /// patch conv PyTorch's default U(±1/√fan_in), blocks as OpenAI's `initialize_parameters`,
    /// LayerNorms 1/0, `logit_scale = ln(1/0.07)`. The same `seed` gives the same weights.
    pub fn random_init(config: &ClipConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate(std::path::Path::new("<model config>"))?;
        let mut s = Sampler {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x434C_4950_494E_4954),
        };
        let tc = &config.text;
        let vc = &config.vision;
        let p = config.projection_dim;
        let text = TextTower {
            token_embedding: t2(
                s.normal(tc.vocab_size * tc.width, 0.02),
                [tc.vocab_size, tc.width],
                device,
            ),
            position_embedding: t2(
                s.normal(tc.context_length * tc.width, 0.01),
                [tc.context_length, tc.width],
                device,
            ),
            blocks: blocks(
                &mut s,
                tc.width,
                tc.layers,
                tc.heads,
                tc.intermediate,
                tc.activation,
                tc.eps,
                device,
            ),
            ln_final: layer_norm(tc.width, tc.eps, device),
            projection: t2(
                s.normal(tc.width * p, (tc.width as f64).powf(-0.5)),
                [tc.width, p],
                device,
            ),
            config: tc.clone(),
        };
        let vd = vc.width;
        let scale = (vd as f64).powf(-0.5);
        let fan_in = 3 * vc.patch_size * vc.patch_size;
        let vision = VisionTower {
            patch_weight: t2(
                s.uniform(fan_in * vd, 1.0 / (fan_in as f64).sqrt()),
                [fan_in, vd],
                device,
            ),
            class_embedding: t1(s.normal(vd, scale), device),
            position_embedding: t2(s.normal(vc.tokens() * vd, scale), [vc.tokens(), vd], device),
            ln_pre: layer_norm(vd, vc.eps, device),
            blocks: blocks(
                &mut s,
                vd,
                vc.layers,
                vc.heads,
                vc.intermediate,
                vc.activation,
                vc.eps,
                device,
            ),
            ln_post: layer_norm(vd, vc.eps, device),
            projection: t2(s.normal(vd * p, scale), [vd, p], device),
            config: vc.clone(),
        };
        Ok(Self {
            text,
            vision: ImageTower::Vit(vision),
            logit_scale: INIT_LOGIT_SCALE,
            config: config.clone(),
        })
    }

    /// Every weight as a flat named [`Params`] set (internal layout, see the module docs).
    /// A ResNet image tower has no such set (it is loaded, never trained from scratch).
    pub fn to_params(&self) -> Result<Params> {
        let mut ps = Params::new();
        let device = self.text.token_embedding.device();
        ps.push("logit_scale", &[1], vec![self.logit_scale], &device);
        let t = &self.text;
        ps.push_tensor("text.token_embedding", t.token_embedding.clone());
        ps.push_tensor("text.position_embedding", t.position_embedding.clone());
        push_blocks(&mut ps, "text", &t.blocks);
        push_ln(&mut ps, "text.ln_final", &t.ln_final);
        ps.push_tensor("text.projection", t.projection.clone());
        let v = self.vision.vit_for("to_params")?;
        ps.push_tensor("vision.patch_weight", v.patch_weight.clone());
        ps.push_tensor("vision.class_embedding", v.class_embedding.clone());
        ps.push_tensor("vision.position_embedding", v.position_embedding.clone());
        push_ln(&mut ps, "vision.ln_pre", &v.ln_pre);
        push_blocks(&mut ps, "vision", &v.blocks);
        push_ln(&mut ps, "vision.ln_post", &v.ln_post);
        ps.push_tensor("vision.projection", v.projection.clone());
        Ok(ps)
    }

    /// Rebuild a model from a [`Params`] set made by [`to_params`](Self::to_params) (values may be
    /// autodiff leaves: the model's tensors then carry gradients back to them). Every name and
    /// shape is checked against `config`.
    pub fn from_params(config: &ClipConfig, params: &Params) -> Result<Self> {
        check_params(config, params)?;
        let tc = &config.text;
        let vc = &config.vision;
        let text = TextTower {
            token_embedding: params.get("text.token_embedding"),
            position_embedding: params.get("text.position_embedding"),
            blocks: get_blocks(params, "text", tc.layers, tc.heads, tc.activation, tc.eps),
            ln_final: get_ln(params, "text.ln_final", tc.eps),
            projection: params.get("text.projection"),
            config: tc.clone(),
        };
        let vision = VisionTower {
            patch_weight: params.get("vision.patch_weight"),
            class_embedding: params.get("vision.class_embedding"),
            position_embedding: params.get("vision.position_embedding"),
            ln_pre: get_ln(params, "vision.ln_pre", vc.eps),
            blocks: get_blocks(params, "vision", vc.layers, vc.heads, vc.activation, vc.eps),
            ln_post: get_ln(params, "vision.ln_post", vc.eps),
            projection: params.get("vision.projection"),
            config: vc.clone(),
        };
        let logit_scale = to_vec_f32(&params.get::<1>("logit_scale"))[0];
        Ok(Self {
            text,
            vision: ImageTower::Vit(vision),
            logit_scale,
            config: config.clone(),
        })
    }
}

fn push_ln(ps: &mut Params, prefix: &str, ln: &LayerNorm) {
    ps.push_tensor(format!("{prefix}.weight"), ln.weight.clone());
    ps.push_tensor(format!("{prefix}.bias"), ln.bias.clone());
}

fn push_linear(ps: &mut Params, prefix: &str, l: &Linear) {
    ps.push_tensor(format!("{prefix}.weight"), l.weight.clone());
    if let Some(b) = &l.bias {
        ps.push_tensor(format!("{prefix}.bias"), b.clone());
    }
}

fn push_blocks(ps: &mut Params, tower: &str, blocks: &[ResidualBlock]) {
    for (i, b) in blocks.iter().enumerate() {
        let p = format!("{tower}.blocks.{i}");
        push_ln(ps, &format!("{p}.ln_1"), &b.ln_1);
        push_linear(ps, &format!("{p}.attn.qkv"), &b.attn.qkv);
        push_linear(ps, &format!("{p}.attn.out"), &b.attn.out);
        push_ln(ps, &format!("{p}.ln_2"), &b.ln_2);
        push_linear(ps, &format!("{p}.fc1"), &b.fc1);
        push_linear(ps, &format!("{p}.fc2"), &b.fc2);
    }
}

fn get_ln(ps: &Params, prefix: &str, eps: f64) -> LayerNorm {
    LayerNorm {
        weight: ps.get(&format!("{prefix}.weight")),
        bias: ps.get(&format!("{prefix}.bias")),
        eps,
    }
}

fn get_linear(ps: &Params, prefix: &str) -> Linear {
    Linear {
        weight: ps.get(&format!("{prefix}.weight")),
        bias: Some(ps.get(&format!("{prefix}.bias"))),
    }
}

fn get_blocks(
    ps: &Params,
    tower: &str,
    layers: usize,
    heads: usize,
    act: super::Activation,
    eps: f64,
) -> Vec<ResidualBlock> {
    (0..layers)
        .map(|i| {
            let p = format!("{tower}.blocks.{i}");
            ResidualBlock {
                ln_1: get_ln(ps, &format!("{p}.ln_1"), eps),
                attn: Attention {
                    qkv: get_linear(ps, &format!("{p}.attn.qkv")),
                    out: get_linear(ps, &format!("{p}.attn.out")),
                    heads,
                },
                ln_2: get_ln(ps, &format!("{p}.ln_2"), eps),
                fc1: get_linear(ps, &format!("{p}.fc1")),
                fc2: get_linear(ps, &format!("{p}.fc2")),
                act,
            }
        })
        .collect()
}

/// The `(name, shape)` list a config implies, in [`ClipModel::to_params`] order.
pub fn param_shapes(config: &ClipConfig) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![("logit_scale".to_string(), vec![1])];
    let TextConfig {
        vocab_size,
        width: td,
        layers: tl,
        intermediate: th,
        context_length,
        ..
    } = config.text;
    let VisionConfig {
        width: vd,
        layers: vl,
        intermediate: vh,
        patch_size,
        ..
    } = config.vision;
    let p = config.projection_dim;
    let blocks = |out: &mut Vec<(String, Vec<usize>)>, tower: &str, d: usize, h: usize, l| {
        for i in 0..l {
            let pre = format!("{tower}.blocks.{i}");
            for (n, s) in [
                ("ln_1.weight", vec![d]),
                ("ln_1.bias", vec![d]),
                ("attn.qkv.weight", vec![d, 3 * d]),
                ("attn.qkv.bias", vec![3 * d]),
                ("attn.out.weight", vec![d, d]),
                ("attn.out.bias", vec![d]),
                ("ln_2.weight", vec![d]),
                ("ln_2.bias", vec![d]),
                ("fc1.weight", vec![d, h]),
                ("fc1.bias", vec![h]),
                ("fc2.weight", vec![h, d]),
                ("fc2.bias", vec![d]),
            ] {
                out.push((format!("{pre}.{n}"), s));
            }
        }
    };
    out.push(("text.token_embedding".into(), vec![vocab_size, td]));
    out.push(("text.position_embedding".into(), vec![context_length, td]));
    blocks(&mut out, "text", td, th, tl);
    out.push(("text.ln_final.weight".into(), vec![td]));
    out.push(("text.ln_final.bias".into(), vec![td]));
    out.push(("text.projection".into(), vec![td, p]));
    out.push((
        "vision.patch_weight".into(),
        vec![3 * patch_size * patch_size, vd],
    ));
    out.push(("vision.class_embedding".into(), vec![vd]));
    out.push((
        "vision.position_embedding".into(),
        vec![config.vision.tokens(), vd],
    ));
    out.push(("vision.ln_pre.weight".into(), vec![vd]));
    out.push(("vision.ln_pre.bias".into(), vec![vd]));
    blocks(&mut out, "vision", vd, vh, vl);
    out.push(("vision.ln_post.weight".into(), vec![vd]));
    out.push(("vision.ln_post.bias".into(), vec![vd]));
    out.push(("vision.projection".into(), vec![vd, p]));
    out
}

/// Check that `params` holds exactly the tensors `config` implies, with their shapes.
pub fn check_params(config: &ClipConfig, params: &Params) -> Result<()> {
    let want = param_shapes(config);
    let got = params.entries();
    if got.len() != want.len() {
        return Err(VladaptError::Invalid(format!(
            "CLIP parameter set has {} tensors, the config implies {}",
            got.len(),
            want.len()
        )));
    }
    for (p, (n, s)) in got.iter().zip(&want) {
        if &p.name != n || &p.shape != s {
            return Err(VladaptError::Invalid(format!(
                "CLIP parameter `{}` {:?} does not match the config's `{n}` {s:?}",
                p.name, p.shape
            )));
        }
    }
    Ok(())
}
