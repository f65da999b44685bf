//! From the unpickled object to named, contiguous tensors: choosing the weights inside a training
//! checkpoint, flattening nested dicts to dotted names, materialising strided views.

use std::collections::HashMap;

use crate::pickle::{DType, Object, TensorRef};

use super::error::PthError;
use super::read::Checkpoint;

/// Top-level keys under which training scripts store the model weights, tried in this order
/// (`model`: DETR, TransVG, MMCA; `state_dict`: Lightning and many others).
pub const WEIGHT_KEYS: [&str; 4] = ["model", "state_dict", "model_state_dict", "module"];

/// A view may be at most this many times larger than its storage (expanded / overlapping views)
/// plus this many bytes; beyond, the declared sizes are taken as hostile.
const MAX_VIEW_BLOWUP: u64 = 8;
const MAX_VIEW_SLACK: u64 = 64 << 20;

/// The tensors chosen for conversion, with what was left out.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Dotted name and tensor, in the checkpoint's order.
    pub tensors: Vec<(String, TensorRef)>,
    /// The top-level key the weights were taken from, if the file is a training checkpoint.
    pub from_key: Option<String>,
    /// The other top-level keys of that checkpoint (`optimizer`, `epoch`, `args`, …).
    pub other_keys: Vec<String>,
    /// Non-tensor entries inside the selection, skipped: (dotted name, type).
    pub skipped: Vec<(String, String)>,
}

fn key_text(k: &Object) -> Option<String> {
    match k {
        Object::Str(s) => Some(s.clone()),
        Object::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn has_tensor(o: &Object) -> bool {
    match o {
        Object::Tensor(_) => true,
        Object::Dict(items) => items.iter().any(|(_, v)| has_tensor(v)),
        Object::List(v) | Object::Tuple(v) => v.iter().any(has_tensor),
        _ => false,
    }
}

/// Choose the weights of `ck`: the value at dotted `key` when given; otherwise, when the top
/// level is a dict with one of [`WEIGHT_KEYS`] holding tensors, that entry; otherwise everything.
pub fn select(ck: &Checkpoint, key: Option<&str>) -> Result<Selection, PthError> {
    let no = |reason: String| PthError::NoWeights {
        path: ck.path.clone(),
        reason,
    };
    let top_keys = |o: &Object| -> Vec<String> {
        match o {
            Object::Dict(items) => items.iter().filter_map(|(k, _)| key_text(k)).collect(),
            _ => Vec::new(),
        }
    };
    let (root, from_key, other_keys) = match key {
        Some(path) => {
            let mut cur = &ck.root;
            for part in path.split('.') {
                cur = cur.get(part).ok_or_else(|| {
                    no(format!(
                        "no key {path:?} (top-level keys: {})",
                        top_keys(&ck.root).join(", ")
                    ))
                })?;
            }
            let first = path.split('.').next().unwrap_or(path);
            let others = top_keys(&ck.root)
                .into_iter()
                .filter(|k| k != first)
                .collect();
            (cur, Some(path.to_string()), others)
        }
        None => match WEIGHT_KEYS
            .iter()
            .find(|k| ck.root.get(k).is_some_and(has_tensor))
        {
            Some(k) => {
                let others = top_keys(&ck.root).into_iter().filter(|x| x != k).collect();
                (ck.root.get(k).expect("found"), Some(k.to_string()), others)
            }
            None => (&ck.root, None, Vec::new()),
        },
    };
    let mut sel = Selection {
        tensors: Vec::new(),
        from_key,
        other_keys,
        skipped: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    flatten(root, "", &mut sel, &mut index, ck)?;
    if sel.tensors.is_empty() {
        return Err(no(format!(
            "no tensors found{} (the top level is a {}{})",
            sel.from_key
                .as_ref()
                .map(|k| format!(" under {k:?}"))
                .unwrap_or_default(),
            ck.root.type_name(),
            match top_keys(&ck.root) {
                k if k.is_empty() => String::new(),
                k => format!(" with keys {}", k.join(", ")),
            }
        )));
    }
    Ok(sel)
}

fn flatten(
    o: &Object,
    prefix: &str,
    sel: &mut Selection,
    index: &mut HashMap<String, usize>,
    ck: &Checkpoint,
) -> Result<(), PthError> {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match o {
        Object::Tensor(t) => {
            let name = if prefix.is_empty() {
                "tensor".to_string()
            } else {
                prefix.to_string()
            };
            if index.contains_key(&name) {
                return Err(name_clash(ck, &name));
            }
            index.insert(name.clone(), sel.tensors.len());
            sel.tensors.push((name, t.clone()));
        }
        Object::Dict(items) => {
            // A repeated key keeps its last value (Python dict semantics); two different paths
            // that flatten to the same dotted name are an error.
            let mut seen: HashMap<String, usize> = HashMap::new();
            for (i, (k, _)) in items.iter().enumerate() {
                if let Some(k) = key_text(k) {
                    seen.insert(k, i);
                }
            }
            for (i, (k, v)) in items.iter().enumerate() {
                let Some(kt) = key_text(k) else {
                    if has_tensor(v) {
                        return Err(PthError::NoWeights {
                            path: ck.path.clone(),
                            reason: format!(
                                "a dict under {prefix:?} has a {} key holding tensors",
                                k.type_name()
                            ),
                        });
                    }
                    continue;
                };
                if seen.get(&kt) != Some(&i) {
                    continue;
                }
                flatten(v, &join(&kt), sel, index, ck)?;
            }
        }
        Object::List(items) | Object::Tuple(items) if has_tensor(o) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, &join(&i.to_string()), sel, index, ck)?;
            }
        }
        other => sel.skipped.push((prefix.to_string(), other.type_name())),
    }
    Ok(())
}

fn name_clash(ck: &Checkpoint, name: &str) -> PthError {
    PthError::NoWeights {
        path: ck.path.clone(),
        reason: format!(
            "two entries flatten to the same name {name:?} (a dotted key and a nested dict)"
        ),
    }
}

/// Number of elements and output bytes of a tensor, checked against its storage.
fn check_view(t: &TensorRef, storage_bytes: u64) -> Result<(u64, u64), String> {
    let e = t.dtype.size() as u64;
    let numel = t
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {:?} overflows", t.shape))?;
    let out_bytes = numel
        .checked_mul(e)
        .ok_or_else(|| format!("shape {:?} overflows", t.shape))?;
    if numel > 0 {
        let mut last = t.offset;
        for (&d, &s) in t.shape.iter().zip(&t.stride) {
            last = (d - 1)
                .checked_mul(s)
                .and_then(|x| x.checked_add(last))
                .ok_or_else(|| {
                    format!("view size {:?} stride {:?} overflows", t.shape, t.stride)
                })?;
        }
        let end = last
            .checked_add(1)
            .and_then(|x| x.checked_mul(e))
            .ok_or_else(|| "view end overflows".to_string())?;
        if end > storage_bytes {
            return Err(format!(
                "view (offset {}, size {:?}, stride {:?}, {}) reaches byte {end} of a {storage_bytes}-byte storage",
                t.offset,
                t.shape,
                t.stride,
                t.dtype.torch_name()
            ));
        }
    }
    if out_bytes
        > storage_bytes
            .saturating_mul(MAX_VIEW_BLOWUP)
            .saturating_add(MAX_VIEW_SLACK)
    {
        return Err(format!(
            "view of {numel} elements over a {storage_bytes}-byte storage: declared sizes too large"
        ));
    }
    Ok((numel, out_bytes))
}

/// Copy a strided view out of its storage bytes into C order.
fn gather(t: &TensorRef, storage: &[u8], numel: u64, out_bytes: u64) -> Vec<u8> {
    let e = t.dtype.size();
    let mut out = Vec::with_capacity(out_bytes as usize);
    if numel == 0 {
        return out;
    }
    // Contiguous (C-order strides): one slice.
    let mut expect = 1u64;
    let mut contiguous = true;
    for (&d, &s) in t.shape.iter().zip(&t.stride).rev() {
        if d != 1 && s != expect {
            contiguous = false;
            break;
        }
        expect *= d;
    }
    if contiguous {
        let start = t.offset as usize * e;
        out.extend_from_slice(&storage[start..start + out_bytes as usize]);
        return out;
    }
    // Odometer over all but the last dimension; the last one copied element by element (or as
    // one run when its stride is 1).
    let rank = t.shape.len();
    let (inner, inner_stride) = (t.shape[rank - 1] as usize, t.stride[rank - 1] as usize);
    let mut idx = vec![0u64; rank - 1];
    loop {
        let base = t.offset as usize
            + idx
                .iter()
                .zip(&t.stride)
                .map(|(&i, &s)| (i * s) as usize)
                .sum::<usize>();
        if inner_stride == 1 {
            out.extend_from_slice(&storage[base * e..(base + inner) * e]);
        } else {
            for j in 0..inner {
                let at = (base + j * inner_stride) * e;
                out.extend_from_slice(&storage[at..at + e]);
            }
        }
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < t.shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// A tensor copied out of the checkpoint, C-contiguous.
#[derive(Debug, Clone, PartialEq)]
pub struct Materialised {
    /// Element type.
    pub dtype: DType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Little-endian element bytes in C order.
    pub data: Vec<u8>,
}

/// Materialise every selected tensor. Shared storages are read once per run of tensors that use
/// them; every tensor gets its own copy (safetensors has no aliasing).
pub fn materialise(
    ck: &mut Checkpoint,
    sel: &Selection,
) -> Result<Vec<(String, Materialised)>, PthError> {
    // Validate every view before reading any data.
    let mut plan = Vec::with_capacity(sel.tensors.len());
    for (name, t) in &sel.tensors {
        let storage_bytes = t
            .storage
            .numel
            .checked_mul(t.storage.dtype.size() as u64)
            .ok_or_else(|| PthError::Tensor {
                path: ck.path.clone(),
                name: name.clone(),
                reason: format!("storage of {} elements overflows", t.storage.numel),
            })?;
        let (numel, out_bytes) =
            check_view(t, storage_bytes).map_err(|reason| PthError::Tensor {
                path: ck.path.clone(),
                name: name.clone(),
                reason,
            })?;
        usize::try_from(out_bytes).map_err(|_| PthError::Tensor {
            path: ck.path.clone(),
            name: name.clone(),
            reason: "too large for this machine".into(),
        })?;
        plan.push((storage_bytes, numel, out_bytes));
    }
    let mut out = Vec::with_capacity(sel.tensors.len());
    let mut cached: Option<(String, Vec<u8>)> = None;
    for ((name, t), (storage_bytes, numel, out_bytes)) in sel.tensors.iter().zip(plan) {
        if cached.as_ref().is_none_or(|(k, _)| *k != t.storage.key) {
            drop(cached.take()); // free the previous storage before reading the next
            let bytes = ck.storage_bytes(&t.storage.key, storage_bytes)?;
            cached = Some((t.storage.key.clone(), bytes));
        }
        let storage = &cached.as_ref().expect("loaded").1;
        out.push((
            name.clone(),
            Materialised {
                dtype: t.dtype,
                shape: t.shape.iter().map(|&d| d as usize).collect(),
                data: gather(t, storage, numel, out_bytes),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::StorageRef;

    fn view(offset: u64, shape: &[u64], stride: &[u64]) -> TensorRef {
        TensorRef {
            storage: StorageRef {
                key: "0".into(),
                dtype: DType::U8,
                numel: 12,
            },
            dtype: DType::U8,
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        }
    }

    #[test]
    fn strided_views_gather_by_hand() {
        let storage: Vec<u8> = (0..12).collect();
        // 3x4 transposed: [[0,4,8],[1,5,9],[2,6,10],[3,7,11]]
        let t = view(0, &[4, 3], &[1, 4]);
        assert_eq!(
            gather(&t, &storage, 12, 12),
            vec![0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
        );
        // rows 1..3, columns 1..3 of the 3x4 matrix, offset 5
        let t = view(5, &[2, 2], &[4, 1]);
        assert_eq!(gather(&t, &storage, 4, 4), vec![5, 6, 9, 10]);
        // expanded scalar
        let t = view(7, &[2, 3], &[0, 0]);
        assert_eq!(gather(&t, &storage, 6, 6), vec![7; 6]);
        // 0-dim scalar
        let t = view(3, &[], &[]);
        assert_eq!(gather(&t, &storage, 1, 1), vec![3]);
    }

    #[test]
    fn views_outside_the_storage_are_refused() {
        assert!(check_view(&view(0, &[3, 4], &[4, 1]), 12).is_ok());
        assert!(check_view(&view(1, &[3, 4], &[4, 1]), 12).is_err());
        assert!(check_view(&view(0, &[1 << 40, 1 << 40], &[0, 0]), 12).is_err());
        assert!(check_view(&view(0, &[u64::MAX, 2], &[1, 1]), 12).is_err());
        // empty tensors read nothing
        assert_eq!(check_view(&view(100, &[0, 4], &[4, 1]), 12), Ok((0, 0)));
    }
}
