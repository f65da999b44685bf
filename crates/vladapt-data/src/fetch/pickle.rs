//! A minimal pickle reader, enough for a pickled NumPy `ndarray` (protocols 2–5), as shipped by
//! the `animal-mnist` wheel. No code is executed: globals are only recorded by name.
use std::collections::HashMap;

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

#[derive(Debug, Clone, PartialEq)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<V>),
    List(Vec<V>),
    Global(String, String),
    Reduce(Box<V>, Vec<V>),
    Build(Box<V>, Box<V>),
    Mark,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> Result<u64, String> {
        let s = self.take(n)?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }
    fn line(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.u8()? != b'\n' {}
        Ok(String::from_utf8_lossy(&self.b[start..self.pos - 1]).into_owned())
    }
}

fn pop(stack: &mut Vec<V>) -> Result<V, String> {
    stack.pop().ok_or_else(|| "stack underflow".to_string())
}

fn pop_mark(stack: &mut Vec<V>) -> Result<Vec<V>, String> {
    let at = stack
        .iter()
        .rposition(|v| *v == V::Mark)
        .ok_or("MARK not found")?;
    let items = stack.split_off(at + 1);
    stack.pop();
    Ok(items)
}

/// Charge the size of `v` (values + data bytes) against `budget`; memo PUT/GET copy whole values,
/// so without this a few hundred bytes of nested memo references expand exponentially.
fn charge(v: &V, budget: &mut usize) -> Result<(), String> {
    let cost = 1 + match v {
        V::Str(s) | V::Global(s, _) => s.len(),
        V::Bytes(b) => b.len(),
        _ => 0,
    };
    *budget = budget.checked_sub(cost).ok_or_else(|| {
        "memo references expand beyond the pickle's size bound (refusing a memo bomb)".to_string()
    })?;
    match v {
        V::Tuple(items) | V::List(items) => items.iter().try_for_each(|i| charge(i, budget)),
        V::Reduce(f, a) => {
            charge(f, budget)?;
            a.iter().try_for_each(|i| charge(i, budget))
        }
        V::Build(a, b) => {
            charge(a, budget)?;
            charge(b, budget)
        }
        _ => Ok(()),
    }
}

fn run(bytes: &[u8]) -> Result<V, String> {
    let mut r = Reader { b: bytes, pos: 0 };
    // Memo copies may total at most 16x the input plus a small constant.
    let mut copy_budget = bytes.len().saturating_mul(16).saturating_add(4096);
    let mut stack: Vec<V> = Vec::new();
    let mut memo: HashMap<u64, V> = HashMap::new();
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?;
            }
            0x95 => {
                r.le(8)?;
            }
            b'.' => return pop(&mut stack),
            b'(' => stack.push(V::Mark),
            b'N' => stack.push(V::None),
            0x88 => stack.push(V::Bool(true)),
            0x89 => stack.push(V::Bool(false)),
            b'K' => {
                let v = r.u8()? as i64;
                stack.push(V::Int(v))
            }
            b'M' => {
                let v = r.le(2)? as i64;
                stack.push(V::Int(v))
            }
            b'J' => {
                let v = r.le(4)? as u32 as i32 as i64;
                stack.push(V::Int(v))
            }
            0x8a => {
                let n = r.u8()? as usize;
                if n > 8 {
                    return Err("LONG1 wider than 64 bits".into());
                }
                let s = r.take(n)?;
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(s);
                let mut v = i64::from_le_bytes(b);
                if n > 0 && n < 8 && s[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(V::Int(v))
            }
            0x8c | b'X' | 0x8d | b'U' | b'T' => {
                let n = match op {
                    0x8c | b'U' => r.u8()? as usize,
                    0x8d => r.le(8)? as usize,
                    _ => r.le(4)? as usize,
                };
                let s = r.take(n)?;
                let text = if op == b'U' || op == b'T' {
                    s.iter().map(|&c| c as char).collect()
                } else {
                    String::from_utf8_lossy(s).into_owned()
                };
                stack.push(V::Str(text))
            }
            b'C' | b'B' | 0x8e => {
                let n = match op {
                    b'C' => r.u8()? as usize,
                    b'B' => r.le(4)? as usize,
                    _ => r.le(8)? as usize,
                };
                stack.push(V::Bytes(r.take(n)?.to_vec()))
            }
            0x94 => {
                let top = stack.last().cloned().ok_or("MEMOIZE on empty stack")?;
                charge(&top, &mut copy_budget)?;
                memo.insert(memo.len() as u64, top);
            }
            b'q' | b'r' => {
                let k = if op == b'q' { r.u8()? as u64 } else { r.le(4)? };
                let top = stack.last().cloned().ok_or("PUT on empty stack")?;
                charge(&top, &mut copy_budget)?;
                memo.insert(k, top);
            }
            b'h' | b'j' => {
                let k = if op == b'h' { r.u8()? as u64 } else { r.le(4)? };
                let v = memo
                    .get(&k)
                    .cloned()
                    .ok_or_else(|| format!("memo {k} missing"))?;
                charge(&v, &mut copy_budget)?;
                stack.push(v)
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (V::Str(m), V::Str(n)) => stack.push(V::Global(m, n)),
                    _ => return Err("STACK_GLOBAL needs two strings".into()),
                }
            }
            b'c' => {
                let m = r.line()?;
                let n = r.line()?;
                stack.push(V::Global(m, n))
            }
            b')' => stack.push(V::Tuple(Vec::new())),
            b']' => stack.push(V::List(Vec::new())),
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("stack underflow in TUPLE".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(V::Tuple(items))
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(V::Tuple(items))
            }
            b'l' => {
                let items = pop_mark(&mut stack)?;
                stack.push(V::List(items))
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                match stack.last_mut() {
                    Some(V::List(l)) => l.extend(items),
                    _ => return Err("APPEND to a non-list".into()),
                }
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                let args = match args {
                    V::Tuple(a) => a,
                    _ => return Err("REDUCE arguments are not a tuple".into()),
                };
                // Protocol 2 stores bytes as _codecs.encode(str, 'latin1').
                if let (V::Global(m, n), [V::Str(s), ..]) = (&f, args.as_slice()) {
                    if m == "_codecs" && n == "encode" {
                        stack.push(V::Bytes(s.chars().map(|c| c as u32 as u8).collect()));
                        continue;
                    }
                }
                stack.push(V::Reduce(Box::new(f), args))
            }
            b'b' => {
                let state = pop(&mut stack)?;
                let obj = pop(&mut stack)?;
                stack.push(V::Build(Box::new(obj), Box::new(state)))
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    r.pos - 1
                ))
            }
        }
    }
}

fn is_global(v: &V, module_end: &str, name: &str) -> bool {
    matches!(v, V::Global(m, n) if m.ends_with(module_end) && n == name)
}

/// Parse a pickled NumPy ndarray.
pub fn parse_numpy_pickle(bytes: &[u8]) -> Result<NdArray, String> {
    let top = run(bytes)?;
    let (obj, state) = match top {
        V::Build(o, s) => (*o, *s),
        _ => return Err("top object is not a built ndarray".into()),
    };
    match &obj {
        V::Reduce(f, _) if is_global(f, "multiarray", "_reconstruct") => {}
        _ => return Err("top object is not numpy _reconstruct(ndarray, ...)".into()),
    }
    let parts = match state {
        V::Tuple(p) => p,
        _ => return Err("ndarray state is not a tuple".into()),
    };
    let [_, shape, dtype, fortran, data] = parts.as_slice() else {
        return Err(format!(
            "ndarray state has {} items, expected 5",
            parts.len()
        ));
    };
    let shape = match shape {
        V::Tuple(s) => s
            .iter()
            .map(|v| match v {
                V::Int(i) if *i >= 0 => Ok(*i as usize),
                _ => Err("bad shape entry".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("shape is not a tuple".into()),
    };
    let (code, order) = match dtype {
        V::Build(d, st) => {
            let code = match d.as_ref() {
                V::Reduce(f, a) if is_global(f, "numpy", "dtype") => match a.first() {
                    Some(V::Str(s)) => s.clone(),
                    _ => return Err("dtype without a type code".into()),
                },
                _ => return Err("dtype is not numpy.dtype(...)".into()),
            };
            let order = match st.as_ref() {
                V::Tuple(t) => match t.get(1) {
                    Some(V::Str(s)) => s.clone(),
                    _ => "|".into(),
                },
                _ => "|".into(),
            };
            (code, order)
        }
        _ => return Err("dtype is not a built numpy.dtype".into()),
    };
    if matches!(fortran, V::Bool(true)) && shape.len() > 1 {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let data = match data {
        V::Bytes(b) => b.clone(),
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
    let bytes = arr
        .shape
        .iter()
        .try_fold(arr.itemsize(), |acc, d| acc.checked_mul(*d));
    if arr.itemsize() == 0 || bytes != Some(arr.data.len()) {
        return Err(format!(
            "shape {:?} of dtype {} does not match {} data bytes",
            arr.shape,
            arr.dtype,
            arr.data.len()
        ));
    }
    Ok(arr)
}
