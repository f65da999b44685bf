//! MMCA (Liu et al., ACM MM 2024; official `Mr-Bigworth/MMCA`, `models_mmca_vector_based/`):
//! text-conditioned low-rank updates inside TransVG's visual branch (spec `mmca.md` §2).
//!
//! Every adapter holds its own gated multimodal embedding ("GF block", §2.2), a coefficient
//! generator (§2.3) and a low-rank update (§2.4):
//!
//! - `t' = P_t · t`, `v̄ = P_v · pool(X)`, `λ = σ(W₂ relu(W₁ (v̄ + t') + b₁) + b₂)`,
//!   `e = t' + λ ⊙ v̄` (`[B, E]`, E = 128);
//! - `c = e · W_c + b_c` (`[B, r]`, r = 64);
//! - `Δ(X) = U(c ⊙ D(X))`, i.e. the weight update `U · diag(c) · D = Σᵢ cᵢ uᵢ dᵢᵀ`.
//!
//! Transformer adapters (`…encoder.layers.N.text_linear_{q,k}`): `D`, `U` bias-free linears on
//! the layer input `src [B, S, d]`; `q = src + pos + Δ_q(src)`, `k = src + pos + Δ_k(src)`.
//! Conv adapters (`backbone.0.multimodal_layers.{0,1,2}` on layer2–4): `D` a 3×3 conv with bias,
//! `U` a 1×1 conv with bias, `P_v` a bias-free 1×1 conv; the stage output is
//! `Bottleneck(x_in) + Δ(x_in)` for the input `x_in` of its last block.
//!
//! `t` is the masked mean of `text_proj(BERT(ids))` over the real tokens (`[CLS]`/`[SEP]`
//! included, count clamped at 1e-9), computed **before** the visual branch (§2.1).
//!
//! One deliberate change of evaluation order, exact in real arithmetic: `v̄ = P_v · pool(X)`
//! instead of the official `pool(P_v · X)` (`P_v` is linear without bias), which saves a
//! 1×1 convolution over the whole feature map per conv adapter.
//!
//! Tensor names are the official `state_dict` names, so an official MMCA checkpoint loads.
use super::mmca_config::{
    AdapterInit, MmcaConfig, TransformerWindow, VisualPooling, OFFICIAL_WINDOW,
};
use crate::models::clip::layers::Linear;
use crate::models::grounding::config::GroundingConfig;
use crate::models::grounding::hooks::GroundingHook;
use crate::models::grounding::layers::Conv2d;
use crate::models::grounding::position::downsample_mask;
use crate::models::grounding::weights::{ConvShape, View};
use crate::{Result, VladaptError};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;

/// Prefix of conv adapter `i` (0 → layer2, 1 → layer3, 2 → layer4).
pub fn conv_prefix(i: usize) -> String {
    format!("visumodel.backbone.0.multimodal_layers.{i}")
}

/// Prefix of the q (`which = 'q'`) or k adapter of DETR encoder layer `layer`.
pub fn qk_prefix(layer: usize, which: char) -> String {
    format!("visumodel.transformer.encoder.layers.{layer}.text_linear_{which}")
}

/// Whether `name` is an MMCA adapter tensor (official naming).
pub fn is_adapter_name(name: &str) -> bool {
    (name.starts_with("visumodel.backbone.0.multimodal_layers."))
        || (name.starts_with("visumodel.transformer.encoder.layers.")
            && (name.contains(".text_linear_q.") || name.contains(".text_linear_k.")))
}

/// What a tensor is, for the official initialisation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// xavier-uniform, bound `√(6 / (fan_in + fan_out))`.
    Xavier,
    /// PyTorch's default for weights and biases, `U(±1/√fan_in)` (fan_in of the module).
    Default(usize),
    Zeros,
    Ones,
}

/// `(name, shape, init)` of every tensor of one adapter.
fn adapter_tensors(
    prefix: &str,
    cfg: &MmcaConfig,
    conv: bool,
    c: usize,
    d_text: usize,
) -> Vec<(String, Vec<usize>, Init)> {
    let (r, e, h) = (cfg.rank, cfg.embed_dim, cfg.gate_hidden);
    let n = |leaf: &str| format!("{prefix}.{leaf}");
    // Transformer adapters: DETR re-initialises every ≥ 2-D tensor with xavier.
    let w = |fan_in: usize| {
        if conv {
            Init::Default(fan_in)
        } else {
            Init::Xavier
        }
    };
    let up_zero = cfg.init == AdapterInit::ZeroUp;
    let mut v = Vec::new();
    if conv {
        v.push((
            n("visual_conv_static_down.weight"),
            vec![r, c, 3, 3],
            w(9 * c),
        ));
        v.push((
            n("visual_conv_static_down.bias"),
            vec![r],
            Init::Default(9 * c),
        ));
    } else {
        v.push((n("visual_linear_static_down.weight"), vec![r, c], w(c)));
    }
    if cfg.conditioning {
        let g = |leaf: &str| n(&format!("gate_fusion.{leaf}"));
        if cfg.gate {
            let pv = if conv { vec![e, c, 1, 1] } else { vec![e, c] };
            v.push((g("visual_linear_static_down.weight"), pv, w(c)));
        }
        v.push((
            g("textual_linear_static_down.weight"),
            vec![e, d_text],
            w(d_text),
        ));
        if cfg.gate {
            v.push((g("mm_feat_embed_transform.0.weight"), vec![h, e], w(e)));
            v.push((
                g("mm_feat_embed_transform.0.bias"),
                vec![h],
                Init::Default(e),
            ));
            v.push((g("mm_feat_embed_transform.2.weight"), vec![e, h], w(h)));
            v.push((
                g("mm_feat_embed_transform.2.bias"),
                vec![e],
                Init::Default(h),
            ));
        }
        let wc = if conv { Init::Zeros } else { Init::Xavier };
        v.push((n("text_linear_w"), vec![e, r], wc));
        v.push((n("text_linear_b"), vec![r], Init::Ones));
    }
    let up = |i: Init| if up_zero { Init::Zeros } else { i };
    if conv {
        v.push((
            n("visual_conv_static_up.weight"),
            vec![c, r, 1, 1],
            up(w(r)),
        ));
        v.push((
            n("visual_conv_static_up.bias"),
            vec![c],
            up(Init::Default(r)),
        ));
    } else {
        v.push((n("visual_linear_static_up.weight"), vec![c, r], up(w(r))));
    }
    v
}

fn adapter_list(cfg: &MmcaConfig, model: &GroundingConfig) -> Vec<(String, Vec<usize>, Init)> {
    let d_text = model.fusion.d_model;
    let mut all = Vec::new();
    if cfg.placement.conv() {
        for i in 0..3 {
            let c = model.resnet.out_channels(i + 1);
            all.extend(adapter_tensors(&conv_prefix(i), cfg, true, c, d_text));
        }
    }
    if cfg.placement.transformer() {
        for l in 0..model.detr.layers {
            for which in ['q', 'k'] {
                let d = model.detr.d_model;
                all.extend(adapter_tensors(&qk_prefix(l, which), cfg, false, d, d_text));
            }
        }
    }
    all
}

/// `(name, shape)` of every adapter tensor `cfg` builds on `model`, in a fixed order.
pub fn adapter_shapes(cfg: &MmcaConfig, model: &GroundingConfig) -> Vec<(String, Vec<usize>)> {
    adapter_list(cfg, model)
        .into_iter()
        .map(|(n, s, _)| (n, s))
        .collect()
}

/// Check that `model` can carry `cfg`'s adapters (each adapted stage needs ≥ 2 blocks so its
/// last block keeps the shape, as in every real ResNet).
pub fn check_model(cfg: &MmcaConfig, model: &GroundingConfig) -> Result<()> {
    if cfg.placement.conv() {
        for s in 1..4 {
            if model.resnet.layers[s] < 2 {
                return Err(VladaptError::Unsupported {
                    what: format!("MMCA's conv adapter on layer{}", s + 1),
                    reason: format!(
                        "needs ≥ 2 bottleneck blocks (the config has {}); use placement = \
                         transformer",
                        model.resnet.layers[s]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Fresh adapter tensors `(name, shape, values)` with the initialisation of `cfg.init`
/// (seeded by `cfg.init_seed`).
pub fn init_adapters(
    cfg: &MmcaConfig,
    model: &GroundingConfig,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.init_seed);
    adapter_list(cfg, model)
        .into_iter()
        .map(|(name, shape, init)| {
            let n: usize = shape.iter().product();
            let mut uniform = |bound: f64| -> Vec<f32> {
                (0..n)
                    .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                    .collect()
            };
            let vals = match init {
                Init::Zeros => vec![0.0; n],
                Init::Ones => vec![1.0; n],
                Init::Default(fan_in) => uniform(1.0 / (fan_in as f64).sqrt()),
                Init::Xavier => {
                    let rf: usize = shape[2..].iter().product();
                    let (fan_in, fan_out) = (shape[1] * rf, shape[0] * rf);
                    uniform((6.0 / (fan_in + fan_out) as f64).sqrt())
                }
            };
            (name, shape, vals)
        })
        .collect()
}

/// The visual projection `P_v` as a `[C, E]` matrix applied to the pooled input.
#[derive(Debug, Clone)]
pub struct GateFusion {
    /// `P_v` `[C, E]` (gate on).
    pub visual: Option<Tensor<2>>,
    /// `P_t`: text width → E, no bias.
    pub text: Linear,
    /// Gate MLP `E → H → E` (gate on).
    pub gate: Option<(Linear, Linear)>,
}

impl GateFusion {
    /// `e [B, E]` from the pooled visual input `pooled [B, C]` and `t [B, d_text]`.
    pub fn forward(&self, pooled: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        let tp = self.text.forward(t);
        match (&self.visual, &self.gate) {
            (Some(pv), Some((g1, g2))) => {
                let v = pooled.matmul(pv.clone());
                let lambda = sigmoid(g2.forward(relu(g1.forward(v.clone() + tp.clone()))));
                tp + lambda * v
            }
            _ => tp,
        }
    }
}

/// The coefficient generator with its GF block (`c = e·W_c + b_c`).
#[derive(Debug, Clone)]
pub struct Conditioner {
    /// GF block.
    pub fusion: GateFusion,
    /// `W_c [E, r]`.
    pub w: Tensor<2>,
    /// `b_c [r]`.
    pub b: Tensor<1>,
}

impl Conditioner {
    /// `c [B, r]`.
    pub fn forward(&self, pooled: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        let e = self.fusion.forward(pooled, t);
        let [_, r] = self.w.dims();
        e.matmul(self.w.clone()) + self.b.clone().reshape([1, r])
    }

    /// Whether `e` uses the pooled visual input (gate on).
    pub fn needs_pool(&self) -> bool {
        self.fusion.visual.is_some()
    }
}

/// A low-rank update: linear (transformer) or conv (ResNet).
#[derive(Debug, Clone)]
pub enum LowRank {
    /// `D [d, r]`, `U [r, d]`, bias-free.
    Linear {
        /// Down-projection.
        down: Linear,
        /// Up-projection.
        up: Linear,
    },
    /// `D` 3×3 C→r with bias, `U` 1×1 r→C with bias.
    Conv {
        /// Down-projection.
        down: Conv2d,
        /// Up-projection.
        up: Conv2d,
    },
}

/// One adapter.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// `D` and `U`.
    pub low_rank: LowRank,
    /// `None`: conditioning off, `c ≡ 1`.
    pub cond: Option<Conditioner>,
}

impl Adapter {
    fn load(
        v: &View<'_>,
        cfg: &MmcaConfig,
        conv: bool,
        c: usize,
        d_text: usize,
        device: &Device,
    ) -> Result<Self> {
        let r = cfg.rank;
        let e = cfg.embed_dim;
        let low_rank = if conv {
            let sh = |c_in, c_out, kernel| ConvShape {
                c_in,
                c_out,
                kernel,
                stride: 1,
            };
            LowRank::Conv {
                down: v.conv2d("visual_conv_static_down", sh(c, r, 3), true, device)?,
                up: v.conv2d("visual_conv_static_up", sh(r, c, 1), true, device)?,
            }
        } else {
            LowRank::Linear {
                down: v.linear("visual_linear_static_down", c, r, false, device)?,
                up: v.linear("visual_linear_static_up", r, c, false, device)?,
            }
        };
        let cond = if cfg.conditioning {
            let g = v.pp("gate_fusion");
            let (visual, gate) = if cfg.gate {
                let pv: Tensor<2> = if conv {
                    g.pp("visual_linear_static_down")
                        .tensor::<4>("weight", [e, c, 1, 1], device)?
                        .reshape([e, c])
                } else {
                    g.pp("visual_linear_static_down")
                        .tensor::<2>("weight", [e, c], device)?
                };
                let m = g.pp("mm_feat_embed_transform");
                (
                    Some(pv.transpose()),
                    Some((
                        m.linear("0", e, cfg.gate_hidden, true, device)?,
                        m.linear("2", cfg.gate_hidden, e, true, device)?,
                    )),
                )
            } else {
                (None, None)
            };
            Some(Conditioner {
                fusion: GateFusion {
                    visual,
                    text: g.linear("textual_linear_static_down", d_text, e, false, device)?,
                    gate,
                },
                w: v.tensor("text_linear_w", [e, r], device)?,
                b: v.tensor("text_linear_b", [r], device)?,
            })
        } else {
            None
        };
        Ok(Self { low_rank, cond })
    }

    /// `Δ(src)` for `src [B, S, d]` with coefficients `c [B, r]` (linear adapters).
    pub fn delta_tokens(&self, src: Tensor<3>, c: Option<Tensor<2>>) -> Tensor<3> {
        let LowRank::Linear { down, up } = &self.low_rank else {
            unreachable!("internal error: a conv adapter on transformer tokens")
        };
        let h = down.forward(src);
        let h = match c {
            Some(c) => {
                let [b, r] = c.dims();
                h * c.reshape([b, 1, r])
            }
            None => h,
        };
        up.forward(h)
    }

    /// `Δ(x)` for `x [B, C, H, W]` with coefficients `c [B, r]` (conv adapters).
    pub fn delta_map(&self, x: Tensor<4>, c: Option<Tensor<2>>) -> Tensor<4> {
        let LowRank::Conv { down, up } = &self.low_rank else {
            unreachable!("internal error: a linear adapter on a feature map")
        };
        let h = conv2d(
            x,
            down.weight.clone(),
            down.bias.clone(),
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let h = match c {
            Some(c) => {
                let [b, r] = c.dims();
                h * c.reshape([b, r, 1, 1])
            }
            None => h,
        };
        up.forward(h)
    }
}

/// All adapters of a model.
#[derive(Debug, Clone)]
pub struct MmcaAdapters {
    /// Conv adapters on layer2–4 (empty when not placed).
    pub conv: Vec<Adapter>,
    /// `(q, k)` adapters per DETR encoder layer (empty when not placed).
    pub qk: Vec<(Adapter, Adapter)>,
    /// The configuration.
    pub config: MmcaConfig,
}

impl MmcaAdapters {
    /// Load from a view rooted at the TransVG model (official names).
    pub fn load(
        v: &View<'_>,
        cfg: &MmcaConfig,
        model: &GroundingConfig,
        device: &Device,
    ) -> Result<Self> {
        check_model(cfg, model)?;
        let d_text = model.fusion.d_model;
        let conv = if cfg.placement.conv() {
            (0..3)
                .map(|i| {
                    let c = model.resnet.out_channels(i + 1);
                    Adapter::load(&v.pp(conv_prefix(i)), cfg, true, c, d_text, device)
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let qk = if cfg.placement.transformer() {
            let d = model.detr.d_model;
            (0..model.detr.layers)
                .map(|l| {
                    Ok((
                        Adapter::load(&v.pp(qk_prefix(l, 'q')), cfg, false, d, d_text, device)?,
                        Adapter::load(&v.pp(qk_prefix(l, 'k')), cfg, false, d, d_text, device)?,
                    ))
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(Self {
            conv,
            qk,
            config: cfg.clone(),
        })
    }
}

/// `t [B, d]`: the mean of `text [B, L, d]` over the real tokens of `mask` (`B·L`, 1 = real;
/// `[CLS]`/`[SEP]` included), the count clamped at 1e-9 (official `mean_pooling`, §2.1).
pub fn text_condition(text: Tensor<3>, mask: &[i64]) -> Tensor<2> {
    let [b, l, d] = text.dims();
    let device = text.device();
    let m: Vec<f32> = mask
        .iter()
        .map(|&v| if v != 0 { 1.0 } else { 0.0 })
        .collect();
    let counts: Vec<f32> = m
        .chunks(l)
        .map(|r| r.iter().sum::<f32>().max(1e-9))
        .collect();
    let w: Vec<f32> = m
        .iter()
        .enumerate()
        .map(|(i, &v)| v / counts[i / l])
        .collect();
    let w = Tensor::<3>::from_data(TensorData::new(w, [b, 1, l]), &device);
    w.matmul(text).reshape([b, d])
}

/// Pooling weights `[B, 1, n]` over `n` positions (see [`VisualPooling`], [`TransformerWindow`]).
fn pool_weights(
    pad: Option<&[bool]>,
    b: usize,
    n: usize,
    window: Option<usize>,
    device: &Device,
) -> Tensor<3> {
    if let Some(p) = pad {
        assert_eq!(
            p.len(),
            b * n,
            "internal error: {} padding flags for {b}×{n} pooled positions",
            p.len()
        );
    }
    let span = window.unwrap_or(n).min(n);
    let mut w = vec![0f32; b * n];
    for s in 0..b {
        let real = |j: usize| pad.is_none_or(|p| !p[s * n + j]);
        let count = (0..span).filter(|&j| real(j)).count();
        if count == 0 {
            continue;
        }
        for j in 0..span {
            if real(j) {
                w[s * n + j] = 1.0 / count as f32;
            }
        }
    }
    Tensor::from_data(TensorData::new(w, [b, 1, n]), device)
}

/// Spatial side after the ResNet trunk for an input side `n` (7×7/2 stem, 3×3/2 max-pool,
/// three stride-2 stages).
pub fn trunk_side(n: usize) -> usize {
    let half = |n: usize, k: usize, p: usize| (n + 2 * p - k) / 2 + 1;
    let mut s = half(half(n, 7, 3), 3, 1);
    for _ in 0..3 {
        s = half(s, 3, 1);
    }
    s
}

/// Records of one traced forward (tests, `ground inspect-step`): coefficients `c [B, r]` and
/// deltas (flattened per sample, `[B, …]`) per adapter, by the adapter's official prefix.
#[derive(Debug, Default)]
pub struct MmcaTrace {
    /// `(prefix, c)`.
    pub coefficients: Vec<(String, Tensor<2>)>,
    /// `(prefix, Δ)`; a transformer delta is batch-first `[B, S·d]` (token-major).
    pub deltas: Vec<(String, Tensor<2>)>,
}

/// The hook built per forward from `t` (spec §2.1): runs the adapters at TransVG's hook points.
pub struct MmcaHook<'a> {
    adapters: &'a MmcaAdapters,
    t: Tensor<2>,
    pixel_mask: &'a [bool],
    image: (usize, usize),
    trace: Option<RefCell<MmcaTrace>>,
}

impl<'a> MmcaHook<'a> {
    /// A hook for a batch of `images [B, 3, H, W]` (`image = (H, W)`) with `pixel_mask`
    /// (`B·H·W`, true = padding) and text condition `t [B, d]`. Checks the official 400-token
    /// window against the token count first.
    pub fn new(
        adapters: &'a MmcaAdapters,
        t: Tensor<2>,
        pixel_mask: &'a [bool],
        image: (usize, usize),
        trace: bool,
    ) -> Result<Self> {
        let cfg = &adapters.config;
        if cfg.placement.transformer()
            && cfg.conditioning
            && cfg.gate
            && cfg.transformer_window == TransformerWindow::Official400
        {
            let n = trunk_side(image.0) * trunk_side(image.1);
            if !(OFFICIAL_WINDOW..2 * OFFICIAL_WINDOW).contains(&n) {
                return Err(VladaptError::Unsupported {
                    what: "MMCA's official transformer-adapter pooling".into(),
                    reason: format!(
                        "is a fixed window of \
                         {OFFICIAL_WINDOW} tokens, which PyTorch can only apply to 400 ≤ H·W < 800 \
                         visual tokens; this {}×{} canvas gives {n}. Use the `fixed` preset \
                         (transformer-window = global).",
                        image.0, image.1
                    ),
                });
            }
        }
        Ok(Self {
            adapters,
            t,
            pixel_mask,
            image,
            trace: trace.then(|| RefCell::new(MmcaTrace::default())),
        })
    }

    /// The recorded trace (empty unless built with `trace = true`).
    pub fn into_trace(self) -> MmcaTrace {
        self.trace.map(RefCell::into_inner).unwrap_or_default()
    }

    fn pad_at(&self, b: usize, h: usize, w: usize) -> Option<Vec<bool>> {
        match self.adapters.config.visual_pooling {
            VisualPooling::IncludePadding => None,
            VisualPooling::Masked => Some(downsample_mask(self.pixel_mask, b, self.image, (h, w))),
        }
    }

    fn record(&self, prefix: String, c: &Option<Tensor<2>>, delta: Tensor<2>) {
        if let Some(tr) = &self.trace {
            let mut tr = tr.borrow_mut();
            if let Some(c) = c {
                tr.coefficients.push((prefix.clone(), c.clone()));
            }
            tr.deltas.push((prefix, delta));
        }
    }

    fn token_delta(&self, a: &Adapter, src: &Tensor<3>, prefix: String) -> Tensor<3> {
        let [b, s, d] = src.dims();
        let c = a.cond.as_ref().map(|cond| {
            let pooled = if cond.needs_pool() {
                let (h, w) = (trunk_side(self.image.0), trunk_side(self.image.1));
                let pad = self.pad_at(b, h, w);
                let window = match self.adapters.config.transformer_window {
                    TransformerWindow::Official400 => Some(OFFICIAL_WINDOW),
                    TransformerWindow::Global => None,
                };
                let pw = pool_weights(pad.as_deref(), b, s, window, &src.device());
                pw.matmul(src.clone()).reshape([b, d])
            } else {
                Tensor::zeros([b, d], &src.device())
            };
            cond.forward(pooled, self.t.clone())
        });
        let delta = a.delta_tokens(src.clone(), c.clone());
        if self.trace.is_some() {
            self.record(prefix, &c, delta.clone().reshape([b, s * d]));
        }
        delta
    }
}

impl GroundingHook for MmcaHook<'_> {
    fn conv_branch(&self, stage: usize, x_in: &Tensor<4>) -> Option<Tensor<4>> {
        let a = self.adapters.conv.get(stage.checked_sub(1)?)?;
        let [b, ch, h, w] = x_in.dims();
        let c = a.cond.as_ref().map(|cond| {
            let pooled = if cond.needs_pool() {
                let pad = self.pad_at(b, h, w);
                let pw = pool_weights(pad.as_deref(), b, h * w, None, &x_in.device());
                pw.matmul(x_in.clone().reshape([b, ch, h * w]).swap_dims(1, 2))
                    .reshape([b, ch])
            } else {
                Tensor::zeros([b, ch], &x_in.device())
            };
            cond.forward(pooled, self.t.clone())
        });
        let delta = a.delta_map(x_in.clone(), c.clone());
        if self.trace.is_some() {
            self.record(
                conv_prefix(stage - 1),
                &c,
                delta.clone().reshape([b, ch * h * w]),
            );
        }
        Some(delta)
    }

    fn qk_deltas(&self, layer: usize, src: &Tensor<3>) -> (Option<Tensor<3>>, Option<Tensor<3>>) {
        let Some((q, k)) = self.adapters.qk.get(layer) else {
            return (None, None);
        };
        (
            Some(self.token_delta(q, src, qk_prefix(layer, 'q'))),
            Some(self.token_delta(k, src, qk_prefix(layer, 'k'))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmca_adds_the_spec_parameter_count_on_transvg_r50() {
        // spec §2.5: 12 transformer adapters 1,378,944 + conv 443,168 + 836,896 + 1,624,352.
        let model = GroundingConfig::preset("transvg-r50").unwrap();
        let count = |cfg: &MmcaConfig| -> usize {
            adapter_shapes(cfg, &model)
                .iter()
                .map(|(_, s)| s.iter().product::<usize>())
                .sum()
        };
        let official = MmcaConfig::default();
        assert_eq!(count(&official), 4_283_360);
        let t = MmcaConfig::preset("transformer-only").unwrap();
        assert_eq!(count(&t), 1_378_944);
        let c = MmcaConfig::preset("conv-only").unwrap();
        assert_eq!(count(&c), 443_168 + 836_896 + 1_624_352);
    }

    #[test]
    fn official_init_follows_the_detr_reinit_asymmetry() {
        let model = GroundingConfig::preset("transvg-r50").unwrap();
        let cfg = MmcaConfig::default();
        let init = init_adapters(&cfg, &model);
        let get = |n: &str| &init.iter().find(|(m, _, _)| m == n).unwrap().2;
        let conv_wc = get("visumodel.backbone.0.multimodal_layers.0.text_linear_w");
        assert!(conv_wc.iter().all(|&v| v == 0.0));
        let bc = get("visumodel.backbone.0.multimodal_layers.2.text_linear_b");
        assert!(bc.iter().all(|&v| v == 1.0));
        // transformer W_c [128, 64] xavier: bound √(6/192) ≈ 0.177, spread over it.
        let wc = get("visumodel.transformer.encoder.layers.3.text_linear_k.text_linear_w");
        let bound = (6.0f32 / 192.0).sqrt();
        let max = wc.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max <= bound && max > 0.9 * bound, "{max} vs {bound}");
        // U is not zero; conv U weight U(±1/√64).
        let up = get("visumodel.backbone.0.multimodal_layers.1.visual_conv_static_up.weight");
        let max = up.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max <= 0.125 && max > 0.12, "{max}");
        // gate bias of a transformer adapter keeps PyTorch's default U(±1/√128).
        let gb = get("visumodel.transformer.encoder.layers.0.text_linear_q.gate_fusion.mm_feat_embed_transform.0.bias");
        let max = gb.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max <= 1.0 / 128f32.sqrt() && max > 0.05, "{max}");
        let zero = MmcaConfig {
            init: AdapterInit::ZeroUp,
            ..MmcaConfig::default()
        };
        let init = init_adapters(&zero, &model);
        assert!(init
            .iter()
            .filter(|(n, _, _)| n.contains("static_up"))
            .all(|(_, _, v)| v.iter().all(|&x| x == 0.0)));
    }

    #[test]
    fn trunk_side_matches_the_resnet_strides() {
        assert_eq!(trunk_side(640), 20);
        assert_eq!(trunk_side(128), 4);
        assert_eq!(trunk_side(96), 3);
    }

    #[test]
    fn pooling_weights_cover_real_positions_and_the_official_window() {
        let dev = Device::flex();
        let w = pool_weights(Some(&[false, true, false, false]), 1, 4, None, &dev);
        assert_eq!(
            crate::tensor_io::to_vec_f32(&w),
            [1.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0]
        );
        let w = pool_weights(None, 1, 5, Some(4), &dev);
        assert_eq!(
            crate::tensor_io::to_vec_f32(&w),
            [0.25, 0.25, 0.25, 0.25, 0.0]
        );
        let w = pool_weights(Some(&[true, true]), 1, 2, None, &dev);
        assert_eq!(crate::tensor_io::to_vec_f32(&w), [0.0, 0.0]);
    }
}
