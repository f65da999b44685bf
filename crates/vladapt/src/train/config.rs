//! Run configuration: method + optimiser + schedule + data, with presets equal to the official
//! recipes (methods.md §2) and `key=value` overrides. The resolved configuration is saved in
//! every run directory.
use super::optim::{OptimConfig, OptimizerKind};
use super::schedule::{LrSchedule, ScheduleKind};
use crate::methods::{MethodConfig, MethodKind};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};

pub use crate::methods::Protocol;

impl Protocol {
    /// Parse `few-shot` / `base2novel`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "few-shot" | "fewshot" => Ok(Self::FewShot),
            "base2novel" | "base-to-novel" | "b2n" => Ok(Self::Base2novel),
            other => Err(VladaptError::unknown_name(
                "protocol",
                other,
                ["few-shot", "base2novel"],
            )),
        }
    }
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Images per step.
    pub batch_size: usize,
    /// Learning-rate schedule (its `max_epoch` is the number of epochs).
    pub schedule: LrSchedule,
    /// Optimiser.
    pub optim: OptimConfig,
    /// Train-time augmentation (RandomResizedCrop + flip); off = test preprocessing.
    pub augment: bool,
    /// Frozen image features of this many augmented views per image are computed once and
    /// reused (methods whose image tower is frozen). `0` = recompute every step as the
    /// originals do.
    pub cache_views: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Numeric precision (`fp32`; CPU backends train in f32).
    pub precision: String,
    /// Data parallelism (issue #14): split every step's batch over this many replicas of the
    /// method, each running forward and backward on its own thread, and combine their
    /// gradients with [`DataParallel::grads`](super::data_parallel::DataParallel::grads) (the
    /// weighted mean, equal to the full-batch gradient up to summation order) before the one
    /// optimiser step. These replicas share the pipeline's device; `devices` puts one replica on
    /// each of several devices. `1` (the default) is the single-replica path, unchanged;
    /// configurations saved before this field existed read as `1`.
    pub data_parallel: usize,
    /// Data parallelism over these devices, one replica each (`["cpu", "ndarray"]`,
    /// `["cuda:0", "cuda:1"]`; names as `--device`): the frozen towers are copied to every
    /// device ([`ToDevice`](crate::models::ToDevice)), each replica computes its slice there
    /// and the gradients are gathered to the first device (all-reduced with burn's collective
    /// when all are CUDA devices). Empty (the default): `data_parallel` replicas on the
    /// pipeline's device. Checked when the configuration is read (`VladaptError::Device`).
    pub devices: Vec<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            schedule: LrSchedule::default(),
            optim: OptimConfig::default(),
            augment: true,
            cache_views: 0,
            eval_batch_size: 100,
            precision: "fp32".into(),
            data_parallel: 1,
            devices: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// Number of data-parallel replicas: one per `devices` entry, else `data_parallel`.
    pub fn replicas(&self) -> usize {
        if self.devices.is_empty() {
            self.data_parallel
        } else {
            self.devices.len()
        }
    }
}

/// A complete run configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Method and its hyper-parameters.
    pub method: MethodConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// Protocol.
    pub protocol: Protocol,
    /// Shots per class.
    pub shots: usize,
    /// Seed (sampling, initialisation, augmentation, order).
    pub seed: u64,
}

fn schedule(lr: f64, epochs: usize, warmup: bool) -> LrSchedule {
    LrSchedule {
        base_lr: lr,
        max_epoch: epochs,
        warmup_epochs: usize::from(warmup),
        warmup_lr: 1e-5,
        kind: ScheduleKind::Cosine,
    }
}

impl RunConfig {
    /// The official recipe of `kind` under `protocol` with `shots` (methods.md §2), as the
    /// method declares it ([`MethodSpec::recipe`](crate::methods::MethodSpec::recipe)): SGD,
    /// cosine schedule, the method's lr, epochs, batch size, warm-up and cached views.
    pub fn preset(kind: MethodKind, protocol: Protocol, shots: usize, seed: u64) -> Self {
        let mut method = MethodConfig::default_for(kind);
        let r = method.recipe(protocol, shots);
        let train = TrainConfig {
            batch_size: r.batch_size,
            schedule: schedule(r.lr, r.epochs, r.warmup),
            augment: r.augment,
            cache_views: r.cache_views,
            optim: OptimConfig {
                kind: OptimizerKind::Sgd,
                ..OptimConfig::default()
            },
            ..TrainConfig::default()
        };
        Self {
            method,
            train,
            protocol,
            shots,
            seed,
        }
    }

    /// Apply `key=value` overrides (dotted paths into the JSON form, e.g.
    /// `train.schedule.max_epoch=20`, `method.n_ctx=8`, `train.batch_size=8`). Values are parsed
    /// as JSON when possible, else taken as strings. Unknown keys are an error naming them.
    pub fn apply_overrides(&mut self, sets: &[String]) -> Result<()> {
        let mut mine = Vec::new();
        for s in sets {
            let (key, val) = crate::overrides::split(s)?;
            // `METHOD:key=value` applies only to that method (one command, several methods).
            let key = match key.split_once(':') {
                Some((m, rest)) => {
                    if MethodKind::parse(m)? != self.method.kind() {
                        continue;
                    }
                    rest
                }
                None => key,
            };
            mine.push((key, val));
        }
        let new: Self = crate::overrides::apply(&*self, &mine)?;
        new.validate()?;
        *self = new;
        Ok(())
    }

    /// Values that parse but make no sense: a [`ConfigValue`](VladaptError::ConfigValue)
    /// error naming the key and the valid range.
    pub fn validate(&self) -> Result<()> {
        // Every name of `train.devices` is a device this binary can run on, none twice.
        if !self.train.devices.is_empty() {
            crate::device::parse_devices("train.devices", &self.train.devices)?;
        }
        fn range(key: &str, v: usize, lo: usize, hi: usize) -> Result<()> {
            if v < lo || v > hi {
                return Err(VladaptError::config_value(key, v, format!("{lo}..={hi}")));
            }
            Ok(())
        }
        range("train.batch_size", self.train.batch_size, 1, 1 << 20)?;
        range("train.data_parallel", self.train.data_parallel, 1, 64)?;
        let nd = self.train.devices.len();
        if nd > 0 && self.train.data_parallel != 1 && self.train.data_parallel != nd {
            return Err(VladaptError::config_value(
                "train.data_parallel",
                self.train.data_parallel,
                format!("1 or {nd}, the number of train.devices (one replica per device)"),
            ));
        }
        range(
            "train.eval_batch_size",
            self.train.eval_batch_size,
            1,
            1 << 20,
        )?;
        // Methods without gradient steps (zero-shot, the linear probe's closed-form fit) have
        // a 0-epoch recipe. Every other method needs at least one.
        let min_epochs = usize::from(self.method.kind().gradient_steps());
        range(
            "train.schedule.max_epoch",
            self.train.schedule.max_epoch,
            min_epochs,
            1_000_000,
        )?;
        range("shots", self.shots, 1, 1_000_000)?;
        self.method.validate()?;
        Ok(())
    }

    /// Read a run config from a TOML or JSON file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| VladaptError::io(path, e))?;
        let cfg: Self = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| VladaptError::config(path, e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| VladaptError::config(path, e.to_string()))?
        };
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// Number of epochs.
    pub fn epochs(&self) -> usize {
        self.train.schedule.max_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_without_gradient_steps_keep_their_zero_epoch_recipe() {
        for kind in [MethodKind::Zeroshot, MethodKind::LinearProbe] {
            let c = RunConfig::preset(kind, Protocol::FewShot, 16, 1);
            assert_eq!(c.epochs(), 0, "{kind:?}");
            c.validate().unwrap();
        }
        let mut coop = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1);
        coop.train.schedule.max_epoch = 0;
        assert!(coop.validate().is_err());
    }

    #[test]
    fn nonsensical_values_are_refused_with_the_range() {
        for (set, shown) in [
            (
                "train.batch_size=0",
                "train.batch_size = 0 is out of range (valid: 1..=",
            ),
            (
                "train.schedule.max_epoch=0",
                "train.schedule.max_epoch = 0 is out of range",
            ),
            (
                "method.n_ctx=100000",
                "method.n_ctx = 100000 is out of range (valid: 1..=72)",
            ),
        ] {
            let mut c = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 16, 1);
            let e = c
                .apply_overrides(&[set.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(shown), "{set}: {e}");
            assert!(e.len() < 300, "{set}: message of {} bytes", e.len());
        }
    }

    #[test]
    fn every_preset_is_valid() {
        for k in [
            MethodKind::Coop,
            MethodKind::Cocoop,
            MethodKind::Maple,
            MethodKind::Mma,
        ] {
            for p in [Protocol::FewShot, Protocol::Base2novel] {
                RunConfig::preset(k, p, 16, 1).validate().unwrap();
            }
        }
    }

    #[test]
    fn presets_follow_the_official_recipes() {
        let m = RunConfig::preset(MethodKind::Maple, Protocol::Base2novel, 16, 1);
        assert_eq!(
            (
                m.train.batch_size,
                m.epochs(),
                m.train.schedule.base_lr,
                m.train.schedule.warmup_epochs
            ),
            (4, 5, 0.0035, 1)
        );
        let m = RunConfig::preset(MethodKind::Mma, Protocol::Base2novel, 16, 1);
        assert_eq!(
            (
                m.train.batch_size,
                m.epochs(),
                m.train.schedule.base_lr,
                m.train.schedule.warmup_epochs
            ),
            (16, 5, 0.0015, 0)
        );
        let c = RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 1, 1);
        assert_eq!(c.epochs(), 50);
        assert_eq!(
            RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 4, 1).epochs(),
            100
        );
        assert_eq!(
            RunConfig::preset(MethodKind::Cocoop, Protocol::Base2novel, 16, 1)
                .train
                .batch_size,
            1
        );
        assert_eq!(m.train.optim.weight_decay, 5e-4);
    }

    #[test]
    fn overrides_set_nested_keys_and_reject_unknown_ones() {
        let mut c = RunConfig::preset(MethodKind::Mma, Protocol::Base2novel, 16, 1);
        c.apply_overrides(&[
            "train.schedule.max_epoch=2".into(),
            "method.dim=8".into(),
            "train.batch_size=4".into(),
        ])
        .unwrap();
        assert_eq!(c.epochs(), 2);
        assert_eq!(c.train.batch_size, 4);
        match &c.method {
            MethodConfig::Mma(m) => assert_eq!(m.dim, 8),
            _ => panic!("method changed"),
        }
        c.apply_overrides(&[
            "coop:train.batch_size=99".into(),
            "mma:method.alpha=0.5".into(),
        ])
        .unwrap();
        assert_eq!(
            c.train.batch_size, 4,
            "a coop-only override must not touch mma"
        );
        match &c.method {
            MethodConfig::Mma(m) => assert_eq!(m.alpha, 0.5),
            _ => panic!("method changed"),
        }
        let err = c
            .apply_overrides(&["train.bogus=1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
