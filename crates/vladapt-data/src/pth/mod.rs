//! PyTorch checkpoints (`torch.save` files: `.pth`, `.pt`, `.bin`) read without Python and
//! without running code, and converted to safetensors (`vladapt convert IN.pth OUT.safetensors`).
//!
//! - [`Checkpoint::open`]: the zip layout of PyTorch ≥ 1.6 (`<root>/data.pkl`, storages in
//!   `<root>/data/<key>`) and the legacy layout (`_use_new_zipfile_serialization=False`, PyTorch
//!   < 1.6: magic, protocol and system-info pickles, the object pickle, the storage-key list, then
//!   each storage as an 8-byte element count and its bytes). The object pickle goes through the
//!   restricted unpickler ([`crate::pickle`], [`crate::pickle::Allowlist::Torch`]): any global
//!   outside what `torch.load(weights_only=True)` accepts is refused by name.
//! - [`select`]: the weights inside the file: a dotted key, or the `model` / `state_dict` entry of a
//!   training checkpoint (`{'model': …, 'optimizer': …, 'epoch': …, 'args': Namespace}` as DETR
//!   and TransVG save them), or all tensors; nested dicts become dotted names.
//! - [`materialise`]: strided views (transposes, slices, expanded, shared storages) copied to
//!   C order, every view bounds-checked against its storage first.
//! - [`convert`]: the whole path, written through a temporary file and a rename.
//!
//! Element types: f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool. Little-endian files only.

mod convert;
mod error;
mod read;
mod weights;

pub use convert::{convert, ConvertReport};
pub use error::PthError;
pub use read::{Checkpoint, Format};
pub use weights::{materialise, select, Materialised, Selection, WEIGHT_KEYS};
