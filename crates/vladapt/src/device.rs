//! Backend selection. The backend is chosen by the device (burn 0.22): Flex (pure-Rust CPU) by
//! default; `tch` (LibTorch, CPU or CUDA) and `cuda` (CubeCL) behind cargo features.
use crate::{Result, VladaptError};
use burn::tensor::Device;

/// Names accepted by `--device` (CUDA ones also as `cuda:N` / `tch-cuda:N`).
pub const DEVICE_NAMES: &[&str] = &["cpu", "ndarray", "tch", "tch-cuda", "cuda"];

/// Parse a device name: `cpu` (Flex), `ndarray` (burn's NdArray CPU backend), `tch` (LibTorch
/// CPU), `tch-cuda[:N]` (LibTorch CUDA:N), `cuda[:N]` (CubeCL CUDA:N). Names whose cargo feature
/// is not compiled in are a clear error.
pub fn parse_device(name: &str) -> Result<Device> {
    device_from_name(name).map_err(|reason| VladaptError::Device {
        field: "--device".into(),
        name: name.to_string(),
        reason,
    })
}

/// Parse a device list (`train.devices`, `--devices cpu,ndarray`, `--devices cuda:0,cuda:1`):
/// each name as [`parse_device`], none twice; errors name `field` and the device.
pub fn parse_devices(field: &str, names: &[String]) -> Result<Vec<Device>> {
    let err = |name: &str, reason: String| VladaptError::Device {
        field: field.to_string(),
        name: name.to_string(),
        reason,
    };
    if names.is_empty() {
        return Err(err("", "the list is empty".into()));
    }
    let mut out: Vec<Device> = Vec::with_capacity(names.len());
    for n in names {
        let d = device_from_name(n.trim()).map_err(|r| err(n, r))?;
        if out.contains(&d) {
            return Err(err(
                n,
                "listed twice (for several replicas on one device use train.data_parallel = N)"
                    .into(),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

/// `name` and an optional `:N` index.
fn split_index(name: &str) -> std::result::Result<(&str, usize), String> {
    match name.split_once(':') {
        None => Ok((name, 0)),
        Some((base, i)) => i
            .parse()
            .map(|i| (base, i))
            .map_err(|_| format!("`{i}` is not a device index (e.g. cuda:1)")),
    }
}

// burn 0.22 marks its LibTorch backend deprecated; it is still the way to PyTorch speed on CPU and
// GPU today (measured: 1.15× PyTorch images/s), so the `tch` feature keeps it.
#[allow(deprecated)]
fn device_from_name(name: &str) -> std::result::Result<Device, String> {
    let (base, index) = split_index(name)?;
    let indexed = matches!(base, "cuda" | "tch-cuda");
    if !indexed && name.contains(':') {
        return Err(format!("`{base}` takes no device index"));
    }
    let _ = index;
    match base {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "ndarray")]
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "tch")]
        "tch" => Ok(Device::libtorch()),
        #[cfg(feature = "tch")]
        "tch-cuda" => Ok(Device::libtorch_cuda(index)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(index)),
        other if DEVICE_NAMES.contains(&other) => Err(format!(
            "this binary was built without the `{}` cargo feature",
            match other {
                "cuda" => "cuda",
                "ndarray" => "ndarray",
                _ => "tch",
            }
        )),
        _ => Err(format!(
            "unknown device (known: {})",
            DEVICE_NAMES.join(", ")
        )),
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
