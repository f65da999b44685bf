//! Method configurations. Defaults equal the official configs (methods.md §2).
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};

/// The methods vladapt implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// Zero-shot CLIP (hand-written templates, optional ensemble).
    Zeroshot,
    /// L2-regularised logistic regression on frozen image features.
    LinearProbe,
    /// CoOp: learned context tokens.
    Coop,
    /// CoCoOp: context conditioned on the image by a meta-net.
    Cocoop,
    /// CLIP-Adapter: residual bottleneck on the image feature.
    ClipAdapter,
    /// MaPLe: coupled deep text and vision prompts.
    Maple,
    /// MMA: multi-modal adapters on the higher blocks of both towers.
    Mma,
}

impl MethodKind {
    /// All methods, in the order the papers' tables list them.
    pub const ALL: [MethodKind; 7] = [
        Self::Zeroshot,
        Self::LinearProbe,
        Self::Coop,
        Self::Cocoop,
        Self::ClipAdapter,
        Self::Maple,
        Self::Mma,
    ];

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Zeroshot => "zeroshot",
            Self::LinearProbe => "linear-probe",
            Self::Coop => "coop",
            Self::Cocoop => "cocoop",
            Self::ClipAdapter => "clip-adapter",
            Self::Maple => "maple",
            Self::Mma => "mma",
        }
    }

    /// Parse a CLI name; unknown names list the known ones.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s || k.name().replace('-', "_") == s)
            .ok_or_else(|| {
                VladaptError::Invalid(format!(
                    "unknown method `{s}` (known: {})",
                    Self::ALL.map(|k| k.name()).join(", ")
                ))
            })
    }
}

impl std::fmt::Display for MethodKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the class-name tokens go relative to the learned context (CoOp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassTokenPosition {
    /// `[SOT][ctx][class].`
    End,
    /// `[SOT][ctx/2][class][ctx/2].`
    Middle,
    /// `[SOT][class][ctx].`
    Front,
}

/// Zero-shot CLIP.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZeroShotConfig {
    /// Templates to ensemble; empty = the dataset's template.
    pub templates: Vec<String>,
}

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

/// CoOp (Zhou et al., IJCV 2022).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoopConfig {
    /// Context length M (ignored when `ctx_init` is set: M = its word count).
    pub n_ctx: usize,
    /// Initialise the context from these words (e.g. "a photo of a"); `None` = N(0, 0.02²).
    pub ctx_init: Option<String>,
    /// Class-specific context (CSC).
    pub csc: bool,
    /// Class token position.
    pub class_token_position: ClassTokenPosition,
}

impl Default for CoopConfig {
    fn default() -> Self {
        Self {
            n_ctx: 16,
            ctx_init: None,
            csc: false,
            class_token_position: ClassTokenPosition::End,
        }
    }
}

/// CoCoOp (Zhou et al., CVPR 2022).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CocoopConfig {
    /// Context length.
    pub n_ctx: usize,
    /// Context initialisation words.
    pub ctx_init: Option<String>,
}

impl Default for CocoopConfig {
    fn default() -> Self {
        Self {
            n_ctx: 4,
            ctx_init: Some("a photo of a".into()),
        }
    }
}

/// CLIP-Adapter (Gao et al., IJCV 2023).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipAdapterConfig {
    /// Bottleneck reduction (C → C/r → C).
    pub reduction: usize,
    /// Residual ratio α: `f' = α·A(f) + (1−α)·f`.
    pub ratio: f64,
    /// Also adapt the text feature (described in the paper, absent from the official code).
    pub text_adapter: bool,
}

impl Default for ClipAdapterConfig {
    fn default() -> Self {
        Self {
            reduction: 4,
            ratio: 0.2,
            text_adapter: false,
        }
    }
}

/// MaPLe (Khattak et al., CVPR 2023).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapleConfig {
    /// Prompt tokens per layer.
    pub n_ctx: usize,
    /// Template whose first `n_ctx` words are replaced by the learned context.
    pub ctx_init: String,
    /// Prompt depth J (layers 1..J get prompts; 9 base-to-novel, 3 cross-dataset).
    pub depth: usize,
}

impl Default for MapleConfig {
    fn default() -> Self {
        Self {
            n_ctx: 2,
            ctx_init: "a photo of a".into(),
            depth: 9,
        }
    }
}

/// MMA (Yang et al., CVPR 2024).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MmaConfig {
    /// First adapted block, 1-based (5 base-to-novel, 9 cross-dataset).
    pub adapter_start: usize,
    /// Last adapted block, 1-based inclusive (`0` = the last block).
    pub adapter_end: usize,
    /// Bottleneck width.
    pub dim: usize,
    /// Branch scale α.
    pub alpha: f64,
    /// Fixed text template.
    pub template: String,
}

impl Default for MmaConfig {
    fn default() -> Self {
        Self {
            adapter_start: 5,
            adapter_end: 0,
            dim: 32,
            alpha: 0.001,
            template: "a photo of a {}.".into(),
        }
    }
}

/// A method with its hyper-parameters (the `[method]` table of a run config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum MethodConfig {
    /// Zero-shot CLIP.
    Zeroshot(ZeroShotConfig),
    /// Linear probe.
    LinearProbe(LinearProbeConfig),
    /// CoOp.
    Coop(CoopConfig),
    /// CoCoOp.
    Cocoop(CocoopConfig),
    /// CLIP-Adapter.
    ClipAdapter(ClipAdapterConfig),
    /// MaPLe.
    Maple(MapleConfig),
    /// MMA.
    Mma(MmaConfig),
}

impl MethodConfig {
    /// The official default configuration of a method.
    pub fn default_for(kind: MethodKind) -> Self {
        match kind {
            MethodKind::Zeroshot => Self::Zeroshot(Default::default()),
            MethodKind::LinearProbe => Self::LinearProbe(Default::default()),
            MethodKind::Coop => Self::Coop(Default::default()),
            MethodKind::Cocoop => Self::Cocoop(Default::default()),
            MethodKind::ClipAdapter => Self::ClipAdapter(Default::default()),
            MethodKind::Maple => Self::Maple(Default::default()),
            MethodKind::Mma => Self::Mma(Default::default()),
        }
    }

    /// Which method.
    pub fn kind(&self) -> MethodKind {
        match self {
            Self::Zeroshot(_) => MethodKind::Zeroshot,
            Self::LinearProbe(_) => MethodKind::LinearProbe,
            Self::Coop(_) => MethodKind::Coop,
            Self::Cocoop(_) => MethodKind::Cocoop,
            Self::ClipAdapter(_) => MethodKind::ClipAdapter,
            Self::Maple(_) => MethodKind::Maple,
            Self::Mma(_) => MethodKind::Mma,
        }
    }
}
