//! vladapt: parameter-efficient adaptation of CLIP on burn.
//!
//! Layers (each uses only the ones below it):
//! `protocols` → `train` → `methods` → `models` → `params` / `io` / `tensor_io` → data crates
//! (`vladapt-data`, `vladapt-image`, `vladapt-tokenizer`) → burn.
pub mod device;
pub mod error;
pub mod io;
pub mod methods;
pub mod models;
pub mod overrides;
pub mod params;
pub mod pretrain;
pub mod protocols;
pub mod tensor_io;
pub mod train;

pub use error::{Result, VladaptError};

/// Re-exports of the tensor engine so downstream crates need no direct burn dependency.
pub mod tensor {
    pub use burn::tensor::{activation, Device, Distribution, Int, Tensor, TensorData};
}
