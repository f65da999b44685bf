//! A CLIP with its tokenizer and preprocessing: text/image in, normalised embeddings out.
use super::load::{detect, load_clip};
use super::model::{l2_normalize, ClipModel};
use super::{Layout, NoHook};
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use vladapt_image::{ImageLimits, Preprocess};
use vladapt_tokenizer::ClipTokenizer;

/// Model + tokenizer + test-time preprocessing, as loaded from one model directory.
pub struct ClipPipeline {
    /// The frozen model.
    pub model: ClipModel,
    /// Tokenizer (from the directory's tokenizer files, else the embedded OpenAI vocabulary).
    pub tokenizer: ClipTokenizer,
    /// Test-time preprocessing (from `preprocessor_config.json` / `preprocess_cfg`).
    pub preprocess: Preprocess,
    /// Decoder pixel budget.
    pub limits: ImageLimits,
    /// Device the model lives on.
    pub device: Device,
    /// The model directory.
    pub dir: PathBuf,
}

impl ClipPipeline {
    /// Load everything from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let files = detect(dir)?;
        let model = load_clip(dir, device)?;
        let (tokenizer, source) = ClipTokenizer::from_dir(dir)?;
        tracing::info!("tokenizer: {source}");
        let size = model.config.vision.image_size as u32;
        let preprocess = match files.layout {
            Layout::HuggingFace if dir.join("preprocessor_config.json").is_file() => {
                Preprocess::from_hf_config(&dir.join("preprocessor_config.json"))?
            }
            _ => Preprocess::from_open_clip(size, model.config.image_mean, model.config.image_std),
        };
        if preprocess.crop != (size, size) {
            return Err(VladaptError::config(
                dir.join("preprocessor_config.json"),
                format!(
                    "crop_size {:?} differs from the model's image_size {size}",
                    preprocess.crop
                ),
            ));
        }
        Ok(Self {
            model,
            tokenizer,
            preprocess,
            limits: ImageLimits::default(),
            device: device.clone(),
            dir: dir.to_path_buf(),
        })
    }

    /// Tokenize to the model's context length.
    pub fn tokenize(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        self.tokenizer
            .tokenize_batch(texts, self.model.config.text.context_length)
    }

    /// Normalised text embeddings `[N, proj]` (frozen CLIP).
    pub fn text_features(&self, texts: &[&str]) -> Result<Tensor<2>> {
        Ok(l2_normalize(
            self.model.encode_text(&self.tokenize(texts), &NoHook)?,
        ))
    }

    /// Decode and preprocess images in parallel → `[B, 3, S, S]`.
    pub fn load_pixels(&self, paths: &[PathBuf]) -> Result<Tensor<4>> {
        let chw: Vec<Vec<f32>> = paths
            .par_iter()
            .map(|p| self.preprocess.load(p, &self.limits))
            .collect::<std::result::Result<_, _>>()?;
        Ok(self.pixels_from_chw(chw))
    }

    /// Stack preprocessed CHW images into `[B, 3, S, S]` on the model's device.
    pub fn pixels_from_chw(&self, chw: Vec<Vec<f32>>) -> Tensor<4> {
        let b = chw.len();
        self.pixels_from_flat(chw.into_iter().flatten().collect(), b)
    }

    /// `b` preprocessed CHW images, concatenated (the loader's batch layout) → `[B, 3, S, S]`.
    pub fn pixels_from_flat(&self, flat: Vec<f32>, b: usize) -> Tensor<4> {
        let s = self.model.config.vision.image_size;
        Tensor::from_data(TensorData::new(flat, [b, 3, s, s]), &self.device)
    }

    /// Normalised image embeddings `[B, proj]` of preprocessed pixels `[B, 3, S, S]` (frozen CLIP).
    pub fn image_embeddings(&self, pixels: Tensor<4>) -> Result<Tensor<2>> {
        Ok(l2_normalize(self.model.encode_image(pixels, &NoHook)?))
    }

    /// Normalised embeddings of texts, batched, as host vectors.
    pub fn embed_texts(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch.max(1)) {
            let refs: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            out.extend(rows(&self.text_features(&refs)?));
        }
        Ok(out)
    }

    /// Normalised embeddings of image files, batched, as host vectors.
    pub fn embed_images(&self, paths: &[PathBuf], batch: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(batch.max(1)) {
            out.extend(rows(&self.image_embeddings(self.load_pixels(chunk)?)?));
        }
        Ok(out)
    }

    /// Zero-shot classifier weights `[C, proj]` (prompt ensemble over `templates`).
    pub fn zero_shot_weights(&self, classes: &[String], templates: &[String]) -> Result<Tensor<2>> {
        super::zero_shot::ensemble_text_features(&self.model, &self.tokenizer, classes, templates)
    }
}

/// Host copy of the rows of `[N, D]`.
pub fn rows(t: &Tensor<2>) -> Vec<Vec<f32>> {
    let [_, d] = t.dims();
    to_vec_f32(t).chunks(d.max(1)).map(|c| c.to_vec()).collect()
}
