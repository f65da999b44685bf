//! What a method declares about itself ([`MethodSpec`], in its own file) and the one-line
//! registration that turns the list of methods into [`MethodKind`](super::MethodKind) and
//! [`MethodConfig`](super::MethodConfig) ([`methods!`]).
use super::AdaptMethod;
use crate::models::clip::ClipModel;
use crate::Result;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use vladapt_tokenizer::ClipTokenizer;

/// Evaluation protocol of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// K shots of every class; test on all classes.
    FewShot,
    /// K shots of the base half; test base among base and novel among novel.
    Base2novel,
}

/// A method's official training recipe (methods.md §2), as `train::RunConfig::preset` applies
/// it: SGD with a cosine schedule over `epochs`, optional one-epoch warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Images per step.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Epochs (`0`: no gradient steps).
    pub epochs: usize,
    /// One epoch of constant warm-up (lr 1e-5) first.
    pub warmup: bool,
    /// Train-time augmentation.
    pub augment: bool,
    /// Augmented views per image whose frozen image features are computed once (`0`: none).
    pub cache_views: usize,
}

impl Recipe {
    /// SGD at `lr` for `epochs`, batch 32, augmented, nothing cached.
    pub fn sgd(lr: f64, epochs: usize, warmup: bool) -> Self {
        Self {
            batch_size: 32,
            lr,
            epochs,
            warmup,
            augment: true,
            cache_views: 0,
        }
    }

    /// No gradient steps (zero-shot, closed-form fits): 0 epochs, no augmentation.
    pub fn no_training() -> Self {
        Self {
            augment: false,
            ..Self::sgd(0.0, 0, false)
        }
    }

    /// With `batch_size` images per step.
    pub fn batch(self, batch_size: usize) -> Self {
        Self { batch_size, ..self }
    }

    /// CoOp's few-shot epoch count by shots (50 / 100 / 200), also used by CLIP-Adapter.
    pub fn coop_epochs(shots: usize) -> usize {
        match shots {
            0 | 1 => 50,
            2 | 4 => 100,
            _ => 200,
        }
    }
}

/// The `vladapt demo` settings of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuickDemo {
    /// Epochs of the `--quick` smoke version (the full demo derives its own).
    pub quick_epochs: usize,
    /// `key=value` overrides for the demo's tiny CLIP (e.g. a prompt depth that fits it).
    pub overrides: &'static [&'static str],
}

/// Everything a method declares about itself, implemented by its configuration type in the
/// method's own file. Registering the method is then one line of [`methods!`].
pub trait MethodSpec: Sized {
    /// CLI and config name (`[method] name = "…"`, `--method …`). Equals the kebab-case form of
    /// the variant name in the registration line (checked by a test).
    const NAME: &'static str;

    /// Whether training takes gradient steps (zero-shot and the linear probe's closed-form fit
    /// do not: their recipe has 0 epochs).
    const GRADIENT_STEPS: bool = true;

    /// Checks that need no model (ranges, template placeholders), run whenever a configuration
    /// is parsed — before any weights load. `Err` is a
    /// [`ConfigValue`](crate::VladaptError::ConfigValue) naming the key (`method.…`) and the
    /// valid range.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The official recipe under `protocol` with `shots`; may adjust the method's own defaults
    /// for the protocol (CoOp base-to-novel: M = 4 from "a photo of a").
    fn recipe(&mut self, protocol: Protocol, shots: usize) -> Recipe;

    /// Settings of `vladapt demo`; `None` keeps the method out of the demo table.
    fn quick_demo() -> Option<QuickDemo>;

    /// A fresh method for `clip` on `device`.
    fn build(
        &self,
        clip: &ClipModel,
        tokenizer: &ClipTokenizer,
        device: &Device,
    ) -> Result<Box<dyn AdaptMethod>>;
}

/// `n_ctx`-style ranges: `Err(ConfigValue)` for `method.{key}` with `{lo}..={hi}`.
pub fn check_range(key: &str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if v < lo || v > hi {
        return Err(crate::VladaptError::config_value(
            format!("method.{key}"),
            v,
            format!("{lo}..={hi}"),
        ));
    }
    Ok(())
}

/// Registers methods, one line each: `module::Variant(ConfigType),` declares `pub mod module;`
/// and adds `Variant` to [`MethodKind`](super::MethodKind) and `Variant(ConfigType)` to
/// [`MethodConfig`](super::MethodConfig); everything else comes from `ConfigType`'s
/// [`MethodSpec`]. A line may carry attributes (`#[cfg(test)]`).
macro_rules! methods {
    ($( $(#[$attr:meta])* $module:ident :: $variant:ident ( $config:ident ) ),* $(,)?) => {
        $( $(#[$attr])* pub mod $module; )*

        /// The configuration types of the registered methods (re-exported by [`config`]).
        mod configs {
            $( $(#[$attr])* pub use super::$module::$config; )*
        }

        /// The registered methods.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum MethodKind {
            $(
                $(#[$attr])*
                #[doc = concat!("`", stringify!($module), "::", stringify!($config), "`.")]
                $variant,
            )*
        }

        /// A method with its hyper-parameters (the `[method]` table of a run config),
        /// validated ([`MethodSpec::validate`]) whenever it is parsed.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "name", rename_all = "kebab-case", try_from = "UncheckedMethodConfig")]
        pub enum MethodConfig {
            $(
                $(#[$attr])*
                #[doc = concat!("`", stringify!($module), "`.")]
                $variant($module::$config),
            )*
        }

        /// [`MethodConfig`] as parsed, before its checks.
        #[derive(serde::Deserialize)]
        #[serde(tag = "name", rename_all = "kebab-case")]
        enum UncheckedMethodConfig {
            $( $(#[$attr])* $variant($module::$config), )*
        }

        impl TryFrom<UncheckedMethodConfig> for MethodConfig {
            type Error = String;
            fn try_from(raw: UncheckedMethodConfig) -> std::result::Result<Self, String> {
                let c = match raw {
                    $( $(#[$attr])* UncheckedMethodConfig::$variant(c) => Self::$variant(c), )*
                };
                c.validate().map_err(|e| e.to_string())?;
                Ok(c)
            }
        }

        impl MethodKind {
            /// All registered methods, in registration order (the order the papers' tables
            /// list them).
            // One `push` per line so that a registration line may carry `#[cfg(…)]`.
            #[allow(clippy::vec_init_then_push)]
            pub fn all() -> Vec<MethodKind> {
                let mut v = Vec::new();
                $( $(#[$attr])* v.push(Self::$variant); )*
                v
            }

            /// CLI name.
            pub fn name(self) -> &'static str {
                match self {
                    $( $(#[$attr])* Self::$variant => <$module::$config as MethodSpec>::NAME, )*
                }
            }

            /// Whether training takes gradient steps.
            pub fn gradient_steps(self) -> bool {
                match self {
                    $( $(#[$attr])* Self::$variant => <$module::$config as MethodSpec>::GRADIENT_STEPS, )*
                }
            }

            /// `vladapt demo` settings (`None`: not in the demo table).
            pub fn quick_demo(self) -> Option<QuickDemo> {
                match self {
                    $( $(#[$attr])* Self::$variant => <$module::$config as MethodSpec>::quick_demo(), )*
                }
            }
        }

        impl MethodConfig {
            /// The official default configuration of a method.
            pub fn default_for(kind: MethodKind) -> Self {
                match kind {
                    $( $(#[$attr])* MethodKind::$variant => Self::$variant(Default::default()), )*
                }
            }

            /// Which method.
            pub fn kind(&self) -> MethodKind {
                match self {
                    $( $(#[$attr])* Self::$variant(_) => MethodKind::$variant, )*
                }
            }

            /// The method's checks that need no model ([`MethodSpec::validate`]).
            pub fn validate(&self) -> $crate::Result<()> {
                match self {
                    $( $(#[$attr])* Self::$variant(c) => c.validate(), )*
                }
            }

            /// The method's official recipe ([`MethodSpec::recipe`]).
            pub fn recipe(&mut self, protocol: Protocol, shots: usize) -> Recipe {
                match self {
                    $( $(#[$attr])* Self::$variant(c) => c.recipe(protocol, shots), )*
                }
            }

            /// Build the method ([`MethodSpec::build`]).
            fn build_method(
                &self,
                clip: &ClipModel,
                tokenizer: &ClipTokenizer,
                device: &Device,
            ) -> Result<Box<dyn AdaptMethod>> {
                match self {
                    $( $(#[$attr])* Self::$variant(c) => c.build(clip, tokenizer, device), )*
                }
            }
        }
    };
}

/// A prompt template must hold the class name's `{}`: `Err(ConfigValue)` names the key.
pub fn check_template(key: &str, template: &str) -> Result<()> {
    if !template.contains("{}") {
        return Err(crate::VladaptError::config_value(
            format!("method.{key}"),
            format!("{template:?}"),
            "a template with `{}` where the class name goes",
        ));
    }
    Ok(())
}
