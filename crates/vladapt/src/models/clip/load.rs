//! Loading a CLIP from a directory in the Hugging Face or OpenCLIP layout. The files present
//! decide the layout; every tensor is checked against the configuration.
use super::config::{ClipConfig, Layout};
use super::model::{ClipModel, ImageTower};
use super::resnet::ResNetTower;
use super::text::TextTower;
use super::vision::VisionTower;
use crate::models::keymap::{KeyMap, Renamed};
use crate::tensor_io::WeightStore;
use crate::{Result, VladaptError};
use burn::tensor::Device;
use std::path::{Path, PathBuf};

/// Where a model directory's config and weights are.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// Layout.
    pub layout: Layout,
    /// `config.json` or `open_clip_config.json`.
    pub config: PathBuf,
    /// `model.safetensors`, `model.safetensors.index.json` or `open_clip_model.safetensors`.
    pub weights: PathBuf,
}

/// Inspect `dir` and decide its layout.
pub fn detect(dir: &Path) -> Result<ModelFiles> {
    if dir.is_file() {
        return Err(VladaptError::NotAModel {
            kind: "CLIP",
            dir: dir.into(),
            reason: "this is a file; --model takes the model's directory (the one holding \
                     config.json + model.safetensors or open_clip_config.json + \
                     open_clip_model.safetensors)"
                .into(),
        });
    }
    if !dir.is_dir() {
        return Err(VladaptError::NotAModel {
            kind: "CLIP",
            dir: dir.into(),
            reason: "directory does not exist".into(),
        });
    }
    let has = |f: &str| dir.join(f).is_file();
    let pickled =
        |files: &[&str]| -> Option<String> { files.iter().find(|f| has(f)).map(|f| f.to_string()) };
    if has("open_clip_config.json") {
        if has("open_clip_model.safetensors") {
            return Ok(ModelFiles {
                layout: Layout::OpenClip,
                config: dir.join("open_clip_config.json"),
                weights: dir.join("open_clip_model.safetensors"),
            });
        }
        if let Some(p) = pickled(&["open_clip_pytorch_model.bin"]) {
            return Err(VladaptError::NotAModel { kind: "CLIP", dir: dir.into(), reason: format!("only the pickled {p} is present; vladapt loads safetensors only (pickles can run code). Convert it: python -c \"import torch,safetensors.torch as s; s.save_file(torch.load('{p}'), 'open_clip_model.safetensors')\"") });
        }
        return Err(VladaptError::NotAModel {
            kind: "CLIP",
            dir: dir.into(),
            reason: "open_clip_config.json found but open_clip_model.safetensors is missing".into(),
        });
    }
    if has("config.json") {
        for w in ["model.safetensors", "model.safetensors.index.json"] {
            if has(w) {
                return Ok(ModelFiles {
                    layout: Layout::HuggingFace,
                    config: dir.join("config.json"),
                    weights: dir.join(w),
                });
            }
        }
        if let Some(p) = pickled(&["pytorch_model.bin"]) {
            return Err(VladaptError::NotAModel { kind: "CLIP", dir: dir.into(), reason: format!("only the pickled {p} is present; vladapt loads safetensors only (pickles can run code). Convert with transformers: CLIPModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)") });
        }
        return Err(VladaptError::NotAModel {
            kind: "CLIP",
            dir: dir.into(),
            reason: "config.json found but model.safetensors is missing".into(),
        });
    }
    Err(VladaptError::NotAModel { kind: "CLIP", dir: dir.into(), reason: "expected config.json + model.safetensors (Hugging Face) or open_clip_config.json + open_clip_model.safetensors (OpenCLIP)".into() })
}

/// Tensors that checkpoints carry but the model does not need (buffers).
fn ignorable(name: &str) -> bool {
    name.ends_with("position_ids") || name == "attn_mask" || name.ends_with("num_batches_tracked")
}

/// The rename table of `layout` onto the canonical (OpenAI/OpenCLIP) names the towers read:
/// OpenCLIP files already use them; a Hugging Face `CLIPModel` file is renamed tower by tower
/// and then inside each residual block (`self_attn.{q,k,v}_proj` become `attn.{q,k,v}_proj`,
/// which [`ResidualBlock::load`](super::layers::ResidualBlock::load) packs).
pub fn key_map(layout: Layout) -> Result<KeyMap> {
    match layout {
        Layout::OpenClip => KeyMap::new("OpenCLIP", &[]),
        Layout::HuggingFace => KeyMap::new(
            "Hugging Face",
            &[
                (
                    r"^text_model\.embeddings\.token_embedding\.",
                    "token_embedding.",
                ),
                (
                    r"^text_model\.embeddings\.position_embedding\.weight$",
                    "positional_embedding",
                ),
                (r"^text_model\.encoder\.layers\.", "transformer.resblocks."),
                (r"^text_model\.final_layer_norm\.", "ln_final."),
                (
                    r"^vision_model\.embeddings\.patch_embedding\.",
                    "visual.conv1.",
                ),
                (
                    r"^vision_model\.embeddings\.class_embedding$",
                    "visual.class_embedding",
                ),
                (
                    r"^vision_model\.embeddings\.position_embedding\.weight$",
                    "visual.positional_embedding",
                ),
                (r"^vision_model\.pre_layrnorm\.", "visual.ln_pre."),
                (
                    r"^vision_model\.encoder\.layers\.",
                    "visual.transformer.resblocks.",
                ),
                (r"^vision_model\.post_layernorm\.", "visual.ln_post."),
                (r"^visual_projection\.", "visual.proj."),
                (r"(resblocks\.\d+)\.layer_norm([12])\.", "$1.ln_$2."),
                (r"(resblocks\.\d+)\.self_attn\.", "$1.attn."),
                (r"(resblocks\.\d+)\.mlp\.fc1\.", "$1.mlp.c_fc."),
                (r"(resblocks\.\d+)\.mlp\.fc2\.", "$1.mlp.c_proj."),
            ],
        ),
    }
}

/// Load a CLIP from `dir` onto `device`.
pub fn load_clip(dir: &Path, device: &Device) -> Result<ClipModel> {
    let files = detect(dir)?;
    let config = match files.layout {
        Layout::HuggingFace => ClipConfig::from_hf_json(&files.config)?,
        Layout::OpenClip => ClipConfig::from_open_clip_json(&files.config)?,
    };
    let store = if files.weights.extension().is_some_and(|e| e == "json") {
        WeightStore::open_index(&files.weights)?
    } else {
        WeightStore::open(&files.weights)?
    };
    let weights = Renamed::new(store, &key_map(files.layout)?)?;
    let root = weights.root();
    let p = config.projection_dim;
    let text = TextTower::load(&root, &config.text, p, device)?;
    let visual = root.pp("visual");
    let resnet = match files.layout {
        Layout::OpenClip => super::config::open_clip_resnet(&files.config)?,
        Layout::HuggingFace => None,
    };
    let vision = match resnet {
        Some(dims) => ImageTower::ResNet(ResNetTower::load(&visual, &dims, p, device)?),
        None => ImageTower::Vit(VisionTower::load(&visual, &config.vision, p, device)?),
    };
    let logit_scale = root.tensor::<1>("logit_scale", [1], device)?;
    let logit_scale = crate::tensor_io::to_vec_f32(&logit_scale)[0];
    let unused = weights.unexpected(ignorable);
    if !unused.is_empty() {
        tracing::warn!(
            "{}: {} unexpected tensors ignored: {}",
            files.weights.display(),
            unused.len(),
            unused
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ClipModel {
        text,
        vision,
        logit_scale,
        config,
    })
}
