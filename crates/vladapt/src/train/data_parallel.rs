//! Data-parallel training over several devices: split a batch over the devices, run each
//! slice's forward and backward on its own device (one thread per device), then combine the
//! per-parameter gradients of [`Params`] into the gradient of the whole batch.
//!
//! With a loss that is a mean over the batch, `L = (1/N) Σᵢ lᵢ`, and device `k` holding `nₖ` of
//! the `N` samples with slice loss `Lₖ = (1/nₖ) Σ_{i∈k} lᵢ`,
//!
//! ```text
//! ∇L = Σₖ (nₖ / N) ∇Lₖ          (a weighted mean; the plain mean when the slices are equal)
//! ```
//!
//! so one optimiser step on the combined gradient is the single-device step on the full batch,
//! up to the order of the floating-point sums. The seeds stay the caller's: the batch (and any
//! augmentation drawn for it) is drawn once, exactly as on one device, and only then split.
//!
//! Reduction ([`Reduction`]):
//! - **Collective** (`cuda` feature, every device a CUDA device): burn's
//!   [`all_reduce`](burn::tensor::distributed::all_reduce) with [`ReduceOperation::Mean`] (NCCL
//!   through cubecl), each device's gradient pre-scaled by `D·nₖ/N` so the mean is the weighted
//!   mean above; called from each device's own thread, every device ends with the same gradient.
//! - **Gather** (any backend): each gradient is moved to the first device, scaled by `nₖ/N` and
//!   summed in device order. burn 0.22.1 implements collectives only for its CubeCL (CUDA) and
//!   remote backends — Flex and LibTorch have no arm — so this is the path that runs on CPUs.
//!
//! The API is small on purpose so that the trainer can call it: [`DataParallel::split`],
//! [`DataParallel::replicate`], [`DataParallel::map_devices`] and
//! [`DataParallel::reduce_mean`] (or [`DataParallel::grads`], all four in one).
use crate::methods::Params;
use crate::{Result, VladaptError};
use burn::tensor::distributed::{all_reduce, ReduceOperation};
use burn::tensor::{Device, Tensor};
use std::ops::Range;

/// How per-device gradients are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// burn's all-reduce (NCCL on CUDA). Only CUDA devices support it in burn 0.22.1.
    Collective,
    /// Move every gradient to the first device and sum there (any backend).
    Gather,
}

/// One device's share of a step: how many samples it saw and the gradient of its slice's mean
/// loss for every parameter (`None`: the parameter had no path to the loss — taken as zero).
#[derive(Debug, Clone)]
pub struct DeviceGrads {
    /// Samples in this device's slice (`nₖ`).
    pub count: usize,
    /// One entry per [`Params`] entry, in order.
    pub grads: Vec<Option<Tensor<1>>>,
}

/// Data-parallel execution over a fixed list of devices.
#[derive(Debug, Clone)]
pub struct DataParallel {
    devices: Vec<Device>,
    reduction: Reduction,
}

impl DataParallel {
    /// The replicas a training configuration asks for (`train.devices`, `train.data_parallel`):
    /// one per named device (reduction as in [`DataParallel::new`]), else `data_parallel`
    /// replicas on `device`, gathered (a collective needs distinct devices).
    pub fn for_training(devices: &[String], data_parallel: usize, device: &Device) -> Result<Self> {
        if devices.is_empty() {
            Self::with_reduction(vec![device.clone(); data_parallel], Reduction::Gather)
        } else {
            Self::new(crate::device::parse_devices("train.devices", devices)?)
        }
    }

    /// One line for the run log: how many replicas, where, and how gradients are combined.
    pub fn describe(&self) -> String {
        format!(
            "data parallel: {} replicas on {:?} ({:?} reduction)",
            self.devices.len(),
            self.devices,
            self.reduction
        )
    }

    /// Devices in order; the first holds the master parameters and the reduced gradient.
    /// The reduction is [`Reduction::Collective`] when every device is a CUDA device (with the
    /// `cuda` feature), else [`Reduction::Gather`].
    pub fn new(devices: Vec<Device>) -> Result<Self> {
        let reduction = if collective_supported(&devices) {
            Reduction::Collective
        } else {
            Reduction::Gather
        };
        Self::with_reduction(devices, reduction)
    }

    /// As [`DataParallel::new`] with an explicit reduction (refused when unsupported).
    pub fn with_reduction(devices: Vec<Device>, reduction: Reduction) -> Result<Self> {
        if devices.is_empty() {
            return Err(VladaptError::Device {
                field: "data parallel".into(),
                name: String::new(),
                reason: "at least one device is needed".into(),
            });
        }
        if reduction == Reduction::Collective && !collective_supported(&devices) {
            return Err(VladaptError::Unsupported {
                what: "data parallel: collective all-reduce".into(),
                reason: format!(
                    "needs CUDA devices: burn 0.22 runs all-reduce only on CUDA devices (build with the `cuda` feature); got {devices:?}"
                ),
            });
        }
        Ok(Self { devices, reduction })
    }

    /// The devices.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The reduction in use.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// Contiguous slices of a batch of `n` samples, one per device: the first `n mod D` devices
    /// get `⌈n/D⌉` samples, the others `⌊n/D⌋` (possibly empty).
    pub fn split(&self, n: usize) -> Vec<Range<usize>> {
        let d = self.devices.len();
        let (q, r) = (n / d, n % d);
        let mut start = 0;
        (0..d)
            .map(|k| {
                let len = q + usize::from(k < r);
                let s = start..start + len;
                start += len;
                s
            })
            .collect()
    }

    /// A copy of `params` on every device (the first device's copy shares the tensors), without
    /// autodiff: call [`Params::track`] on each before its forward pass.
    pub fn replicate(&self, params: &Params) -> Vec<Params> {
        self.devices
            .iter()
            .map(|d| {
                let mut p = params.clone();
                for e in p.entries_mut() {
                    e.value = e.value.clone().without_autodiff().to_device(d);
                }
                p
            })
            .collect()
    }

    /// Run `f(k, device_k)` for every device, each on its own thread; results in device order.
    pub fn map_devices<T, F>(&self, f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(usize, &Device) -> Result<T> + Sync,
    {
        if self.devices.len() == 1 {
            return Ok(vec![f(0, &self.devices[0])?]);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .devices
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    let f = &f;
                    s.spawn(move || f(k, d))
                })
                .collect();
            handles
                .into_iter()
                .zip(&self.devices)
                .map(|(h, d)| {
                    h.join().unwrap_or_else(|_| {
                        Err(VladaptError::Device {
                            field: "data parallel".into(),
                            name: format!("{d:?}"),
                            reason: "a device thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    }

    /// The gradient of the whole batch, `Σₖ (nₖ/N) gₖ`, one tensor per parameter on the first
    /// device (missing gradients count as zero). `shapes` gives each parameter's length.
    pub fn reduce_mean(&self, shapes: &Params, parts: Vec<DeviceGrads>) -> Result<Vec<Tensor<1>>> {
        let np = shapes.entries().len();
        if parts.len() != self.devices.len() {
            return Err(VladaptError::Shape {
                what: "data parallel: gradient sets".into(),
                expected: format!("{} (one per device)", self.devices.len()),
                actual: format!(
                    "{} gradient sets for {} devices",
                    parts.len(),
                    self.devices.len()
                ),
            });
        }
        if let Some((k, p)) = parts.iter().enumerate().find(|(_, p)| p.grads.len() != np) {
            return Err(VladaptError::Shape {
                what: format!("data parallel: device {k} gradients"),
                expected: format!("{np} (one per parameter)"),
                actual: format!("{} gradients for {np} parameters", p.grads.len()),
            });
        }
        let total: usize = parts.iter().map(|p| p.count).sum();
        if total == 0 {
            return Err(VladaptError::argument(
                "data parallel",
                "the batch is empty",
            ));
        }
        let numel = |i: usize| shapes.entries()[i].shape.iter().product::<usize>();
        match self.reduction {
            Reduction::Gather => {
                let dev0 = &self.devices[0];
                let mut out: Vec<Option<Tensor<1>>> = vec![None; np];
                for part in parts {
                    if part.count == 0 {
                        continue;
                    }
                    let w = part.count as f64 / total as f64;
                    for (i, g) in part.grads.into_iter().enumerate() {
                        let Some(g) = g else { continue };
                        let g = g.to_device(dev0).mul_scalar(w);
                        out[i] = Some(match out[i].take() {
                            Some(acc) => acc + g,
                            None => g,
                        });
                    }
                }
                Ok(out
                    .into_iter()
                    .enumerate()
                    .map(|(i, g)| g.unwrap_or_else(|| Tensor::zeros([numel(i)], dev0)))
                    .collect())
            }
            Reduction::Collective => {
                let d = self.devices.len() as f64;
                let devices = self.devices.clone();
                // Every device takes part in every all-reduce (NCCL requires it), with zeros
                // where its slice was empty or the parameter had no gradient.
                let parts = std::sync::Mutex::new(parts.into_iter().map(Some).collect::<Vec<_>>());
                let reduced = self.map_devices(|k, dev| {
                    let part = parts.lock().map_err(|_| poisoned())?[k]
                        .take()
                        .expect("each device takes its own part once");
                    let w = d * part.count as f64 / total as f64;
                    let mut out = Vec::with_capacity(np);
                    for (i, g) in part.grads.into_iter().enumerate() {
                        let g = match g {
                            Some(g) if part.count > 0 => g.to_device(dev).mul_scalar(w),
                            _ => Tensor::zeros([numel(i)], dev),
                        };
                        out.push(all_reduce(g, ReduceOperation::Mean, devices.clone()).resolve());
                    }
                    Ok(out)
                })?;
                Ok(reduced.into_iter().next().unwrap_or_default())
            }
        }
    }

    /// One data-parallel gradient computation: split `n` samples, replicate `params`, run
    /// `slice_loss(k, rows, params_k, device_k)` on each device's thread (it returns the mean
    /// loss `[1]` of its rows, computed from `params_k`, which are tracked), backpropagate, and
    /// reduce. Returns the batch's mean loss and its gradient (first device).
    pub fn grads<F>(
        &self,
        params: &Params,
        n: usize,
        slice_loss: F,
    ) -> Result<(f64, Vec<Tensor<1>>)>
    where
        F: Fn(usize, Range<usize>, &Params, &Device) -> Result<Tensor<1>> + Sync,
    {
        let slices = self.split(n);
        let replicas = std::sync::Mutex::new(
            self.replicate(params)
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>(),
        );
        let parts = self.map_devices(|k, dev| {
            let rows = slices[k].clone();
            let mut p = replicas.lock().map_err(|_| poisoned())?[k]
                .take()
                .expect("each device takes its own replica once");
            if rows.is_empty() {
                return Ok((
                    0.0,
                    DeviceGrads {
                        count: 0,
                        grads: vec![None; p.entries().len()],
                    },
                ));
            }
            p.track();
            let loss = slice_loss(k, rows.clone(), &p, dev)?;
            let value = crate::tensor_io::to_vec_f32(&loss)[0] as f64;
            let g = loss.backward();
            let grads = p.grads(&g);
            Ok((
                value * rows.len() as f64,
                DeviceGrads {
                    count: rows.len(),
                    grads,
                },
            ))
        })?;
        let loss = parts.iter().map(|(l, _)| l).sum::<f64>() / n.max(1) as f64;
        let grads = self.reduce_mean(params, parts.into_iter().map(|(_, g)| g).collect())?;
        Ok((loss, grads))
    }
}

/// A replica's or gradient part's lock was poisoned: the thread holding it panicked.
fn poisoned() -> VladaptError {
    VladaptError::Device {
        field: "data parallel".into(),
        name: "replica".into(),
        reason: "a replica's lock is poisoned (its thread panicked)".into(),
    }
}

/// Whether burn 0.22.1 can all-reduce over `devices`: only CUDA devices (CubeCL, `cuda` feature).
pub fn collective_supported(devices: &[Device]) -> bool {
    #[cfg(feature = "cuda")]
    {
        !devices.is_empty()
            && devices
                .iter()
                .all(|d| (0..64usize).any(|i| *d == Device::cuda(i)))
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = devices;
        false
    }
}
