//! Reading a `torch.save` file: the zip layout (PyTorch ≥ 1.6: `<root>/data.pkl` plus one record
//! `<root>/data/<key>` per storage) and the legacy layout (back-to-back pickles, then raw storages).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::pickle::{unpickle, unpickle_prefix, Allowlist, Object, PickleError};

use super::error::PthError;

/// Magic number of the legacy format (first pickle of the file): 0x1950a86a20f9469cfc6c as
/// little-endian LONG1 bytes.
const LEGACY_MAGIC_BYTES: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// An unpickled checkpoint and the raw bytes of its storages.
pub struct Checkpoint {
    /// The file it came from.
    pub path: PathBuf,
    /// The unpickled top-level object.
    pub root: Object,
    /// Which layout the file has.
    pub format: Format,
    storages: Storages,
}

/// The two `torch.save` layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PyTorch ≥ 1.6 default: a zip archive.
    Zip,
    /// `_use_new_zipfile_serialization=False` / PyTorch < 1.6.
    Legacy,
}

enum Storages {
    Zip {
        archive: Box<zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
        prefix: String,
        file_len: u64,
    },
    Legacy(HashMap<String, Vec<u8>>),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PthError + 'a {
    move |source| PthError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl Checkpoint {
    /// Open and unpickle a checkpoint (tensor data is read later, per storage).
    pub fn open(path: &Path) -> Result<Self, PthError> {
        let mut f = std::fs::File::open(path).map_err(io("cannot open", path))?;
        let file_len = f.metadata().map_err(io("cannot stat", path))?.len();
        let mut head = [0u8; 4];
        let n = f.read(&mut head).map_err(io("cannot read", path))?;
        drop(f);
        if n >= 4 && head == *b"PK\x03\x04" {
            Self::open_zip(path, file_len)
        } else if n >= 2 && head[0] == 0x80 {
            Self::open_legacy(path)
        } else {
            Err(PthError::NotACheckpoint {
                path: path.into(),
                reason: "neither a zip archive nor a pickle (a TorchScript or tar checkpoint?)"
                    .into(),
            })
        }
    }

    fn open_zip(path: &Path, file_len: u64) -> Result<Self, PthError> {
        let f = std::fs::File::open(path).map_err(io("cannot open", path))?;
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| {
            PthError::NotACheckpoint {
                path: path.into(),
                reason: format!("unreadable zip archive ({e}); the file may be truncated"),
            }
        })?;
        let pkl: Vec<String> = archive
            .file_names()
            .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
            .map(str::to_string)
            .collect();
        let [pkl] = pkl.as_slice() else {
            return Err(PthError::NotACheckpoint {
                path: path.into(),
                reason: format!(
                    "expected exactly one <root>/data.pkl record, found {}",
                    pkl.len()
                ),
            });
        };
        let prefix = pkl.trim_end_matches("data.pkl").to_string();
        if archive
            .file_names()
            .any(|n| n == format!("{prefix}constants.pkl"))
        {
            return Err(PthError::NotACheckpoint {
                path: path.into(),
                reason: "this is a TorchScript archive (torch.jit.save); save its state_dict() with torch.save instead".into(),
            });
        }
        let byteorder = read_record(&mut archive, &format!("{prefix}byteorder"), 16, path).ok();
        if let Some(b) = byteorder {
            if b != b"little" {
                return Err(PthError::NotACheckpoint {
                    path: path.into(),
                    reason: format!(
                        "byte order {:?}; only little-endian checkpoints are supported",
                        String::from_utf8_lossy(&b)
                    ),
                });
            }
        }
        let bytes = read_record(&mut archive, pkl, file_len, path)?;
        let root = unpickle(&bytes, Allowlist::Torch).map_err(|source| PthError::Pickle {
            path: path.into(),
            record: pkl.clone(),
            source,
        })?;
        Ok(Self {
            path: path.into(),
            root,
            format: Format::Zip,
            storages: Storages::Zip {
                archive: Box::new(archive),
                prefix,
                file_len,
            },
        })
    }

    fn open_legacy(path: &Path) -> Result<Self, PthError> {
        let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
        let perr = |source: PickleError| PthError::Pickle {
            path: path.into(),
            record: "legacy pickle".into(),
            source,
        };
        let mut pos = 0;
        let next = |pos: &mut usize| -> Result<Object, PthError> {
            let (obj, used) = unpickle_prefix(&bytes[*pos..], Allowlist::Torch)
                .map_err(|e| perr(shift(e, *pos)))?;
            *pos += used;
            Ok(obj)
        };
        let magic = next(&mut pos)?;
        let magic_ok = matches!(&magic, Object::BigInt(b) if b.as_slice() == LEGACY_MAGIC_BYTES);
        if !magic_ok {
            return Err(PthError::NotACheckpoint {
                path: path.into(),
                reason: "a pickle, but not a torch.save file (no PyTorch magic number); vladapt reads only PyTorch checkpoints".into(),
            });
        }
        let _protocol = next(&mut pos)?;
        let sys_info = next(&mut pos)?;
        if matches!(sys_info.get("little_endian"), Some(Object::Bool(false))) {
            return Err(PthError::NotACheckpoint {
                path: path.into(),
                reason: "big-endian legacy checkpoint; only little-endian is supported".into(),
            });
        }
        let root = next(&mut pos)?;
        let keys = match next(&mut pos)? {
            Object::List(k) => k,
            _ => {
                return Err(PthError::NotACheckpoint {
                    path: path.into(),
                    reason: "legacy storage key list is not a list".into(),
                })
            }
        };
        let mut elem_size: HashMap<String, usize> = HashMap::new();
        collect_storage_sizes(&root, &mut elem_size);
        let mut storages = HashMap::new();
        for key in keys {
            let Object::Str(key) = key else {
                return Err(PthError::NotACheckpoint {
                    path: path.into(),
                    reason: "legacy storage key is not a string".into(),
                });
            };
            let serr = |reason: String| PthError::Storage {
                path: path.into(),
                key: key.clone(),
                reason,
            };
            let size = elem_size
                .get(&key)
                .copied()
                .ok_or_else(|| serr("listed but used by no tensor".into()))?;
            let header = bytes
                .get(pos..pos + 8)
                .ok_or_else(|| serr("file truncated before the storage".into()))?;
            let numel = u64::from_le_bytes(header.try_into().expect("8 bytes"));
            pos += 8;
            let len = numel
                .checked_mul(size as u64)
                .filter(|&l| l <= (bytes.len() - pos) as u64)
                .ok_or_else(|| {
                    serr(format!(
                        "declares {numel} elements, more than the file holds (truncated?)"
                    ))
                })? as usize;
            storages.insert(key.clone(), bytes[pos..pos + len].to_vec());
            pos += len;
        }
        Ok(Self {
            path: path.into(),
            root,
            format: Format::Legacy,
            storages: Storages::Legacy(storages),
        })
    }

    /// The raw bytes of storage `key`, checked to be exactly `expected` bytes long.
    pub(crate) fn storage_bytes(&mut self, key: &str, expected: u64) -> Result<Vec<u8>, PthError> {
        let serr = |reason: String| PthError::Storage {
            path: self.path.clone(),
            key: key.into(),
            reason,
        };
        match &mut self.storages {
            Storages::Legacy(map) => {
                let b = map
                    .get(key)
                    .ok_or_else(|| serr("not in the file's storage list".into()))?;
                if b.len() as u64 != expected {
                    return Err(serr(format!(
                        "holds {} bytes, the pickle declares {expected}",
                        b.len()
                    )));
                }
                Ok(b.clone())
            }
            Storages::Zip {
                archive,
                prefix,
                file_len,
            } => {
                let name = format!("{prefix}data/{key}");
                let mut entry = archive
                    .by_name(&name)
                    .map_err(|e| serr(format!("record {name}: {e}")))?;
                if entry.size() != expected {
                    return Err(serr(format!(
                        "record {name} holds {} bytes, the pickle declares {expected}",
                        entry.size()
                    )));
                }
                let mut out = Vec::with_capacity(expected.min(*file_len) as usize);
                (&mut entry)
                    .take(expected)
                    .read_to_end(&mut out)
                    .map_err(|e| serr(format!("record {name}: {e} (file truncated?)")))?;
                if out.len() as u64 != expected {
                    return Err(serr(format!(
                        "record {name} ended after {} of {expected} bytes",
                        out.len()
                    )));
                }
                Ok(out)
            }
        }
    }
}

/// Make a position inside the n-th legacy pickle absolute.
fn shift(e: PickleError, by: usize) -> PickleError {
    match e {
        PickleError::ForbiddenGlobal { module, name, at } => PickleError::ForbiddenGlobal {
            module,
            name,
            at: at + by,
        },
        PickleError::Unsupported { global, at, reason } => PickleError::Unsupported {
            global,
            at: at + by,
            reason,
        },
        PickleError::Truncated { at } => PickleError::Truncated { at: at + by },
        PickleError::Opcode { opcode, name, at } => PickleError::Opcode {
            opcode,
            name,
            at: at + by,
        },
        PickleError::Malformed { at, reason } => PickleError::Malformed {
            at: at + by,
            reason,
        },
    }
}

/// Element size of each storage key, from the tensors that reference it.
fn collect_storage_sizes(obj: &Object, out: &mut HashMap<String, usize>) {
    match obj {
        Object::Tensor(t) => {
            out.insert(t.storage.key.clone(), t.storage.dtype.size());
        }
        Object::Tuple(v) | Object::List(v) | Object::Set(v) => {
            v.iter().for_each(|x| collect_storage_sizes(x, out))
        }
        Object::Dict(items) => items.iter().for_each(|(k, v)| {
            collect_storage_sizes(k, out);
            collect_storage_sizes(v, out);
        }),
        Object::Instance { args, state, .. } => {
            args.iter().for_each(|x| collect_storage_sizes(x, out));
            if let Some(s) = state {
                collect_storage_sizes(s, out);
            }
        }
        _ => {}
    }
}

/// Read a whole small zip record (at most `limit` bytes).
fn read_record<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
    path: &Path,
) -> Result<Vec<u8>, PthError> {
    let bad = |reason: String| PthError::NotACheckpoint {
        path: path.into(),
        reason,
    };
    let mut entry = archive
        .by_name(name)
        .map_err(|e| bad(format!("record {name}: {e}")))?;
    if entry.size() > limit {
        return Err(bad(format!(
            "record {name} declares {} bytes, more than the file",
            entry.size()
        )));
    }
    let mut out = Vec::with_capacity(entry.size() as usize);
    (&mut entry)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("record {name}: {e} (file truncated?)")))?;
    Ok(out)
}
