//! Linear probe (Radford et al. 2021 §3.2; CoOp's `lpclip`): multinomial logistic regression
//! `logits = f̂ Wᵀ + b` on L2-normalised frozen image features `f̂` `[B, proj]`, with an L2
//! penalty λ‖W‖² whose strength is chosen on the validation split.
use super::{check_range, MethodKind, MethodSpec, Protocol, QuickDemo, Recipe};
use vladapt_tokenizer::ClipTokenizer;
use serde::{Deserialize, Serialize};
use super::{AdaptMethod, ClassSet, Params};
use crate::models::clip::{l2_normalize, ClipModel};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};

/// Linear probe (CoOp's `lpclip`): logistic regression on L2-normalised image features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearProbeConfig {
    /// Candidate L2 strengths λ (loss + λ·‖W‖²); chosen on the validation split.
    pub lambdas: Vec<f64>,
    /// Full-batch L-BFGS/GD iterations per candidate.
    pub iterations: usize,
}

impl Default for LinearProbeConfig {
    fn default() -> Self {
        Self {
            lambdas: vec![1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
            iterations: 300,
        }
    }
}


impl MethodSpec for LinearProbeConfig {
    const NAME: &'static str = "linear-probe";
    const GRADIENT_STEPS: bool = false;

    fn validate(&self) -> Result<()> {
        if self.lambdas.is_empty() || self.lambdas.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return Err(VladaptError::config_value(
                "method.lambdas",
                format!("{:?}", self.lambdas),
                "at least one finite λ > 0",
            ));
        }
        check_range("iterations", self.iterations, 1, 1_000_000)
    }

    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::no_training()
    }

    fn quick_demo() -> Option<QuickDemo> {
        None
    }

    fn build(
        &self,
        clip: &ClipModel,
        _: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>> {
        Ok(Box::new(LinearProbe::new(self.clone(), clip, device)))
    }
}


/// Weight tensor name.
pub const WEIGHT: &str = "linear_probe.weight";
/// Bias tensor name.
pub const BIAS: &str = "linear_probe.bias";

/// Linear probe; its tensors are created for the class count in `set_classes`.
pub struct LinearProbe {
    config: LinearProbeConfig,
    params: Params,
    dim: usize,
    device: Device,
}

impl LinearProbe {
    /// New (empty until `set_classes`).
    pub fn new(config: LinearProbeConfig, clip: &ClipModel, device: &Device) -> Self {
        Self {
            config,
            params: Params::new(),
            dim: clip.config.projection_dim,
            device: device.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LinearProbeConfig {
        &self.config
    }
}

impl AdaptMethod for LinearProbe {
    fn kind(&self) -> MethodKind {
        MethodKind::LinearProbe
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        let n = classes.classnames.len();
        if self.params.contains(WEIGHT) {
            let have = self.params.entries()[0].shape[0];
            if have != n {
                return Err(VladaptError::ClassCount {
                    what: "the linear probe".into(),
                    trained: have,
                    given: n,
                    why: "a linear probe has no text side",
                });
            }
        } else {
            self.params.push(
                WEIGHT,
                &[n, self.dim],
                vec![0.0; n * self.dim],
                &self.device,
            );
            self.params.push(BIAS, &[n], vec![0.0; n], &self.device);
        }
        Ok(())
    }
    fn fits_in_closed_form(&self) -> bool {
        true
    }
    /// CoOp's `lpclip`: λ chosen on val, weights and bias replaced by the fit.
    fn fit_features(
        &mut self,
        train: (&[Vec<f32>], &[usize]),
        val: (&[Vec<f32>], &[usize]),
        n_cls: usize,
    ) -> Result<String> {
        let fit = fit(&self.config, train, val, n_cls)?;
        for p in self.params.entries_mut() {
            let vals = if p.name == WEIGHT {
                fit.weight.clone()
            } else if p.name == BIAS {
                fit.bias.clone()
            } else {
                continue;
            };
            let n = vals.len();
            p.value = Tensor::from_data(burn::tensor::TensorData::new(vals, [n]), &self.device);
        }
        Ok(format!(
            "linear probe: λ = {} (val accuracy per λ: {:?})",
            fit.lambda, fit.val_accuracy
        ))
    }
    fn logits(&self, _clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let w = self.params.get::<2>(WEIGHT);
        let b = self.params.get::<1>(BIAS);
        Ok(burn::tensor::module::linear(
            l2_normalize(image_features),
            w.transpose(),
            Some(b),
        ))
    }
}

/// Result of [`fit`].
#[derive(Debug, Clone)]
pub struct ProbeFit {
    /// `[C, D]` row-major.
    pub weight: Vec<f32>,
    /// `[C]`.
    pub bias: Vec<f32>,
    /// The chosen λ.
    pub lambda: f64,
    /// Validation accuracy (%) of each candidate λ, in order.
    pub val_accuracy: Vec<f64>,
}

/// Fit the probe on host features (rows already L2-normalised): for each λ train on `train`,
/// score on `val` (train itself when `val` is empty), keep the best, refit on train.
pub fn fit(
    cfg: &LinearProbeConfig,
    train: (&[Vec<f32>], &[usize]),
    val: (&[Vec<f32>], &[usize]),
    n_cls: usize,
) -> Result<ProbeFit> {
    let (x, y) = train;
    if x.is_empty() {
        return Err(VladaptError::argument(
            "linear probe",
            "no training features",
        ));
    }
    if cfg.lambdas.is_empty() {
        return Err(VladaptError::config_value(
            "method.lambdas",
            "[]",
            "at least one finite λ > 0",
        ));
    }
    let (vx, vy) = if val.0.is_empty() { train } else { val };
    let mut accs = Vec::new();
    let mut best = (f64::NEG_INFINITY, cfg.lambdas[0]);
    for &lam in &cfg.lambdas {
        let (w, b) = train_softmax(x, y, n_cls, lam, cfg.iterations);
        let acc = accuracy(&w, &b, vx, vy, n_cls);
        accs.push(acc);
        if acc > best.0 {
            best = (acc, lam);
        }
    }
    let (w, b) = train_softmax(x, y, n_cls, best.1, cfg.iterations);
    Ok(ProbeFit {
        weight: w.iter().map(|&v| v as f32).collect(),
        bias: b.iter().map(|&v| v as f32).collect(),
        lambda: best.1,
        val_accuracy: accs,
    })
}

fn scores(w: &[f64], b: &[f64], x: &[f32], n_cls: usize) -> Vec<f64> {
    let d = x.len();
    (0..n_cls)
        .map(|c| b[c] + (0..d).map(|j| w[c * d + j] * x[j] as f64).sum::<f64>())
        .collect()
}

fn accuracy(w: &[f64], b: &[f64], x: &[Vec<f32>], y: &[usize], n_cls: usize) -> f64 {
    let correct = x
        .iter()
        .zip(y)
        .filter(|(xi, &yi)| {
            let s = scores(w, b, xi, n_cls);
            let arg = (0..n_cls)
                .max_by(|&i, &j| s[i].total_cmp(&s[j]))
                .unwrap_or(0);
            arg == yi
        })
        .count();
    100.0 * correct as f64 / x.len().max(1) as f64
}

/// Full-batch Adam on mean cross-entropy + λ‖W‖² (f64, deterministic).
fn train_softmax(
    x: &[Vec<f32>],
    y: &[usize],
    n_cls: usize,
    lambda: f64,
    iters: usize,
) -> (Vec<f64>, Vec<f64>) {
    let d = x[0].len();
    let n = x.len() as f64;
    let mut w = vec![0f64; n_cls * d];
    let mut b = vec![0f64; n_cls];
    let (mut mw, mut vw) = (vec![0f64; w.len()], vec![0f64; w.len()]);
    let (mut mb, mut vb) = (vec![0f64; n_cls], vec![0f64; n_cls]);
    let (lr, b1, b2, eps) = (0.05, 0.9, 0.999, 1e-8);
    for t in 1..=iters {
        let mut gw: Vec<f64> = w.iter().map(|&v| 2.0 * lambda * v).collect();
        let mut gb = vec![0f64; n_cls];
        for (xi, &yi) in x.iter().zip(y) {
            let s = scores(&w, &b, xi, n_cls);
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for c in 0..n_cls {
                let g = (e[c] / z - if c == yi { 1.0 } else { 0.0 }) / n;
                gb[c] += g;
                for j in 0..d {
                    gw[c * d + j] += g * xi[j] as f64;
                }
            }
        }
        let (c1, c2) = (1.0 - b1f(b1, t), 1.0 - b1f(b2, t));
        for (i, g) in gw.iter().enumerate() {
            mw[i] = b1 * mw[i] + (1.0 - b1) * g;
            vw[i] = b2 * vw[i] + (1.0 - b2) * g * g;
            w[i] -= lr * (mw[i] / c1) / ((vw[i] / c2).sqrt() + eps);
        }
        for (i, g) in gb.iter().enumerate() {
            mb[i] = b1 * mb[i] + (1.0 - b1) * g;
            vb[i] = b2 * vb[i] + (1.0 - b2) * g * g;
            b[i] -= lr * (mb[i] / c1) / ((vb[i] / c2).sqrt() + eps);
        }
    }
    (w, b)
}

fn b1f(beta: f64, t: usize) -> f64 {
    beta.powi(t as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_data_is_fit_and_strong_penalty_shrinks_weights() {
        // Two well-separated classes on the unit circle.
        let x: Vec<Vec<f32>> = vec![
            vec![1.0, 0.0],
            vec![0.9, 0.1],
            vec![0.0, 1.0],
            vec![0.1, 0.9],
        ];
        let y = vec![0, 0, 1, 1];
        let cfg = LinearProbeConfig {
            lambdas: vec![1e-4],
            iterations: 200,
        };
        let fit = fit(&cfg, (&x, &y), (&[], &[]), 2).unwrap();
        assert_eq!(fit.val_accuracy, vec![100.0]);
        let (w_small, _) = train_softmax(&x, &y, 2, 1e-4, 200);
        let (w_big, _) = train_softmax(&x, &y, 2, 10.0, 200);
        let norm = |w: &[f64]| w.iter().map(|v| v * v).sum::<f64>();
        assert!(norm(&w_big) < 0.1 * norm(&w_small), "λ=10 must shrink W");
    }
}
