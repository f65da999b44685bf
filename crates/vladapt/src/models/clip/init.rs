//! CLIP's parameter tree, written once ([`ClipModel::visit_params`]: each tensor's name, shape
//! and initialisation, in one fixed order), and what derives from it: random initialisation
//! (OpenAI CLIP's scheme), the conversion of a whole [`ClipModel`] to and from a flat [`Params`]
//! set (so that every weight can be trained with the optimisers of `train::optim`), and the
//! shape list a config implies.
//!
//! Parameter names follow the internal layout (linear weights `[in, out]`, packed q|k|v):
//! `logit_scale`, `text.token_embedding`, `text.position_embedding`,
//! `text.blocks.{i}.{ln_1,attn.qkv,attn.out,ln_2,fc1,fc2}.{weight,bias}`, `text.ln_final.*`,
//! `text.projection`, `vision.patch_weight`, `vision.class_embedding`,
//! `vision.position_embedding`, `vision.ln_pre.*`, `vision.blocks.{i}.*`, `vision.ln_post.*`,
//! `vision.projection`. The Hugging Face names and layout are produced only when saving
//! (see [`super::save`]).
use super::config::{Activation, ClipConfig};
use super::layers::{Attention, LayerNorm, Linear, ResidualBlock};
use super::model::{ClipModel, ImageTower};
use super::text::TextTower;
use super::vision::VisionTower;
use crate::params::Params;
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

/// How a parameter starts when a CLIP is initialised from scratch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros (biases, LayerNorm shifts).
    Zeros,
    /// All ones (LayerNorm scales).
    Ones,
    /// N(0, std²).
    Normal(f64),
    /// U(−bound, bound).
    Uniform(f64),
    /// One constant value (the logit scale).
    Value(f32),
}

/// What is done to each parameter of a CLIP, in the order of [`ClipModel::visit_params`]: read
/// it, replace it, or only look at its name and shape.
pub trait ParamVisitor {
    /// Visit the tensor `t` named `name` whose shape the config says is `shape`.
    fn visit<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
        t: &mut Tensor<D>,
    ) -> Result<()>;
}

/// Stds of OpenAI CLIP's `initialize_parameters` for one transformer of `width` and `layers`:
/// `attn_std = w^-½` for the packed in-projection, `proj_std = w^-½ (2L)^-½` for the attention
/// out-projection and `c_proj`, `fc_std = (2w)^-½` for `c_fc`; biases 0 (as
/// `nn.MultiheadAttention`). OpenAI applies this to the text transformer only; vladapt uses it
/// for the vision transformer too (as its default init is not reproducible across frameworks
/// anyway).
#[derive(Debug, Clone, Copy)]
struct Stds {
    attn: f64,
    proj: f64,
    fc: f64,
}

/// One transformer's dimensions as the tree needs them.
#[derive(Debug, Clone, Copy)]
struct Dims {
    width: usize,
    hidden: usize,
    layers: usize,
}

impl Dims {
    fn stds(&self) -> Stds {
        let w = self.width as f64;
        Stds {
            attn: w.powf(-0.5),
            proj: w.powf(-0.5) * (2.0 * self.layers as f64).powf(-0.5),
            fc: (2.0 * w).powf(-0.5),
        }
    }
}

fn visit_ln<V: ParamVisitor>(v: &mut V, prefix: &str, d: usize, ln: &mut LayerNorm) -> Result<()> {
    v.visit(&format!("{prefix}.weight"), [d], Init::Ones, &mut ln.weight)?;
    v.visit(&format!("{prefix}.bias"), [d], Init::Zeros, &mut ln.bias)
}

fn visit_linear<V: ParamVisitor>(
    v: &mut V,
    prefix: &str,
    [d_in, d_out]: [usize; 2],
    std: f64,
    l: &mut Linear,
) -> Result<()> {
    v.visit(
        &format!("{prefix}.weight"),
        [d_in, d_out],
        Init::Normal(std),
        &mut l.weight,
    )?;
    match &mut l.bias {
        Some(b) => v.visit(&format!("{prefix}.bias"), [d_out], Init::Zeros, b),
        None => Ok(()),
    }
}

/// `{tower}.blocks.{i}.{ln_1, attn.qkv, attn.out, ln_2, fc1, fc2}.{weight, bias}`.
fn visit_blocks<V: ParamVisitor>(
    v: &mut V,
    tower: &str,
    dims: Dims,
    blocks: &mut [ResidualBlock],
) -> Result<()> {
    let (d, h, s) = (dims.width, dims.hidden, dims.stds());
    for (i, b) in blocks.iter_mut().enumerate() {
        let p = format!("{tower}.blocks.{i}");
        visit_ln(v, &format!("{p}.ln_1"), d, &mut b.ln_1)?;
        visit_linear(
            v,
            &format!("{p}.attn.qkv"),
            [d, 3 * d],
            s.attn,
            &mut b.attn.qkv,
        )?;
        visit_linear(v, &format!("{p}.attn.out"), [d, d], s.proj, &mut b.attn.out)?;
        visit_ln(v, &format!("{p}.ln_2"), d, &mut b.ln_2)?;
        visit_linear(v, &format!("{p}.fc1"), [d, h], s.fc, &mut b.fc1)?;
        visit_linear(v, &format!("{p}.fc2"), [h, d], s.proj, &mut b.fc2)?;
    }
    Ok(())
}

/// A tensor with no values yet (a [skeleton](ClipModel::skeleton)'s slot).
fn unset<const D: usize>(device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0; D]), device)
}

fn unset_ln(eps: f64, device: &Device) -> LayerNorm {
    LayerNorm {
        weight: unset(device),
        bias: unset(device),
        eps,
    }
}

fn unset_linear(device: &Device) -> Linear {
    Linear {
        weight: unset(device),
        bias: Some(unset(device)),
    }
}

fn unset_blocks(
    layers: usize,
    heads: usize,
    act: Activation,
    eps: f64,
    device: &Device,
) -> Vec<ResidualBlock> {
    (0..layers)
        .map(|_| ResidualBlock {
            ln_1: unset_ln(eps, device),
            attn: Attention {
                qkv: unset_linear(device),
                out: unset_linear(device),
                heads,
            },
            ln_2: unset_ln(eps, device),
            fc1: unset_linear(device),
            fc2: unset_linear(device),
            act,
        })
        .collect()
}

impl ClipModel {
    /// The structure `config` implies (towers, blocks, heads, activations, epsilons) with every
    /// parameter still unset (empty); [`visit_params`](Self::visit_params) fills it.
    fn skeleton(config: &ClipConfig, device: &Device) -> Self {
        let (tc, vc) = (&config.text, &config.vision);
        Self {
            text: TextTower {
                token_embedding: unset(device),
                position_embedding: unset(device),
                blocks: unset_blocks(tc.layers, tc.heads, tc.activation, tc.eps, device),
                ln_final: unset_ln(tc.eps, device),
                projection: unset(device),
                config: tc.clone(),
            },
            vision: ImageTower::Vit(VisionTower {
                patch_weight: unset(device),
                class_embedding: unset(device),
                position_embedding: unset(device),
                ln_pre: unset_ln(vc.eps, device),
                blocks: unset_blocks(vc.layers, vc.heads, vc.activation, vc.eps, device),
                ln_post: unset_ln(vc.eps, device),
                projection: unset(device),
                config: vc.clone(),
            }),
            logit_scale: INIT_LOGIT_SCALE,
            config: config.clone(),
        }
    }

    /// The parameter tree: every weight of the model with its internal name, the shape the
    /// config implies and its initialisation, in one fixed order (`logit_scale`, then the text
    /// tower, then the ViT). Initialisation follows OpenAI CLIP: token embedding N(0, 0.02²),
    /// text positions N(0, 0.01²), class token / vision positions / projections N(0, w^-1),
    /// patch conv PyTorch's default U(±1/√fan_in), blocks as `initialize_parameters`
    /// (see [`Stds`]), LayerNorms 1/0, `logit_scale = ln(1/0.07)`. A ResNet image tower has no
    /// tree (it is loaded, never trained from scratch).
    pub fn visit_params<V: ParamVisitor>(&mut self, v: &mut V) -> Result<()> {
        let p = self.config.projection_dim;
        let device = self.text.token_embedding.device();
        let mut scale = Tensor::from_data(TensorData::new(vec![self.logit_scale], [1]), &device);
        v.visit(
            "logit_scale",
            [1],
            Init::Value(INIT_LOGIT_SCALE),
            &mut scale,
        )?;
        self.logit_scale = to_vec_f32(&scale)[0];

        let t = &mut self.text;
        let tc = t.config.clone();
        let d = tc.width;
        v.visit(
            "text.token_embedding",
            [tc.vocab_size, d],
            Init::Normal(0.02),
            &mut t.token_embedding,
        )?;
        v.visit(
            "text.position_embedding",
            [tc.context_length, d],
            Init::Normal(0.01),
            &mut t.position_embedding,
        )?;
        let dims = Dims {
            width: d,
            hidden: tc.intermediate,
            layers: tc.layers,
        };
        visit_blocks(v, "text", dims, &mut t.blocks)?;
        visit_ln(v, "text.ln_final", d, &mut t.ln_final)?;
        v.visit(
            "text.projection",
            [d, p],
            Init::Normal((d as f64).powf(-0.5)),
            &mut t.projection,
        )?;

        let vt = self.vision.vit_mut_for("the CLIP parameter tree")?;
        let vc = vt.config.clone();
        let d = vc.width;
        let scale = (d as f64).powf(-0.5);
        let fan_in = 3 * vc.patch_size * vc.patch_size;
        v.visit(
            "vision.patch_weight",
            [fan_in, d],
            Init::Uniform(1.0 / (fan_in as f64).sqrt()),
            &mut vt.patch_weight,
        )?;
        v.visit(
            "vision.class_embedding",
            [d],
            Init::Normal(scale),
            &mut vt.class_embedding,
        )?;
        v.visit(
            "vision.position_embedding",
            [vc.tokens(), d],
            Init::Normal(scale),
            &mut vt.position_embedding,
        )?;
        visit_ln(v, "vision.ln_pre", d, &mut vt.ln_pre)?;
        let dims = Dims {
            width: d,
            hidden: vc.intermediate,
            layers: vc.layers,
        };
        visit_blocks(v, "vision", dims, &mut vt.blocks)?;
        visit_ln(v, "vision.ln_post", d, &mut vt.ln_post)?;
        v.visit(
            "vision.projection",
            [d, p],
            Init::Normal(scale),
            &mut vt.projection,
        )
    }

    /// A randomly initialised CLIP (the initialisations of [`visit_params`](Self::visit_params),
    /// drawn in its order from a host-side ChaCha8 stream). The same `seed` gives the same weights.
    pub fn random_init(config: &ClipConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate(std::path::Path::new("<model config>"))?;
        let mut fill = Fill {
            sampler: Sampler {
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x434C_4950_494E_4954),
            },
            device: device.clone(),
        };
        let mut model = Self::skeleton(config, device);
        model.visit_params(&mut fill)?;
        Ok(model)
    }

    /// Every weight as a flat named [`Params`] set (internal layout, see the module docs).
    /// A ResNet image tower has no such set (it is loaded, never trained from scratch).
    pub fn to_params(&self) -> Result<Params> {
        let mut collect = Collect(Params::new());
        self.clone().visit_params(&mut collect)?;
        Ok(collect.0)
    }

    /// Rebuild a model from a [`Params`] set made by [`to_params`](Self::to_params) (values may be
    /// autodiff leaves: the model's tensors then carry gradients back to them). Every name and
    /// shape is checked against `config`.
    pub fn from_params(config: &ClipConfig, params: &Params) -> Result<Self> {
        let device = params
            .entries()
            .first()
            .map(|p| p.value.device())
            .ok_or_else(|| VladaptError::Checkpoint {
                source_name: "CLIP parameter set".into(),
                reason: "it is empty".into(),
            })?;
        let mut model = Self::skeleton(config, &device);
        let mut take = Take { params, next: 0 };
        model.visit_params(&mut take)?;
        let want = take.next;
        if params.entries().len() != want {
            return Err(VladaptError::Checkpoint {
                source_name: "CLIP parameter set".into(),
                reason: format!(
                    "{} tensors, the config implies {want}",
                    params.entries().len()
                ),
            });
        }
        Ok(model)
    }
}

/// Draws each parameter from its [`Init`].
struct Fill {
    sampler: Sampler,
    device: Device,
}

impl ParamVisitor for Fill {
    fn visit<const D: usize>(
        &mut self,
        _name: &str,
        shape: [usize; D],
        init: Init,
        t: &mut Tensor<D>,
    ) -> Result<()> {
        let n: usize = shape.iter().product();
        let vals = match init {
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
            Init::Value(x) => vec![x; n],
            Init::Normal(std) => self.sampler.normal(n, std),
            Init::Uniform(bound) => self.sampler.uniform(n, bound),
        };
        *t = Tensor::from_data(TensorData::new(vals, shape), &self.device);
        Ok(())
    }
}

/// Pushes each parameter onto a [`Params`] set.
struct Collect(Params);

impl ParamVisitor for Collect {
    fn visit<const D: usize>(
        &mut self,
        name: &str,
        _shape: [usize; D],
        _init: Init,
        t: &mut Tensor<D>,
    ) -> Result<()> {
        self.0.push_tensor(name, t.clone());
        Ok(())
    }
}

/// Takes each parameter from a [`Params`] set, in order, checking its name and shape.
struct Take<'a> {
    params: &'a Params,
    next: usize,
}

impl ParamVisitor for Take<'_> {
    fn visit<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
        t: &mut Tensor<D>,
    ) -> Result<()> {
        let Some(p) = self.params.entries().get(self.next) else {
            return Err(VladaptError::Checkpoint {
                source_name: "CLIP parameter set".into(),
                reason: format!(
                    "{} tensors, the config implies more (next: `{name}` {shape:?})",
                    self.params.entries().len()
                ),
            });
        };
        if p.name != name || p.shape != shape {
            return Err(VladaptError::Checkpoint {
                source_name: "CLIP parameter set".into(),
                reason: format!(
                    "parameter `{}` {:?} does not match the config's `{name}` {shape:?}",
                    p.name, p.shape
                ),
            });
        }
        *t = p.value.clone().reshape(shape);
        self.next += 1;
        Ok(())
    }
}

/// Records each parameter's name and shape.
struct Shapes(Vec<(String, Vec<usize>)>);

impl ParamVisitor for Shapes {
    fn visit<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
        _t: &mut Tensor<D>,
    ) -> Result<()> {
        self.0.push((name.to_string(), shape.to_vec()));
        Ok(())
    }
}

/// The `(name, shape)` list a config implies, in [`ClipModel::to_params`] order.
pub fn param_shapes(config: &ClipConfig) -> Vec<(String, Vec<usize>)> {
    let mut shapes = Shapes(Vec::new());
    ClipModel::skeleton(config, &Device::flex())
        .visit_params(&mut shapes)
        .expect("recording shapes cannot fail on a ViT skeleton");
    shapes.0
}

/// Check that `params` holds exactly the tensors `config` implies, with their shapes.
pub fn check_params(config: &ClipConfig, params: &Params) -> Result<()> {
    ClipModel::from_params(config, params).map(|_| ())
}
