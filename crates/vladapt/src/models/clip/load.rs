//! Loading a CLIP from a directory in the Hugging Face or OpenCLIP layout. The files present
//! decide the layout; every tensor is checked against the configuration.
use super::config::{ClipConfig, Layout};
use super::model::{ClipModel, ImageTower};
use super::resnet::ResNetTower;
use super::text::TextTower;
use super::vision::VisionTower;
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
            dir: dir.into(),
            reason: "this is a file; --model takes the model's directory (the one holding \
                     config.json + model.safetensors or open_clip_config.json + \
                     open_clip_model.safetensors)"
                .into(),
        });
    }
    if !dir.is_dir() {
        return Err(VladaptError::NotAModel {
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
            return Err(VladaptError::NotAModel { dir: dir.into(), reason: format!("only the pickled {p} is present; vladapt loads safetensors only (pickles can run code). Convert it: python -c \"import torch,safetensors.torch as s; s.save_file(torch.load('{p}'), 'open_clip_model.safetensors')\"") });
        }
        return Err(VladaptError::NotAModel {
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
            return Err(VladaptError::NotAModel { dir: dir.into(), reason: format!("only the pickled {p} is present; vladapt loads safetensors only (pickles can run code). Convert with transformers: CLIPModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)") });
        }
        return Err(VladaptError::NotAModel {
            dir: dir.into(),
            reason: "config.json found but model.safetensors is missing".into(),
        });
    }
    Err(VladaptError::NotAModel { dir: dir.into(), reason: "expected config.json + model.safetensors (Hugging Face) or open_clip_config.json + open_clip_model.safetensors (OpenCLIP)".into() })
}

/// Tensors that checkpoints carry but the model does not need (buffers).
fn ignorable(name: &str) -> bool {
    name.ends_with("position_ids") || name == "attn_mask" || name.ends_with("num_batches_tracked")
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
    let p = config.projection_dim;
    let (text, vision) = match files.layout {
        Layout::HuggingFace => (
            TextTower::load_hf(&store, &config.text, p, device)?,
            ImageTower::Vit(VisionTower::load_hf(&store, &config.vision, p, device)?),
        ),
        Layout::OpenClip => (
            TextTower::load_open_clip(&store, &config.text, p, device)?,
            match super::config::open_clip_resnet(&files.config)? {
                Some(dims) => {
                    ImageTower::ResNet(ResNetTower::load_open_clip(&store, &dims, p, device)?)
                }
                None => ImageTower::Vit(VisionTower::load_open_clip(
                    &store,
                    &config.vision,
                    p,
                    device,
                )?),
            },
        ),
    };
    let logit_scale = store.get_f32("logit_scale", &[])?[0];
    let unused: Vec<String> = store
        .unused()
        .into_iter()
        .filter(|n| !ignorable(n))
        .collect();
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
