//! Saving a [`ClipModel`] in the Hugging Face layout (`config.json`, `model.safetensors`,
//! tokenizer files, `preprocessor_config.json`), readable by [`super::load_clip`] /
//! [`super::ClipPipeline::load`] and by `transformers.CLIPModel.from_pretrained`.
//!
//! The internal layout (linear weights `[in, out]`, packed q|k|v, flattened patch conv) is
//! converted back to PyTorch's (`[out, in]`, separate `q_proj`/`k_proj`/`v_proj`,
//! `patch_embedding` `[D, 3, p, p]`, scalar `logit_scale`) here only.
use super::config::Activation;
use super::layers::{LayerNorm, Linear, ResidualBlock};
use super::model::ClipModel;
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, write_atomic};
use crate::{Result, VladaptError};
use std::path::{Path, PathBuf};
use vladapt_image::{CLIP_MEAN, CLIP_STD};
use vladapt_tokenizer::ClipTokenizer;

type Named = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Row-major transpose of `[r, c]` → `[c, r]`.
fn transpose(v: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = v[i * c + j];
        }
    }
    out
}

fn act_name(a: Activation) -> &'static str {
    match a {
        Activation::QuickGelu => "quick_gelu",
        Activation::Gelu => "gelu",
    }
}

fn push_ln(out: &mut Named, prefix: &str, ln: &LayerNorm) {
    let d = ln.weight.dims()[0];
    out.push((format!("{prefix}.weight"), vec![d], to_vec_f32(&ln.weight)));
    out.push((format!("{prefix}.bias"), vec![d], to_vec_f32(&ln.bias)));
}

/// `nn.Linear` tensors from an internal `[in, out]` linear.
fn push_linear(out: &mut Named, prefix: &str, l: &Linear) {
    let [i, o] = l.weight.dims();
    out.push((
        format!("{prefix}.weight"),
        vec![o, i],
        transpose(&to_vec_f32(&l.weight), i, o),
    ));
    if let Some(b) = &l.bias {
        out.push((format!("{prefix}.bias"), vec![o], to_vec_f32(b)));
    }
}

fn push_block(out: &mut Named, prefix: &str, b: &ResidualBlock) {
    push_ln(out, &format!("{prefix}.layer_norm1"), &b.ln_1);
    let [d, d3] = b.attn.qkv.weight.dims();
    debug_assert_eq!(d3, 3 * d);
    // [d, 3d] (in, out) → [3d, d] (out, in): rows q | k | v.
    let w = transpose(&to_vec_f32(&b.attn.qkv.weight), d, 3 * d);
    let bias = b
        .attn
        .qkv
        .bias
        .as_ref()
        .map(to_vec_f32)
        .unwrap_or_else(|| vec![0.0; 3 * d]);
    for (k, name) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
        out.push((
            format!("{prefix}.self_attn.{name}.weight"),
            vec![d, d],
            w[k * d * d..(k + 1) * d * d].to_vec(),
        ));
        out.push((
            format!("{prefix}.self_attn.{name}.bias"),
            vec![d],
            bias[k * d..(k + 1) * d].to_vec(),
        ));
    }
    push_linear(out, &format!("{prefix}.self_attn.out_proj"), &b.attn.out);
    push_ln(out, &format!("{prefix}.layer_norm2"), &b.ln_2);
    push_linear(out, &format!("{prefix}.mlp.fc1"), &b.fc1);
    push_linear(out, &format!("{prefix}.mlp.fc2"), &b.fc2);
}

impl ClipModel {
    /// All weights under their Hugging Face `CLIPModel` names and layouts.
    pub fn hf_tensors(&self) -> Result<Named> {
        let mut out: Named = Vec::new();
        let t = &self.text;
        let tc = &t.config;
        let p = self.config.projection_dim;
        out.push((
            "text_model.embeddings.token_embedding.weight".into(),
            vec![tc.vocab_size, tc.width],
            to_vec_f32(&t.token_embedding),
        ));
        out.push((
            "text_model.embeddings.position_embedding.weight".into(),
            vec![tc.context_length, tc.width],
            to_vec_f32(&t.position_embedding),
        ));
        for (i, b) in t.blocks.iter().enumerate() {
            push_block(&mut out, &format!("text_model.encoder.layers.{i}"), b);
        }
        push_ln(&mut out, "text_model.final_layer_norm", &t.ln_final);
        out.push((
            "text_projection.weight".into(),
            vec![p, tc.width],
            transpose(&to_vec_f32(&t.projection), tc.width, p),
        ));
        let v = self.vision.vit_for("saving in the Hugging Face layout")?;
        let vc = &v.config;
        let ps = vc.patch_size;
        out.push((
            "vision_model.embeddings.patch_embedding.weight".into(),
            vec![vc.width, 3, ps, ps],
            transpose(&to_vec_f32(&v.patch_weight), 3 * ps * ps, vc.width),
        ));
        out.push((
            "vision_model.embeddings.class_embedding".into(),
            vec![vc.width],
            to_vec_f32(&v.class_embedding),
        ));
        out.push((
            "vision_model.embeddings.position_embedding.weight".into(),
            vec![vc.tokens(), vc.width],
            to_vec_f32(&v.position_embedding),
        ));
        push_ln(&mut out, "vision_model.pre_layrnorm", &v.ln_pre);
        for (i, b) in v.blocks.iter().enumerate() {
            push_block(&mut out, &format!("vision_model.encoder.layers.{i}"), b);
        }
        push_ln(&mut out, "vision_model.post_layernorm", &v.ln_post);
        out.push((
            "visual_projection.weight".into(),
            vec![p, vc.width],
            transpose(&to_vec_f32(&v.projection), vc.width, p),
        ));
        out.push(("logit_scale".into(), vec![], vec![self.logit_scale]));
        Ok(out)
    }

    /// transformers `CLIPConfig` JSON for this model.
    pub fn hf_config_json(&self) -> serde_json::Value {
        let c = &self.config;
        let (t, v) = (&c.text, &c.vision);
        serde_json::json!({
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": c.projection_dim,
            "logit_scale_init_value": super::init::INIT_LOGIT_SCALE,
            "initializer_factor": 1.0,
            "torch_dtype": "float32",
            "text_config": {
                "model_type": "clip_text_model",
                "vocab_size": t.vocab_size,
                "hidden_size": t.width,
                "intermediate_size": t.intermediate,
                "num_hidden_layers": t.layers,
                "num_attention_heads": t.heads,
                "max_position_embeddings": t.context_length,
                "hidden_act": act_name(t.activation),
                "layer_norm_eps": t.eps,
                "projection_dim": c.projection_dim,
                "attention_dropout": 0.0,
                "dropout": 0.0,
                "initializer_range": 0.02,
                "initializer_factor": 1.0,
                "bos_token_id": 49406,
                "eos_token_id": 49407,
                "pad_token_id": 1,
            },
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": v.width,
                "intermediate_size": v.intermediate,
                "num_hidden_layers": v.layers,
                "num_attention_heads": v.heads,
                "num_channels": 3,
                "image_size": v.image_size,
                "patch_size": v.patch_size,
                "hidden_act": act_name(v.activation),
                "layer_norm_eps": v.eps,
                "projection_dim": c.projection_dim,
                "attention_dropout": 0.0,
                "dropout": 0.0,
                "initializer_range": 0.02,
                "initializer_factor": 1.0,
            },
        })
    }

    /// Save in the Hugging Face layout into `dir`, atomically: everything is written to a
    /// sibling temporary directory which then replaces `dir`. The tokenizer files come from
    /// `tokenizer` (`model_max_length` = the text context length); `preprocessor_config.json`
    /// is `CLIPImageProcessor` with shortest edge and crop = the image size, CLIP mean/std.
    pub fn save_hf(&self, dir: &Path, tokenizer: &ClipTokenizer) -> Result<()> {
        let tmp = sibling(dir, "tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| VladaptError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| VladaptError::io(&tmp, e))?;
        save_safetensors_atomic(
            &tmp.join("model.safetensors"),
            &self.hf_tensors()?,
            Some([("format".to_string(), "pt".to_string())].into()),
        )?;
        write_json(&tmp.join("config.json"), &self.hf_config_json())?;
        let s = self.config.vision.image_size;
        let mean = self.config.image_mean.unwrap_or(CLIP_MEAN);
        let std = self.config.image_std.unwrap_or(CLIP_STD);
        write_json(
            &tmp.join("preprocessor_config.json"),
            &serde_json::json!({
                "image_processor_type": "CLIPImageProcessor",
                "do_resize": true,
                "size": {"shortest_edge": s},
                "resample": 3,
                "do_center_crop": true,
                "crop_size": {"height": s, "width": s},
                "do_rescale": true,
                "rescale_factor": 1.0 / 255.0,
                "do_normalize": true,
                "image_mean": mean,
                "image_std": std,
                "do_convert_rgb": true,
            }),
        )?;
        tokenizer
            .save_hf(&tmp)
            .map_err(|e| VladaptError::Tokenizer(e.to_string()))?;
        let tc_path = tmp.join("tokenizer_config.json");
        let text = std::fs::read_to_string(&tc_path).map_err(|e| VladaptError::io(&tc_path, e))?;
        let mut tc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| VladaptError::config(&tc_path, format!("invalid JSON: {e}")))?;
        tc["model_max_length"] = self.config.text.context_length.into();
        write_json(&tc_path, &tc)?;
        replace_dir(&tmp, dir)
    }
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| VladaptError::Invalid(format!("{}: {e}", path.display())))?;
    write_atomic(path, s.as_bytes())
}

/// `dir` with `.{suffix}` appended to its last component.
pub fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

/// Replace directory `dst` by the complete directory `src` (renames only: `dst` → `dst.old`,
/// `src` → `dst`, then `dst.old` is removed). At every moment either the old or the new
/// directory is complete on disk.
pub fn replace_dir(src: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| VladaptError::io(parent, e))?;
        }
    }
    let old = sibling(dst, "old");
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| VladaptError::io(&old, e))?;
    }
    if dst.exists() {
        std::fs::rename(dst, &old).map_err(|e| VladaptError::io(dst, e))?;
    }
    std::fs::rename(src, dst).map_err(|e| VladaptError::io(dst, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| VladaptError::io(&old, e))?;
    }
    Ok(())
}
