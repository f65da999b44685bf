//! TransVG sizes (spec `mmca.md` §1): the ResNet trunk, the DETR encoder, BERT and the
//! visual-linguistic fusion. Presets: `transvg-r50`, `transvg-r101` (the official shapes) and
//! `tiny` (tests and the offline demo). Validated when parsed, before any tensor is touched.
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// torchvision bottleneck-v1.5 ResNet trunk (stride on the 3×3 conv; output stride 32).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Bottleneck blocks per stage (`[3, 4, 6, 3]` for ResNet-50, `[3, 4, 23, 3]` for -101).
    pub layers: [usize; 4],
    /// Channels of the 7×7 stem conv (64).
    pub stem_width: usize,
    /// Bottleneck width of `layer1` (64); stage `s` uses `base_planes << s`, its output is 4× that.
    pub base_planes: usize,
}

impl ResNetConfig {
    /// Bottleneck inner width of stage `s` (0-based).
    pub fn planes(&self, stage: usize) -> usize {
        self.base_planes << stage
    }
    /// Output channels of stage `s` (expansion 4).
    pub fn out_channels(&self, stage: usize) -> usize {
        4 * self.planes(stage)
    }
}

/// A post-norm transformer encoder (DETR encoder and TransVG fusion encoder, spec §1.2/§1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// Model width (256).
    pub d_model: usize,
    /// Attention heads (8).
    pub heads: usize,
    /// Feed-forward width (2048).
    pub ffn: usize,
    /// Layers (6).
    pub layers: usize,
}

/// BERT encoder sizes (`bert-base-uncased`: 30522 / 768 / 12 / 12 / 3072).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Intermediate (FFN) width.
    pub intermediate: usize,
    /// Position-embedding rows (512).
    pub max_position: usize,
    /// Token-type rows (2).
    pub type_vocab: usize,
    /// LayerNorm epsilon (1e-12).
    #[serde(default = "bert_eps")]
    pub eps: f64,
}

fn bert_eps() -> f64 {
    1e-12
}

/// The whole TransVG model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundingConfig {
    /// Visual trunk.
    pub resnet: ResNetConfig,
    /// DETR encoder over the trunk's tokens.
    pub detr: EncoderConfig,
    /// Language encoder.
    pub bert: BertConfig,
    /// Visual-linguistic fusion encoder (its `d_model` is the projection width, 256).
    pub fusion: EncoderConfig,
    /// Text length `L` including `[CLS]`/`[SEP]` (20, or 40 for RefCOCOg).
    pub max_query_len: usize,
    /// Square input canvas (640); must be a multiple of 32.
    pub image_size: usize,
    /// WordPiece `do_lower_case` (true for bert-base-uncased).
    #[serde(default = "yes")]
    pub lowercase: bool,
}

fn yes() -> bool {
    true
}

/// Preset names accepted by [`GroundingConfig::preset`].
pub const PRESETS: &[&str] = &["transvg-r50", "transvg-r101", "tiny"];

impl GroundingConfig {
    /// A named preset.
    pub fn preset(name: &str) -> Result<Self> {
        let transformer = EncoderConfig {
            d_model: 256,
            heads: 8,
            ffn: 2048,
            layers: 6,
        };
        let bert_base = BertConfig {
            vocab_size: 30522,
            hidden: 768,
            layers: 12,
            heads: 12,
            intermediate: 3072,
            max_position: 512,
            type_vocab: 2,
            eps: 1e-12,
        };
        let r50 = |layers| Self {
            resnet: ResNetConfig {
                layers,
                stem_width: 64,
                base_planes: 64,
            },
            detr: transformer.clone(),
            bert: bert_base.clone(),
            fusion: transformer.clone(),
            max_query_len: 20,
            image_size: 640,
            lowercase: true,
        };
        match name {
            "transvg-r50" => Ok(r50([3, 4, 6, 3])),
            "transvg-r101" => Ok(r50([3, 4, 23, 3])),
            "tiny" => {
                let small = EncoderConfig {
                    d_model: 32,
                    heads: 4,
                    ffn: 64,
                    layers: 2,
                };
                Ok(Self {
                    resnet: ResNetConfig {
                        layers: [1, 2, 2, 2],
                        stem_width: 8,
                        base_planes: 8,
                    },
                    detr: small.clone(),
                    bert: BertConfig {
                        vocab_size: 30522,
                        hidden: 32,
                        layers: 2,
                        heads: 4,
                        intermediate: 64,
                        max_position: 64,
                        type_vocab: 2,
                        eps: 1e-12,
                    },
                    fusion: small,
                    max_query_len: 20,
                    image_size: 128,
                    lowercase: true,
                })
            }
            other => Err(VladaptError::unknown_name(
                "grounding preset",
                other,
                PRESETS,
            )),
        }
    }

    /// Visual tokens `(image_size / 32)²` (400 at 640).
    pub fn visual_tokens(&self) -> usize {
        let side = self.image_size / 32;
        side * side
    }

    /// Fusion sequence length `1 + L + visual tokens` (421 for L = 20 at 640).
    pub fn fusion_len(&self) -> usize {
        1 + self.max_query_len + self.visual_tokens()
    }

    /// Check every size; `origin` names the file (or preset) in the error.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad =
            |field: &str, why: String| Err(VladaptError::config(origin, format!("{field}: {why}")));
        if self.image_size == 0 || !self.image_size.is_multiple_of(32) {
            return bad(
                "image_size",
                format!("{} is not a positive multiple of 32", self.image_size),
            );
        }
        if self.max_query_len < 2 {
            return bad(
                "max_query_len",
                format!("{} leaves no room for [CLS] and [SEP]", self.max_query_len),
            );
        }
        if self.max_query_len > self.bert.max_position {
            return bad(
                "max_query_len",
                format!(
                    "{} exceeds bert.max_position {}",
                    self.max_query_len, self.bert.max_position
                ),
            );
        }
        let r = &self.resnet;
        if r.layers.contains(&0) || r.stem_width == 0 || r.base_planes == 0 {
            return bad(
                "resnet",
                "every stage needs ≥ 1 block and widths must be positive".into(),
            );
        }
        for (field, e) in [("detr", &self.detr), ("fusion", &self.fusion)] {
            if e.d_model == 0 || e.heads == 0 || !e.d_model.is_multiple_of(e.heads) || e.ffn == 0 {
                return bad(
                    field,
                    format!(
                        "d_model {} must be a positive multiple of heads {} (ffn {})",
                        e.d_model, e.heads, e.ffn
                    ),
                );
            }
        }
        if !self.detr.d_model.is_multiple_of(2) {
            return bad(
                "detr.d_model",
                "the sine position embedding needs an even width".into(),
            );
        }
        let b = &self.bert;
        if b.hidden == 0
            || b.heads == 0
            || !b.hidden.is_multiple_of(b.heads)
            || b.vocab_size == 0
            || b.type_vocab == 0
        {
            return bad("bert", format!("hidden {} must be a positive multiple of heads {}; vocab and type_vocab positive", b.hidden, b.heads));
        }
        Ok(())
    }

    /// Read and validate a JSON config (the model directory's `grounding_config.json`).
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| VladaptError::io(path, e))?;
        let cfg: Self = serde_json::from_str(&text)
            .map_err(|e| VladaptError::config(path, format!("invalid grounding config: {e}")))?;
        cfg.validate(path)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_match_the_spec_token_counts() {
        for p in PRESETS {
            GroundingConfig::preset(p)
                .unwrap()
                .validate(Path::new(p))
                .unwrap();
        }
        let c = GroundingConfig::preset("transvg-r50").unwrap();
        // spec §1.4: 1 + 20 + 400 = 421 fusion tokens; ResNet-50 ends at 2048 channels.
        assert_eq!(c.fusion_len(), 421);
        assert_eq!(c.resnet.out_channels(3), 2048);
        assert!(GroundingConfig::preset("r18").is_err());
    }

    #[test]
    fn bad_sizes_are_named() {
        let mut c = GroundingConfig::preset("tiny").unwrap();
        c.detr.heads = 5;
        let e = c.validate(Path::new("cfg.json")).unwrap_err().to_string();
        assert!(e.contains("cfg.json") && e.contains("detr"), "{e}");
        let mut c = GroundingConfig::preset("tiny").unwrap();
        c.image_size = 100;
        assert!(c
            .validate(Path::new("x"))
            .unwrap_err()
            .to_string()
            .contains("image_size"));
    }
}
