//! CLIP configuration, read from a Hugging Face `config.json` or an OpenCLIP
//! `open_clip_config.json`. Defaults equal the Hugging Face defaults (ViT-B/32).
use super::config_fields::{self as fields, Unknown};
use crate::{Result, VladaptError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// MLP activation of the residual blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(1.702 x)` (OpenAI CLIP).
    QuickGelu,
    /// Exact (erf) GELU.
    Gelu,
}

impl Activation {
    fn parse(path: &Path, field: &str, s: &str) -> Result<Self> {
        match s {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" | "gelu_python" => Ok(Self::Gelu),
            other => Err(VladaptError::config(
                path,
                format!("{field}: unsupported activation `{other}` (quick_gelu, gelu)"),
            )),
        }
    }
}

/// Checkpoint layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `config.json` + `model.safetensors` (transformers `CLIPModel`).
    HuggingFace,
    /// `open_clip_config.json` + `open_clip_model.safetensors`.
    OpenClip,
}

/// Text tower dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Vocabulary size (49408).
    pub vocab_size: usize,
    /// Residual width (512 for ViT-B).
    pub width: usize,
    /// Number of residual blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden size.
    pub intermediate: usize,
    /// Context length (77).
    pub context_length: usize,
    /// MLP activation.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub eps: f64,
}

/// Vision tower dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Residual width (768 for ViT-B).
    pub width: usize,
    /// Number of residual blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden size.
    pub intermediate: usize,
    /// Input resolution.
    pub image_size: usize,
    /// Patch size (16 or 32 for ViT-B).
    pub patch_size: usize,
    /// MLP activation.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub eps: f64,
}

impl VisionConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// Tokens including the class token.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }
}

/// Full CLIP configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Text tower.
    pub text: TextConfig,
    /// Vision tower.
    pub vision: VisionConfig,
    /// Joint embedding dimension.
    pub projection_dim: usize,
    /// Layout the weights were read from.
    pub layout: Layout,
    /// Normalisation mean from the checkpoint (OpenCLIP `preprocess_cfg`), if any.
    pub image_mean: Option<[f32; 3]>,
    /// Normalisation std from the checkpoint, if any.
    pub image_std: Option<[f32; 3]>,
}

fn get_usize(
    path: &Path,
    obj: &serde_json::Value,
    key: &str,
    field: &str,
    default: usize,
) -> Result<usize> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| {
                VladaptError::config(
                    path,
                    format!("{field}.{key}: expected a positive integer, got {v}"),
                )
            }),
    }
}

fn get_f64(
    path: &Path,
    obj: &serde_json::Value,
    key: &str,
    field: &str,
    default: f64,
) -> Result<f64> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| {
            VladaptError::config(path, format!("{field}.{key}: expected a number, got {v}"))
        }),
    }
}

fn get_triple(path: &Path, obj: &serde_json::Value, key: &str) -> Result<Option<[f32; 3]>> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => {
            let arr = v.as_array().filter(|a| a.len() == 3).ok_or_else(|| {
                VladaptError::config(
                    path,
                    format!("preprocess_cfg.{key}: expected 3 numbers, got {v}"),
                )
            })?;
            let mut out = [0f32; 3];
            for (o, x) in out.iter_mut().zip(arr) {
                *o = x.as_f64().ok_or_else(|| {
                    VladaptError::config(path, format!("preprocess_cfg.{key}: not a number: {x}"))
                })? as f32;
            }
            Ok(Some(out))
        }
    }
}

/// `model_cfg.vision_cfg.layers` given as a list (`[3, 4, 6, 3]`): the image tower is a
/// `ModifiedResNet` with that many bottlenecks per stage; `None` for a ViT (a number).
fn resnet_layers(path: &Path, v: &serde_json::Value) -> Result<Option<Vec<usize>>> {
    let Some(serde_json::Value::Array(a)) = v.get("layers") else {
        return Ok(None);
    };
    let bad = || {
        VladaptError::config(
            path,
            format!(
                "model_cfg.vision_cfg.layers = {}: a ResNet tower takes four positive block counts",
                serde_json::Value::Array(a.clone())
            ),
        )
    };
    if a.len() != 4 {
        return Err(bad());
    }
    a.iter()
        .map(|n| {
            n.as_u64()
                .filter(|&n| n > 0)
                .map(|n| n as usize)
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The ResNet image-tower description of an OpenCLIP `open_clip_config.json`, `None` for a ViT.
pub fn open_clip_resnet(path: &Path) -> Result<Option<super::resnet::ResNetDims>> {
    let j = read_json(path)?;
    let empty = serde_json::json!({});
    let v = j
        .get("model_cfg")
        .and_then(|m| m.get("vision_cfg"))
        .unwrap_or(&empty);
    let Some(layers) = resnet_layers(path, v)? else {
        return Ok(None);
    };
    let cfg = ClipConfig::from_open_clip_json(path)?;
    Ok(Some(super::resnet::ResNetDims {
        layers,
        width: cfg.vision.width / 32,
        heads: cfg.vision.heads,
        image_size: cfg.vision.image_size,
    }))
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| VladaptError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| VladaptError::config(path, format!("invalid JSON: {e}")))
}

impl ClipConfig {
    /// Parse a Hugging Face `config.json` (transformers `CLIPConfig`; absent fields take the
    /// transformers defaults, as `save_pretrained` writes only non-default values).
    pub fn from_hf_json(path: &Path) -> Result<Self> {
        let j = read_json(path)?;
        let empty = serde_json::json!({});
        // transformers: the legacy `*_config_dict` entries update `*_config`.
        let merged = |a: &str, b: &str| {
            let mut m = j.get(a).cloned().unwrap_or_else(|| empty.clone());
            if let (Some(mo), Some(serde_json::Value::Object(d))) = (m.as_object_mut(), j.get(b)) {
                for (k, v) in d {
                    mo.insert(k.clone(), v.clone());
                }
            }
            m
        };
        let t = &merged("text_config", "text_config_dict");
        let v = &merged("vision_config", "vision_config_dict");
        let mut unknown = Vec::new();
        for (obj, section, table) in [
            (&j, "config", fields::HF_TOP),
            (t, "text_config", fields::HF_TEXT),
            (v, "vision_config", fields::HF_VISION),
        ] {
            unknown.extend(
                fields::check_fields(obj, section, table, fields::HF_GENERIC, Unknown::Report)
                    .map_err(|m| VladaptError::config(path, m))?,
            );
        }
        if !unknown.is_empty() {
            tracing::warn!(
                "{}: fields not in transformers' CLIPConfig, not used: {}",
                path.display(),
                unknown.join(", ")
            );
        }
        let text = TextConfig {
            vocab_size: get_usize(path, t, "vocab_size", "text_config", 49408)?,
            width: get_usize(path, t, "hidden_size", "text_config", 512)?,
            layers: get_usize(path, t, "num_hidden_layers", "text_config", 12)?,
            heads: get_usize(path, t, "num_attention_heads", "text_config", 8)?,
            intermediate: get_usize(path, t, "intermediate_size", "text_config", 2048)?,
            context_length: get_usize(path, t, "max_position_embeddings", "text_config", 77)?,
            activation: Activation::parse(
                path,
                "text_config.hidden_act",
                t.get("hidden_act")
                    .and_then(|s| s.as_str())
                    .unwrap_or("quick_gelu"),
            )?,
            eps: get_f64(path, t, "layer_norm_eps", "text_config", 1e-5)?,
        };
        let vision = VisionConfig {
            width: get_usize(path, v, "hidden_size", "vision_config", 768)?,
            layers: get_usize(path, v, "num_hidden_layers", "vision_config", 12)?,
            heads: get_usize(path, v, "num_attention_heads", "vision_config", 12)?,
            intermediate: get_usize(path, v, "intermediate_size", "vision_config", 3072)?,
            image_size: get_usize(path, v, "image_size", "vision_config", 224)?,
            patch_size: get_usize(path, v, "patch_size", "vision_config", 32)?,
            activation: Activation::parse(
                path,
                "vision_config.hidden_act",
                v.get("hidden_act")
                    .and_then(|s| s.as_str())
                    .unwrap_or("quick_gelu"),
            )?,
            eps: get_f64(path, v, "layer_norm_eps", "vision_config", 1e-5)?,
        };
        let cfg = Self {
            text,
            vision,
            projection_dim: get_usize(path, &j, "projection_dim", "", 512)?,
            layout: Layout::HuggingFace,
            image_mean: None,
            image_std: None,
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Parse an OpenCLIP `open_clip_config.json` (`model_cfg` + optional `preprocess_cfg`).
    pub fn from_open_clip_json(path: &Path) -> Result<Self> {
        let j = read_json(path)?;
        let m = j
            .get("model_cfg")
            .ok_or_else(|| VladaptError::config(path, "missing object field `model_cfg`"))?;
        let empty = serde_json::json!({});
        let v = m.get("vision_cfg").unwrap_or(&empty);
        let t = m.get("text_cfg").unwrap_or(&empty);
        for (obj, section, table) in [
            (m, "model_cfg", fields::OPEN_CLIP_MODEL),
            (v, "model_cfg.vision_cfg", fields::OPEN_CLIP_VISION),
            (t, "model_cfg.text_cfg", fields::OPEN_CLIP_TEXT),
        ] {
            fields::check_fields(obj, section, table, &[], Unknown::Refuse)
                .map_err(|msg| VladaptError::config(path, msg))?;
        }
        let resnet = resnet_layers(path, v)?;
        let act = if m
            .get("quick_gelu")
            .and_then(|b| b.as_bool())
            .unwrap_or(false)
        {
            Activation::QuickGelu
        } else {
            Activation::Gelu
        };
        let vwidth = get_usize(path, v, "width", "model_cfg.vision_cfg", 768)?;
        let head_width = get_usize(path, v, "head_width", "model_cfg.vision_cfg", 64)?;
        let vratio = get_f64(path, v, "mlp_ratio", "model_cfg.vision_cfg", 4.0)?;
        let twidth = get_usize(path, t, "width", "model_cfg.text_cfg", 512)?;
        let tratio = get_f64(path, t, "mlp_ratio", "model_cfg.text_cfg", 4.0)?;
        if resnet.is_none() && !vwidth.is_multiple_of(head_width) {
            return Err(VladaptError::config(path, format!("model_cfg.vision_cfg: width {vwidth} is not a multiple of head_width {head_width}")));
        }
        let image_size = match v.get("image_size") {
            Some(serde_json::Value::Array(a)) => match a.as_slice() {
                [h, w] if h == w && h.as_u64().is_some_and(|n| n > 0) => {
                    h.as_u64().unwrap_or(224) as usize
                }
                _ => {
                    return Err(VladaptError::config(
                        path,
                        format!("model_cfg.vision_cfg.image_size = {}: only square sizes (a number or [n, n]) are supported", serde_json::Value::Array(a.clone())),
                    ))
                }
            },
            _ => get_usize(path, v, "image_size", "model_cfg.vision_cfg", 224)?,
        };
        let text = TextConfig {
            vocab_size: get_usize(path, t, "vocab_size", "model_cfg.text_cfg", 49408)?,
            width: twidth,
            layers: get_usize(path, t, "layers", "model_cfg.text_cfg", 12)?,
            heads: get_usize(path, t, "heads", "model_cfg.text_cfg", 8)?,
            intermediate: (twidth as f64 * tratio) as usize,
            context_length: get_usize(path, t, "context_length", "model_cfg.text_cfg", 77)?,
            activation: act,
            eps: 1e-5,
        };
        let vision = match &resnet {
            // ModifiedResNet: the attention pool works at width 32·w on the (S/32)² grid, so
            // `width`/`heads`/`patch_size`/`tokens()` describe the pool; `layers` counts blocks.
            Some(blocks) => {
                if !image_size.is_multiple_of(32) {
                    return Err(VladaptError::config(path, format!("model_cfg.vision_cfg.image_size {image_size}: a ResNet image tower needs a multiple of 32")));
                }
                VisionConfig {
                    width: 32 * vwidth,
                    layers: blocks.iter().sum(),
                    heads: 32 * vwidth / head_width,
                    intermediate: 0,
                    image_size,
                    patch_size: 32,
                    activation: act,
                    eps: 1e-5,
                }
            }
            None => VisionConfig {
                width: vwidth,
                layers: get_usize(path, v, "layers", "model_cfg.vision_cfg", 12)?,
                heads: vwidth / head_width,
                intermediate: (vwidth as f64 * vratio) as usize,
                image_size,
                patch_size: get_usize(path, v, "patch_size", "model_cfg.vision_cfg", 16)?,
                activation: act,
                eps: 1e-5,
            },
        };
        let p = j.get("preprocess_cfg").unwrap_or(&empty);
        fields::check_fields(
            p,
            "preprocess_cfg",
            fields::OPEN_CLIP_PREPROCESS,
            &[],
            Unknown::Refuse,
        )
        .map_err(|msg| VladaptError::config(path, msg))?;
        if let Some(sz) = p.get("size").filter(|x| !x.is_null()) {
            let square = |n: &serde_json::Value| n.as_u64() == Some(image_size as u64);
            let same = square(sz)
                || sz
                    .as_array()
                    .is_some_and(|a| a.len() == 2 && a.iter().all(square));
            if !same {
                return Err(VladaptError::config(
                    path,
                    format!("preprocess_cfg.size = {sz} differs from model_cfg.vision_cfg.image_size {image_size}; not supported"),
                ));
            }
        }
        let cfg = Self {
            text,
            vision,
            projection_dim: get_usize(path, m, "embed_dim", "model_cfg", 512)?,
            layout: Layout::OpenClip,
            image_mean: get_triple(path, p, "mean")?,
            image_std: get_triple(path, p, "std")?,
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Check divisibility constraints, naming the field at fault.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if !self.text.width.is_multiple_of(self.text.heads) {
            return Err(VladaptError::config(
                path,
                format!(
                    "text: width {} not divisible by heads {}",
                    self.text.width, self.text.heads
                ),
            ));
        }
        if !self.vision.width.is_multiple_of(self.vision.heads) {
            return Err(VladaptError::config(
                path,
                format!(
                    "vision: width {} not divisible by heads {}",
                    self.vision.width, self.vision.heads
                ),
            ));
        }
        if !self
            .vision
            .image_size
            .is_multiple_of(self.vision.patch_size)
        {
            return Err(VladaptError::config(
                path,
                format!(
                    "vision: image_size {} not divisible by patch_size {}",
                    self.vision.image_size, self.vision.patch_size
                ),
            ));
        }
        Ok(())
    }
}
