//! The inference engine: one worker thread owns the base model and the loaded adapter heads and
//! answers jobs in dynamic batches.
//!
//! A *head* is an adapter (or zero-shot CLIP) with its class-dependent buffers for one class set
//! — prompt tokens, cached text features `[C, proj]` — so those are computed once per adapter and
//! class set, not per request. Heads live in an LRU bounded by count and by accounted bytes
//! (trainable tensors plus the class buffers, `C × (context_length × width + proj) × 4`).
//!
//! Batching: the worker takes the first waiting job, gathers more for up to
//! [`Limits::batch_wait`](crate::config::Limits) or until [`Limits::max_batch`] images, then
//! 1. runs every image whose head has frozen image features (zero-shot, CoOp, CoCoOp,
//!    CLIP-Adapter, linear probe — [`AdaptMethod::frozen_image_features`]) through the frozen
//!    image tower in one `[B, 3, S, S]` pass, whatever adapter each request named;
//! 2. splits the features `[B, proj]` per head (rows of one head are contiguous) for the heads'
//!    logits `[b, C]`;
//! 3. runs the heads whose image features depend on their own parameters (MaPLe, MMA) as one
//!    batch per head.
use crate::config::{Limits, ServeConfig};
use crate::error::{Result, ServeError};
use crate::metrics::Metrics;
use crate::registry::{Availability, Catalog};
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use vladapt::methods::config::ZeroShotConfig;
use vladapt::methods::zeroshot::ZeroShot;
use vladapt::methods::{AdaptMethod, ClassSet};
use vladapt::models::clip::{l2_normalize, ClipPipeline, NoHook};
use vladapt::tensor::activation::softmax;
use vladapt::tensor::Tensor;
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::run_dir::{fingerprint, load_adapter};
use vladapt_image::{ImageLimits, Preprocess};

/// The template zero-shot uses when none is given.
pub const DEFAULT_TEMPLATE: &str = "a photo of a {}.";

/// Which head answers a request: an adapter (or zero-shot) and an optional class set.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct HeadKey {
    /// Adapter name; `None` = zero-shot CLIP.
    pub adapter: Option<String>,
    /// Classes replacing the adapter's training classes (or the server's zero-shot classes).
    pub classes: Option<Vec<String>>,
    /// Zero-shot templates replacing the server's (zero-shot only).
    pub templates: Vec<String>,
}

/// Probabilities of a classification job.
#[derive(Debug, Clone)]
pub struct Classified {
    /// Class names, in the order of each probability row.
    pub classes: Arc<Vec<String>>,
    /// The method that answered (`zeroshot`, `coop`, …).
    pub method: String,
    /// Softmax probabilities, one row `[C]` per image.
    pub probabilities: Vec<Vec<f32>>,
}

/// Facts about the served model, readable without the worker.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Model directory.
    pub dir: std::path::PathBuf,
    /// Base model fingerprint.
    pub fingerprint: String,
    /// Test-time preprocessing.
    pub preprocess: Preprocess,
    /// Decoder pixel budget.
    pub image_limits: ImageLimits,
    /// Embedding dimension.
    pub dim: usize,
    /// The default head's method and classes, if there is a default head.
    pub default_head: Option<(String, Vec<String>)>,
}

type Reply<T> = oneshot::Sender<Result<T>>;

enum Job {
    Classify {
        key: HeadKey,
        images: Vec<Vec<f32>>,
        reply: Reply<Classified>,
    },
    EmbedImages {
        adapter: Option<String>,
        images: Vec<Vec<f32>>,
        reply: Reply<Vec<Vec<f32>>>,
    },
    EmbedTexts {
        texts: Vec<String>,
        reply: Reply<Vec<Vec<f32>>>,
    },
    Load {
        name: String,
        reply: Reply<()>,
    },
    Unload {
        name: String,
        reply: Reply<bool>,
    },
}

impl Job {
    fn images(&self) -> usize {
        match self {
            Job::Classify { images, .. } | Job::EmbedImages { images, .. } => images.len(),
            _ => 0,
        }
    }
}

/// Handle to the engine (cheap to clone; the worker stops when the last handle is dropped).
#[derive(Clone)]
pub struct Engine {
    tx: SyncSender<Job>,
    info: Arc<ModelInfo>,
    catalog: Arc<Mutex<Catalog>>,
    metrics: Arc<Metrics>,
    default_adapter: Option<String>,
}

impl Engine {
    /// Load the base model (and the default head) on a new worker thread; returns once the
    /// engine is ready, or the load error.
    pub fn start(cfg: &ServeConfig, metrics: Arc<Metrics>) -> Result<Self> {
        let (tx, rx) = sync_channel::<Job>(cfg.limits.max_concurrency.max(1) * 2);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let cfg2 = cfg.clone();
        let m2 = metrics.clone();
        std::thread::Builder::new()
            .name("vladapt-infer".into())
            .spawn(move || match Worker::new(&cfg2, m2) {
                Ok((mut w, info, catalog)) => {
                    let _ = ready_tx.send(Ok((info, catalog)));
                    w.run(rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| ServeError::Io {
                context: "cannot start the inference thread".into(),
                source: e,
            })?;
        let (info, catalog) = ready_rx.recv().map_err(|_| {
            ServeError::Internal("the inference thread died while loading".into())
        })??;
        Ok(Self {
            tx,
            info: Arc::new(info),
            catalog,
            metrics,
            default_adapter: cfg.default_adapter.clone(),
        })
    }

    /// Facts about the model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The adapter catalog (shared with the worker).
    pub fn catalog(&self) -> &Mutex<Catalog> {
        &self.catalog
    }

    /// The adapter used when a request names none.
    pub fn default_adapter(&self) -> Option<&str> {
        self.default_adapter.as_deref()
    }

    /// Decode and preprocess one uploaded image to CHW floats (CPU work: call it off the async
    /// runtime).
    pub fn preprocess(&self, bytes: &[u8], name: &str) -> Result<Vec<f32>> {
        if bytes.is_empty() {
            return Err(ServeError::BadRequest(format!("{name}: empty image")));
        }
        let img = vladapt_image::decode_rgb(bytes, name, &self.info.image_limits)
            .map_err(|e| ServeError::BadRequest(e.to_string()))?;
        self.info
            .preprocess
            .apply(&img)
            .map_err(|e| ServeError::BadRequest(format!("{name}: {e}")))
    }

    /// Check that `name` is a registered adapter that can serve here.
    pub fn check_adapter(&self, name: &str) -> Result<()> {
        let info = self
            .catalog
            .lock()
            .map_err(|_| ServeError::Internal("catalog lock poisoned".into()))?
            .lookup(name);
        match info {
            None => Err(ServeError::UnknownAdapter { name: name.into() }),
            Some(i) => match i.availability {
                Availability::Available => Ok(()),
                Availability::Refused { reason } => Err(ServeError::RefusedAdapter {
                    name: name.into(),
                    reason,
                }),
            },
        }
    }

    async fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> Job) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(make(reply)) {
            Ok(()) => {
                self.metrics.queue_depth.inc();
            }
            Err(TrySendError::Full(_)) => {
                self.metrics.rejected.inc();
                return Err(ServeError::Overloaded("the inference queue is full".into()));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ServeError::Unavailable(
                    "the inference worker has stopped".into(),
                ))
            }
        }
        rx.await
            .map_err(|_| ServeError::Internal("the inference worker dropped the request".into()))?
    }

    /// Class probabilities of preprocessed images with the head `key`.
    pub async fn classify(&self, key: HeadKey, images: Vec<Vec<f32>>) -> Result<Classified> {
        self.submit(|reply| Job::Classify { key, images, reply })
            .await
    }

    /// L2-normalised image embeddings (through the adapter's image tower if it has its own).
    pub async fn embed_images(
        &self,
        adapter: Option<String>,
        images: Vec<Vec<f32>>,
    ) -> Result<Vec<Vec<f32>>> {
        self.submit(|reply| Job::EmbedImages {
            adapter,
            images,
            reply,
        })
        .await
    }

    /// L2-normalised text embeddings of the frozen text tower.
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        self.submit(|reply| Job::EmbedTexts { texts, reply }).await
    }

    /// Load an adapter (with its training classes) now.
    pub async fn load(&self, name: String) -> Result<()> {
        self.check_adapter(&name)?;
        self.submit(|reply| Job::Load { name, reply }).await
    }

    /// Unload every head of an adapter; `false` if none was loaded.
    pub async fn unload(&self, name: String) -> Result<bool> {
        self.check_adapter(&name)?;
        self.submit(|reply| Job::Unload { name, reply }).await
    }
}

/// A loaded head.
struct Head {
    method: Box<dyn AdaptMethod>,
    classes: Arc<Vec<String>>,
    shared: bool,
    bytes: usize,
}

/// The worker: owns the model and the heads.
struct Worker {
    pipe: ClipPipeline,
    catalog: Arc<Mutex<Catalog>>,
    metrics: Arc<Metrics>,
    limits: Limits,
    default_classes: Option<Vec<String>>,
    default_templates: Vec<String>,
    /// Heads never evicted (the default head).
    pinned: HashMap<HeadKey, Head>,
    cache: lru::LruCache<HeadKey, Head>,
}

impl Worker {
    fn new(
        cfg: &ServeConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, ModelInfo, Arc<Mutex<Catalog>>)> {
        let pipe = ClipPipeline::load(&cfg.model, &cfg.device)?;
        let fp = fingerprint(&pipe.model);
        let mut catalog = Catalog::new(fp.clone(), cfg.adapters_dir.clone());
        for run in &cfg.runs {
            let name = run_name(run);
            let info = catalog.register(&name, run, true);
            if let Availability::Refused { reason } = info.availability {
                return Err(ServeError::RefusedAdapter { name, reason });
            }
        }
        let catalog = Arc::new(Mutex::new(catalog));
        let mut w = Worker {
            pipe,
            catalog: catalog.clone(),
            metrics,
            limits: cfg.limits.clone(),
            default_classes: cfg.default_classes.clone(),
            default_templates: cfg.default_templates.clone(),
            pinned: HashMap::new(),
            cache: lru::LruCache::unbounded(),
        };
        let default_key = HeadKey {
            adapter: cfg.default_adapter.clone(),
            classes: None,
            templates: Vec::new(),
        };
        let mut default_head = None;
        if cfg.default_adapter.is_some() || cfg.default_classes.is_some() {
            if let Some(name) = &cfg.default_adapter {
                w.lookup(name)?;
            }
            let head = w.build(&default_key)?;
            default_head = Some((head.method.kind().to_string(), (*head.classes).clone()));
            w.pinned.insert(default_key.clone(), head);
            if let Some(name) = &cfg.default_adapter {
                w.refresh_loaded(name);
            }
        }
        let info = ModelInfo {
            dir: cfg.model.clone(),
            fingerprint: fp,
            preprocess: w.pipe.preprocess.clone(),
            image_limits: w.pipe.limits,
            dim: w.pipe.model.config.projection_dim,
            default_head,
        };
        Ok((w, info, catalog))
    }

    /// Gather jobs into batches until every handle is dropped.
    fn run(&mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            self.metrics.queue_depth.dec();
            let mut jobs = vec![first];
            let mut images = jobs[0].images();
            let deadline = Instant::now() + self.limits.batch_wait;
            while images < self.limits.max_batch {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match rx.recv_timeout(deadline - now) {
                    Ok(j) => {
                        self.metrics.queue_depth.dec();
                        images += j.images();
                        jobs.push(j);
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            // A panic in a batch answers its requests with 500 (their reply channels drop) and
            // leaves the worker serving.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.batch(jobs)));
            if r.is_err() {
                tracing::error!("an inference batch panicked; its requests were answered 500");
            }
            self.enforce_bounds();
        }
    }

    fn lookup(&self, name: &str) -> Result<std::path::PathBuf> {
        let info = self
            .catalog
            .lock()
            .map_err(|_| ServeError::Internal("catalog lock poisoned".into()))?
            .lookup(name)
            .ok_or_else(|| ServeError::UnknownAdapter { name: name.into() })?;
        match info.availability {
            Availability::Available => Ok(info.dir),
            Availability::Refused { reason } => Err(ServeError::RefusedAdapter {
                name: name.into(),
                reason,
            }),
        }
    }

    /// Build a head (loads the adapter's tensors, computes class buffers).
    fn build(&self, key: &HeadKey) -> Result<Head> {
        let pipe = &self.pipe;
        let (method, classes): (Box<dyn AdaptMethod>, Vec<String>) = match &key.adapter {
            None => {
                let classes = key
                    .classes
                    .clone()
                    .or_else(|| self.default_classes.clone())
                    .ok_or_else(|| {
                        ServeError::BadRequest(
                            "no classes: name an adapter, or give classes for zero-shot (this server has no default classes)".into(),
                        )
                    })?;
                let templates = if key.templates.is_empty() {
                    self.default_templates.clone()
                } else {
                    key.templates.clone()
                };
                let mut m = ZeroShot::new(ZeroShotConfig { templates });
                m.set_classes(&ClassSet {
                    clip: &pipe.model,
                    tokenizer: &pipe.tokenizer,
                    classnames: &classes,
                    template: DEFAULT_TEMPLATE,
                })
                .map_err(|e| ServeError::BadRequest(e.to_string()))?;
                (Box::new(m), classes)
            }
            Some(name) => {
                let dir = self.lookup(name)?;
                let (mut m, acfg) =
                    load_adapter(&dir, pipe).map_err(|e| ServeError::RefusedAdapter {
                        name: name.clone(),
                        reason: e.to_string(),
                    })?;
                match &key.classes {
                    Some(classes) if classes != &acfg.classnames => {
                        let set = ClassSet {
                            clip: &pipe.model,
                            tokenizer: &pipe.tokenizer,
                            classnames: classes,
                            template: &acfg.template,
                        };
                        m.set_classes(&set)
                            .and_then(|_| m.freeze_for_inference(&pipe.model))
                            .map_err(|e| {
                                ServeError::BadRequest(format!("adapter {name:?}: {e}"))
                            })?;
                        (m, classes.clone())
                    }
                    _ => (m, acfg.classnames),
                }
            }
        };
        let t = &pipe.model.config.text;
        let per_class = t.context_length * t.width + pipe.model.config.projection_dim;
        let bytes = 4 * (method.params().numel() + classes.len() * per_class);
        Ok(Head {
            shared: method.frozen_image_features(),
            method,
            classes: Arc::new(classes),
            bytes,
        })
    }

    /// Make sure the head `key` is in memory.
    fn ensure(&mut self, key: &HeadKey) -> Result<()> {
        if self.pinned.contains_key(key) || self.cache.get(key).is_some() {
            self.metrics.cache_hits.inc();
            return Ok(());
        }
        self.metrics.cache_misses.inc();
        let head = self.build(key)?;
        tracing::info!(
            "loaded head {} ({} classes, {} bytes)",
            key.adapter.as_deref().unwrap_or("zero-shot"),
            head.classes.len(),
            head.bytes
        );
        self.cache.put(key.clone(), head);
        if let Some(n) = &key.adapter {
            self.refresh_loaded(n);
        }
        self.update_gauges();
        Ok(())
    }

    fn head(&self, key: &HeadKey) -> Option<&Head> {
        self.pinned.get(key).or_else(|| self.cache.peek(key))
    }

    /// Update the catalog's loaded flag and bytes of adapter `name`.
    fn refresh_loaded(&self, name: &str) {
        let bytes: usize = self
            .pinned
            .iter()
            .chain(self.cache.iter())
            .filter(|(k, _)| k.adapter.as_deref() == Some(name))
            .map(|(_, h)| h.bytes)
            .sum();
        let any = self
            .pinned
            .keys()
            .chain(self.cache.iter().map(|(k, _)| k))
            .any(|k| k.adapter.as_deref() == Some(name));
        if let Ok(mut c) = self.catalog.lock() {
            c.set_loaded(name, any.then_some(bytes));
        }
    }

    fn update_gauges(&self) {
        let n = self.pinned.len() + self.cache.len();
        let bytes: usize = self
            .pinned
            .values()
            .chain(self.cache.iter().map(|(_, h)| h))
            .map(|h| h.bytes)
            .sum();
        self.metrics.adapters_loaded.set(n as i64);
        self.metrics.adapter_bytes.set(bytes as i64);
    }

    /// Unload least recently used heads until both bounds hold.
    fn enforce_bounds(&mut self) {
        loop {
            let bytes: usize = self
                .pinned
                .values()
                .chain(self.cache.iter().map(|(_, h)| h))
                .map(|h| h.bytes)
                .sum();
            let count = self.pinned.len() + self.cache.len();
            if (count <= self.limits.max_loaded && bytes <= self.limits.max_loaded_bytes)
                || self.cache.is_empty()
            {
                break;
            }
            if let Some((k, _)) = self.cache.pop_lru() {
                self.metrics.evictions.inc();
                tracing::info!(
                    "unloaded head {} (least recently used)",
                    k.adapter.as_deref().unwrap_or("zero-shot")
                );
                if let Some(n) = &k.adapter {
                    self.refresh_loaded(n);
                }
            }
        }
        self.update_gauges();
    }

    fn batch(&mut self, jobs: Vec<Job>) {
        let mut work = Vec::new();
        for job in jobs {
            match job {
                Job::Load { name, reply } => {
                    let key = HeadKey {
                        adapter: Some(name),
                        classes: None,
                        templates: Vec::new(),
                    };
                    let r = self.ensure(&key);
                    // Bounds hold before the answer, so a following listing sees them.
                    self.enforce_bounds();
                    let _ = reply.send(r);
                }
                Job::Unload { name, reply } => {
                    let keys: Vec<HeadKey> = self
                        .cache
                        .iter()
                        .filter(|(k, _)| k.adapter.as_deref() == Some(name.as_str()))
                        .map(|(k, _)| k.clone())
                        .collect();
                    let pinned = self
                        .pinned
                        .keys()
                        .any(|k| k.adapter.as_deref() == Some(name.as_str()));
                    for k in &keys {
                        self.cache.pop(k);
                    }
                    self.refresh_loaded(&name);
                    self.update_gauges();
                    let _ = reply.send(if pinned {
                        Err(ServeError::BadRequest(format!(
                            "adapter {name:?} is the server's default adapter and stays loaded"
                        )))
                    } else {
                        Ok(!keys.is_empty())
                    });
                }
                Job::EmbedTexts { texts, reply } => {
                    let r = self
                        .pipe
                        .embed_texts(&texts, self.limits.max_batch.max(1))
                        .map_err(|e| ServeError::Internal(e.to_string()));
                    let _ = reply.send(r);
                }
                j => work.push(j),
            }
        }
        self.images(work);
    }

    /// Classification and image-embedding jobs: shared image tower first, then per head.
    fn images(&mut self, jobs: Vec<Job>) {
        // (head key or None for the plain tower, job) — resolve heads first.
        let mut shared: Vec<(Option<HeadKey>, Job)> = Vec::new();
        let mut own: Vec<(HeadKey, Job)> = Vec::new();
        for job in jobs {
            let key = match &job {
                Job::Classify { key, .. } => Some(key.clone()),
                Job::EmbedImages {
                    adapter: Some(a), ..
                } => Some(HeadKey {
                    adapter: Some(a.clone()),
                    classes: None,
                    templates: Vec::new(),
                }),
                _ => None,
            };
            if let Some(k) = &key {
                if let Err(e) = self.ensure(k) {
                    fail(job, e);
                    continue;
                }
            }
            let is_shared = key
                .as_ref()
                .is_none_or(|k| self.head(k).is_some_and(|h| h.shared));
            match (is_shared, &job) {
                (true, Job::EmbedImages { .. }) => shared.push((None, job)),
                (true, _) => shared.push((key, job)),
                (false, _) => own.push((key.expect("own-feature jobs have a head"), job)),
            }
        }
        self.shared_tower(shared);
        self.own_towers(own);
    }

    fn shared_tower(&mut self, mut jobs: Vec<(Option<HeadKey>, Job)>) {
        if jobs.is_empty() {
            return;
        }
        // Rows of one head contiguous: sort by head (embedding jobs first).
        jobs.sort_by_key(|(k, _)| format!("{k:?}"));
        let counts: Vec<usize> = jobs.iter().map(|(_, j)| job_count(j)).collect();
        let mut pixels = Vec::new();
        for (_, j) in jobs.iter_mut() {
            if let Job::Classify { images, .. } | Job::EmbedImages { images, .. } = j {
                pixels.append(images.as_mut());
            }
        }
        let features = match self.encode(pixels) {
            Ok(f) => f,
            Err(e) => {
                for (_, j) in jobs {
                    fail(j, ServeError::Internal(e.to_string()));
                }
                return;
            }
        };
        // Walk groups of equal keys.
        let mut start = 0;
        let mut jobs = jobs.into_iter().zip(counts).peekable();
        while let Some(((key, job), n)) = jobs.next() {
            let mut group = vec![(job, n)];
            while jobs.peek().is_some_and(|((k, _), _)| *k == key) {
                let ((_, j), n) = jobs.next().expect("peeked");
                group.push((j, n));
            }
            let rows: usize = group.iter().map(|(_, n)| n).sum();
            let f = features.clone().narrow(0, start, rows);
            start += rows;
            match &key {
                None => {
                    let out = rows_of(&l2_normalize(f));
                    answer_embeddings(group, out);
                }
                Some(k) => self.answer_logits(k, f, group),
            }
        }
    }

    /// One image-tower pass over `pixels` (chunks of `max_batch`), features `[N, proj]`.
    fn encode(&self, pixels: Vec<Vec<f32>>) -> vladapt::Result<Tensor<2>> {
        let mut parts = Vec::new();
        let mut it = pixels.into_iter().peekable();
        while it.peek().is_some() {
            let chunk: Vec<Vec<f32>> = it.by_ref().take(self.limits.max_batch.max(1)).collect();
            self.metrics.batch_size.observe(chunk.len() as f64);
            let px = self.pipe.pixels_from_chw(chunk);
            parts.push(self.pipe.model.encode_image(px, &NoHook)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Tensor::cat(parts, 0)
        })
    }

    /// Logits of head `key` on features `f` `[rows, proj]`, softmax, answer each job.
    fn answer_logits(&self, key: &HeadKey, f: Tensor<2>, group: Vec<(Job, usize)>) {
        let Some(head) = self.head(key) else {
            for (j, _) in group {
                fail(j, ServeError::Internal("head vanished".into()));
            }
            return;
        };
        let probs = head
            .method
            .logits(&self.pipe.model, f)
            .map(|l| rows_of(&softmax(l, 1)));
        match probs {
            Err(e) => {
                for (j, _) in group {
                    fail(j, ServeError::Internal(e.to_string()));
                }
            }
            Ok(rows) => {
                let mut rows = rows.into_iter();
                for (j, n) in group {
                    let mine: Vec<Vec<f32>> = rows.by_ref().take(n).collect();
                    match j {
                        Job::Classify { reply, .. } => {
                            let _ = reply.send(Ok(Classified {
                                classes: head.classes.clone(),
                                method: head.method.kind().to_string(),
                                probabilities: mine,
                            }));
                        }
                        other => fail(other, ServeError::Internal("not a classification".into())),
                    }
                }
            }
        }
    }

    /// Heads with their own image features: one batch per head.
    fn own_towers(&mut self, jobs: Vec<(HeadKey, Job)>) {
        let mut groups: Vec<(HeadKey, Vec<Job>)> = Vec::new();
        for (k, j) in jobs {
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some((_, v)) => v.push(j),
                None => groups.push((k, vec![j])),
            }
        }
        for (key, mut jobs) in groups {
            let Some(head) = self.head(&key) else {
                for j in jobs {
                    fail(j, ServeError::Internal("head vanished".into()));
                }
                continue;
            };
            let counts: Vec<usize> = jobs.iter().map(job_count).collect();
            let mut pixels = Vec::new();
            for j in jobs.iter_mut() {
                if let Job::Classify { images, .. } | Job::EmbedImages { images, .. } = j {
                    pixels.append(images.as_mut());
                }
            }
            self.metrics.batch_size.observe(pixels.len() as f64);
            let px = self.pipe.pixels_from_chw(pixels);
            let f = match head.method.image_features(&self.pipe.model, px) {
                Ok(f) => f,
                Err(e) => {
                    for j in jobs {
                        fail(j, ServeError::Internal(e.to_string()));
                    }
                    continue;
                }
            };
            // Classification and embedding jobs of this head, in order.
            let mut start = 0;
            let mut classify = Vec::new();
            for (j, n) in jobs.into_iter().zip(counts) {
                let rows = f.clone().narrow(0, start, n);
                start += n;
                match j {
                    Job::EmbedImages { reply, .. } => {
                        let _ = reply.send(Ok(rows_of(&l2_normalize(rows))));
                    }
                    j => classify.push((j, n, rows)),
                }
            }
            for (j, n, rows) in classify {
                self.answer_logits(&key, rows, vec![(j, n)]);
            }
        }
    }
}

/// Images of a job.
fn job_count(j: &Job) -> usize {
    match j {
        Job::Classify { images, .. } | Job::EmbedImages { images, .. } => images.len(),
        _ => 0,
    }
}

/// Host rows of `[N, D]`.
fn rows_of(t: &Tensor<2>) -> Vec<Vec<f32>> {
    let [_, d] = t.dims();
    to_vec_f32(t).chunks(d.max(1)).map(|c| c.to_vec()).collect()
}

fn answer_embeddings(group: Vec<(Job, usize)>, rows: Vec<Vec<f32>>) {
    let mut rows = rows.into_iter();
    for (j, n) in group {
        let mine: Vec<Vec<f32>> = rows.by_ref().take(n).collect();
        match j {
            Job::EmbedImages { reply, .. } => {
                let _ = reply.send(Ok(mine));
            }
            other => fail(other, ServeError::Internal("not an embedding job".into())),
        }
    }
}

/// Answer a job with an error.
fn fail(job: Job, e: ServeError) {
    match job {
        Job::Classify { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Job::EmbedImages { reply, .. } | Job::EmbedTexts { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Job::Load { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Job::Unload { reply, .. } => {
            let _ = reply.send(Err(e));
        }
    }
}

/// The name a run directory is served under: its directory name.
pub fn run_name(dir: &std::path::Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .unwrap_or_else(|| dir.display().to_string())
}
