//! Checkpoint namings as rename tables, and a prefixed view of the renamed weights.
//!
//! A model reads its weights under one *canonical* naming through a [`View`]
//! (`view.pp("transformer").pp("resblocks").pp(i)`), so the module tree and the key tree are one
//! tree and each module has exactly one loader. A checkpoint layout (Hugging Face, OpenCLIP, …)
//! is a [`KeyMap`]: ordered regex rewrites turning each key of the file into its canonical name.
//! Every tensor is shape-checked when read; a missing tensor is reported with its canonical name
//! and the layout; [`Renamed::unexpected`] lists the file's tensors no module read.
//!
//! A view reads from any [`TensorSource`]: a renamed file ([`Renamed`], CLIP and grounding
//! checkpoints alike) or the grounding model's seeded random and in-memory sources
//! (`models::grounding::weights::Weights`), so every model shares one `pp` / `linear` /
//! `layer_norm` and one rename machinery.
//!
//! `burn-store`'s `KeyRemapper` holds the same kind of table, but it renames `burn_pack` tensor
//! snapshots on their way into a burn `Module`; the towers here are plain tensors read by shape
//! checked views (with layout conversions such as transposes and q/k/v packing done by the
//! module), so the table is applied to names only.
use crate::models::clip::layers::{LayerNorm, Linear};
use crate::tensor_io::WeightStore;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

/// An ordered list of `(pattern, replacement)` rewrites; each matching rule rewrites the first
/// match, and later rules see the result of earlier ones.
pub struct KeyMap {
    name: &'static str,
    rules: Vec<(Regex, String)>,
}

impl KeyMap {
    /// Compile `rules` (regex, replacement with `$1`-style groups) for the layout called `name`.
    pub fn new(name: &'static str, rules: &[(&str, &str)]) -> Result<Self> {
        let rules = rules
            .iter()
            .map(|(p, r)| {
                Regex::new(p).map(|re| (re, r.to_string())).map_err(|e| {
                    VladaptError::argument(
                        format!("rename rule `{p}` ({name} layout)"),
                        e.to_string(),
                    )
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { name, rules })
    }

    /// The layout's name (for messages).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The canonical name of the file key `key`.
    pub fn rename(&self, key: &str) -> String {
        let mut k = key.to_string();
        for (re, rep) in &self.rules {
            if re.is_match(&k) {
                k = re.replace(&k, rep.as_str()).into_owned();
            }
        }
        k
    }
}

/// A [`WeightStore`] seen under canonical names.
pub struct Renamed {
    store: WeightStore,
    layout: &'static str,
    /// canonical name → name in the file.
    names: BTreeMap<String, String>,
}

impl Renamed {
    /// Rename every key of `store` with `map`. Two keys mapping onto one canonical name is an
    /// error naming both.
    pub fn new(store: WeightStore, map: &KeyMap) -> Result<Self> {
        let mut names = BTreeMap::new();
        for key in store.unused() {
            let canonical = map.rename(&key);
            if let Some(prev) = names.insert(canonical.clone(), key.clone()) {
                return Err(VladaptError::Checkpoint {
                    source_name: store.label().display().to_string(),
                    reason: format!(
                        "tensors `{prev}` and `{key}` both map onto `{canonical}` ({} layout)",
                        map.name()
                    ),
                });
            }
        }
        Ok(Self {
            store,
            layout: map.name(),
            names,
        })
    }

    /// The file (or index) path used in messages.
    pub fn label(&self) -> &Path {
        self.store.label()
    }

    /// The layout's name.
    pub fn layout(&self) -> &'static str {
        self.layout
    }

    /// The underlying file.
    pub fn store(&self) -> &WeightStore {
        &self.store
    }

    /// `(canonical name, name in the file)` of every tensor, sorted by canonical name.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().map(|(c, f)| (c.as_str(), f.as_str()))
    }

    /// The root view (no prefix).
    pub fn root(&self) -> View<'_> {
        View::new(self)
    }

    /// File names of the tensors no module read, except those `ignorable` accepts (by canonical name).
    pub fn unexpected(&self, ignorable: impl Fn(&str) -> bool) -> Vec<String> {
        let unused: std::collections::BTreeSet<String> = self.store.unused().into_iter().collect();
        self.names
            .iter()
            .filter(|(c, f)| unused.contains(*f) && !ignorable(c))
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// Where a [`View`] reads tensors, by canonical name.
pub trait TensorSource {
    /// Whether the tensor `canonical` (whose last component is `leaf`) exists.
    fn has(&self, canonical: &str, leaf: &str) -> bool;

    /// The tensor `want` with its shape checked; a missing tensor is
    /// [`VladaptError::MissingTensor`] naming the canonical name (and the layout).
    fn read<const D: usize>(&self, want: Wanted<'_, D>) -> Result<Tensor<D>>;
}

/// A tensor a [`View`] asks its [`TensorSource`] for.
pub struct Wanted<'a, const D: usize> {
    /// Canonical name (`prefix.leaf`).
    pub canonical: String,
    /// The last component the module asked for (`weight`, `running_var`, `in_proj_weight`).
    pub leaf: &'a str,
    /// Expected shape.
    pub shape: [usize; D],
    /// Where to put it.
    pub device: &'a Device,
}

impl TensorSource for Renamed {
    fn has(&self, canonical: &str, _leaf: &str) -> bool {
        self.names.contains_key(canonical)
    }

    fn read<const D: usize>(&self, want: Wanted<'_, D>) -> Result<Tensor<D>> {
        let Some(file_name) = self.names.get(&want.canonical) else {
            return Err(VladaptError::MissingTensor {
                path: self.label().to_path_buf(),
                name: format!("{} ({} layout)", want.canonical, self.layout),
            });
        };
        self.store.tensor(file_name, want.shape, want.device)
    }
}

/// A prefixed view of a [`TensorSource`] (by default [`Renamed`] file weights):
/// `view.pp("layer1").pp(0)` reads `layer1.0.*`.
pub struct View<'a, S: ?Sized = Renamed> {
    weights: &'a S,
    prefix: String,
}

impl<S: ?Sized> Clone for View<'_, S> {
    fn clone(&self) -> Self {
        View {
            weights: self.weights,
            prefix: self.prefix.clone(),
        }
    }
}

impl<'a, S: TensorSource + ?Sized> View<'a, S> {
    /// The root view of `weights` (no prefix).
    pub fn new(weights: &'a S) -> Self {
        View {
            weights,
            prefix: String::new(),
        }
    }

    /// The source this view reads.
    pub fn source(&self) -> &'a S {
        self.weights
    }

    /// A sub-view under `name`.
    pub fn pp(&self, name: impl std::fmt::Display) -> View<'a, S> {
        View {
            weights: self.weights,
            prefix: self.key(&name.to_string()),
        }
    }

    /// The canonical key of `leaf` under this view.
    pub fn key(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }

    /// Whether `leaf` exists under this view.
    pub fn contains(&self, leaf: &str) -> bool {
        self.weights.has(&self.key(leaf), leaf)
    }

    /// Read `leaf` with a checked shape.
    pub fn tensor<const D: usize>(
        &self,
        leaf: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        self.weights.read(Wanted {
            canonical: self.key(leaf),
            leaf,
            shape,
            device,
        })
    }

    /// A PyTorch `nn.Linear` under `name` (`weight [out, in]`, optional `bias`), stored `[in, out]`.
    pub fn linear(
        &self,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        device: &Device,
    ) -> Result<Linear> {
        let v = self.pp(name);
        let w: Tensor<2> = v.tensor("weight", [d_out, d_in], device)?;
        Ok(Linear {
            weight: w.transpose(),
            bias: if bias {
                Some(v.tensor("bias", [d_out], device)?)
            } else {
                None
            },
        })
    }

    /// A LayerNorm under `name` (`weight`, `bias`).
    pub fn layer_norm(&self, name: &str, d: usize, eps: f64, device: &Device) -> Result<LayerNorm> {
        let v = self.pp(name);
        Ok(LayerNorm {
            weight: v.tensor("weight", [d], device)?,
            bias: v.tensor("bias", [d], device)?,
            eps,
        })
    }

    /// A projection matrix `[d_in, d_out]` under `name`: either a bare parameter of that shape
    /// (`name`, OpenAI/OpenCLIP) or a bias-free `nn.Linear` (`name.weight` `[d_out, d_in]`,
    /// Hugging Face).
    pub fn projection(
        &self,
        name: &str,
        d_in: usize,
        d_out: usize,
        device: &Device,
    ) -> Result<Tensor<2>> {
        if self.contains(name) {
            self.tensor(name, [d_in, d_out], device)
        } else {
            Ok(self.linear(name, d_in, d_out, false, device)?.weight)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_to_the_first_match() {
        let map =
            KeyMap::new("test", &[(r"^a\.", "b."), (r"^b\.x$", "c"), (r"\.y", ".z")]).unwrap();
        assert_eq!(map.rename("a.x"), "c");
        assert_eq!(map.rename("a.y.y"), "b.z.y");
        assert_eq!(map.rename("q"), "q");
        assert!(KeyMap::new("bad", &[("(", "")]).is_err());
    }
}
