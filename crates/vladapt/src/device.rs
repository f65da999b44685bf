//! Backend selection. The backend is chosen by the device (burn 0.22): Flex (pure-Rust CPU) by
//! default; `tch` (LibTorch, CPU or CUDA) and `cuda` (CubeCL) behind cargo features.
use crate::{Result, VladaptError};
use burn::tensor::Device;

/// Names accepted by `--device`.
pub const DEVICE_NAMES: &[&str] = &["cpu", "tch", "tch-cuda", "cuda"];

/// Parse a device name: `cpu` (Flex), `tch` (LibTorch CPU), `tch-cuda` (LibTorch CUDA:0),
/// `cuda` (CubeCL CUDA:0). Names whose cargo feature is not compiled in are a clear error.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "tch")]
        "tch" => Ok(Device::libtorch()),
        #[cfg(feature = "tch")]
        "tch-cuda" => Ok(Device::libtorch_cuda(0usize)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0usize)),
        other if DEVICE_NAMES.contains(&other) => Err(VladaptError::Invalid(format!(
            "--device {other}: this binary was built without the `{}` cargo feature",
            if other == "cuda" { "cuda" } else { "tch" }
        ))),
        other => Err(VladaptError::Invalid(format!(
            "--device {other}: unknown device (known: {})",
            DEVICE_NAMES.join(", ")
        ))),
    }
}

/// The default device: Flex on the CPU.
pub fn default_device() -> Device {
    Device::flex()
}
