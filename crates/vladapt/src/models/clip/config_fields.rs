//! Every field of open_clip's `CLIPVisionCfg` / `CLIPTextCfg` / model config and of transformers'
//! `CLIPConfig` / `CLIPTextConfig` / `CLIPVisionConfig`, with what vladapt does with it, so that
//! no field that changes the computation is silently ignored.
//!
//! To support a new field: move it from [`Rule::OnlyDefault`] to [`Rule::Used`] in the table
//! and read it in `config.rs` (with a parity test against the reference library).
use serde_json::Value;

/// What vladapt does with one config field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    /// Read by the parser and implemented.
    Used,
    /// Has no effect on what vladapt computes (metadata, initialisation, tokenizer naming,
    /// generation settings, return-value shape).
    NoEffect,
    /// Changes the computation and is not implemented: accepted only when the value is one of
    /// these (the reference default); anything else is refused by name with the value.
    OnlyDefault(&'static [Accept]),
}

/// An accepted (default) value of an [`Rule::OnlyDefault`] field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accept {
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (compared as f64).
    Num(f64),
    /// A string.
    Str(&'static str),
}

impl Accept {
    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Accept::Null, Value::Null) => true,
            (Accept::Bool(b), Value::Bool(x)) => b == x,
            (Accept::Num(n), Value::Number(x)) => x.as_f64() == Some(*n),
            (Accept::Str(s), Value::String(x)) => s == x,
            _ => false,
        }
    }
}

use Accept::{Bool, Null, Num, Str};
use Rule::{NoEffect, OnlyDefault, Used};

const NULL: Rule = OnlyDefault(&[Null]);
const FALSE: Rule = OnlyDefault(&[Bool(false), Null]);
const ZERO: Rule = OnlyDefault(&[Num(0.0), Null]);

/// open_clip `CLIPVisionCfg` (open_clip 3.x).
pub(crate) const OPEN_CLIP_VISION: &[(&str, Rule)] = &[
    ("layers", Used),
    ("width", Used),
    ("head_width", Used),
    ("mlp_ratio", Used),
    ("patch_size", Used),
    ("image_size", Used),
    ("ls_init_value", NULL),
    // Active in training mode only, but adaptation trains through the frozen tower.
    ("patch_dropout", ZERO),
    ("attentional_pool", FALSE),
    ("attn_pooler_queries", NoEffect),
    ("attn_pooler_heads", NoEffect),
    ("no_ln_pre", FALSE),
    ("pos_embed_type", OnlyDefault(&[Str("learnable"), Null])),
    ("final_ln_after_pool", FALSE),
    ("pool_type", OnlyDefault(&[Str("tok"), Null])),
    ("output_tokens", NoEffect),
    ("act_kwargs", NULL),
    ("norm_kwargs", NULL),
    ("block_type", OnlyDefault(&[Null, Str("default")])),
    ("qk_norm", FALSE),
    ("scaled_cosine_attn", FALSE),
    ("scale_heads", FALSE),
    ("scale_attn_inner", FALSE),
    ("scale_attn", FALSE),
    ("scale_fc", FALSE),
    ("timm_model_name", NULL),
    ("timm_model_pretrained", NoEffect),
    ("timm_pool", NoEffect),
    ("timm_proj", NoEffect),
    ("timm_proj_bias", NoEffect),
    ("timm_drop", NoEffect),
    ("timm_drop_path", NoEffect),
];

/// open_clip `CLIPTextCfg` (open_clip 3.x).
pub(crate) const OPEN_CLIP_TEXT: &[(&str, Rule)] = &[
    ("context_length", Used),
    ("vocab_size", Used),
    ("hf_tokenizer_name", NULL),
    ("tokenizer_mode", NULL),
    ("tokenizer_kwargs", NULL),
    ("width", Used),
    ("heads", Used),
    ("layers", Used),
    ("mlp_ratio", Used),
    ("ls_init_value", NULL),
    ("embed_cls", FALSE),
    // Only read with embed_cls / pool_type "eos", both refused.
    ("pad_id", NoEffect),
    ("eos_id", NoEffect),
    ("no_causal_mask", FALSE),
    ("final_ln_after_pool", FALSE),
    ("pool_type", OnlyDefault(&[Str("argmax"), Null])),
    ("proj_bias", FALSE),
    ("proj_type", OnlyDefault(&[Str("linear"), Null])),
    ("output_tokens", NoEffect),
    ("act_kwargs", NULL),
    ("norm_kwargs", NULL),
    ("block_type", OnlyDefault(&[Null, Str("default")])),
    ("qk_norm", FALSE),
    ("scaled_cosine_attn", FALSE),
    ("scale_heads", FALSE),
    ("scale_attn_inner", FALSE),
    ("scale_attn", FALSE),
    ("scale_fc", FALSE),
    ("hf_model_name", NULL),
    ("hf_model_pretrained", NoEffect),
    ("hf_proj_type", NoEffect),
    ("hf_pooler_type", NoEffect),
];

/// open_clip `model_cfg` top level (`CLIP.__init__` / `CustomTextCLIP.__init__` arguments).
pub(crate) const OPEN_CLIP_MODEL: &[(&str, Rule)] = &[
    ("embed_dim", Used),
    ("quick_gelu", Used),
    ("vision_cfg", Used),
    ("text_cfg", Used),
    // Weights are read as stored and computed in f32.
    ("cast_dtype", NoEffect),
    ("init_logit_scale", NoEffect),
    // A logit bias (SigLIP) changes the logits.
    ("init_logit_bias", NULL),
    ("nonscalar_logit_scale", FALSE),
    ("custom_text", NoEffect),
    ("output_dict", NoEffect),
];

/// open_clip `PreprocessCfg` (the `preprocess_cfg` of `open_clip_config.json`); the resize
/// size is the tower's `image_size`.
pub(crate) const OPEN_CLIP_PREPROCESS: &[(&str, Rule)] = &[
    ("size", Used),
    ("mode", OnlyDefault(&[Str("RGB"), Null])),
    ("mean", Used),
    ("std", Used),
    ("interpolation", OnlyDefault(&[Str("bicubic"), Null])),
    ("resize_mode", OnlyDefault(&[Str("shortest"), Null])),
    // Only used by resize_mode "longest".
    ("fill_color", NoEffect),
];

/// transformers `CLIPTextConfig`.
pub(crate) const HF_TEXT: &[(&str, Rule)] = &[
    ("vocab_size", Used),
    ("hidden_size", Used),
    ("intermediate_size", Used),
    // Read by CLIPTextModelWithProjection only; CLIPModel uses the top-level projection_dim.
    ("projection_dim", NoEffect),
    ("num_hidden_layers", Used),
    ("num_attention_heads", Used),
    ("max_position_embeddings", Used),
    ("hidden_act", Used),
    ("layer_norm_eps", Used),
    ("attention_dropout", ZERO),
    ("dropout", ZERO),
    ("initializer_range", NoEffect),
    ("initializer_factor", NoEffect),
    ("pad_token_id", NoEffect),
    ("bos_token_id", NoEffect),
    // Pooling takes the EOT token (the largest id, 49407): transformers does the same for 2
    // (legacy argmax) and 49407.
    ("eos_token_id", OnlyDefault(&[Num(49407.0), Num(2.0), Null])),
];

/// transformers `CLIPVisionConfig`.
pub(crate) const HF_VISION: &[(&str, Rule)] = &[
    ("hidden_size", Used),
    ("intermediate_size", Used),
    ("projection_dim", NoEffect),
    ("num_hidden_layers", Used),
    ("num_attention_heads", Used),
    ("num_channels", OnlyDefault(&[Num(3.0), Null])),
    ("image_size", Used),
    ("patch_size", Used),
    ("hidden_act", Used),
    ("layer_norm_eps", Used),
    ("attention_dropout", ZERO),
    ("dropout", ZERO),
    ("initializer_range", NoEffect),
    ("initializer_factor", NoEffect),
];

/// transformers `CLIPConfig` top level.
pub(crate) const HF_TOP: &[(&str, Rule)] = &[
    ("text_config", Used),
    ("vision_config", Used),
    ("text_config_dict", Used),
    ("vision_config_dict", Used),
    ("projection_dim", Used),
    // The checkpoint holds the trained logit_scale.
    ("logit_scale_init_value", NoEffect),
    ("initializer_factor", NoEffect),
];

/// Generic `PretrainedConfig` attributes (bookkeeping, generation settings of old
/// transformers versions): no effect on a CLIP forward pass.
pub(crate) const HF_GENERIC: &[&str] = &[
    "_name_or_path",
    "_commit_hash",
    "_attn_implementation_autoset",
    "add_cross_attention",
    "architectures",
    "bad_words_ids",
    "begin_suppress_tokens",
    "chunk_size_feed_forward",
    "cross_attention_hidden_size",
    "decoder_start_token_id",
    "diversity_penalty",
    "do_sample",
    "dtype",
    "early_stopping",
    "encoder_no_repeat_ngram_size",
    "exponential_decay_length_penalty",
    "finetuning_task",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "id2label",
    "is_decoder",
    "is_encoder_decoder",
    "label2id",
    "length_penalty",
    "max_length",
    "min_length",
    "model_type",
    "no_repeat_ngram_size",
    "num_beam_groups",
    "num_beams",
    "num_return_sequences",
    "output_attentions",
    "output_hidden_states",
    "output_scores",
    "prefix",
    "problem_type",
    "pruned_heads",
    "remove_invalid_values",
    "repetition_penalty",
    "return_dict",
    "return_dict_in_generate",
    "sep_token_id",
    "suppress_tokens",
    "task_specific_params",
    "temperature",
    "tf_legacy_loss",
    "tie_encoder_decoder",
    "tie_word_embeddings",
    "tokenizer_class",
    "top_k",
    "top_p",
    "torch_dtype",
    "torchscript",
    "transformers_version",
    "typical_p",
    "use_bfloat16",
];

/// What to do with keys that are in no table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// Refuse (open_clip's dataclasses reject unknown keys too).
    Refuse,
    /// Return them to the caller, which warns (transformers stores unknown keys as attributes).
    Report,
}

/// Check every key of the JSON object `obj` (at `section`, e.g. `model_cfg.vision_cfg`) against
/// `table`: `Err(message)` for a refused value, naming the field and the value found; `Ok(keys
/// in no table)` when `unknown` is [`Unknown::Report`].
pub(crate) fn check_fields(
    obj: &Value,
    section: &str,
    table: &[(&str, Rule)],
    generic: &[&str],
    unknown: Unknown,
) -> Result<Vec<String>, String> {
    let Some(map) = obj.as_object() else {
        return Err(format!(
            "{section}: expected a JSON object, got {}",
            short(obj)
        ));
    };
    let mut unknown_keys = Vec::new();
    for (key, value) in map {
        match table.iter().find(|(k, _)| k == key) {
            Some((_, Used | NoEffect)) => {}
            Some((_, OnlyDefault(ok))) => {
                if !ok.iter().any(|d| d.matches(value)) {
                    return Err(format!(
                        "{section}.{key} = {} is not supported by vladapt's CLIP (only {}); \
                         the model would compute something else, so it is refused",
                        short(value),
                        describe(ok)
                    ));
                }
            }
            None if generic.contains(&key.as_str()) => {}
            None => match unknown {
                Unknown::Refuse => {
                    return Err(format!(
                        "{section}.{key} = {}: unknown field (not in the reference config class); \
                         refused rather than ignored",
                        short(value)
                    ))
                }
                Unknown::Report => unknown_keys.push(format!("{section}.{key}")),
            },
        }
    }
    Ok(unknown_keys)
}

fn describe(ok: &[Accept]) -> String {
    let parts: Vec<String> = ok
        .iter()
        .map(|d| match d {
            Null => "null".to_string(),
            Bool(b) => b.to_string(),
            Num(n) => n.to_string(),
            Str(s) => format!("\"{s}\""),
        })
        .collect();
    parts.join(" or ")
}

/// A JSON value for an error message, cut to 80 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refused_values_are_named_with_the_value() {
        let e = check_fields(
            &json!({"width": 64, "pool_type": "avg"}),
            "model_cfg.vision_cfg",
            OPEN_CLIP_VISION,
            &[],
            Unknown::Refuse,
        )
        .unwrap_err();
        assert!(
            e.contains("model_cfg.vision_cfg.pool_type = \"avg\""),
            "{e}"
        );
        assert!(e.contains("\"tok\""), "{e}");
    }

    #[test]
    fn defaults_and_unknown_keys() {
        assert!(check_fields(
            &json!({"no_ln_pre": false, "pool_type": "tok", "ls_init_value": null}),
            "v",
            OPEN_CLIP_VISION,
            &[],
            Unknown::Refuse
        )
        .is_ok());
        let e = check_fields(
            &json!({"wat": 1}),
            "v",
            OPEN_CLIP_VISION,
            &[],
            Unknown::Refuse,
        )
        .unwrap_err();
        assert!(e.contains("v.wat = 1"), "{e}");
        let r = check_fields(
            &json!({"wat": 1, "torch_dtype": "float32"}),
            "t",
            HF_TEXT,
            HF_GENERIC,
            Unknown::Report,
        )
        .unwrap();
        assert_eq!(r, vec!["t.wat".to_string()]);
    }

    #[test]
    fn every_open_clip_dataclass_field_is_in_the_tables() {
        // Field names of open_clip 3.x CLIPVisionCfg / CLIPTextCfg (dataclasses.fields).
        let vision = "layers width head_width mlp_ratio patch_size image_size ls_init_value \
            patch_dropout attentional_pool attn_pooler_queries attn_pooler_heads no_ln_pre \
            pos_embed_type final_ln_after_pool pool_type output_tokens act_kwargs norm_kwargs \
            block_type qk_norm scaled_cosine_attn scale_heads scale_attn_inner scale_attn \
            scale_fc timm_model_name timm_model_pretrained timm_pool timm_proj timm_proj_bias \
            timm_drop timm_drop_path";
        let text = "context_length vocab_size hf_tokenizer_name tokenizer_mode tokenizer_kwargs \
            width heads layers mlp_ratio ls_init_value embed_cls pad_id eos_id no_causal_mask \
            final_ln_after_pool pool_type proj_bias proj_type output_tokens act_kwargs \
            norm_kwargs block_type qk_norm scaled_cosine_attn scale_heads scale_attn_inner \
            scale_attn scale_fc hf_model_name hf_model_pretrained hf_proj_type hf_pooler_type";
        for (names, table) in [(vision, OPEN_CLIP_VISION), (text, OPEN_CLIP_TEXT)] {
            for n in names.split_whitespace() {
                assert!(table.iter().any(|(k, _)| *k == n), "{n} missing");
            }
            assert_eq!(table.len(), names.split_whitespace().count());
        }
    }
}
