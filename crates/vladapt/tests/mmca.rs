//! MMCA against the official code (tools/fixtures/build_mmca.py runs the official
//! `models_mmca_vector_based` classes in float64 at tiny widths): text condition, coefficients
//! and deltas of every adapter, visual-encoder output, boxes, L1/GIoU loss and the gradients of
//! every trainable tensor. Plus the conditioning test, the adapter identities of spec §6.3,
//! finite-difference checks and the parameter count of spec §2.5.
//!
//! The fixture's weights are not stored: each tensor is a deterministic function of its name
//! ([`values`], the same rule as the script's `values`), and the images a closed form
//! ([`pattern`]).
mod common;
#[path = "support/mmca_values.rs"]
mod mmca_values;
use common::{fixtures, max_abs_diff, max_rel_diff, read_f32};
use mmca_values::{pattern, values};
use std::collections::BTreeSet;
use std::path::PathBuf;
use vladapt::methods::grounding::{GroundingMethod, GroundingMethodConfig};
use vladapt::methods::mmca::{self, MmcaAdapters, MmcaHook};
use vladapt::methods::mmca_config::MmcaConfig;
use vladapt::models::grounding::weights::FlatTensor;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, GroundingHook, Weights};
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};
use vladapt::train::grounding_loss::l1_giou_loss;

fn dir() -> PathBuf {
    fixtures().join("grounding").join("mmca")
}

struct Fixture {
    cfg: GroundingConfig,
    tensors: Vec<(String, Vec<usize>)>,
    with_gradient: BTreeSet<String>,
    io: SafetensorsFile,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(dir().join("names.json")).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cfg: GroundingConfig = serde_json::from_value(j["config"].clone()).unwrap();
    cfg.validate(&dir().join("names.json")).unwrap();
    let tensors = j["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e[0].as_str().unwrap().to_string();
            let shape = e[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            (name, shape)
        })
        .collect();
    let with_gradient = j["with_gradient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let io = SafetensorsFile::open(&dir().join("io.safetensors")).unwrap();
    Fixture {
        cfg,
        tensors,
        with_gradient,
        io,
    }
}

fn flat(name: &str, shape: &[usize], vals: Vec<f32>, dev: &Device) -> FlatTensor {
    let n = vals.len();
    (
        name.to_string(),
        shape.to_vec(),
        Tensor::from_data(TensorData::new(vals, [n]), dev),
    )
}

impl Fixture {
    /// Every tensor of the official state_dict, by the value rule; `keep` filters by name.
    fn flat_tensors(&self, dev: &Device, keep: impl Fn(&str) -> bool) -> Vec<FlatTensor> {
        self.tensors
            .iter()
            .filter(|(n, _)| keep(n))
            .map(|(n, s)| flat(n, s, values(n, s), dev))
            .collect()
    }

    /// The two-sample batch: 640² canvases, sample 0 padded in columns 0..64 and 576..640,
    /// sample 1 in rows 480..640; expressions of 5 and 8 tokens.
    fn batch(&self, dev: &Device) -> GroundingBatch {
        let s = 640;
        let mut img = Vec::with_capacity(2 * 3 * s * s);
        let mut mask = vec![false; 2 * s * s];
        for y in 0..s {
            for x in 0..s {
                mask[y * s + x] = !(64..576).contains(&x);
                mask[s * s + y * s + x] = y >= 480;
            }
        }
        for b in 0..2 {
            for c in 0..3 {
                let p = pattern(b, c, s, s);
                img.extend(
                    p.iter()
                        .enumerate()
                        .map(|(i, &v)| if mask[b * s * s + i] { 0.0 } else { v }),
                );
            }
        }
        GroundingBatch {
            images: Tensor::from_data(TensorData::new(img, [2, 3, s, s]), dev),
            pixel_mask: mask,
            ids: self.io.read_i64("ids").unwrap().unwrap().0,
            text_mask: self.io.read_i64("text_mask").unwrap().unwrap().0,
        }
    }

    fn reference(&self, name: &str) -> Vec<f32> {
        read_f32(&self.io, name).0
    }

    fn target(&self, dev: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.reference("target"), [2, 4]), dev)
    }
}

/// `flat[::ceil(n / budget)]`, the fixture's subsampling.
fn sub(v: &[f32], budget: usize) -> Vec<f32> {
    let step = v.len().div_ceil(budget).max(1);
    v.iter().step_by(step).copied().collect()
}

fn official(fx: &Fixture, dev: &Device) -> GroundingMethod {
    let w = Weights::from_tensors("<mmca fixture>", fx.flat_tensors(dev, |_| true));
    GroundingMethod::new(
        &fx.cfg,
        &w,
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        dev,
    )
    .unwrap()
}

#[test]
fn adapter_names_and_trainable_set_are_the_official_ones() {
    let fx = fixture();
    let ours: BTreeSet<String> = mmca::adapter_shapes(&MmcaConfig::default(), &fx.cfg)
        .into_iter()
        .map(|(n, s)| format!("{n} {s:?}"))
        .collect();
    let theirs: BTreeSet<String> = fx
        .tensors
        .iter()
        .filter(|(n, _)| mmca::is_adapter_name(n))
        .map(|(n, s)| format!("{n} {s:?}"))
        .collect();
    assert_eq!(ours, theirs);
    // Our trainable set = the official tensors that receive a gradient (the official model also
    // marks BERT's unused pooler trainable; it never gets a gradient).
    let m = official(&fx, &Device::flex());
    let params: BTreeSet<String> = m
        .params()
        .entries()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(params, fx.with_gradient);
}

#[test]
fn forward_matches_the_official_code() {
    let dev = Device::flex();
    let fx = fixture();
    let m = official(&fx, &dev);
    let out = m.forward_full(&fx.batch(&dev), true).unwrap();
    let t = to_vec_f32(out.text_condition.as_ref().unwrap());
    let d_t = max_abs_diff(&t, &fx.reference("t"));
    let mut d_c = 0f32;
    for (prefix, c) in &out.trace.coefficients {
        d_c = d_c.max(max_rel_diff(
            &to_vec_f32(c),
            &fx.reference(&format!("c/{prefix}")),
        ));
    }
    assert_eq!(out.trace.coefficients.len(), 7, "3 conv + 2×2 q/k adapters");
    let mut d_delta = 0f32;
    for (prefix, delta) in &out.trace.deltas {
        let got = sub(&to_vec_f32(delta), 2048);
        d_delta = d_delta.max(max_rel_diff(
            &got,
            &fx.reference(&format!("delta/{prefix}")),
        ));
    }
    let mem = sub(&to_vec_f32(&out.visual.tokens), 4096);
    let d_mem = max_abs_diff(&mem, &fx.reference("memory"));
    let d_box = max_abs_diff(&to_vec_f32(&out.boxes), &fx.reference("boxes"));
    let loss = l1_giou_loss(out.boxes, fx.target(&dev)).unwrap();
    let d_loss = [
        (loss.l1, "loss_l1"),
        (loss.giou, "loss_giou"),
        (loss.total, "loss_total"),
    ]
    .iter()
    .map(|(v, n)| max_abs_diff(&to_vec_f32(v), &fx.reference(n)))
    .fold(0f32, f32::max);
    eprintln!(
        "MMCA parity vs official: t {d_t:.1e}, c (rel) {d_c:.1e}, deltas (rel) {d_delta:.1e}, \
         memory {d_mem:.1e}, boxes {d_box:.1e}, loss {d_loss:.1e}"
    );
    assert!(d_t < 1e-5, "text condition differs by {d_t}");
    assert!(d_c < 1e-4, "coefficients differ by {d_c} (relative)");
    assert!(
        d_delta < 1e-4,
        "adapter deltas differ by {d_delta} (relative)"
    );
    assert!(d_mem < 1e-4, "visual output differs by {d_mem}");
    assert!(d_box < 1e-5, "boxes differ by {d_box}");
    assert!(d_loss < 1e-5, "loss differs by {d_loss}");
}

#[test]
fn gradients_match_the_official_code() {
    let dev = Device::flex().autodiff();
    let fx = fixture();
    let mut m = official(&fx, &dev);
    m.params_mut().track();
    let boxes = m.forward(&fx.batch(&dev)).unwrap();
    let loss = l1_giou_loss(boxes, fx.target(&dev)).unwrap();
    let grads = loss.total.backward();
    let mut worst = (0f32, String::new());
    let mut worst_adapter = 0f32;
    for (p, g) in m.params().entries().iter().zip(m.params().grads(&grads)) {
        let g = g.unwrap_or_else(|| panic!("{} gets no gradient", p.name));
        let got = sub(&to_vec_f32(&g), 256);
        let want = fx.reference(&format!("grad/{}", p.name));
        // Relative to the tensor's largest reference gradient, floored at 1e-4: gradients that
        // vanish analytically (BERT's key biases: softmax ignores a per-query constant) are
        // f32 round-off on our side.
        let scale = want.iter().fold(1e-4f32, |m, v| m.max(v.abs()));
        let d = max_abs_diff(&got, &want) / scale;
        if mmca::is_adapter_name(&p.name) {
            worst_adapter = worst_adapter.max(d);
        }
        if d > worst.0 {
            worst = (d, p.name.clone());
        }
    }
    eprintln!(
        "MMCA gradient parity: adapters {worst_adapter:.1e}, all tensors {:.1e} ({}) (relative to each tensor's max)",
        worst.0, worst.1
    );
    assert!(
        worst.0 < 2e-3,
        "gradient of {} differs by {} (relative)",
        worst.1,
        worst.0
    );
}

#[test]
fn loss_matches_torchvision_generalized_box_iou() {
    let dev = Device::flex().autodiff();
    let f = SafetensorsFile::open(&dir().join("loss.safetensors")).unwrap();
    let t = |n: &str| {
        let (v, s) = read_f32(&f, n);
        Tensor::<2>::from_data(TensorData::new(v, [s[0], s[1]]), &dev)
    };
    let pred = t("pred").require_grad();
    let target = t("target");
    let g = vladapt::train::grounding_loss::giou(pred.clone(), target.clone());
    assert!(max_abs_diff(&to_vec_f32(&g), &read_f32(&f, "giou").0) < 1e-6);
    let loss = l1_giou_loss(pred.clone(), target).unwrap();
    for (v, n) in [
        (&loss.l1, "l1"),
        (&loss.giou, "loss_giou"),
        (&loss.total, "total"),
    ] {
        let d = max_abs_diff(&to_vec_f32(v), &read_f32(&f, n).0);
        assert!(d < 1e-6, "{n} differs by {d}");
    }
    let grads = loss.total.backward();
    let gp = pred.grad(&grads).unwrap();
    let d = max_abs_diff(&to_vec_f32(&gp), &read_f32(&f, "grad_pred").0);
    assert!(d < 1e-5, "loss gradient differs by {d}");
}

/// One sample of the fixture batch with its own expression.
fn single(fx: &Fixture, dev: &Device, ids: Vec<i64>) -> GroundingBatch {
    let b = fx.batch(dev);
    let s = 640;
    let text_mask = ids.iter().map(|&i| (i != 0) as i64).collect();
    GroundingBatch {
        images: b.images.narrow(0, 0, 1),
        pixel_mask: b.pixel_mask[..s * s].to_vec(),
        ids,
        text_mask,
    }
}

#[test]
fn visual_features_depend_on_the_expression_under_mmca_only() {
    let dev = Device::flex();
    let fx = fixture();
    let a = single(&fx, &dev, vec![2, 11, 12, 13, 3, 0, 0, 0]);
    let b = single(&fx, &dev, vec![2, 40, 41, 42, 43, 3, 0, 0]);
    let m = official(&fx, &dev);
    let va = to_vec_f32(&m.visual_tokens(&a).unwrap().tokens);
    let vb = to_vec_f32(&m.visual_tokens(&b).unwrap().tokens);
    let d = max_abs_diff(&va, &vb);
    assert!(
        d > 1e-3,
        "MMCA: two expressions gave visual features within {d}"
    );
    let w = Weights::from_tensors(
        "<transvg>",
        fx.flat_tensors(&dev, |n| !mmca::is_adapter_name(n)),
    );
    let t = GroundingMethod::new(&fx.cfg, &w, GroundingMethodConfig::Transvg, &dev).unwrap();
    let ta = to_vec_f32(&t.visual_tokens(&a).unwrap().tokens);
    let tb = to_vec_f32(&t.visual_tokens(&b).unwrap().tokens);
    assert!(
        ta == tb,
        "TransVG's visual features must not depend on the text"
    );
}

/// Replace the values of tensors whose name satisfies `which`.
fn set(tensors: &mut [FlatTensor], which: impl Fn(&str) -> bool, v: f32) {
    for (n, _, t) in tensors.iter_mut() {
        if which(n) {
            *t = t.zeros_like().add_scalar(v);
        }
    }
}

#[test]
fn identities_of_spec_6_3() {
    let dev = Device::flex();
    let fx = fixture();
    let batch = fx.batch(&dev);
    // (1) W_c = 0, b_c = 1 → c ≡ 1: the conditioned adapters equal a static U·D.
    let mut cond = fx.flat_tensors(&dev, |_| true);
    set(&mut cond, |n| n.ends_with(".text_linear_w"), 0.0);
    set(&mut cond, |n| n.ends_with(".text_linear_b"), 1.0);
    let m = GroundingMethod::new(
        &fx.cfg,
        &Weights::from_tensors("<c ≡ 1>", cond),
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        &dev,
    )
    .unwrap();
    let out = m.forward_full(&batch, true).unwrap();
    for (p, c) in &out.trace.coefficients {
        assert!(to_vec_f32(c).iter().all(|&v| v == 1.0), "{p}: c ≠ 1");
    }
    let static_cfg = MmcaConfig {
        conditioning: false,
        gate: false,
        ..MmcaConfig::default()
    };
    let plain = fx.flat_tensors(&dev, |n| {
        !(n.contains(".gate_fusion.")
            || n.contains(".text_linear_w")
            || n.contains(".text_linear_b"))
    });
    let s = GroundingMethod::new(
        &fx.cfg,
        &Weights::from_tensors("<static>", plain),
        GroundingMethodConfig::Mmca(static_cfg),
        &dev,
    )
    .unwrap();
    let st = s.forward_full(&batch, false).unwrap();
    let d = max_abs_diff(
        &to_vec_f32(&out.visual.tokens),
        &to_vec_f32(&st.visual.tokens),
    );
    assert!(d < 1e-5, "c ≡ 1 differs from the static update by {d}");
    // (2) U = 0 → the adapters add nothing: exactly TransVG.
    let mut zero_up = fx.flat_tensors(&dev, |_| true);
    set(&mut zero_up, |n| n.contains("_static_up."), 0.0);
    let z = GroundingMethod::new(
        &fx.cfg,
        &Weights::from_tensors("<U = 0>", zero_up),
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        &dev,
    )
    .unwrap();
    let t = GroundingMethod::new(
        &fx.cfg,
        &Weights::from_tensors(
            "<transvg>",
            fx.flat_tensors(&dev, |n| !mmca::is_adapter_name(n)),
        ),
        GroundingMethodConfig::Transvg,
        &dev,
    )
    .unwrap();
    let zv = to_vec_f32(&z.forward_full(&batch, false).unwrap().visual.tokens);
    let tv = to_vec_f32(&t.forward_full(&batch, false).unwrap().visual.tokens);
    assert!(zv == tv, "U = 0 must leave the visual features unchanged");
}

#[test]
fn the_official_window_and_checkpoint_mismatches_are_clear_errors() {
    let dev = Device::flex();
    let fx = fixture();
    // A 320² canvas has 100 tokens: the official 400-token window cannot pool them.
    let mut small = fx.cfg.clone();
    small.image_size = 320;
    let mut tensors = fx.flat_tensors(&dev, |n| n != "vl_pos_embed.weight");
    let rows = 1 + small.max_query_len + small.visual_tokens();
    tensors.push(flat(
        "vl_pos_embed.weight",
        &[rows, 256],
        vec![0.0; rows * 256],
        &dev,
    ));
    let w = Weights::from_tensors("<small>", tensors);
    let m = GroundingMethod::new(
        &small,
        &w,
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        &dev,
    )
    .unwrap();
    let b = fx.batch(&dev);
    let s = 320;
    let batch = GroundingBatch {
        images: b.images.narrow(2, 0, s).narrow(3, 0, s),
        pixel_mask: vec![false; 2 * s * s],
        ids: b.ids.clone(),
        text_mask: b.text_mask.clone(),
    };
    let e = m.forward(&batch).unwrap_err().to_string();
    assert!(e.contains("400") && e.contains("fixed"), "{e}");
    // The fixed preset pools globally and runs.
    let f = GroundingMethod::new(
        &small,
        &w,
        GroundingMethodConfig::preset("fixed").unwrap(),
        &dev,
    )
    .unwrap();
    f.forward(&batch).unwrap();
    // An MMCA checkpoint for plain TransVG, a partial one, and a placement mismatch.
    let all = Weights::from_tensors("<mmca>", fx.flat_tensors(&dev, |_| true));
    let e = GroundingMethod::new(&fx.cfg, &all, GroundingMethodConfig::Transvg, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("MMCA adapter") && e.contains("transvg"), "{e}");
    let partial = Weights::from_tensors(
        "<partial>",
        fx.flat_tensors(&dev, |n| {
            !n.contains("layers.1.text_linear_k.text_linear_w")
        }),
    );
    let e = GroundingMethod::new(
        &fx.cfg,
        &partial,
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        &dev,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("layers.1.text_linear_k.text_linear_w"), "{e}");
    let conv_only = GroundingMethodConfig::Mmca(MmcaConfig {
        placement: vladapt::methods::mmca_config::Placement::Conv,
        ..MmcaConfig::default()
    });
    let e = GroundingMethod::new(&fx.cfg, &all, conv_only, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("text_linear_"), "{e}");
}

// ------------------------------------------------------------- finite differences (f32)

/// Tiny shapes: conv adapter widths 32/64/128, DETR d 8, rank 4, embedding 8, gate 4.
fn fd_setup() -> (GroundingConfig, MmcaConfig) {
    let mut g = GroundingConfig::preset("tiny").unwrap();
    g.resnet.base_planes = 4;
    g.detr.d_model = 8;
    g.detr.heads = 2;
    g.detr.layers = 1;
    g.fusion.d_model = 8;
    let m = MmcaConfig {
        rank: 4,
        embed_dim: 8,
        gate_hidden: 4,
        ..MmcaConfig::preset("fixed").unwrap()
    };
    (g, m)
}

/// `Σ Δ ⊙ R` over the layer2 conv adapter and the q/k adapters of DETR layer 0, for inputs
/// `x [2, 32, 6, 6]`, `src [2, 36, 8]` (a 192² canvas has 6×6 tokens) with padding in sample 1
/// (masked pooling).
fn fd_loss(
    tensors: Vec<FlatTensor>,
    t: Tensor<2>,
    g: &GroundingConfig,
    m: &MmcaConfig,
    dev: &Device,
) -> Tensor<1> {
    let w = Weights::from_tensors("<fd>", tensors);
    let a = MmcaAdapters::load(&w.root(), m, g, dev).unwrap();
    let s = 192;
    let mut pad = vec![false; 2 * s * s];
    for y in 0..s {
        for x in 120..s {
            pad[s * s + y * s + x] = true;
        }
    }
    let hook = MmcaHook::new(&a, t, &pad, (s, s), false).unwrap();
    let input = |name: &str, n: usize| values(name, &[n, 1]);
    let x = Tensor::<1>::from_data(TensorData::new(input("x", 2 * 32 * 36), [2 * 32 * 36]), dev)
        .reshape([2, 32, 6, 6]);
    let src = Tensor::<1>::from_data(TensorData::new(input("src", 2 * 36 * 8), [2 * 36 * 8]), dev)
        .reshape([2, 36, 8]);
    let conv = hook.conv_branch(1, &x).unwrap();
    let (q, k) = hook.qk_deltas(0, &src);
    let r = |name: &str, n: usize| {
        Tensor::<1>::from_data(TensorData::new(values(name, &[n, 1]), [n]), dev)
    };
    let n_conv = 2 * 32 * 36;
    let n_tok = 2 * 36 * 8;
    (conv.reshape([n_conv]) * r("r_conv", n_conv)).sum()
        + (q.unwrap().reshape([n_tok]) * r("r_q", n_tok)).sum()
        + (k.unwrap().reshape([n_tok]) * r("r_k", n_tok)).sum()
}

#[test]
fn adapter_gf_block_and_coefficient_gradients_match_finite_differences() {
    let (g, m) = fd_setup();
    // All adapters are built; the layer2 conv adapter and the layer-0 q/k adapters are checked.
    let shapes = mmca::adapter_shapes(&m, &g);
    let checked =
        |n: &str| n.contains("multimodal_layers.0.") || n.contains("layers.0.text_linear_");
    let host: Vec<Vec<f32>> = shapes.iter().map(|(n, s)| values(n, s)).collect();
    let t_host = values("t", &[2, 8]);
    let ad = Device::flex().autodiff();
    let tracked: Vec<FlatTensor> = shapes
        .iter()
        .zip(&host)
        .map(|((n, s), v)| {
            let (n, s, t) = flat(n, s, v.clone(), &ad);
            (n, s, t.require_grad())
        })
        .collect();
    let t = Tensor::<2>::from_data(TensorData::new(t_host.clone(), [2, 8]), &ad).require_grad();
    let loss = fd_loss(tracked.clone(), t.clone(), &g, &m, &ad);
    let grads = loss.backward();
    let dev = Device::flex();
    let eval = |which: Option<(usize, usize)>, dt: Option<usize>, eps: f32| -> f64 {
        let tensors = shapes
            .iter()
            .zip(&host)
            .enumerate()
            .map(|(i, ((n, s), v))| {
                let mut v = v.clone();
                if let Some((ti, j)) = which {
                    if ti == i {
                        v[j] += eps;
                    }
                }
                flat(n, s, v, &dev)
            })
            .collect();
        let mut th = t_host.clone();
        if let Some(j) = dt {
            th[j] += eps;
        }
        let t = Tensor::<2>::from_data(TensorData::new(th, [2, 8]), &dev);
        to_vec_f32(&fd_loss(tensors, t, &g, &m, &dev))[0] as f64
    };
    let eps = 1e-2f32;
    let mut n_checked = 0;
    let mut worst = 0f64;
    for (i, ((name, _), v)) in shapes.iter().zip(&host).enumerate() {
        if !checked(name) {
            continue;
        }
        let g_auto = to_vec_f32(
            &tracked[i]
                .2
                .grad(&grads)
                .unwrap_or_else(|| panic!("{name}: no gradient")),
        );
        // Three coordinates per tensor.
        for j in [0, v.len() / 2, v.len() - 1] {
            let fd = (eval(Some((i, j)), None, eps) - eval(Some((i, j)), None, -eps))
                / (2.0 * eps as f64);
            let err = (fd - g_auto[j] as f64).abs() / (1.0 + g_auto[j].abs() as f64);
            worst = worst.max(err);
            assert!(
                err < 2e-2,
                "{name}[{j}]: autodiff {} vs finite difference {fd}",
                g_auto[j]
            );
            n_checked += 1;
        }
    }
    let gt = to_vec_f32(&t.grad(&grads).unwrap());
    for j in [0, 7, 15] {
        let fd = (eval(None, Some(j), eps) - eval(None, Some(j), -eps)) / (2.0 * eps as f64);
        let err = (fd - gt[j] as f64).abs() / (1.0 + gt[j].abs() as f64);
        worst = worst.max(err);
        assert!(
            err < 2e-2,
            "t[{j}]: autodiff {} vs finite difference {fd}",
            gt[j]
        );
    }
    eprintln!("finite differences: {n_checked} adapter coordinates + 3 of t, worst relative error {worst:.1e}");
}

#[test]
fn mmca_adds_4283360_trainable_parameters_on_transvg_r50() {
    // Built Params of the official shapes (random TransVG weights, official MMCA init).
    let dev = Device::flex();
    let cfg = GroundingConfig::preset("transvg-r50").unwrap();
    let w = Weights::random(3);
    vladapt::models::grounding::TransVg::load(&w.root(), &cfg, &dev).unwrap();
    let m = GroundingMethod::new(
        &cfg,
        &w,
        GroundingMethodConfig::Mmca(MmcaConfig::default()),
        &dev,
    )
    .unwrap();
    let (adapters, rest): (Vec<_>, Vec<_>) = m
        .params()
        .entries()
        .iter()
        .partition(|p| mmca::is_adapter_name(&p.name));
    let count = |v: &[&vladapt::methods::Param]| -> usize {
        v.iter().map(|p| p.shape.iter().product::<usize>()).sum()
    };
    assert_eq!(count(&adapters), 4_283_360);
    // spec §2.5: TransVG-R50 trains 149,523,460 tensors' worth incl. BERT's pooler
    // (589,824 + 768), which never receives a gradient and is frozen here.
    assert_eq!(count(&rest), 149_523_460 - 590_592);
}
