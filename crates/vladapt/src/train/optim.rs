//! Optimisers over a method's [`Params`] with PyTorch semantics: SGD (momentum, dampening 0,
//! no Nesterov, coupled weight decay, as Dassl builds it) and AdamW (decoupled weight decay),
//! plus global-norm gradient clipping (`clip_grad_norm_`). State is host-serialisable so a
//! resumed run continues bit-identically.
use crate::methods::Params;
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum (the official recipes).
    Sgd,
    /// AdamW.
    Adamw,
}

/// Optimiser hyper-parameters (the learning rate comes from the schedule each step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// SGD or AdamW.
    pub kind: OptimizerKind,
    /// SGD momentum.
    pub momentum: f64,
    /// Weight decay (SGD: added to the gradient; AdamW: decoupled).
    pub weight_decay: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Clip the global gradient norm to this value (`None`: no clipping).
    pub grad_clip: Option<f64>,
}

impl Default for OptimConfig {
    /// Dassl's defaults: SGD, momentum 0.9, weight decay 5e-4.
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: None,
        }
    }
}

/// Optimiser state for a fixed parameter list.
pub struct Optimizer {
    config: OptimConfig,
    /// SGD momentum buffer or Adam first moment, per parameter.
    m: Vec<Option<Tensor<1>>>,
    /// Adam second moment.
    v: Vec<Option<Tensor<1>>>,
    /// Steps taken.
    pub steps: u64,
}

impl Optimizer {
    /// New optimiser for `params`.
    pub fn new(config: OptimConfig, params: &Params) -> Self {
        let n = params.entries().len();
        Self {
            config,
            m: vec![None; n],
            v: vec![None; n],
            steps: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    /// Global L2 norm of the gradients.
    pub fn grad_norm(grads: &[Tensor<1>]) -> f64 {
        grads
            .iter()
            .map(|g| to_vec_f32(&g.clone().square().sum())[0] as f64)
            .sum::<f64>()
            .sqrt()
    }

    /// One update with learning rate `lr`. `grads[i]` belongs to `params.entries()[i]`.
    /// Returns the gradient norm before clipping.
    pub fn step(&mut self, params: &mut Params, grads: Vec<Tensor<1>>, lr: f64) -> Result<f64> {
        let lrs = vec![lr; params.entries().len()];
        self.step_per_param(params, grads, &lrs)
    }

    /// One update where tensor `i` uses learning rate `lrs[i]` (PyTorch parameter groups:
    /// the grounding recipe trains the encoders at 1e-5 and the rest at 1e-4). Clipping is on
    /// the global norm over all tensors, as `clip_grad_norm_(model.parameters())`.
    /// Returns the gradient norm before clipping.
    pub fn step_per_param(
        &mut self,
        params: &mut Params,
        grads: Vec<Tensor<1>>,
        lrs: &[f64],
    ) -> Result<f64> {
        if grads.len() != params.entries().len() || lrs.len() != grads.len() {
            return Err(VladaptError::Shape {
                what: "optimiser step: gradients / learning rates".into(),
                expected: format!("one of each per parameter ({})", params.entries().len()),
                actual: format!("{} gradients and {} learning rates", grads.len(), lrs.len()),
            });
        }
        let norm = Self::grad_norm(&grads);
        let clip = match self.config.grad_clip {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.steps += 1;
        let t = self.steps as i32;
        let c = &self.config;
        for (i, (p, g)) in params.entries_mut().iter_mut().zip(grads).enumerate() {
            let lr = lrs[i];
            let w = p.value.clone().without_autodiff();
            let g = if clip != 1.0 { g.mul_scalar(clip) } else { g };
            p.value = match c.kind {
                OptimizerKind::Sgd => {
                    let g = if c.weight_decay != 0.0 {
                        g + w.clone().mul_scalar(c.weight_decay)
                    } else {
                        g
                    };
                    let buf = match self.m[i].take() {
                        Some(b) if c.momentum != 0.0 => b.mul_scalar(c.momentum) + g,
                        _ => g,
                    };
                    let new = w - buf.clone().mul_scalar(lr);
                    self.m[i] = Some(buf);
                    new
                }
                OptimizerKind::Adamw => {
                    let w = if c.weight_decay != 0.0 {
                        w.mul_scalar(1.0 - lr * c.weight_decay)
                    } else {
                        w
                    };
                    let m = match self.m[i].take() {
                        Some(m) => m.mul_scalar(c.beta1) + g.clone().mul_scalar(1.0 - c.beta1),
                        None => g.clone().mul_scalar(1.0 - c.beta1),
                    };
                    let v = match self.v[i].take() {
                        Some(v) => v.mul_scalar(c.beta2) + g.square().mul_scalar(1.0 - c.beta2),
                        None => g.square().mul_scalar(1.0 - c.beta2),
                    };
                    let bc1 = 1.0 - c.beta1.powi(t);
                    let bc2 = 1.0 - c.beta2.powi(t);
                    let denom = v.clone().div_scalar(bc2).sqrt().add_scalar(c.eps);
                    let new = w - m.clone().div_scalar(bc1).div(denom).mul_scalar(lr);
                    self.m[i] = Some(m);
                    self.v[i] = Some(v);
                    new
                }
            };
        }
        Ok(norm)
    }

    /// Host copy of the state: `(tensor name, values)` with names `m.<i>` / `v.<i>`, and the
    /// step count.
    pub fn state(&self) -> (Vec<crate::tensor_io::NamedTensor>, u64) {
        let mut out = Vec::new();
        for (prefix, list) in [("m", &self.m), ("v", &self.v)] {
            for (i, t) in list.iter().enumerate() {
                if let Some(t) = t {
                    let vals = to_vec_f32(t);
                    out.push((format!("{prefix}.{i}"), vec![vals.len()], vals));
                }
            }
        }
        (out, self.steps)
    }

    /// Restore state saved by [`state`](Self::state).
    pub fn load_state(
        &mut self,
        tensors: Vec<(String, Vec<f32>)>,
        steps: u64,
        params: &Params,
    ) -> Result<()> {
        let device = params
            .entries()
            .first()
            .map(|p| p.value.device())
            .unwrap_or_default();
        for (name, vals) in tensors {
            let unknown = || VladaptError::Checkpoint {
                source_name: "optimiser state".into(),
                reason: format!("tensor `{name}` has an unknown name (expected m.N or v.N)"),
            };
            let (prefix, idx) = name.split_once('.').ok_or_else(unknown)?;
            let i: usize = idx.parse().map_err(|_| unknown())?;
            let want = params
                .entries()
                .get(i)
                .map(|p| p.shape.iter().product::<usize>());
            if want != Some(vals.len()) {
                return Err(VladaptError::Checkpoint {
                    source_name: "optimiser state".into(),
                    reason: format!(
                        "tensor `{name}` has {} values; the parameters need {want:?}",
                        vals.len()
                    ),
                });
            }
            let n = vals.len();
            let t = Tensor::from_data(TensorData::new(vals, [n]), &device);
            match prefix {
                "m" => self.m[i] = Some(t),
                "v" => self.v[i] = Some(t),
                _ => return Err(unknown()),
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_param(v: f32) -> Params {
        let mut p = Params::new();
        p.push("w", &[1], vec![v], &burn::tensor::Device::flex());
        p
    }

    fn grad(v: f32) -> Vec<Tensor<1>> {
        vec![Tensor::from_data(
            TensorData::new(vec![v], [1]),
            &burn::tensor::Device::flex(),
        )]
    }

    #[test]
    fn sgd_matches_pytorch_by_hand() {
        // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1), p=1, g=0.5 twice:
        // step 1: d = 0.5 + 0.1·1 = 0.6, buf = 0.6, p = 0.94
        // step 2: d = 0.5 + 0.1·0.94 = 0.594, buf = 0.9·0.6 + 0.594 = 1.134, p = 0.8266
        let mut p = one_param(1.0);
        let cfg = OptimConfig {
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut o = Optimizer::new(cfg, &p);
        o.step(&mut p, grad(0.5), 0.1).unwrap();
        assert!((to_vec_f32(&p.entries()[0].value)[0] - 0.94).abs() < 1e-6);
        o.step(&mut p, grad(0.5), 0.1).unwrap();
        assert!((to_vec_f32(&p.entries()[0].value)[0] - 0.8266).abs() < 1e-6);
    }

    #[test]
    fn adamw_matches_pytorch_by_hand() {
        // torch.optim.AdamW(lr=0.1, weight_decay=0.1), p=1, g=0.5: p·(1−0.01) − 0.1·m̂/(√v̂+ε) = 0.89
        let mut p = one_param(1.0);
        let cfg = OptimConfig {
            kind: OptimizerKind::Adamw,
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut o = Optimizer::new(cfg, &p);
        o.step(&mut p, grad(0.5), 0.1).unwrap();
        assert!((to_vec_f32(&p.entries()[0].value)[0] - 0.89).abs() < 1e-6);
    }

    #[test]
    fn parameter_groups_use_their_own_rate() {
        // Two tensors, SGD without momentum/decay, g = 1 each, rates 0.1 and 0.01:
        // p0 = 1 − 0.1 = 0.9, p1 = 1 − 0.01 = 0.99.
        let d = burn::tensor::Device::flex();
        let mut p = Params::new();
        p.push("a", &[1], vec![1.0], &d);
        p.push("b", &[1], vec![1.0], &d);
        let cfg = OptimConfig {
            weight_decay: 0.0,
            momentum: 0.0,
            ..Default::default()
        };
        let mut o = Optimizer::new(cfg, &p);
        let g = vec![grad(1.0).remove(0), grad(1.0).remove(0)];
        o.step_per_param(&mut p, g, &[0.1, 0.01]).unwrap();
        assert!((to_vec_f32(&p.entries()[0].value)[0] - 0.9).abs() < 1e-7);
        assert!((to_vec_f32(&p.entries()[1].value)[0] - 0.99).abs() < 1e-7);
        assert!(o.step_per_param(&mut p, grad(1.0), &[0.1]).is_err());
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        // g = 4 with max norm 1 and no decay/momentum: p = 1 − 0.1·1·(1/(4+1e-6))·4 ≈ 0.9
        let mut p = one_param(1.0);
        let cfg = OptimConfig {
            weight_decay: 0.0,
            momentum: 0.0,
            grad_clip: Some(1.0),
            ..Default::default()
        };
        let mut o = Optimizer::new(cfg, &p);
        let norm = o.step(&mut p, grad(4.0), 0.1).unwrap();
        assert_eq!(norm, 4.0);
        assert!((to_vec_f32(&p.entries()[0].value)[0] - 0.9).abs() < 1e-5);
    }
}
