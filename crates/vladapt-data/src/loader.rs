//! Batch loader: deterministic shuffle per (seed, epoch), parallel decode, bounded prefetch.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;
use vladapt_image::{ImageLimits, RgbImage};

use crate::batch_plan::{BatchPlan, EpochSeed};
use crate::error::DataError;
use crate::types::{open_rgb, Sample};

/// Loader settings.
#[derive(Debug, Clone, Copy)]
pub struct LoaderConfig {
    /// Samples per batch (≥ 1).
    pub batch_size: usize,
    /// Shuffle each epoch (ChaCha8 seeded by `seed`, stream = epoch).
    pub shuffle: bool,
    /// Shuffle seed.
    pub seed: u64,
    /// Drop the last incomplete batch — applied only when there are at least `batch_size`
    /// samples (Dassl: `drop_last = is_train and len(data) >= batch_size`).
    pub drop_last: bool,
    /// Skip (and count) images that fail to decode instead of failing the epoch.
    pub skip_decode_errors: bool,
    /// Batches decoded ahead of the consumer (≥ 1). Memory is bounded by this many batches.
    pub prefetch: usize,
    /// Pixel budget for decoding.
    pub limits: ImageLimits,
}

impl LoaderConfig {
    /// Training settings: shuffle, drop_last, prefetch 2, fail on decode errors.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: true,
            seed,
            drop_last: true,
            skip_decode_errors: false,
            prefetch: 2,
            limits: ImageLimits::default(),
        }
    }
    /// Evaluation settings: list order, keep the last batch.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig {
            shuffle: false,
            drop_last: false,
            ..Self::train(batch_size, 0)
        }
    }
}

/// One batch: images transformed and concatenated (each `C·H·W` floats), labels and sample indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Concatenated transform outputs, `labels.len()` images of equal length.
    pub images: Vec<f32>,
    /// Labels, one per image.
    pub labels: Vec<usize>,
    /// Index of each image in the loader's sample list.
    pub indices: Vec<usize>,
    /// Samples skipped in this batch because they failed to decode: (index, message).
    pub skipped: Vec<(usize, String)>,
}

type Transform =
    dyn Fn(&RgbImage, usize) -> Result<Vec<f32>, vladapt_image::ImageError> + Send + Sync;

/// Iterates batches of a sample list. See [`Loader::epoch`].
pub struct Loader {
    samples: Arc<Vec<Sample>>,
    transform: Arc<Transform>,
    cfg: LoaderConfig,
    skipped: Arc<AtomicUsize>,
}

impl Loader {
    /// Build a loader; `transform(image, sample_index)` turns a decoded image into CHW floats.
    pub fn new(
        samples: Vec<Sample>,
        cfg: LoaderConfig,
        transform: impl Fn(&RgbImage, usize) -> Vec<f32> + Send + Sync + 'static,
    ) -> Result<Self, DataError> {
        Self::try_new(samples, cfg, move |img, i| Ok(transform(img, i)))
    }

    /// [`Loader::new`] with a transform that can fail (e.g. an image too elongated to
    /// resize); its error is reported for that image like a decoding error.
    pub fn try_new(
        samples: Vec<Sample>,
        cfg: LoaderConfig,
        transform: impl Fn(&RgbImage, usize) -> Result<Vec<f32>, vladapt_image::ImageError>
            + Send
            + Sync
            + 'static,
    ) -> Result<Self, DataError> {
        if cfg.batch_size == 0 {
            return Err(DataError::Invalid {
                name: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if cfg.prefetch == 0 {
            return Err(DataError::Invalid {
                name: "prefetch",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Loader {
            samples: Arc::new(samples),
            transform: Arc::new(transform),
            cfg,
            skipped: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The samples.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The batch plan of this loader ([`BatchPlan`]; seeding: stream `epoch` of `seed`).
    pub fn plan(&self) -> BatchPlan {
        BatchPlan {
            seed: self.cfg.seed,
            seeding: EpochSeed::Stream { salt: 0, offset: 0 },
            batch: self.cfg.batch_size,
            shuffle: self.cfg.shuffle,
            drop_last: self.cfg.drop_last,
        }
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        self.plan().num_batches(self.samples.len())
    }

    /// Sample order of `epoch`: identity without shuffle, else a ChaCha8 permutation seeded by
    /// (`seed`, `epoch`) — the same pair always gives the same order.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        self.plan().order(epoch, self.samples.len())
    }

    /// Total samples skipped for decode errors since the loader was built.
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Start epoch `epoch`: a worker thread decodes batches (in parallel with rayon) into a bounded
    /// channel of `prefetch` batches. Dropping the iterator stops the worker.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        let batches = self.plan().batches(epoch, self.samples.len());
        let (tx, rx) = sync_channel(self.cfg.prefetch);
        let stop = Arc::new(AtomicBool::new(false));
        let (samples, transform, cfg, skipped, stop2) = (
            self.samples.clone(),
            self.transform.clone(),
            self.cfg,
            self.skipped.clone(),
            stop.clone(),
        );
        let handle = std::thread::spawn(move || {
            for idx in batches {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let res = make_batch(&samples, &idx, &*transform, &cfg);
                if let Ok(bt) = &res {
                    skipped.fetch_add(bt.skipped.len(), Ordering::Relaxed);
                }
                let failed = res.is_err();
                if tx.send(res).is_err() || failed {
                    return;
                }
            }
        });
        EpochIter {
            rx: Some(rx),
            stop,
            handle: Some(handle),
        }
    }
}

fn make_batch(
    samples: &[Sample],
    idx: &[usize],
    transform: &Transform,
    cfg: &LoaderConfig,
) -> Result<Batch, DataError> {
    let decoded: Vec<(usize, Result<Vec<f32>, DataError>)> = idx
        .par_iter()
        .map(|&i| {
            (
                i,
                open_rgb(&samples[i].image, &cfg.limits).and_then(|img| {
                    transform(&img, i).map_err(|e| DataError::Image {
                        image: samples[i].image.to_string(),
                        reason: e.to_string(),
                    })
                }),
            )
        })
        .collect();
    let mut batch = Batch {
        images: Vec::new(),
        labels: Vec::new(),
        indices: Vec::new(),
        skipped: Vec::new(),
    };
    let mut per_image = None;
    for (i, r) in decoded {
        match r {
            Ok(v) => {
                let len = *per_image.get_or_insert(v.len());
                if v.len() != len {
                    return Err(DataError::Invalid {
                        name: "transform",
                        reason: format!(
                            "returned {} floats for {} but {len} for earlier images",
                            v.len(),
                            samples[i].image
                        ),
                    });
                }
                batch.images.extend_from_slice(&v);
                batch.labels.push(samples[i].label);
                batch.indices.push(i);
            }
            Err(e) if cfg.skip_decode_errors => batch.skipped.push((i, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(batch)
}

/// Iterator over one epoch's batches (see [`Loader::epoch`]). After an error it ends.
pub struct EpochIter {
    rx: Option<Receiver<Result<Batch, DataError>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Iterator for EpochIter {
    type Item = Result<Batch, DataError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
