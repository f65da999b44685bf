//! Grounding run configuration: the official TransVG/MMCA recipes as presets (spec `mmca.md`
//! §3.1, §2.6) — AdamW with a learning rate per parameter group, weight decay 1e-4, StepLR
//! (γ 0.1, stepped per epoch), global-norm clipping 0.1 for MMCA and none for TransVG, batch 64 —
//! plus `tiny` for the offline demo. Validated when parsed, before any weights load; the
//! resolved configuration is saved in the run directory.
use super::optim::{OptimConfig, OptimizerKind};
use crate::methods::grounding::{GroundingMethodConfig, ParamGroup};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Learning rate of each official parameter group (`train.py`: `--lr`, `--lr_visu_cnn`,
/// `--lr_visu_tra`, `--lr_bert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLrs {
    /// Projections, `[REG]`, positions, fusion, head (1e-4).
    pub rest: f64,
    /// ResNet `layer2`–`layer4` and MMCA's conv adapters (1e-5).
    pub visu_cnn: f64,
    /// DETR encoder, `input_proj`, MMCA's q/k adapters (1e-5).
    pub visu_tra: f64,
    /// BERT (1e-5).
    pub text: f64,
}

impl GroupLrs {
    /// The rate of `group`.
    pub fn of(&self, group: ParamGroup) -> f64 {
        match group {
            ParamGroup::Rest => self.rest,
            ParamGroup::VisuCnn => self.visu_cnn,
            ParamGroup::VisuTra => self.visu_tra,
            ParamGroup::Text => self.text,
        }
    }
}

/// Optimisation settings of a grounding run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundingRecipe {
    /// Expressions per step (64 = 2 GPUs × 32 in the official command).
    pub batch_size: usize,
    /// Epochs (90; 180 for RefCOCO+).
    pub epochs: usize,
    /// Initial learning rate per parameter group.
    pub lr: GroupLrs,
    /// StepLR `step_size` in epochs (`--lr_drop`: 60; 120 for RefCOCO+).
    pub lr_drop: usize,
    /// StepLR γ (0.1).
    pub gamma: f64,
    /// AdamW weight decay (1e-4), decoupled, on every group.
    pub weight_decay: f64,
    /// Global gradient-norm clip (`--clip_max_norm`: 0.1 in MMCA's `train.py`, 0 = none in
    /// TransVG's).
    pub grad_clip: Option<f64>,
    /// Train-time augmentation (spec §3.3); off = the evaluation transform.
    pub augment: bool,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Data parallelism (issue #14): split every step's batch over this many replicas on the
    /// training device, gradients combined by
    /// [`DataParallel`](super::data_parallel::DataParallel) before the one optimiser step.
    /// `1` (the default; also for configurations saved before this field) is the plain path.
    #[serde(default = "one")]
    pub data_parallel: usize,
    /// Data parallelism over these devices, one replica each (`["cuda:0", "cuda:1"]`,
    /// `["cpu", "ndarray"]`): every replica holds a copy of the model's tensors on its device.
    /// Empty (the default): `data_parallel` replicas on the training device.
    #[serde(default)]
    pub devices: Vec<String>,
}

fn one() -> usize {
    1
}

impl GroundingRecipe {
    /// Learning rate of `group` during 0-based `epoch`: `lr · γ^⌊epoch / lr_drop⌋` (PyTorch's
    /// `StepLR`, stepped after every epoch).
    pub fn lr(&self, group: ParamGroup, epoch: usize) -> f64 {
        let drops = epoch / self.lr_drop.max(1);
        self.lr.of(group) * self.gamma.powi(drops as i32)
    }

    /// Number of data-parallel replicas: one per `devices` entry, else `data_parallel`.
    pub fn replicas(&self) -> usize {
        if self.devices.is_empty() {
            self.data_parallel
        } else {
            self.devices.len()
        }
    }

    /// The optimiser: AdamW with PyTorch's default β and ε.
    pub fn optim(&self) -> OptimConfig {
        OptimConfig {
            kind: OptimizerKind::Adamw,
            momentum: 0.0,
            weight_decay: self.weight_decay,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: self.grad_clip,
        }
    }
}

/// A complete grounding run configuration (`run_config.json` of a grounding run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundingRunConfig {
    /// The method and its settings.
    pub method: GroundingMethodConfig,
    /// Name of the preset the recipe started from.
    pub recipe: String,
    /// Optimisation.
    pub train: GroundingRecipe,
    /// Seed (initialisation of new tensors, batch order, augmentation).
    pub seed: u64,
}

/// Recipe presets accepted by [`GroundingRunConfig::preset`].
pub const RECIPES: &[&str] = &["refcoco", "refcoco+", "refcocog", "referit", "tiny"];

/// Whether the method is one of MMCA's (clipped at 0.1 by MMCA's `train.py`).
fn is_mmca(method: &GroundingMethodConfig) -> bool {
    !matches!(method, GroundingMethodConfig::Transvg)
}

impl GroundingRunConfig {
    /// The official recipe `recipe` for `method` (spec §3.1): RefCOCO, RefCOCOg and ReferIt
    /// 90 epochs with the drop at 60, RefCOCO+ 180 / 120; rates 1e-4 (rest) and 1e-5 (visual
    /// CNN, visual transformer, BERT); weight decay 1e-4; batch 64; clipping 0.1 for MMCA only.
    /// `tiny` is the offline demo's: a randomly initialised tiny model, so every group trains
    /// at the same higher rate, batch 16, 30 epochs with the drop at 20.
    pub fn preset(recipe: &str, method: GroundingMethodConfig, seed: u64) -> Result<Self> {
        let official = |epochs, lr_drop| GroundingRecipe {
            batch_size: 64,
            epochs,
            lr: GroupLrs {
                rest: 1e-4,
                visu_cnn: 1e-5,
                visu_tra: 1e-5,
                text: 1e-5,
            },
            lr_drop,
            gamma: 0.1,
            weight_decay: 1e-4,
            grad_clip: is_mmca(&method).then_some(0.1),
            augment: true,
            eval_batch_size: 64,
            data_parallel: 1,
            devices: Vec::new(),
        };
        let train = match recipe {
            "refcoco" | "refcocog" | "referit" => official(90, 60),
            "refcoco+" => official(180, 120),
            "tiny" => GroundingRecipe {
                batch_size: 16,
                epochs: 30,
                lr: GroupLrs {
                    rest: 3e-4,
                    visu_cnn: 3e-4,
                    visu_tra: 3e-4,
                    text: 3e-4,
                },
                lr_drop: 20,
                augment: false,
                ..official(30, 20)
            },
            other => {
                return Err(VladaptError::unknown_name(
                    "grounding recipe",
                    other,
                    RECIPES,
                ))
            }
        };
        let cfg = Self {
            method,
            recipe: recipe.to_string(),
            train,
            seed,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Values that parse but make no sense: a [`ConfigValue`](VladaptError::ConfigValue)
    /// error naming the key and the valid range.
    pub fn check(&self) -> Result<()> {
        // Every name of `train.devices` is a device this binary can run on, none twice.
        if !self.train.devices.is_empty() {
            crate::device::parse_devices("train.devices", &self.train.devices)?;
        }
        let t = &self.train;
        let urange = |key: &str, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(VladaptError::config_value(key, v, format!("{lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        urange("train.batch_size", t.batch_size, 1, 1 << 20)?;
        urange("train.eval_batch_size", t.eval_batch_size, 1, 1 << 20)?;
        urange("train.epochs", t.epochs, 1, 1_000_000)?;
        urange("train.lr_drop", t.lr_drop, 1, 1_000_000)?;
        urange("train.data_parallel", t.data_parallel, 1, 64)?;
        let nd = t.devices.len();
        if nd > 0 && t.data_parallel != 1 && t.data_parallel != nd {
            return Err(VladaptError::config_value(
                "train.data_parallel",
                t.data_parallel,
                format!("1 or {nd}, the number of train.devices (one replica per device)"),
            ));
        }
        for (key, v) in [
            ("train.lr.rest", t.lr.rest),
            ("train.lr.visu_cnn", t.lr.visu_cnn),
            ("train.lr.visu_tra", t.lr.visu_tra),
            ("train.lr.text", t.lr.text),
            ("train.weight_decay", t.weight_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(VladaptError::config_value(key, v, "a finite number ≥ 0"));
            }
        }
        if !(t.gamma.is_finite() && t.gamma > 0.0 && t.gamma <= 1.0) {
            return Err(VladaptError::config_value("train.gamma", t.gamma, "(0, 1]"));
        }
        if let Some(c) = t.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(VladaptError::config_value(
                    "train.grad_clip",
                    c,
                    "a positive number, or null for no clipping",
                ));
            }
        }
        Ok(())
    }

    /// Apply `key=value` overrides (dotted paths into the JSON form: `train.epochs=5`,
    /// `train.lr.rest=3e-4`, `train.grad_clip=null`). Values are parsed as JSON when possible,
    /// else taken as strings. Unknown keys are an error naming them.
    pub fn apply_overrides(&mut self, sets: &[String]) -> Result<()> {
        let sets = sets
            .iter()
            .map(|s| crate::overrides::split(s))
            .collect::<Result<Vec<_>>>()?;
        let new: Self = crate::overrides::apply(&*self, &sets)?;
        new.check()?;
        *self = new;
        Ok(())
    }

    /// Read a configuration from a JSON or TOML file (validated).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| VladaptError::io(path, e))?;
        let cfg: Self = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| VladaptError::config(path, e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| VladaptError::config(path, e.to_string()))?
        };
        cfg.check().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_recipes_match_train_py() {
        let c = GroundingRunConfig::preset("refcoco", GroundingMethodConfig::Transvg, 13).unwrap();
        let t = &c.train;
        assert_eq!((t.batch_size, t.epochs, t.lr_drop), (64, 90, 60));
        assert_eq!(
            (t.lr.rest, t.lr.visu_cnn, t.lr.visu_tra, t.lr.text),
            (1e-4, 1e-5, 1e-5, 1e-5)
        );
        assert_eq!((t.weight_decay, t.gamma, t.grad_clip), (1e-4, 0.1, None));
        let p = GroundingRunConfig::preset("refcoco+", GroundingMethodConfig::Transvg, 13).unwrap();
        assert_eq!((p.train.epochs, p.train.lr_drop), (180, 120));
        // StepLR: 1e-4 for epochs 0..59, 1e-5 from epoch 60.
        assert_eq!(t.lr(ParamGroup::Rest, 59), 1e-4);
        assert!((t.lr(ParamGroup::Rest, 60) - 1e-5).abs() < 1e-20);
        assert!((t.lr(ParamGroup::Text, 89) - 1e-6).abs() < 1e-20);
        let o = t.optim();
        assert_eq!(o.kind, OptimizerKind::Adamw);
        assert_eq!((o.beta1, o.beta2, o.eps), (0.9, 0.999, 1e-8));
        assert!(GroundingRunConfig::preset("coco", GroundingMethodConfig::Transvg, 1).is_err());
    }

    #[test]
    fn overrides_are_validated_and_unknown_keys_named() {
        let mut c = GroundingRunConfig::preset("tiny", GroundingMethodConfig::Transvg, 1).unwrap();
        c.apply_overrides(&["train.epochs=3".into(), "train.lr.rest=0.01".into()])
            .unwrap();
        assert_eq!((c.train.epochs, c.train.lr.rest), (3, 0.01));
        let e = c
            .apply_overrides(&["train.batch_size=0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.batch_size = 0 is out of range"), "{e}");
        let e = c
            .apply_overrides(&["train.bogus=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = c
            .apply_overrides(&["train.grad_clip=-1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.grad_clip"), "{e}");
    }
}
