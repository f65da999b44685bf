//! Tokenized prompts as frozen token embeddings, shared by the prompt-learning methods.
use crate::models::clip::text::eot_positions;
use crate::models::clip::ClipModel;
use crate::{Result, VladaptError};
use burn::tensor::Tensor;
use vladapt_tokenizer::ClipTokenizer;

/// A batch of tokenized prompts, cut to `max(EOT)+1` tokens (methods.md §6.12).
#[derive(Debug, Clone)]
pub struct PromptTokens {
    /// Token ids `[C, len]`.
    pub ids: Vec<Vec<u32>>,
    /// EOT position of each prompt.
    pub eot: Vec<usize>,
    /// Frozen token embeddings `[C, len, width]` (no positional embedding).
    pub embeds: Tensor<3>,
}

impl PromptTokens {
    /// Tokenize and embed `prompts`. A prompt longer than the context is an error naming it
    /// (the official trainers refuse rather than truncate).
    pub fn new(clip: &ClipModel, tok: &ClipTokenizer, prompts: &[String]) -> Result<Self> {
        if prompts.is_empty() {
            return Err(VladaptError::argument(
                "class names",
                "the class list is empty",
            ));
        }
        let ctx = clip.config.text.context_length;
        for p in prompts {
            if !tok.fits(p, ctx) {
                return Err(VladaptError::argument(
                    "prompt",
                    format!("`{p}` is longer than the context length {ctx}"),
                ));
            }
        }
        let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
        let full = tok.tokenize_batch(&refs, ctx);
        let eot = eot_positions(&full);
        let len = eot.iter().copied().max().unwrap_or(0) + 1;
        let ids: Vec<Vec<u32>> = full.into_iter().map(|r| r[..len].to_vec()).collect();
        let embeds = clip.text.embed_ids(&ids)?;
        Ok(Self { ids, eot, embeds })
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no prompts.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Sequence length after cutting.
    pub fn seq_len(&self) -> usize {
        self.ids.first().map(|r| r.len()).unwrap_or(0)
    }
}

/// Class name as it goes into a prompt (`_` → space, as every official method does).
pub fn clean_classname(name: &str) -> String {
    name.replace('_', " ")
}

/// Fill a `{}` template with each class name (the one filler,
/// [`vladapt_data::format_template`]: `_` → space, the first `{}` replaced).
pub fn fill_template(template: &str, classnames: &[String]) -> Vec<String> {
    classnames
        .iter()
        .map(|c| vladapt_data::format_template(template, c))
        .collect()
}

/// Token embeddings of the words of `init` (positions 1..=n of its tokenization) → `[n, width]`,
/// with n the number of BPE tokens of `init`.
pub fn init_context(clip: &ClipModel, tok: &ClipTokenizer, init: &str) -> Result<Tensor<2>> {
    let ids = tok.encode(init);
    if ids.is_empty() {
        return Err(VladaptError::config_value(
            "method.ctx_init",
            format!("{init:?}"),
            "words that tokenize to at least one token",
        ));
    }
    let n = ids.len();
    let e = clip.text.embed_ids(&[ids])?;
    Ok(e.reshape([n, clip.config.text.width]))
}
