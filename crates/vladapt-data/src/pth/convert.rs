//! `.pth` → `.safetensors`: read, select, materialise, write to a temporary file and rename.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};

use crate::pickle::DType;

use super::error::PthError;
use super::read::{Checkpoint, Format};
use super::weights::{materialise, select};

/// What [`convert`] did.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    /// Layout of the input.
    pub format: Format,
    /// Tensors written.
    pub tensors: usize,
    /// Bytes of tensor data written.
    pub bytes: u64,
    /// Top-level key the weights came from (`model` for DETR/TransVG checkpoints), if any.
    pub from_key: Option<String>,
    /// Other top-level keys, not converted (`optimizer`, `epoch`, `args`, …).
    pub other_keys: Vec<String>,
    /// Non-tensor entries inside the converted part, skipped: (dotted name, type).
    pub skipped: Vec<(String, String)>,
}

fn st_dtype(d: DType) -> Dtype {
    match d {
        DType::F64 => Dtype::F64,
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I64 => Dtype::I64,
        DType::I32 => Dtype::I32,
        DType::I16 => Dtype::I16,
        DType::I8 => Dtype::I8,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// Convert the PyTorch checkpoint `input` to a safetensors file `output` (metadata
/// `{"format": "pt"}`, as `safetensors.torch.save_file` writes for transformers).
///
/// `key` picks a dotted entry of the checkpoint (e.g. `model`); without it a training checkpoint's
/// `model` / `state_dict` entry is taken when present, else every tensor in the file. Nested dicts
/// become dotted names. The output is written to a temporary file next to `output`, then renamed,
/// so a failed conversion leaves no partial file.
pub fn convert(input: &Path, output: &Path, key: Option<&str>) -> Result<ConvertReport, PthError> {
    let mut ck = Checkpoint::open(input)?;
    let sel = select(&ck, key)?;
    let tensors = materialise(&mut ck, &sel)?;
    let bytes = tensors.iter().map(|(_, t)| t.data.len() as u64).sum();
    let views = tensors
        .iter()
        .map(|(name, t)| {
            TensorView::new(st_dtype(t.dtype), t.shape.clone(), &t.data)
                .map(|v| (name.as_str(), v))
                .map_err(|e| PthError::Write {
                    path: output.into(),
                    reason: format!("tensor {name}: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let tmp = temp_path(output);
    let written =
        safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| PthError::Write {
            path: output.into(),
            reason: e.to_string(),
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, output).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PthError::Io {
            action: "cannot move the converted file to",
            path: output.into(),
            source,
        }
    })?;
    Ok(ConvertReport {
        format: ck.format,
        tensors: tensors.len(),
        bytes,
        from_key: sel.from_key,
        other_keys: sel.other_keys,
        skipped: sel.skipped,
    })
}

fn temp_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out.safetensors".into());
    output.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
