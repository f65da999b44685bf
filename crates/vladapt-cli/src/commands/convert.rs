//! `vladapt convert IN.pth OUT.safetensors`: a PyTorch checkpoint to safetensors, read by the
//! restricted unpickler (no Python, no code run; forbidden globals are refused by name).
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `vladapt convert`.
#[derive(Args)]
pub struct ConvertArgs {
    /// Input checkpoint written by `torch.save` (`.pth`, `.pt`, `.bin`; zip or legacy format).
    input: PathBuf,
    /// Output safetensors file (written to a temporary file, then renamed).
    output: PathBuf,
    /// Dotted key of the weights inside the checkpoint (default: `model` / `state_dict` /
    /// `model_state_dict` / `module` when present, else every tensor in the file).
    #[arg(long)]
    key: Option<String>,
}

/// Run `vladapt convert`.
pub fn run(a: ConvertArgs) -> Result<()> {
    let r = vladapt_data::pth::convert(&a.input, &a.output, a.key.as_deref())?;
    if let Some(k) = &r.from_key {
        let others = if r.other_keys.is_empty() {
            String::new()
        } else {
            format!("; not converted: {}", r.other_keys.join(", "))
        };
        println!("weights taken from {k:?}{others}");
    }
    if !r.skipped.is_empty() {
        let shown: Vec<String> = r
            .skipped
            .iter()
            .take(8)
            .map(|(n, t)| format!("{n} ({t})"))
            .collect();
        let more = r.skipped.len().saturating_sub(shown.len());
        println!(
            "skipped {} non-tensor entries: {}{}",
            r.skipped.len(),
            shown.join(", "),
            if more > 0 {
                format!(", … {more} more")
            } else {
                String::new()
            }
        );
    }
    println!(
        "wrote {} tensors ({:.1} MB) from {} ({:?} format) to {}",
        r.tensors,
        r.bytes as f64 / 1e6,
        a.input.display(),
        r.format,
        a.output.display()
    );
    Ok(())
}
