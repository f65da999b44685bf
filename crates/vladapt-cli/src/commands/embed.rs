//! `vladapt embed`: normalised projected embeddings as JSON on stdout.
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use vladapt::models::clip::ClipPipeline;

/// Arguments of `vladapt embed`.
#[derive(Args)]
pub struct EmbedArgs {
    /// Model directory (Hugging Face or OpenCLIP layout).
    #[arg(long)]
    model: PathBuf,
    /// Text to embed (repeatable).
    #[arg(long = "text")]
    texts: Vec<String>,
    /// Image file to embed (repeatable).
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run `vladapt embed`.
pub fn run(a: EmbedArgs) -> Result<()> {
    let device = super::device(&a.device)?;
    let p = ClipPipeline::load(&a.model, &device)?;
    let text_embeds = if a.texts.is_empty() {
        vec![]
    } else {
        p.embed_texts(&a.texts, a.batch_size)?
    };
    let image_embeds = if a.images.is_empty() {
        vec![]
    } else {
        p.embed_images(&a.images, a.batch_size)?
    };
    let out = serde_json::json!({ "text_embeds": text_embeds, "image_embeds": image_embeds });
    println!("{out}");
    Ok(())
}
