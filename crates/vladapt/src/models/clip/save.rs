//! Saving a [`ClipModel`] in the Hugging Face layout (`config.json`, `model.safetensors`,
//! tokenizer files, `preprocessor_config.json`), readable by [`super::load_clip`] /
//! [`super::ClipPipeline::load`] and by `transformers.CLIPModel.from_pretrained`.
//!
//! The internal layout (linear weights `[in, out]`, packed q|k|v, flattened patch conv) is
//! converted back to PyTorch's (`[out, in]`, separate `q_proj`/`k_proj`/`v_proj`,
//! `patch_embedding` `[D, 3, p, p]`, scalar `logit_scale`) here only.
use super::config::Activation;
use super::model::ClipModel;
use crate::io::{write_dir_atomic, write_json_atomic as write_json};
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32};
use crate::{Result, VladaptError};
use std::path::Path;
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

/// How an internal tensor is written in the Hugging Face layout.
enum ToHf {
    /// As is.
    Same,
    /// An internal `[in, out]` linear weight → PyTorch's `[out, in]`.
    Transpose,
    /// The packed `[d, 3d]` q|k|v weight or `[3d]` bias → `q_proj`, `k_proj`, `v_proj`.
    SplitQkv,
    /// The flattened patch conv `[3·p·p, d]` → `patch_embedding.weight` `[d, 3, p, p]`.
    PatchConv,
    /// The `[1]` logit scale → a 0-dim scalar.
    Scalar,
}

/// The Hugging Face `CLIPModel` name of an internal parameter (see [`super::init`]) and how to
/// convert it; the names are the inverse of the Hugging Face rename table of [`super::load`].
fn hf_name(name: &str) -> Result<(String, ToHf)> {
    if name == "logit_scale" {
        return Ok((name.into(), ToHf::Scalar));
    }
    let unknown = || VladaptError::Checkpoint {
        source_name: "Hugging Face layout".into(),
        reason: format!("no Hugging Face name for CLIP tensor `{name}`"),
    };
    let (tower, rest) = name.split_once('.').ok_or_else(unknown)?;
    let (model, proj) = match tower {
        "text" => ("text_model", "text_projection"),
        "vision" => ("vision_model", "visual_projection"),
        _ => return Err(unknown()),
    };
    let leaf = |s: &str| -> (String, String) {
        match s.rsplit_once('.') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (s.to_string(), String::new()),
        }
    };
    Ok(match rest {
        "token_embedding" => (
            format!("{model}.embeddings.token_embedding.weight"),
            ToHf::Same,
        ),
        "position_embedding" => (
            format!("{model}.embeddings.position_embedding.weight"),
            ToHf::Same,
        ),
        "class_embedding" => (format!("{model}.embeddings.class_embedding"), ToHf::Same),
        "patch_weight" => (
            format!("{model}.embeddings.patch_embedding.weight"),
            ToHf::PatchConv,
        ),
        "projection" => (format!("{proj}.weight"), ToHf::Transpose),
        _ => {
            let (module, kind) = leaf(rest);
            let renamed = match module.as_str() {
                "ln_final" => "final_layer_norm".to_string(),
                "ln_pre" => "pre_layrnorm".to_string(),
                "ln_post" => "post_layernorm".to_string(),
                m => {
                    let Some(block) = m.strip_prefix("blocks.") else {
                        return Err(unknown());
                    };
                    let (i, part) = block.split_once('.').ok_or_else(unknown)?;
                    let part = match part {
                        "ln_1" => "layer_norm1",
                        "ln_2" => "layer_norm2",
                        "attn.qkv" => "self_attn",
                        "attn.out" => "self_attn.out_proj",
                        "fc1" => "mlp.fc1",
                        "fc2" => "mlp.fc2",
                        _ => return Err(unknown()),
                    };
                    let how = match (part, kind.as_str()) {
                        ("self_attn", _) => ToHf::SplitQkv,
                        (p, "weight") if !p.starts_with("layer_norm") => ToHf::Transpose,
                        _ => ToHf::Same,
                    };
                    return Ok((format!("{model}.encoder.layers.{i}.{part}.{kind}"), how));
                }
            };
            (format!("{model}.{renamed}.{kind}"), ToHf::Same)
        }
    })
}

impl ClipModel {
    /// All weights under their Hugging Face `CLIPModel` names and layouts, derived from the
    /// parameter tree ([`ClipModel::to_params`]).
    pub fn hf_tensors(&self) -> Result<Named> {
        let mut out: Named = Vec::new();
        let params = self
            .to_params()
            .map_err(|e| VladaptError::serialize("the Hugging Face layout", e))?;
        for p in params.entries() {
            let (hf, how) = hf_name(&p.name)?;
            let vals = to_vec_f32(&p.value);
            let s = &p.shape;
            match how {
                ToHf::Same => out.push((hf, s.clone(), vals)),
                ToHf::Scalar => out.push((hf, vec![], vals)),
                ToHf::Transpose => out.push((hf, vec![s[1], s[0]], transpose(&vals, s[0], s[1]))),
                ToHf::PatchConv => {
                    let (k, d) = (s[0], s[1]);
                    let side = self.config.vision.patch_size;
                    out.push((hf, vec![d, 3, side, side], transpose(&vals, k, d)));
                }
                ToHf::SplitQkv => {
                    let (prefix, kind) =
                        hf.rsplit_once('.')
                            .ok_or_else(|| VladaptError::Checkpoint {
                                source_name: "Hugging Face layout".into(),
                                reason: format!("no Hugging Face name for `{}`", p.name),
                            })?;
                    let d = s[0] / if s.len() == 1 { 3 } else { 1 };
                    // [d, 3d] (in, out) → [3d, d] (out, in): rows q | k | v.
                    let vals = if s.len() == 2 {
                        transpose(&vals, d, 3 * d)
                    } else {
                        vals
                    };
                    let (shape, len) = if s.len() == 2 {
                        (vec![d, d], d * d)
                    } else {
                        (vec![d], d)
                    };
                    for (k, q) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                        out.push((
                            format!("{prefix}.{q}.{kind}"),
                            shape.clone(),
                            vals[k * len..(k + 1) * len].to_vec(),
                        ));
                    }
                }
            }
        }
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
        write_dir_atomic(dir, |tmp| self.write_hf(tmp, tokenizer))
    }

    fn write_hf(&self, tmp: &Path, tokenizer: &ClipTokenizer) -> Result<()> {
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
        tokenizer.save_hf(tmp)?;
        let tc_path = tmp.join("tokenizer_config.json");
        let text = std::fs::read_to_string(&tc_path).map_err(|e| VladaptError::io(&tc_path, e))?;
        let mut tc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| VladaptError::config(&tc_path, format!("invalid JSON: {e}")))?;
        tc["model_max_length"] = self.config.text.context_length.into();
        write_json(&tc_path, &tc)
    }
}
