//! Named tensors: a method's trainable tensors, or a whole CLIP while pretraining. Each is
//! stored flat (`[numel]`) as one autodiff leaf and reshaped where used, so one optimiser and
//! one checkpoint format serve every method and pretraining.
use crate::tensor_io::{save_safetensors_atomic, to_vec_f32, SafetensorsFile};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Distribution, Gradients, Tensor, TensorData};
use std::path::Path;

/// One named trainable tensor.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name as written in `adapter.safetensors` (e.g. `mma.text.down.7.weight`).
    pub name: String,
    /// Logical shape.
    pub shape: Vec<usize>,
    /// Flat values `[numel]`; an autodiff leaf while training.
    pub value: Tensor<1>,
}

/// The trainable tensors of a method, in a fixed order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    entries: Vec<Param>,
}

impl Params {
    /// Empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a tensor from host values.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        values: Vec<f32>,
        device: &Device,
    ) {
        let n = values.len();
        debug_assert_eq!(n, shape.iter().product::<usize>());
        self.entries.push(Param {
            name: name.into(),
            shape: shape.to_vec(),
            value: Tensor::from_data(TensorData::new(values, [n]), device),
        });
    }

    /// Add a tensor drawn from N(0, std²).
    pub fn push_normal(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        std: f64,
        device: &Device,
    ) {
        let n: usize = shape.iter().product();
        let v = Tensor::<1>::random([n], Distribution::Normal(0.0, std), device);
        self.entries.push(Param {
            name: name.into(),
            shape: shape.to_vec(),
            value: v,
        });
    }

    /// Add a tensor from an existing tensor (flattened).
    pub fn push_tensor<const D: usize>(&mut self, name: impl Into<String>, t: Tensor<D>) {
        let shape = t.dims().to_vec();
        let n: usize = shape.iter().product();
        self.entries.push(Param {
            name: name.into(),
            shape,
            value: t.reshape([n]),
        });
    }

    /// Add a flat tensor `[numel]` with its logical shape.
    pub fn push_tensor_flat(&mut self, name: impl Into<String>, shape: &[usize], value: Tensor<1>) {
        debug_assert_eq!(value.dims()[0], shape.iter().product::<usize>());
        self.entries.push(Param {
            name: name.into(),
            shape: shape.to_vec(),
            value,
        });
    }

    /// All entries.
    pub fn entries(&self) -> &[Param] {
        &self.entries
    }

    /// Mutable entries (the optimiser replaces values).
    pub fn entries_mut(&mut self) -> &mut [Param] {
        &mut self.entries
    }

    /// Number of scalar parameters.
    pub fn numel(&self) -> usize {
        self.entries
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    }

    /// The tensor `name` reshaped to rank `D`.
    pub fn get<const D: usize>(&self, name: &str) -> Tensor<D> {
        let p = self
            .entries
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("internal error: method parameter `{name}` not registered"));
        let mut shape = [0usize; D];
        shape.copy_from_slice(&p.shape);
        p.value.clone().reshape(shape)
    }

    /// Whether `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|p| p.name == name)
    }

    /// Turn every value into a fresh autodiff leaf that requires grad (start of a step).
    pub fn track(&mut self) {
        for p in &mut self.entries {
            p.value = p.value.clone().without_autodiff().autodiff().require_grad();
        }
    }

    /// Drop autodiff from every value (evaluation).
    pub fn untrack(&mut self) {
        for p in &mut self.entries {
            p.value = p.value.clone().without_autodiff();
        }
    }

    /// Gradients of every entry from a backward pass (`None`: no path to the loss).
    pub fn grads(&self, grads: &Gradients) -> Vec<Option<Tensor<1>>> {
        self.entries.iter().map(|p| p.value.grad(grads)).collect()
    }

    /// Host copies `(name, shape, values)`.
    pub fn to_host(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        self.entries
            .iter()
            .map(|p| (p.name.clone(), p.shape.clone(), to_vec_f32(&p.value)))
            .collect()
    }

    /// Write `adapter.safetensors` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_safetensors_atomic(path, &self.to_host(), None)
    }

    /// Load values from a safetensors file; every entry must be present with its shape.
    /// Extra tensors in the file are an error (they belong to another method or config).
    pub fn load_values(&mut self, path: &Path, device: &Device) -> Result<()> {
        let file = SafetensorsFile::open(path)?;
        let names = file.names()?;
        for p in &mut self.entries {
            let (vals, shape) =
                file.read_f32(&p.name)?
                    .ok_or_else(|| VladaptError::MissingTensor {
                        path: path.into(),
                        name: p.name.clone(),
                    })?;
            if shape != p.shape {
                return Err(VladaptError::ShapeMismatch {
                    path: path.into(),
                    name: p.name.clone(),
                    actual: shape,
                    expected: p.shape.clone(),
                });
            }
            let n = vals.len();
            p.value = Tensor::from_data(TensorData::new(vals, [n]), device);
        }
        let extra: Vec<&String> = names
            .iter()
            .filter(|n| !self.entries.iter().any(|p| &p.name == *n))
            .collect();
        if !extra.is_empty() {
            return Err(VladaptError::Checkpoint {
                source_name: path.display().to_string(),
                reason: format!(
                    "tensors {:?} are not parameters of this method/config (expected {:?})",
                    extra,
                    self.entries.iter().map(|p| &p.name).collect::<Vec<_>>()
                ),
            });
        }
        Ok(())
    }
}
