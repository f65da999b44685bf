//! `vladapt bench train --task grounding`: one training step of the grounding model (default:
//! `transvg-r50` with MMCA's official adapters) on the default CPU backend — forward, L1 + GIoU,
//! backward, global-norm clip 0.1, AdamW with the official per-group learning rates (spec
//! `mmca.md` §2.6, §3.1) — next to the same computation in PyTorch with the official MMCA
//! modules (`tools/bench/bench_train_ground_torch.py`) in the same run. Prints the step-time
//! ratio (target ≤ 1.2×) and both peak RSS (target ≤ PyTorch).
use super::measure::{median, peak_rss_mb, round3};
use super::reference::{args, field, print_comparison, Reference, Row};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::time::Instant;
use vladapt::methods::grounding::{GroundingMethod, GroundingMethodConfig, ParamGroup};
use vladapt::methods::Params;
use vladapt::models::grounding::{GroundingBatch, GroundingConfig, TransVg, Weights};
use vladapt::tensor::{Distribution, Tensor, TensorData};
use vladapt::train::grounding_loss::l1_giou_loss;
use vladapt::train::optim::{OptimConfig, Optimizer, OptimizerKind};

/// Which task `bench train` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrainTask {
    /// The CLIP methods (`--method`).
    Classification,
    /// TransVG / MMCA grounding (`--ground-*` options).
    Grounding,
}

/// Grounding options of `vladapt bench train --task grounding`.
#[derive(Args)]
pub struct GroundTrainArgs {
    /// Grounding model shape: transvg-r50, transvg-r101, tiny.
    #[arg(long, default_value = "transvg-r50")]
    ground_preset: String,
    /// Grounding method: transvg, or an MMCA preset (official, fixed, mmca, …).
    #[arg(long, default_value = "official")]
    ground_method: String,
    /// Images per grounding step.
    #[arg(long, default_value_t = 1)]
    ground_batch: usize,
}

/// The official learning rate of a parameter group (train.py: lr 1e-4, lr_visu_cnn =
/// lr_visu_tra = lr_bert = 1e-5).
fn group_lr(g: ParamGroup) -> f64 {
    match g {
        ParamGroup::Rest => 1e-4,
        ParamGroup::VisuCnn | ParamGroup::VisuTra | ParamGroup::Text => 1e-5,
    }
}

const GROUPS: [ParamGroup; 4] = [
    ParamGroup::Rest,
    ParamGroup::VisuCnn,
    ParamGroup::VisuTra,
    ParamGroup::Text,
];

/// AdamW (weight decay 1e-4) per official group, global-norm clipping over all groups.
struct GroupedAdamW {
    /// Per group: its optimiser and the indices of its tensors in the method's `Params`.
    groups: Vec<(ParamGroup, Optimizer, Vec<usize>)>,
    clip: f64,
}

impl GroupedAdamW {
    fn new(params: &Params, clip: f64) -> Self {
        let cfg = OptimConfig {
            kind: OptimizerKind::Adamw,
            weight_decay: 1e-4,
            grad_clip: None,
            ..OptimConfig::default()
        };
        let groups = GROUPS
            .iter()
            .map(|&g| {
                let idx: Vec<usize> = params
                    .entries()
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| ParamGroup::of(&p.name) == g)
                    .map(|(i, _)| i)
                    .collect();
                let sub = subset(params, &idx);
                (g, Optimizer::new(cfg.clone(), &sub), idx)
            })
            .collect();
        Self { groups, clip }
    }

    /// Clip by the global norm (as `clip_grad_norm_`), then one AdamW step per group.
    fn step(&mut self, params: &mut Params, grads: Vec<Tensor<1>>) -> Result<f64> {
        let norm = Optimizer::grad_norm(&grads);
        let scale = if norm > self.clip {
            self.clip / (norm + 1e-6)
        } else {
            1.0
        };
        let grads: Vec<Tensor<1>> = grads.into_iter().map(|g| g.mul_scalar(scale)).collect();
        for (g, opt, idx) in &mut self.groups {
            let mut sub = subset(params, idx);
            let gs = idx.iter().map(|&i| grads[i].clone()).collect();
            opt.step(&mut sub, gs, group_lr(*g))?;
            for (j, &i) in idx.iter().enumerate() {
                params.entries_mut()[i].value = sub.entries()[j].value.clone();
            }
        }
        Ok(norm)
    }
}

fn subset(params: &Params, idx: &[usize]) -> Params {
    let mut sub = Params::new();
    for &i in idx {
        let p = &params.entries()[i];
        sub.push_tensor_flat(p.name.clone(), &p.shape, p.value.clone());
    }
    sub
}

/// Run the grounding training-step benchmark.
pub fn run(
    a: &GroundTrainArgs,
    steps: usize,
    warmup: usize,
    threads: Option<usize>,
    no_reference: bool,
    device: &str,
) -> Result<()> {
    if steps == 0 || a.ground_batch == 0 {
        bail!("--steps and --ground-batch must be positive");
    }
    let r = Reference::new(threads, no_reference);
    let threads = r.threads;
    let method = GroundingMethodConfig::preset(&a.ground_method)?;
    let cfg = GroundingConfig::preset(&a.ground_preset)?;
    let dev = super::super::device(device)?.autodiff();
    let mut m = {
        let w = Weights::random(0);
        TransVg::load(&w.root(), &cfg, &dev)?;
        GroundingMethod::new(&cfg, &w, method.clone(), &dev)?
    };
    let (b, s, l) = (a.ground_batch, cfg.image_size, cfg.max_query_len);
    let batch = GroundingBatch {
        images: Tensor::random([b, 3, s, s], Distribution::Normal(0.0, 1.0), &dev),
        pixel_mask: vec![false; b * s * s],
        ids: (0..b * l)
            .map(|i| 1000 + (i as i64 * 7919) % 29000)
            .collect(),
        text_mask: vec![1; b * l],
    };
    let target: Vec<f32> = (0..b)
        .flat_map(|i| [0.4 + 0.05 * i as f32, 0.5, 0.3, 0.25])
        .collect();
    let target = Tensor::<2>::from_data(TensorData::new(target, [b, 4]), &dev);
    let mut opt = GroupedAdamW::new(m.params(), 0.1);
    let n_params = m.params().numel();
    eprintln!(
        "vladapt {} + {} training step, batch {b} at {s}² ({n_params} trainable)…",
        a.ground_preset, a.ground_method
    );
    let mut times = Vec::with_capacity(steps);
    let mut last_loss = f32::NAN;
    for i in 0..warmup + steps {
        let t0 = Instant::now();
        m.params_mut().track();
        let boxes = m.forward(&batch)?;
        let loss = l1_giou_loss(boxes, target.clone())?;
        let grads = loss.total.backward();
        let g: Vec<Tensor<1>> = m
            .params()
            .entries()
            .iter()
            .zip(m.params().grads(&grads))
            .map(|(p, g)| g.unwrap_or_else(|| p.value.zeros_like().without_autodiff()))
            .collect();
        drop(grads);
        m.params_mut().untrack();
        opt.step(m.params_mut(), g)?;
        // Wait for the update (the backend may be lazy).
        let _ = m.params().entries()[0].value.clone().into_data();
        last_loss = vladapt::tensor_io::to_vec_f32(&loss.total)[0];
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let ours_ms = median(&mut times);
    let ours_rss = peak_rss_mb().unwrap_or(f64::NAN);
    drop(m);
    drop(opt);

    let reference = r
        .run(
            "bench_train_ground_torch.py",
            "torch, torchvision, transformers",
            &args([
                ("--preset", a.ground_preset.clone().into()),
                ("--method", a.ground_method.clone().into()),
                ("--batch", b.to_string().into()),
                ("--threads", threads.to_string().into()),
                ("--warmup", warmup.to_string().into()),
                ("--steps", steps.to_string().into()),
            ]),
        )
        .and_then(|v| Ok((field(&v, "step_ms")?, field(&v, "peak_rss_mb")?)));
    println!(
        "{} + {} training step (forward, L1+GIoU, backward, clip 0.1, AdamW per-group lr), batch {b} at {s}², {n_params} trainable; PyTorch on {threads} threads",
        a.ground_preset, a.ground_method
    );
    let rows: [Row<'_, (f64, f64)>; 2] = [
        ("step ms", ours_ms, |r| r.0),
        ("peak RSS MiB", ours_rss, |r| r.1),
    ];
    print_comparison(&format!("vladapt ({device})"), &rows, &reference, 1);
    let json = serde_json::json!({
        "task": "grounding", "preset": a.ground_preset, "method": a.ground_method, "batch": b,
        "vladapt": {"step_ms": round3(ours_ms), "peak_rss_mb": round3(ours_rss), "last_loss": last_loss},
        "pytorch": match &reference {
            Ok((ms, rss)) => serde_json::json!({"step_ms": round3(*ms), "peak_rss_mb": rss,
                "ratio_step": round3(ours_ms / ms), "ratio_peak_rss": round3(ours_rss / rss)}),
            Err(e) => serde_json::json!({"unavailable": format!("{e:#}")}),
        },
    });
    println!("{json}");
    Ok(())
}
