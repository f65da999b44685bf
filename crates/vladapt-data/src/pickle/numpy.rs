//! Pickled NumPy arrays (`numpy.core.multiarray._reconstruct` + BUILD state), as the
//! `animal-mnist` wheel ships them.

use super::allow::Allowlist;
use super::object::Object;

/// A pickled NumPy array: shape, dtype code (e.g. `u1`, `i8`), byte order and raw C-order bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// NumPy dtype code without byte order (`u1`, `i8`, `f4`, ...).
    pub dtype: String,
    /// True for little-endian (or byte-order-free) data.
    pub little_endian: bool,
    /// Raw element bytes in C order.
    pub data: Vec<u8>,
}

impl NdArray {
    /// Bytes per element from the dtype code.
    pub fn itemsize(&self) -> usize {
        self.dtype
            .get(1..)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Elements as i64 (integer dtypes `u1..u8`, `i1..i8`).
    pub fn to_i64(&self) -> Result<Vec<i64>, String> {
        let size = self.itemsize();
        let signed = self.dtype.starts_with('i');
        if !(self.dtype.starts_with('u') || signed) || ![1, 2, 4, 8].contains(&size) {
            return Err(format!("dtype {} is not an integer type", self.dtype));
        }
        Ok(self
            .data
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 8];
                if self.little_endian {
                    b[..size].copy_from_slice(c);
                } else {
                    for (i, v) in c.iter().rev().enumerate() {
                        b[i] = *v;
                    }
                }
                let u = u64::from_le_bytes(b);
                if signed && size < 8 && (u >> (size * 8 - 1)) & 1 == 1 {
                    (u | (!0u64 << (size * 8))) as i64
                } else {
                    u as i64
                }
            })
            .collect())
    }
}

fn is_reconstruct(class: &str) -> bool {
    matches!(
        class,
        "numpy.core.multiarray._reconstruct" | "numpy._core.multiarray._reconstruct"
    )
}

/// Parse a pickled NumPy ndarray (protocols 2–5) with the [`Allowlist::NumPy`] globals only.
pub fn parse_numpy_pickle(bytes: &[u8]) -> Result<NdArray, String> {
    let top = super::unpickle(bytes, Allowlist::NumPy).map_err(|e| e.to_string())?;
    let Object::Instance { class, state, .. } = top else {
        return Err("top object is not numpy _reconstruct(ndarray, ...)".into());
    };
    if !is_reconstruct(&class) {
        return Err("top object is not numpy _reconstruct(ndarray, ...)".into());
    }
    let Some(state) = state else {
        return Err("top object is not a built ndarray".into());
    };
    let Object::Tuple(parts) = *state else {
        return Err("ndarray state is not a tuple".into());
    };
    let [_, shape, dtype, fortran, data] = parts.as_slice() else {
        return Err(format!(
            "ndarray state has {} items, expected 5",
            parts.len()
        ));
    };
    let shape = match shape {
        Object::Tuple(s) => s
            .iter()
            .map(|v| match v {
                Object::Int(i) if *i >= 0 => Ok(*i as usize),
                _ => Err("bad shape entry".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("shape is not a tuple".into()),
    };
    let (code, order) = match dtype {
        Object::Instance { class, args, state } if class == "numpy.dtype" => {
            let code = match args.first() {
                Some(Object::Str(s)) => s.clone(),
                _ => return Err("dtype without a type code".into()),
            };
            let order = match state.as_deref() {
                Some(Object::Tuple(t)) => match t.get(1) {
                    Some(Object::Str(s)) => s.clone(),
                    _ => "|".into(),
                },
                _ => "|".into(),
            };
            (code, order)
        }
        _ => return Err("dtype is not a built numpy.dtype".into()),
    };
    if matches!(fortran, Object::Bool(true)) && shape.len() > 1 {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let data = match data {
        Object::Bytes(b) => b.clone(),
        _ => {
            return Err("array data is not a bytes object (object arrays are not supported)".into())
        }
    };
    let arr = NdArray {
        shape,
        dtype: code,
        little_endian: order != ">",
        data,
    };
    let n = arr
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(arr.itemsize()));
    if arr.itemsize() == 0 || n != Some(arr.data.len()) {
        return Err(format!(
            "shape {:?} of dtype {} does not match {} data bytes",
            arr.shape,
            arr.dtype,
            arr.data.len()
        ));
    }
    Ok(arr)
}
