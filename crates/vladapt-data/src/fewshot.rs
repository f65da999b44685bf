//! Seeded class-balanced K-shot sampling and the saved few-shot split.
//!
//! Dassl samples with CPython's `random.sample`; this port uses ChaCha8, so the same seed draws
//! different images than the Python code (per-seed results cannot match image-for-image), but a
//! given seed always draws the same images here, on every platform.
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::types::{Dataset, Sample};

/// ChaCha8 stream used for the train draw (the val draw uses stream 1).
const TRAIN_STREAM: u64 = 0;
const VAL_STREAM: u64 = 1;

fn sample_stream(
    samples: &[Sample],
    k: usize,
    seed: u64,
    stream: u64,
    allow_fewer: bool,
    split: &str,
) -> Result<Vec<Sample>, DataError> {
    // Group by label, classes in first-occurrence order, items in list order.
    let mut order: Vec<usize> = Vec::new();
    let mut groups: std::collections::HashMap<usize, Vec<&Sample>> =
        std::collections::HashMap::new();
    for s in samples {
        groups
            .entry(s.label)
            .or_insert_with(|| {
                order.push(s.label);
                Vec::new()
            })
            .push(s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut out = Vec::with_capacity(order.len() * k);
    for label in order {
        let items = &groups[&label];
        if items.len() < k {
            if !allow_fewer {
                return Err(DataError::TooFewShots {
                    label,
                    classname: format!("label {label}"),
                    available: items.len(),
                    k,
                    split: split.into(),
                });
            }
            out.extend(items.iter().map(|s| (*s).clone()));
            continue;
        }
        for i in rand::seq::index::sample(&mut rng, items.len(), k).into_iter() {
            out.push(items[i].clone());
        }
    }
    Ok(out)
}

/// Draw `k` samples per class without replacement, classes in first-occurrence order of their
/// label, with a ChaCha8 generator seeded by `seed`. A class with fewer than `k` samples is an
/// error naming it, unless `allow_fewer`, in which case all of its samples are taken.
pub fn sample_few_shot(
    samples: &[Sample],
    k: usize,
    seed: u64,
    allow_fewer: bool,
) -> Result<Vec<Sample>, DataError> {
    sample_stream(samples, k, seed, TRAIN_STREAM, allow_fewer, "train")
}

/// A saved few-shot draw (`--split-file`): the chosen image refs and labels plus how they were drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewShotSplit {
    /// Dataset the draw belongs to.
    pub dataset: String,
    /// Number of classes of that dataset.
    pub num_classes: usize,
    /// Shots per class.
    pub k: usize,
    /// Seed of the draw.
    pub seed: u64,
    /// Shots per class in val: min(k, 4).
    pub k_val: usize,
    /// True when val was not sampled (ImageNet): use the dataset's full val list.
    pub full_val: bool,
    /// Sampled training samples.
    pub train: Vec<Sample>,
    /// Sampled validation samples (empty when `full_val`).
    pub val: Vec<Sample>,
}

impl FewShotSplit {
    /// Sample train (K shots) and val (min(K, 4) shots, never failing for small classes) from a
    /// dataset. ImageNet's val is not sampled, as in Dassl. Errors name the class.
    pub fn sample(
        dataset: &Dataset,
        k: usize,
        seed: u64,
        allow_fewer: bool,
    ) -> Result<Self, DataError> {
        if k == 0 {
            return Err(DataError::Invalid {
                name: "k",
                reason: "the number of shots must be at least 1".into(),
            });
        }
        let name_err = |e: DataError| match e {
            DataError::TooFewShots {
                label,
                available,
                k,
                split,
                ..
            } => DataError::TooFewShots {
                label,
                classname: dataset
                    .classnames
                    .get(label)
                    .cloned()
                    .unwrap_or_else(|| format!("label {label}")),
                available,
                k,
                split: format!("{} {split}", dataset.name),
            },
            other => other,
        };
        let train = sample_stream(
            &dataset.split.train,
            k,
            seed,
            TRAIN_STREAM,
            allow_fewer,
            "train",
        )
        .map_err(name_err)?;
        let k_val = k.min(4);
        let full_val = dataset.name == "ImageNet";
        let val = if full_val {
            Vec::new()
        } else {
            sample_stream(&dataset.split.val, k_val, seed, VAL_STREAM, true, "val")?
        };
        Ok(FewShotSplit {
            dataset: dataset.name.clone(),
            num_classes: dataset.num_classes(),
            k,
            seed,
            k_val,
            full_val,
            train,
            val,
        })
    }

    /// The val list to use with `dataset`: the sampled one, or the full val when `full_val`.
    pub fn val_samples<'a>(&'a self, dataset: &'a Dataset) -> &'a [Sample] {
        if self.full_val {
            &dataset.split.val
        } else {
            &self.val
        }
    }

    /// Write as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| DataError::io("cannot create", parent, e))?;
        }
        crate::sources::common::write_json(path, self)
    }

    /// Read a saved split.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| DataError::io("cannot read", path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| DataError::format("few-shot split file", path, e.to_string()))
    }

    /// Check that this draw belongs to `dataset` (name, class count, label range).
    pub fn check_matches(&self, dataset: &Dataset, path: &Path) -> Result<(), DataError> {
        if self.dataset != dataset.name || self.num_classes != dataset.num_classes() {
            return Err(DataError::format(
                "few-shot split file",
                path,
                format!(
                    "drawn from {} ({} classes) but the dataset is {} ({} classes)",
                    self.dataset,
                    self.num_classes,
                    dataset.name,
                    dataset.num_classes()
                ),
            ));
        }
        if let Some(s) = self
            .train
            .iter()
            .chain(&self.val)
            .find(|s| s.label >= self.num_classes)
        {
            return Err(DataError::format(
                "few-shot split file",
                path,
                format!("label {} of {} is out of range", s.label, s.image),
            ));
        }
        Ok(())
    }
}
