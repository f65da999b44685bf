//! A toy method, registered only in tests, showing that a method is one file plus one
//! registration line: zero-shot logits divided by a fixed temperature plus one learned bias,
//! `logits = zs(f_img) / T + b`.
use super::zeroshot::{ZeroShot, ZeroShotConfig};
use super::{AdaptMethod, ClassSet, MethodKind, MethodSpec, Params, Protocol, QuickDemo, Recipe};
use crate::models::clip::ClipModel;
use crate::Result;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use vladapt_tokenizer::ClipTokenizer;

/// Tensor name of the bias.
pub const BIAS: &str = "toy.bias";

/// The toy's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToyConfig {
    /// Temperature T (> 0).
    pub temperature: f64,
}

impl Default for ToyConfig {
    fn default() -> Self {
        Self { temperature: 2.0 }
    }
}

impl MethodSpec for ToyConfig {
    const NAME: &'static str = "toy";

    fn validate(&self) -> crate::Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(crate::VladaptError::config_value(
                "method.temperature",
                self.temperature,
                "> 0",
            ));
        }
        Ok(())
    }

    fn recipe(&mut self, _: Protocol, _: usize) -> Recipe {
        Recipe::sgd(0.01, 3, false).batch(8)
    }

    fn quick_demo() -> Option<QuickDemo> {
        None
    }

    fn build(&self, _: &ClipModel, _: &ClipTokenizer, device: &Device) -> Result<Box<dyn AdaptMethod>> {
        let mut params = Params::new();
        params.push(BIAS, &[1], vec![0.0], device);
        Ok(Box::new(Toy {
            config: self.clone(),
            zero_shot: ZeroShot::new(ZeroShotConfig::default()),
            params,
        }))
    }
}

/// The toy method.
pub struct Toy {
    config: ToyConfig,
    zero_shot: ZeroShot,
    params: Params,
}

impl AdaptMethod for Toy {
    fn kind(&self) -> MethodKind {
        MethodKind::Toy
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }
    fn set_classes(&mut self, classes: &ClassSet<'_>) -> Result<()> {
        self.zero_shot.set_classes(classes)
    }
    fn logits(&self, clip: &ClipModel, image_features: Tensor<2>) -> Result<Tensor<2>> {
        let zs = self.zero_shot.logits(clip, image_features)?;
        let b: Tensor<1> = self.params.get(BIAS);
        Ok(zs.div_scalar(self.config.temperature) + b.unsqueeze::<2>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{build, MethodConfig};
    use crate::models::clip::ClipPipeline;
    use crate::tensor_io::to_vec_f32;
    use crate::train::RunConfig;

    #[test]
    fn the_registration_line_is_all_the_rest_of_the_crate_needs() {
        assert_eq!(MethodKind::parse("toy").unwrap(), MethodKind::Toy);
        assert_eq!(MethodKind::all().last(), Some(&MethodKind::Toy));
        assert_eq!(MethodKind::Toy.to_string(), "toy");
        assert!(MethodKind::Toy.quick_demo().is_none());

        // Parsing validates, before any model exists.
        let ok: MethodConfig = toml::from_str("name = \"toy\"\ntemperature = 4.0").unwrap();
        assert_eq!(ok, MethodConfig::Toy(ToyConfig { temperature: 4.0 }));
        let e = toml::from_str::<MethodConfig>("name = \"toy\"\ntemperature = 0.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("method.temperature = 0 is out of range"), "{e}");
        let e = toml::from_str::<MethodConfig>("name = \"toy\"\nwarmth = 1.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("warmth"), "{e}");

        // The preset is the toy's recipe; overrides are validated too.
        let mut c = RunConfig::preset(MethodKind::Toy, Protocol::FewShot, 4, 1);
        assert_eq!(
            (c.train.batch_size, c.train.schedule.max_epoch, c.train.schedule.base_lr),
            (8, 3, 0.01)
        );
        assert_eq!(c.train.schedule.warmup_epochs, 0);
        let e = c
            .apply_overrides(&["method.temperature=-1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("method.temperature = -1"), "{e}");
        c.apply_overrides(&["toy:method.temperature=0.5".into()])
            .unwrap();
        assert_eq!(c.method, MethodConfig::Toy(ToyConfig { temperature: 0.5 }));
    }

    #[test]
    fn the_toy_builds_and_computes_its_logits_from_zero_shot() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/tiny-hf");
        let device = Device::flex();
        let pipe = ClipPipeline::load(&dir, &device).unwrap();
        let classnames: Vec<String> = ["red", "green", "blue"].map(String::from).to_vec();
        let classes = ClassSet {
            clip: &pipe.model,
            tokenizer: &pipe.tokenizer,
            classnames: &classnames,
            template: "a photo of a {}.",
        };
        let cfg = MethodConfig::Toy(ToyConfig { temperature: 4.0 });
        let mut toy = build(&cfg, &pipe.model, &pipe.tokenizer, &device).unwrap();
        toy.set_classes(&classes).unwrap();
        assert_eq!(toy.kind(), MethodKind::Toy);
        let mut zs = build(
            &MethodConfig::Zeroshot(ZeroShotConfig::default()),
            &pipe.model,
            &pipe.tokenizer,
            &device,
        )
        .unwrap();
        zs.set_classes(&classes).unwrap();

        let size = pipe.model.config.vision.image_size;
        let pixels = Tensor::<4>::random(
            [2, 3, size, size],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let f = toy.image_features(&pipe.model, pixels).unwrap();
        let got = to_vec_f32(&toy.logits(&pipe.model, f.clone()).unwrap());
        let want = to_vec_f32(&zs.logits(&pipe.model, f).unwrap());
        assert_eq!(got.len(), 2 * 3);
        // The bias starts at 0: logits are zero-shot's over T.
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w / 4.0).abs() < 1e-6, "{g} vs {w}/4");
        }
        assert_eq!(toy.params().entries().len(), 1);
    }
}
