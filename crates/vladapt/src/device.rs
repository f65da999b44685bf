//! Backend selection. The backend is chosen by the device (burn 0.22): Flex (pure-Rust CPU) by
//! default; `tch` (LibTorch, CPU or CUDA) and `cuda` (CubeCL) behind cargo features.
use crate::{Result, VladaptError};
use burn::tensor::Device;

/// Names accepted by `--device`.
pub const DEVICE_NAMES: &[&str] = &["cpu", "tch", "tch-cuda", "cuda"];

/// Parse a device name: `cpu` (Flex), `tch` (LibTorch CPU), `tch-cuda` (LibTorch CUDA:0),
/// `cuda` (CubeCL CUDA:0). Names whose cargo feature is not compiled in are a clear error.
// burn 0.22 marks its LibTorch backend deprecated; it is still the way to PyTorch speed on CPU and
// GPU today (measured: 1.15× PyTorch images/s), so the `tch` feature keeps it.
#[allow(deprecated)]
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

/// Keep large freed buffers in the process instead of returning them to the kernel (glibc only;
/// a no-op elsewhere). By default glibc serves every allocation above its mmap threshold with a
/// fresh `mmap` and `munmap`s it on free, so each forward pass re-faults its tens-of-MB
/// activation tensors page by page and every `munmap` interrupts all cores for a TLB shootdown:
/// measured here, 20 % of CLIP ViT-B/32 inference time on Flex. Peak RSS is unchanged (the
/// same buffers are reused). Call once at program start, before other threads allocate.
pub fn tune_cpu_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before worker threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}
