//! MMCA's configuration (spec `mmca.md` §2, §5.2): sizes, placement, the gate and the
//! conditioning switches, and one documented switch per quirk of the official code.
//!
//! Presets ([`MmcaConfig::preset`]):
//! - `official` (the default): the computation of `models_mmca_vector_based` exactly — the GF
//!   block's visual pooling averages padded positions in, the transformer adapters pool a fixed
//!   window of 400 tokens, and the official (asymmetric) initialisation. Official checkpoints
//!   load and give the official boxes.
//! - `fixed`: pooling that respects the padding mask, global over `H·W` in the transformer
//!   adapters (any canvas size), same initialisation.
//! - the ablation variants of the grounding demo (spec §6.3 (b)–(f)), all on `fixed` so they run
//!   at any canvas size (the official 400-token window needs a 640² canvas):
//!   `mmca`, `mmca-no-gate` (`e = t'`), `static-lora` (no conditioning: `c ≡ 1`),
//!   `transformer-only`, `conv-only`.
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};

/// The window of the official transformer-adapter pooling (`F.avg_pool1d(…, 400)`).
pub const OFFICIAL_WINDOW: usize = 400;

/// Where the adapters go (spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// q/k of every DETR encoder layer and beside the last bottleneck of layer2–4 (official).
    Both,
    /// Only the q/k adapters of the DETR encoder.
    Transformer,
    /// Only the conv adapters of the ResNet.
    Conv,
}

impl Placement {
    /// Whether the DETR q/k adapters are built.
    pub fn transformer(self) -> bool {
        matches!(self, Placement::Both | Placement::Transformer)
    }
    /// Whether the ResNet conv adapters are built.
    pub fn conv(self) -> bool {
        matches!(self, Placement::Both | Placement::Conv)
    }
}

/// How the GF block pools the adapter's visual input into `v̄` (spec §2.2, quirk §5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisualPooling {
    /// Official: the mean over all positions, padded ones included.
    IncludePadding,
    /// Fixed: the mean over the real (non-padded) positions of the downsampled pixel mask
    /// (nearest sampling as `F.interpolate`); an all-padding sample pools to 0.
    Masked,
}

/// The token window of the transformer adapters' pooling (quirk §5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformerWindow {
    /// Official: `F.avg_pool1d(x, 400)` over the token axis. What PyTorch does with it: for
    /// `400 ≤ H·W < 800` one window, the mean of the **first 400** tokens (all of them at a
    /// 640² canvas); for `H·W < 400` PyTorch raises (window larger than the input) and for
    /// `H·W ≥ 800` the ≥ 2 windows fail to broadcast against the `H·W` tokens — both are an
    /// error here, before the forward runs.
    Official400,
    /// Fixed: all `H·W` tokens (any canvas).
    Global,
}

/// Initialisation of the adapter tensors (spec §2.3–2.4, quirk §5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdapterInit {
    /// Official: transformer adapters xavier-uniform on every ≥ 2-D tensor (DETR's
    /// `_reset_parameters` runs after they are built, so `W_c` is xavier too), conv adapters
    /// PyTorch's default `U(±1/√fan_in)` with `W_c = 0`; `b_c = 1` everywhere; the up-projection
    /// `U` is **not** zero, so each adapter perturbs the pretrained features at step 0.
    Official,
    /// As official but `U = 0` (weights and bias): the adapted model equals TransVG at step 0,
    /// as in standard LoRA.
    ZeroUp,
}

/// MMCA's configuration. Validated when parsed ([`MmcaConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MmcaConfigUnchecked", rename_all = "kebab-case")]
pub struct MmcaConfig {
    /// Rank `r` of every adapter (official: `d_model / 4` = 64).
    pub rank: usize,
    /// Width of the multimodal embedding `e` (official: 128).
    pub embed_dim: usize,
    /// Hidden width of the gate MLP (official: `embed_dim / 4` = 32).
    pub gate_hidden: usize,
    /// Where the adapters go.
    pub placement: Placement,
    /// The gate: `e = t' + σ(g(v̄ + t')) ⊙ v̄` (on) or `e = t'` (off; no `P_v`, no gate MLP).
    pub gate: bool,
    /// Text conditioning: `c = e·W_c + b_c` (on) or `c ≡ 1`, a static low-rank update `U·D`
    /// (off; no GF block, no `W_c`/`b_c`). Off requires `gate = false`.
    pub conditioning: bool,
    /// GF-block pooling over padding.
    pub visual_pooling: VisualPooling,
    /// Token window of the transformer adapters' pooling.
    pub transformer_window: TransformerWindow,
    /// Initialisation of adapter tensors not found in the weights.
    pub init: AdapterInit,
    /// Seed of that initialisation.
    pub init_seed: u64,
}

impl Default for MmcaConfig {
    /// The `official` preset.
    fn default() -> Self {
        Self {
            rank: 64,
            embed_dim: 128,
            gate_hidden: 32,
            placement: Placement::Both,
            gate: true,
            conditioning: true,
            visual_pooling: VisualPooling::IncludePadding,
            transformer_window: TransformerWindow::Official400,
            init: AdapterInit::Official,
            init_seed: 0,
        }
    }
}

/// Names accepted by [`MmcaConfig::preset`].
pub const MMCA_PRESETS: &[&str] = &[
    "official",
    "fixed",
    "mmca",
    "mmca-no-gate",
    "static-lora",
    "transformer-only",
    "conv-only",
];

impl MmcaConfig {
    /// A named preset (see the module docs).
    pub fn preset(name: &str) -> Result<Self> {
        let official = Self::default();
        let fixed = Self {
            visual_pooling: VisualPooling::Masked,
            transformer_window: TransformerWindow::Global,
            ..official.clone()
        };
        Ok(match name {
            "official" => official,
            "fixed" | "mmca" => fixed,
            "mmca-no-gate" => Self {
                gate: false,
                ..fixed
            },
            "static-lora" => Self {
                gate: false,
                conditioning: false,
                ..fixed
            },
            "transformer-only" => Self {
                placement: Placement::Transformer,
                ..fixed
            },
            "conv-only" => Self {
                placement: Placement::Conv,
                ..fixed
            },
            other => {
                return Err(VladaptError::unknown_name(
                    "MMCA preset",
                    other,
                    MMCA_PRESETS,
                ))
            }
        })
    }

    /// Reject impossible combinations (names the field).
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("rank", self.rank),
            ("embed-dim", self.embed_dim),
            ("gate-hidden", self.gate_hidden),
        ] {
            if v == 0 {
                return Err(VladaptError::config_value(
                    format!("MMCA config: {key}"),
                    v,
                    "a positive integer",
                ));
            }
        }
        if self.gate && !self.conditioning {
            return Err(VladaptError::config_value(
                "MMCA config: gate",
                true,
                "false when conditioning = false (c ≡ 1 ignores the embedding, so the gate has \
                 no effect)",
            ));
        }
        Ok(())
    }
}

/// The serde form before validation.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct MmcaConfigUnchecked {
    rank: usize,
    embed_dim: usize,
    gate_hidden: usize,
    placement: Placement,
    gate: bool,
    conditioning: bool,
    visual_pooling: VisualPooling,
    transformer_window: TransformerWindow,
    init: AdapterInit,
    init_seed: u64,
}

impl Default for MmcaConfigUnchecked {
    fn default() -> Self {
        let d = MmcaConfig::default();
        Self {
            rank: d.rank,
            embed_dim: d.embed_dim,
            gate_hidden: d.gate_hidden,
            placement: d.placement,
            gate: d.gate,
            conditioning: d.conditioning,
            visual_pooling: d.visual_pooling,
            transformer_window: d.transformer_window,
            init: d.init,
            init_seed: d.init_seed,
        }
    }
}

impl TryFrom<MmcaConfigUnchecked> for MmcaConfig {
    type Error = VladaptError;
    fn try_from(u: MmcaConfigUnchecked) -> Result<Self> {
        let c = Self {
            rank: u.rank,
            embed_dim: u.embed_dim,
            gate_hidden: u.gate_hidden,
            placement: u.placement,
            gate: u.gate,
            conditioning: u.conditioning,
            visual_pooling: u.visual_pooling,
            transformer_window: u.transformer_window,
            init: u.init,
            init_seed: u.init_seed,
        };
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_differ_where_documented() {
        for p in MMCA_PRESETS {
            MmcaConfig::preset(p).unwrap().validate().unwrap();
        }
        assert_eq!(
            MmcaConfig::preset("official").unwrap(),
            MmcaConfig::default()
        );
        let f = MmcaConfig::preset("fixed").unwrap();
        assert_eq!(f.visual_pooling, VisualPooling::Masked);
        assert_eq!(f.transformer_window, TransformerWindow::Global);
        let s = MmcaConfig::preset("static-lora").unwrap();
        assert!(!s.conditioning && !s.gate);
        assert!(MmcaConfig::preset("lora").is_err());
    }

    #[test]
    fn parsed_configs_are_validated_and_unknown_fields_named() {
        let c: MmcaConfig = serde_json::from_str(r#"{"rank": 8, "placement": "conv"}"#).unwrap();
        assert_eq!(
            (c.rank, c.placement, c.embed_dim),
            (8, Placement::Conv, 128)
        );
        let e = serde_json::from_str::<MmcaConfig>(r#"{"rank": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank"), "{e}");
        let e = serde_json::from_str::<MmcaConfig>(r#"{"conditioning": false}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gate"), "{e}");
        let e = serde_json::from_str::<MmcaConfig>(r#"{"ranks": 4}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ranks"), "{e}");
    }
}
