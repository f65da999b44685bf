//! The adapters a server knows: run directories found in the adapters directory or given one by
//! one, each checked against the base model's fingerprint when registered.
//!
//! Registering reads only `adapter_config.json`; the tensors are loaded lazily by the engine on
//! first use (see [`crate::engine`]), which also keeps the `loaded` flags here up to date.
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vladapt::train::run_dir::AdapterConfig;

/// Whether a registered adapter can serve on this base model.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Availability {
    /// Can be loaded.
    Available,
    /// Cannot: the reason (another base model, unreadable config).
    Refused {
        /// Why.
        reason: String,
    },
}

/// One adapter as listed by `GET /v1/adapters`.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterInfo {
    /// Name used in requests (the run directory's name).
    pub name: String,
    /// Run directory.
    pub dir: PathBuf,
    /// Method (`coop`, `maple`, …), empty if the config is unreadable.
    pub method: String,
    /// Training classes.
    pub classes: Vec<String>,
    /// Availability.
    #[serde(flatten)]
    pub availability: Availability,
    /// Whether its tensors are in memory now.
    pub loaded: bool,
    /// Accounted bytes while loaded.
    pub bytes: Option<usize>,
}

/// The registered adapters.
#[derive(Debug)]
pub struct Catalog {
    fingerprint: String,
    dir: Option<PathBuf>,
    entries: BTreeMap<String, AdapterInfo>,
    /// Names given explicitly (`--run`): never dropped by a re-scan.
    pinned: Vec<String>,
}

/// Whether `dir` holds a finished adapter (both files; the config is written last).
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join("adapter_config.json").is_file() && dir.join("adapter.safetensors").is_file()
}

impl Catalog {
    /// An empty catalog for the base model with this fingerprint, scanning `dir` if given.
    pub fn new(fingerprint: String, dir: Option<PathBuf>) -> Self {
        let mut c = Self {
            fingerprint,
            dir,
            entries: BTreeMap::new(),
            pinned: Vec::new(),
        };
        c.scan();
        c
    }

    /// Register one run directory under `name` (explicit runs are kept across re-scans).
    pub fn register(&mut self, name: &str, dir: &Path, pinned: bool) -> AdapterInfo {
        let info = self.read(name, dir);
        if pinned {
            self.pinned.push(name.to_string());
        }
        self.entries.insert(name.to_string(), info.clone());
        info
    }

    fn read(&self, name: &str, dir: &Path) -> AdapterInfo {
        let (method, classes, availability) = match AdapterConfig::load(dir) {
            Ok(cfg) => {
                let availability = if cfg.base_model_fingerprint == self.fingerprint {
                    Availability::Available
                } else {
                    Availability::Refused {
                        reason: format!(
                            "trained on another base model ({}, fingerprint {}) than the one served (fingerprint {})",
                            cfg.base_model.display(),
                            cfg.base_model_fingerprint,
                            self.fingerprint
                        ),
                    }
                };
                (cfg.method.kind().to_string(), cfg.classnames, availability)
            }
            Err(e) => (
                String::new(),
                Vec::new(),
                Availability::Refused {
                    reason: e.to_string(),
                },
            ),
        };
        if let Availability::Refused { reason } = &availability {
            tracing::warn!("adapter {name} ({}) refused: {reason}", dir.display());
        }
        AdapterInfo {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            method,
            classes,
            availability,
            loaded: false,
            bytes: None,
        }
    }

    /// Re-read the adapters directory: register new run directories, drop vanished ones.
    /// Returns the names newly registered.
    pub fn scan(&mut self) -> Vec<String> {
        let Some(dir) = self.dir.clone() else {
            return Vec::new();
        };
        let mut found = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() && is_run_dir(&p) {
                        if let Some(n) = p.file_name().and_then(|n| n.to_str()) {
                            found.push((n.to_string(), p));
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read the adapters directory {}: {e}", dir.display()),
        }
        let mut added = Vec::new();
        for (name, p) in &found {
            let known = self.entries.get(name).is_some_and(|i| &i.dir == p);
            if !known && !self.pinned.contains(name) {
                let info = self.read(name, p);
                tracing::info!("adapter {name} registered ({})", p.display());
                self.entries.insert(name.clone(), info);
                added.push(name.clone());
            }
        }
        let pinned = &self.pinned;
        self.entries
            .retain(|n, _| pinned.contains(n) || found.iter().any(|(f, _)| f == n));
        added
    }

    /// The adapter called `name`, re-scanning the directory once if it is unknown.
    pub fn lookup(&mut self, name: &str) -> Option<AdapterInfo> {
        if !self.entries.contains_key(name) {
            self.scan();
        }
        self.entries.get(name).cloned()
    }

    /// All adapters, by name.
    pub fn list(&self) -> Vec<AdapterInfo> {
        self.entries.values().cloned().collect()
    }

    /// Record whether `name` is loaded (and its accounted bytes).
    pub fn set_loaded(&mut self, name: &str, bytes: Option<usize>) {
        if let Some(e) = self.entries.get_mut(name) {
            e.loaded = bytes.is_some();
            e.bytes = bytes;
        }
    }

    /// The served base model's fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}
