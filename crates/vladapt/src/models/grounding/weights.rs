//! The grounding checkpoint layouts as rename tables ([`KeyMap`]s of [`crate::models::keymap`],
//! the machinery CLIP uses too) and the grounding weight sources behind one [`View`].
//!
//! Every module is built from a [`View`] (`view.pp("encoder").pp(i)`), so the module tree and
//! the key tree are the same tree. A layout is an ordered list of regex rewrites applied to each
//! key of the file, turning it into the *canonical* name the modules ask for — the official
//! TransVG naming (README "Grounding model"). Every tensor is shape-checked when read; a
//! missing tensor is named with its canonical name and layout; tensors never read are reported.
//! Besides a file ([`Renamed`]), a [`Weights`] may be a seeded random source or in-memory
//! tensors; all three are a [`TensorSource`], so `pp` / `linear` / `layer_norm` are the
//! shared ones of [`crate::models::keymap::View`]; only the conv loaders live here.
use super::layers::{Conv2d, ConvBn};
use crate::models::keymap::{self, KeyMap, Renamed, TensorSource, Wanted};
use crate::tensor_io::{NamedTensor, WeightStore};
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

/// A prefixed view of grounding [`Weights`] (the shared [`keymap::View`]).
pub type View<'a> = keymap::View<'a, Weights>;

/// Which checkpoint a file holds; each maps its keys onto the canonical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A whole TransVG / MMCA checkpoint (`visumodel.backbone.0.body.*`, `textmodel.bert.*` or
    /// `textmodel.*`, `text_proj`, `visu_proj`, `reg_token`, `vl_pos_embed`, `vl_transformer.*`,
    /// `bbox_embed.*`).
    TransVg,
    /// A DETR checkpoint: the official `backbone.0.body.*` / `input_proj.*` /
    /// `transformer.encoder.layers.N.*` naming, or transformers' `DetrModel` /
    /// `DetrForObjectDetection` naming (`[model.]backbone.conv_encoder.model.*` with a timm or a
    /// transformers ResNet, `input_projection`, `encoder.layers.N.self_attn.q_proj`, …).
    /// Canonical names are the official ones; the decoder and detection heads are ignored.
    Detr,
    /// A BERT checkpoint (`[bert.]embeddings.*`, `encoder.layer.N.*`; LayerNorm `gamma`/`beta`
    /// or `weight`/`bias`). Canonical names drop the `bert.` prefix; heads and pooler ignored.
    Bert,
}

impl Layout {
    /// The layout's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransVg => "TransVg",
            Self::Detr => "Detr",
            Self::Bert => "Bert",
        }
    }

    /// The rename table of this layout.
    pub fn key_map(self) -> Result<KeyMap> {
        let rules = rules(self);
        let refs: Vec<(&str, &str)> = rules
            .iter()
            .map(|(p, r)| (p.as_str(), r.as_str()))
            .collect();
        KeyMap::new(self.name(), &refs)
    }
}

/// `(pattern, replacement)` rewrites, applied in order to each file key.
fn rules(layout: Layout) -> Vec<(String, String)> {
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    let ln = vec![s(r"\.gamma$", ".weight"), s(r"\.beta$", ".bias")];
    match layout {
        Layout::TransVg => {
            let mut r = vec![
                s(r"^module\.", ""),
                // TransVG's train.py saves `{"model": state_dict, …}`; a flattened pickle keeps `model.`.
                s(
                    r"^model\.((?:visumodel|textmodel|vl_transformer|vl_pos_embed|reg_token|text_proj|visu_proj|bbox_embed)\b)",
                    "$1",
                ),
                s(
                    r"^textmodel\.(embeddings|encoder|pooler)\.",
                    "textmodel.bert.$1.",
                ),
            ];
            r.extend(ln);
            r
        }
        Layout::Bert => {
            let mut r = vec![s(r"^bert\.", "")];
            r.extend(ln);
            r
        }
        Layout::Detr => {
            // transformers ≤ 4 and the hub files say `backbone.conv_encoder.model`, transformers 5 `backbone.model`.
            const TRUNK: &str = r"^backbone\.(?:conv_encoder\.)?model\.";
            let mut r = vec![
                s(r"^model\.", ""),
                // timm ResNet: torchvision names under the wrapper.
                s(
                    &format!(r"{TRUNK}(conv1|bn1|layer[1-4])\."),
                    "backbone.0.body.$1.",
                ),
                // transformers ResNet: embedder / stages / layers.
                s(
                    &format!(r"{TRUNK}embedder\.embedder\.convolution\."),
                    "backbone.0.body.conv1.",
                ),
                s(
                    &format!(r"{TRUNK}embedder\.embedder\.normalization\."),
                    "backbone.0.body.bn1.",
                ),
            ];
            for stage in 0..4 {
                r.push(s(
                    &format!(r"{TRUNK}encoder\.stages\.{stage}\.layers\.(\d+)\."),
                    &format!("backbone.0.body.layer{}.$1.", stage + 1),
                ));
            }
            const BLOCK: &str = r"^(backbone\.0\.body\.layer[1-4]\.\d+)\.";
            r.push(s(
                &format!(r"{BLOCK}shortcut\.convolution\."),
                "$1.downsample.0.",
            ));
            r.push(s(
                &format!(r"{BLOCK}shortcut\.normalization\."),
                "$1.downsample.1.",
            ));
            for j in 0..3 {
                r.push(s(
                    &format!(r"{BLOCK}layer\.{j}\.convolution\."),
                    &format!("$1.conv{}.", j + 1),
                ));
                r.push(s(
                    &format!(r"{BLOCK}layer\.{j}\.normalization\."),
                    &format!("$1.bn{}.", j + 1),
                ));
            }
            r.push(s(r"^input_projection\.", "input_proj."));
            const LAYER: &str = r"^encoder\.layers\.(\d+)\.";
            let enc = "transformer.encoder.layers.$1.";
            r.push(s(
                &format!("{LAYER}self_attn_layer_norm\\."),
                &format!("{enc}norm1."),
            ));
            r.push(s(
                &format!("{LAYER}final_layer_norm\\."),
                &format!("{enc}norm2."),
            ));
            // transformers 5 names `mlp.fc1` / `self_attn.o_proj` in memory; files keep `fc1` / `out_proj`.
            r.push(s(
                &format!("{LAYER}(?:mlp\\.)?fc1\\."),
                &format!("{enc}linear1."),
            ));
            r.push(s(
                &format!("{LAYER}(?:mlp\\.)?fc2\\."),
                &format!("{enc}linear2."),
            ));
            r.push(s(
                &format!("{LAYER}self_attn\\.o_proj\\."),
                &format!("{enc}self_attn.out_proj."),
            ));
            r.push(s(
                &format!("{LAYER}self_attn\\."),
                &format!("{enc}self_attn."),
            ));
            r
        }
    }
}

/// Keys a layout carries that the model does not use (reported at debug level, not as unexpected).
fn ignorable(layout: Layout, canonical: &str) -> bool {
    let any = canonical.ends_with("num_batches_tracked")
        || canonical.ends_with("position_ids")
        || canonical.ends_with("embeddings.token_type_ids");
    any || match layout {
        Layout::TransVg => canonical.starts_with("textmodel.bert.pooler."),
        Layout::Bert => canonical.starts_with("pooler.") || canonical.starts_with("cls."),
        Layout::Detr => [
            "transformer.decoder.",
            "decoder.",
            "class_embed.",
            "class_labels_classifier.",
            "bbox_embed.",
            "bbox_predictor.",
            "query_embed.",
            "query_position_embeddings.",
            "backbone.0.body.fc.",
            "backbone.conv_encoder.model.fc.",
            "backbone.model.fc.",
        ]
        .iter()
        .any(|p| canonical.starts_with(p)),
    }
}

/// A weight file seen through a layout's rename table, or a seeded random source (tests,
/// demos and benchmarks) that records what it made so it can be saved as a checkpoint.
pub struct Weights {
    source: Source,
    layout: Layout,
}

enum Source {
    /// A checkpoint seen under canonical names.
    File(Renamed),
    Random {
        rng: Box<RefCell<ChaCha8Rng>>,
        /// `None`: hand out without keeping a copy (benchmarks).
        made: Option<RefCell<Vec<NamedTensor>>>,
    },
    /// In-memory tensors by canonical name, each stored flat (`[numel]`) with its logical shape
    /// — e.g. trainable tensors tracked by autodiff, rebuilt into modules at every step.
    Tensors {
        map: BTreeMap<String, (Vec<usize>, Tensor<1>)>,
        label: std::path::PathBuf,
    },
}

/// A flat tensor with its canonical name and logical shape (see [`Weights::from_tensors`]).
pub type FlatTensor = (String, Vec<usize>, Tensor<1>);

impl Weights {
    /// Open a safetensors file holding `layout`.
    pub fn open(path: &Path, layout: Layout) -> Result<Self> {
        Self::new(WeightStore::open(path)?, layout)
    }

    /// Rename every key of `store` with `layout`'s table. Two keys mapping onto one canonical
    /// name is an error naming both.
    pub fn new(store: WeightStore, layout: Layout) -> Result<Self> {
        Ok(Self {
            source: Source::File(Renamed::new(store, &layout.key_map()?)?),
            layout,
        })
    }

    /// Random weights in the official TransVG naming, seeded: conv/linear weights
    /// N(0, 1/fan_in), embeddings N(0, 0.02²), biases N(0, 0.02²), norm scales ≈ 1, BN running
    /// variances in [0.5, 1.5]. Loading a model from it records every tensor it hands out, so
    /// [`Weights::into_tensors`] yields a complete checkpoint.
    pub fn random(seed: u64) -> Self {
        Self::random_source(seed, Some(RefCell::new(Vec::new())))
    }

    /// Like [`Weights::random`] without keeping a copy of the values (nothing to save; half the
    /// memory — for benchmarks).
    pub fn random_unrecorded(seed: u64) -> Self {
        Self::random_source(seed, None)
    }

    fn random_source(seed: u64, made: Option<RefCell<Vec<NamedTensor>>>) -> Self {
        Self {
            source: Source::Random {
                rng: Box::new(RefCell::new(ChaCha8Rng::seed_from_u64(seed))),
                made,
            },
            layout: Layout::TransVg,
        }
    }

    /// The tensors a random source handed out (empty for a file or in-memory tensors).
    pub fn into_tensors(self) -> Vec<NamedTensor> {
        match self.source {
            Source::Random { made, .. } => made.map(RefCell::into_inner).unwrap_or_default(),
            Source::File { .. } | Source::Tensors { .. } => Vec::new(),
        }
    }

    /// In-memory tensors by canonical name (flat values + logical shape). Modules read them
    /// with the same shape checks as from a file; the tensors are shared, not copied, so a
    /// training step can rebuild the model from autodiff-tracked values at no cost.
    pub fn from_tensors(label: impl Into<std::path::PathBuf>, tensors: Vec<FlatTensor>) -> Self {
        Self {
            source: Source::Tensors {
                map: tensors
                    .into_iter()
                    .map(|(name, shape, t)| (name, (shape, t)))
                    .collect(),
                label: label.into(),
            },
            layout: Layout::TransVg,
        }
    }

    /// Every tensor of this source under its canonical name, flat, on `device` (a file: all of
    /// its tensors except ignorable heads; a random source: what it handed out so far).
    pub fn materialise(&self, device: &Device) -> Result<Vec<FlatTensor>> {
        let flat = |name: String, shape: Vec<usize>, vals: Vec<f32>| {
            let n = vals.len();
            (
                name,
                shape,
                Tensor::from_data(TensorData::new(vals, [n]), device),
            )
        };
        match &self.source {
            Source::File(renamed) => {
                let store = renamed.store();
                renamed
                    .names()
                    .filter(|(c, _)| !ignorable(self.layout, c))
                    .map(|(canonical, file_name)| {
                        let shape =
                            store
                                .shape(file_name)?
                                .ok_or_else(|| VladaptError::MissingTensor {
                                    path: store.label().to_path_buf(),
                                    name: file_name.to_string(),
                                })?;
                        let vals = store.get_f32(file_name, &shape)?;
                        Ok(flat(canonical.to_string(), shape, vals))
                    })
                    .collect()
            }
            Source::Random { made, .. } => Ok(made
                .as_ref()
                .map(|m| {
                    m.borrow()
                        .iter()
                        .map(|(n, s, v)| flat(n.clone(), s.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default()),
            Source::Tensors { map, .. } => Ok(map
                .iter()
                .map(|(n, (s, t))| (n.clone(), s.clone(), t.clone()))
                .collect()),
        }
    }

    /// The root view (no prefix).
    pub fn root(&self) -> View<'_> {
        View::new(self)
    }

    /// Tensors in the file that no module read, by their file names (ignorable heads excluded).
    pub fn unexpected(&self) -> Vec<String> {
        match &self.source {
            Source::File(renamed) => renamed.unexpected(|c| ignorable(self.layout, c)),
            Source::Random { .. } | Source::Tensors { .. } => Vec::new(),
        }
    }

    fn label(&self) -> &Path {
        match &self.source {
            Source::File(renamed) => renamed.label(),
            Source::Random { .. } => Path::new("<random weights>"),
            Source::Tensors { label, .. } => label,
        }
    }

    /// Error unless every tensor of the file was used (or is an ignorable head).
    pub fn ensure_all_used(&self) -> Result<()> {
        let extra = self.unexpected();
        if extra.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = extra.iter().take(8).map(String::as_str).collect();
        Err(VladaptError::Checkpoint {
            source_name: self.label().display().to_string(),
            reason: format!(
                "{} unexpected tensor(s) for the {:?} layout and this config: {}{}",
                extra.len(),
                self.layout,
                shown.join(", "),
                if extra.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        })
    }
}

/// Values for a random tensor named `leaf` (see [`Weights::random`]).
fn random_values(rng: &mut ChaCha8Rng, leaf: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut normal = |std: f32| -> f32 {
        // Box–Muller.
        let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
        let u2: f32 = rng.random::<f32>();
        std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    };
    match (leaf, shape.len()) {
        ("running_var", _) => (0..n)
            .map(|_| 1.0 + 0.5 * normal(1.0).clamp(-1.0, 1.0))
            .collect(),
        ("running_mean", _) => (0..n).map(|_| normal(0.1)).collect(),
        ("weight", 1) => (0..n).map(|_| 1.0 + normal(0.05)).collect(),
        (_, 1) => (0..n).map(|_| normal(0.02)).collect(),
        _ if shape[0] == 1 => (0..n).map(|_| normal(0.02)).collect(),
        _ => {
            let fan_in: usize = shape[1..].iter().product();
            let std = 1.0 / (fan_in.max(1) as f32).sqrt();
            (0..n).map(|_| normal(std)).collect()
        }
    }
}

impl TensorSource for Weights {
    fn has(&self, canonical: &str, leaf: &str) -> bool {
        match &self.source {
            Source::File(renamed) => renamed.has(canonical, leaf),
            // A random source writes attention in the official packed form (`in_proj_weight`).
            Source::Random { .. } => leaf == "in_proj_weight",
            Source::Tensors { map, .. } => map.contains_key(canonical),
        }
    }

    fn read<const D: usize>(&self, want: Wanted<'_, D>) -> Result<Tensor<D>> {
        match &self.source {
            Source::File(renamed) => renamed.read(want),
            Source::Random { rng, made } => {
                let vals = random_values(&mut rng.borrow_mut(), want.leaf, &want.shape);
                let Some(made) = made else {
                    return Ok(Tensor::from_data(
                        TensorData::new(vals, want.shape),
                        want.device,
                    ));
                };
                let t = Tensor::from_data(TensorData::new(vals.clone(), want.shape), want.device);
                made.borrow_mut()
                    .push((want.canonical, want.shape.to_vec(), vals));
                Ok(t)
            }
            Source::Tensors { map, label } => {
                let Some((actual, t)) = map.get(&want.canonical) else {
                    return Err(VladaptError::MissingTensor {
                        path: label.clone(),
                        name: want.canonical,
                    });
                };
                if actual.as_slice() != want.shape.as_slice() {
                    return Err(VladaptError::ShapeMismatch {
                        path: label.clone(),
                        name: want.canonical,
                        actual: actual.clone(),
                        expected: want.shape.to_vec(),
                    });
                }
                Ok(t.clone().reshape(want.shape))
            }
        }
    }
}

/// The conv loaders of the ResNet trunk (the rest of the view is the shared one).
impl View<'_> {
    /// A `Conv2d` under `name` (`weight [out, in, k, k]`, optional `bias`).
    pub fn conv2d(
        &self,
        name: &str,
        shape: ConvShape,
        bias: bool,
        device: &Device,
    ) -> Result<Conv2d> {
        let v = self.pp(name);
        Ok(Conv2d {
            weight: v.tensor(
                "weight",
                [shape.c_out, shape.c_in, shape.kernel, shape.kernel],
                device,
            )?,
            bias: if bias {
                Some(v.tensor("bias", [shape.c_out], device)?)
            } else {
                None
            },
            stride: shape.stride,
            padding: shape.kernel / 2,
        })
    }

    /// A bias-free conv `conv` followed by the frozen BatchNorm `bn` (four buffers).
    pub fn conv_bn(
        &self,
        conv: &str,
        bn: &str,
        shape: ConvShape,
        device: &Device,
    ) -> Result<ConvBn> {
        let conv = self.conv2d(conv, shape, false, device)?;
        let b = self.pp(bn);
        let c = shape.c_out;
        ConvBn::new(
            conv,
            b.tensor("weight", [c], device)?,
            b.tensor("bias", [c], device)?,
            b.tensor("running_mean", [c], device)?,
            b.tensor("running_var", [c], device)?,
        )
    }
}

/// Shape of a square convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side (padding is `kernel / 2`).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(layout: Layout, key: &str) -> String {
        layout.key_map().unwrap().rename(key)
    }

    #[test]
    fn detr_hub_names_map_onto_the_official_ones() {
        // transformers' convert_detr_to_pytorch.py (timm backbone) and the non-timm
        // ResNetBackbone naming (ResNetEmbeddings / ResNetStage / ResNetBottleNeckLayer).
        let cases = [
            ("model.backbone.conv_encoder.model.layer2.0.downsample.1.running_var", "backbone.0.body.layer2.0.downsample.1.running_var"),
            ("backbone.conv_encoder.model.bn1.weight", "backbone.0.body.bn1.weight"),
            ("backbone.conv_encoder.model.embedder.embedder.convolution.weight", "backbone.0.body.conv1.weight"),
            ("backbone.conv_encoder.model.embedder.embedder.normalization.running_mean", "backbone.0.body.bn1.running_mean"),
            ("backbone.conv_encoder.model.encoder.stages.2.layers.4.layer.1.convolution.weight", "backbone.0.body.layer3.4.conv2.weight"),
            ("backbone.conv_encoder.model.encoder.stages.0.layers.0.layer.2.normalization.bias", "backbone.0.body.layer1.0.bn3.bias"),
            ("backbone.conv_encoder.model.encoder.stages.3.layers.0.shortcut.convolution.weight", "backbone.0.body.layer4.0.downsample.0.weight"),
            ("backbone.conv_encoder.model.encoder.stages.1.layers.0.shortcut.normalization.weight", "backbone.0.body.layer2.0.downsample.1.weight"),
            ("model.input_projection.bias", "input_proj.bias"),
            ("encoder.layers.5.self_attn.q_proj.weight", "transformer.encoder.layers.5.self_attn.q_proj.weight"),
            ("encoder.layers.0.self_attn_layer_norm.bias", "transformer.encoder.layers.0.norm1.bias"),
            ("encoder.layers.3.final_layer_norm.weight", "transformer.encoder.layers.3.norm2.weight"),
            ("encoder.layers.1.fc2.weight", "transformer.encoder.layers.1.linear2.weight"),
            ("encoder.layers.1.mlp.fc1.bias", "transformer.encoder.layers.1.linear1.bias"),
            ("encoder.layers.0.self_attn.o_proj.weight", "transformer.encoder.layers.0.self_attn.out_proj.weight"),
            ("backbone.model.encoder.stages.2.layers.1.layer.0.convolution.weight", "backbone.0.body.layer3.1.conv1.weight"),
            ("backbone.model.layer1.0.conv1.weight", "backbone.0.body.layer1.0.conv1.weight"),
            // the official names are already canonical
            ("transformer.encoder.layers.2.self_attn.in_proj_weight", "transformer.encoder.layers.2.self_attn.in_proj_weight"),
            ("backbone.0.body.layer4.2.bn3.running_var", "backbone.0.body.layer4.2.bn3.running_var"),
        ];
        for (file, canonical) in cases {
            assert_eq!(renamed(Layout::Detr, file), canonical, "{file}");
        }
        assert!(ignorable(
            Layout::Detr,
            &renamed(Layout::Detr, "model.decoder.layers.0.fc1.weight")
        ));
        assert!(ignorable(
            Layout::Detr,
            &renamed(Layout::Detr, "class_embed.weight")
        ));
    }

    #[test]
    fn bert_and_transvg_names() {
        assert_eq!(
            renamed(Layout::Bert, "bert.encoder.layer.3.output.LayerNorm.gamma"),
            "encoder.layer.3.output.LayerNorm.weight"
        );
        assert_eq!(
            renamed(Layout::Bert, "embeddings.LayerNorm.bias"),
            "embeddings.LayerNorm.bias"
        );
        assert_eq!(
            renamed(Layout::Bert, "bert.embeddings.LayerNorm.beta"),
            "embeddings.LayerNorm.bias"
        );
        assert_eq!(
            renamed(
                Layout::TransVg,
                "textmodel.encoder.layer.0.attention.self.query.weight"
            ),
            "textmodel.bert.encoder.layer.0.attention.self.query.weight"
        );
        assert_eq!(
            renamed(Layout::TransVg, "textmodel.bert.embeddings.LayerNorm.gamma"),
            "textmodel.bert.embeddings.LayerNorm.weight"
        );
        assert_eq!(
            renamed(
                Layout::TransVg,
                "vl_transformer.encoder.layers.0.norm1.weight"
            ),
            "vl_transformer.encoder.layers.0.norm1.weight"
        );
        assert_eq!(
            renamed(Layout::TransVg, "model.visumodel.input_proj.bias"),
            "visumodel.input_proj.bias"
        );
        assert_eq!(
            renamed(Layout::TransVg, "model.reg_token.weight"),
            "reg_token.weight"
        );
        assert!(ignorable(
            Layout::TransVg,
            "textmodel.bert.embeddings.token_type_ids"
        ));
    }
}
