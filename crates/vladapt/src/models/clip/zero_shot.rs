//! Zero-shot classifier weights with prompt ensembling (Radford et al. 2021, §3.1.4): for each
//! class the mean of its L2-normalised prompt embeddings over the templates, renormalised.
use super::model::{l2_normalize, ClipModel};
use super::NoHook;
use crate::{Result, VladaptError};
use burn::tensor::Tensor;
use vladapt_tokenizer::ClipTokenizer;

/// Classifier weights `[C, proj]` for `classes` (`_` → space) over `templates` (each with `{}`).
/// A prompt longer than the context is an error naming it.
pub fn ensemble_text_features(
    clip: &ClipModel,
    tok: &ClipTokenizer,
    classes: &[String],
    templates: &[String],
) -> Result<Tensor<2>> {
    if templates.is_empty() {
        return Err(VladaptError::argument(
            "templates",
            "at least one template is needed",
        ));
    }
    if classes.is_empty() {
        return Err(VladaptError::argument(
            "class names",
            "the class list is empty",
        ));
    }
    let ctx = clip.config.text.context_length;
    let mut sum: Option<Tensor<2>> = None;
    for t in templates {
        if !t.contains("{}") {
            return Err(VladaptError::argument(
                "templates",
                format!("template `{t}` has no `{{}}` placeholder for the class name"),
            ));
        }
        let prompts: Vec<String> = classes
            .iter()
            .map(|c| vladapt_data::format_template(t, c))
            .collect();
        if let Some(p) = prompts.iter().find(|p| !tok.fits(p, ctx)) {
            return Err(VladaptError::argument(
                "prompt",
                format!("`{p}` is longer than the context length {ctx}"),
            ));
        }
        let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
        let f = l2_normalize(clip.encode_text(&tok.tokenize_batch(&refs, ctx), &NoHook)?);
        sum = Some(match sum {
            Some(s) => s + f,
            None => f,
        });
    }
    sum.map(l2_normalize)
        .ok_or_else(|| VladaptError::argument("templates", "no template given"))
}
