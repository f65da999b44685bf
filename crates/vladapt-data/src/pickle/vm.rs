//! The pickle stack machine, restricted: globals are checked against an allowlist when named and
//! are never imported or called; REDUCE/NEWOBJ/BUILD on them only record data.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::allow::Allowlist;
use super::error::PickleError;
use super::object::{DType, Object, StorageRef, TensorRef};

/// Limits that keep a hostile stream from exhausting memory or the call stack.
const MAX_DEPTH: usize = 200;
/// Nodes of the output tree (shared sub-objects count each time they are reached).
const MAX_NODES: usize = 20_000_000;

type Shared<T> = Rc<RefCell<T>>;

/// A value on the machine's stack. Containers are shared (as Python references are): the pickler
/// memoises an empty list or dict and fills it afterwards.
#[derive(Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Shared<Vec<Value>>),
    List(Shared<Vec<Value>>),
    Set(Shared<Vec<Value>>),
    Dict(Shared<Vec<(Value, Value)>>),
    Global(Rc<str>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    Instance(Shared<Instance>),
}

struct Instance {
    class: Rc<str>,
    args: Vec<Value>,
    state: Option<Value>,
}

/// What a persistent id resolves to; only PyTorch storages exist.
fn storage_from_pid(pid: &Value, at: usize) -> Result<Value, PickleError> {
    let bad = |reason: String| PickleError::Malformed { at, reason };
    let Value::Tuple(items) = pid else {
        return Err(bad("persistent id is not a tuple".into()));
    };
    let items = items.borrow();
    match items.as_slice() {
        [Value::Str(tag), ty, Value::Str(key), _location, Value::Int(numel), rest @ ..]
            if &**tag == "storage" =>
        {
            if let Some(view) = rest.first() {
                if !matches!(view, Value::None) {
                    return Err(PickleError::Unsupported {
                        global: "persistent storage".into(),
                        at,
                        reason: "legacy storage views (view_metadata) are not supported".into(),
                    });
                }
            }
            let Value::Global(g) = ty else {
                return Err(bad("storage type is not a class".into()));
            };
            let class = g.rsplit('.').next().unwrap_or(g);
            let dtype = DType::from_storage_name(class).ok_or_else(|| PickleError::Unsupported {
                global: g.to_string(),
                at,
                reason: "storage element type not supported (f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool are)".into(),
            })?;
            let numel =
                u64::try_from(*numel).map_err(|_| bad(format!("negative storage size {numel}")))?;
            Ok(Value::Storage(Rc::new(StorageRef {
                key: key.to_string(),
                dtype,
                numel,
            })))
        }
        _ => Err(bad(
            "persistent id is not ('storage', type, key, location, numel)".into(),
        )),
    }
}

fn as_u64_list(v: &Value, what: &str, at: usize) -> Result<Vec<u64>, PickleError> {
    let items = match v {
        Value::Tuple(l) | Value::List(l) => l.borrow().clone(),
        _ => {
            return Err(PickleError::Malformed {
                at,
                reason: format!("tensor {what} is not a tuple"),
            })
        }
    };
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => Err(PickleError::Malformed {
                at,
                reason: format!("tensor {what} holds a non-integer or negative entry"),
            }),
        })
        .collect()
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])` and
/// `_rebuild_tensor_v3(…, dtype[, metadata])`.
fn rebuild_tensor(name: &str, args: &[Value], at: usize) -> Result<Value, PickleError> {
    let global = format!("torch._utils.{name}");
    if args.len() < 4 {
        return Err(PickleError::Unsupported {
            global,
            at,
            reason: format!("{} arguments, expected at least 4", args.len()),
        });
    }
    let Value::Storage(storage) = &args[0] else {
        return Err(PickleError::Unsupported {
            global,
            at,
            reason: "first argument is not a storage".into(),
        });
    };
    let Value::Int(offset) = args[1] else {
        return Err(PickleError::Malformed {
            at,
            reason: "tensor storage offset is not an integer".into(),
        });
    };
    let offset = u64::try_from(offset).map_err(|_| PickleError::Malformed {
        at,
        reason: format!("negative storage offset {offset}"),
    })?;
    let shape = as_u64_list(&args[2], "size", at)?;
    let stride = as_u64_list(&args[3], "stride", at)?;
    if shape.len() != stride.len() {
        return Err(PickleError::Malformed {
            at,
            reason: format!("tensor size {shape:?} and stride {stride:?} differ in rank"),
        });
    }
    let mut dtype = storage.dtype;
    if name == "_rebuild_tensor_v3" {
        match args.get(6) {
            Some(Value::Global(g)) => {
                dtype = g
                    .strip_prefix("torch.")
                    .and_then(DType::from_torch_name)
                    .ok_or_else(|| PickleError::Unsupported {
                        global: g.to_string(),
                        at,
                        reason: "tensor dtype not supported".into(),
                    })?;
            }
            _ => {
                return Err(PickleError::Unsupported {
                    global,
                    at,
                    reason: "no dtype argument".into(),
                })
            }
        }
    }
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage: storage.as_ref().clone(),
        dtype,
        offset,
        shape,
        stride,
    })))
}

/// Apply an allowed global (REDUCE / NEWOBJ). Data-only: known constructors are reproduced,
/// every other allowed class becomes an inert [`Instance`].
fn apply(global: &Rc<str>, args: Vec<Value>, at: usize) -> Result<Value, PickleError> {
    let g: &str = global;
    Ok(match g {
        "collections.OrderedDict" | "collections.Counter" | "builtins.dict" => {
            let items = match args.first() {
                None => Vec::new(),
                Some(Value::Dict(d)) => d.borrow().clone(),
                Some(Value::List(l)) | Some(Value::Tuple(l)) => pairs(&l.borrow(), g, at)?,
                Some(_) => {
                    return Err(PickleError::Unsupported {
                        global: g.into(),
                        at,
                        reason: "argument is not a list of pairs".into(),
                    })
                }
            };
            Value::Dict(Rc::new(RefCell::new(items)))
        }
        "builtins.set" | "builtins.frozenset" => {
            let items = match args.first() {
                None => Vec::new(),
                Some(Value::List(l)) | Some(Value::Tuple(l)) => l.borrow().clone(),
                Some(_) => {
                    return Err(PickleError::Unsupported {
                        global: g.into(),
                        at,
                        reason: "argument is not a list".into(),
                    })
                }
            };
            Value::Set(Rc::new(RefCell::new(items)))
        }
        "builtins.bytearray" | "_codecs.encode" => match args.first() {
            None => Value::Bytes(Rc::from(Vec::new())),
            Some(Value::Bytes(b)) => Value::Bytes(b.clone()),
            // Protocol 2 writes bytes as _codecs.encode(str, 'latin1').
            Some(Value::Str(s)) => {
                let mut out = Vec::with_capacity(s.len());
                for c in s.chars() {
                    out.push(u8::try_from(c as u32).map_err(|_| PickleError::Unsupported {
                        global: g.into(),
                        at,
                        reason: "non-latin-1 text".into(),
                    })?);
                }
                Value::Bytes(Rc::from(out))
            }
            Some(_) => {
                return Err(PickleError::Unsupported {
                    global: g.into(),
                    at,
                    reason: "argument is not bytes or text".into(),
                })
            }
        },
        "torch.Size" => match args.first() {
            Some(Value::Tuple(t)) => Value::Tuple(t.clone()),
            None => Value::Tuple(Rc::new(RefCell::new(Vec::new()))),
            Some(_) => {
                return Err(PickleError::Unsupported {
                    global: g.into(),
                    at,
                    reason: "argument is not a tuple".into(),
                })
            }
        },
        "torch._utils._rebuild_tensor_v2" => rebuild_tensor("_rebuild_tensor_v2", &args, at)?,
        "torch._utils._rebuild_tensor_v3" => rebuild_tensor("_rebuild_tensor_v3", &args, at)?,
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => {
            match args.first() {
                Some(t @ Value::Tensor(_)) => t.clone(),
                _ => {
                    return Err(PickleError::Unsupported {
                        global: g.into(),
                        at,
                        reason: "first argument is not a tensor".into(),
                    })
                }
            }
        }
        // _rebuild_from_type_v2(func, new_type, args, state): a Tensor/Parameter subclass wrapper.
        "torch._tensor._rebuild_from_type_v2" => match args.as_slice() {
            [Value::Global(func), Value::Global(ty), Value::Tuple(inner), ..]
                if matches!(&**ty, "torch.Tensor" | "torch.nn.parameter.Parameter") =>
            {
                let inner = inner.borrow().clone();
                apply(func, inner, at)?
            }
            _ => {
                return Err(PickleError::Unsupported {
                    global: g.into(),
                    at,
                    reason: "only plain Tensor / Parameter types are supported".into(),
                })
            }
        },
        _ if g.starts_with("torch._utils._rebuild") => {
            return Err(PickleError::Unsupported {
                global: g.into(),
                at,
                reason: "only dense strided tensors are supported (not sparse, quantized, nested or meta tensors)".into(),
            })
        }
        _ => Value::Instance(Rc::new(RefCell::new(Instance {
            class: global.clone(),
            args,
            state: None,
        }))),
    })
}

fn pairs(items: &[Value], g: &str, at: usize) -> Result<Vec<(Value, Value)>, PickleError> {
    items
        .iter()
        .map(|p| match p {
            Value::Tuple(l) | Value::List(l) if l.borrow().len() == 2 => {
                let l = l.borrow();
                Ok((l[0].clone(), l[1].clone()))
            }
            _ => Err(PickleError::Unsupported {
                global: g.into(),
                at,
                reason: "item is not a (key, value) pair".into(),
            }),
        })
        .collect()
}

/// Opcode names for messages (pickletools spelling).
fn opcode_name(op: u8) -> &'static str {
    match op {
        b'i' => "INST",
        b'o' => "OBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        b'S' => "STRING",
        b'V' => "UNICODE",
        b'P' => "PERSID",
        _ => "unknown",
    }
}

/// The machine. `containers` lists every shared container made, so that dropping the machine
/// empties them one by one (no recursion, cycles broken) whatever the stream built.
struct Machine<'a> {
    b: &'a [u8],
    pos: usize,
    op_at: usize,
    allow: Allowlist,
    stack: Vec<Value>,
    /// Index of the stack position of each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    lists: Vec<Shared<Vec<Value>>>,
    dicts: Vec<Shared<Vec<(Value, Value)>>>,
    instances: Vec<Shared<Instance>>,
}

impl Drop for Machine<'_> {
    fn drop(&mut self) {
        self.stack.clear();
        self.memo.clear();
        for l in &self.lists {
            let items = std::mem::take(&mut *l.borrow_mut());
            drop(items);
        }
        for d in &self.dicts {
            let items = std::mem::take(&mut *d.borrow_mut());
            drop(items);
        }
        for i in &self.instances {
            let mut i = i.borrow_mut();
            i.args.clear();
            i.state = None;
        }
    }
}

impl<'a> Machine<'a> {
    fn truncated(&self) -> PickleError {
        PickleError::Truncated { at: self.b.len() }
    }
    fn malformed(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            at: self.op_at,
            reason: reason.into(),
        }
    }
    fn take(&mut self, n: u64) -> Result<&'a [u8], PickleError> {
        let n = usize::try_from(n).map_err(|_| self.truncated())?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| self.truncated())?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> Result<u64, PickleError> {
        let s = self.take(n as u64)?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }
    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.truncated())?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| self.malformed("line is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }
    fn pop(&mut self) -> Result<Value, PickleError> {
        if self.marks.last().is_some_and(|&m| m == self.stack.len()) {
            return Err(self.malformed("pop across a MARK"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }
    fn top(&self) -> Result<&Value, PickleError> {
        if self.marks.last().is_some_and(|&m| m == self.stack.len()) {
            return Err(self.malformed("no value above the MARK"));
        }
        self.stack
            .last()
            .ok_or_else(|| self.malformed("empty stack"))
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let at = self.marks.pop().ok_or_else(|| self.malformed("no MARK"))?;
        Ok(self.stack.split_off(at))
    }
    fn new_tuple(&mut self, items: Vec<Value>) -> Value {
        let l = Rc::new(RefCell::new(items));
        self.lists.push(l.clone());
        Value::Tuple(l)
    }
    fn new_list(&mut self, items: Vec<Value>) -> Value {
        let l = Rc::new(RefCell::new(items));
        self.lists.push(l.clone());
        Value::List(l)
    }
    fn new_set(&mut self, items: Vec<Value>) -> Value {
        let l = Rc::new(RefCell::new(items));
        self.lists.push(l.clone());
        Value::Set(l)
    }
    fn new_dict(&mut self, items: Vec<(Value, Value)>) -> Value {
        let d = Rc::new(RefCell::new(items));
        self.dicts.push(d.clone());
        Value::Dict(d)
    }
    fn track(&mut self, v: &Value) {
        match v {
            Value::List(l) | Value::Set(l) | Value::Tuple(l) => self.lists.push(l.clone()),
            Value::Dict(d) => self.dicts.push(d.clone()),
            Value::Instance(i) => self.instances.push(i.clone()),
            _ => {}
        }
    }
    fn global(&mut self, module: &str, name: &str) -> Result<Value, PickleError> {
        match self.allow.resolve(module, name) {
            Some(full) => Ok(Value::Global(Rc::from(full))),
            None => Err(PickleError::ForbiddenGlobal {
                module: super::allow::python3_module(module).into(),
                name: name.into(),
                at: self.op_at,
            }),
        }
    }
    fn push_int(&mut self, bytes: &[u8]) {
        let v = if bytes.is_empty() {
            Value::Int(0)
        } else if bytes.len() <= 8 {
            let mut b = [if bytes[bytes.len() - 1] & 0x80 != 0 {
                0xff
            } else {
                0
            }; 8];
            b[..bytes.len()].copy_from_slice(bytes);
            Value::Int(i64::from_le_bytes(b))
        } else {
            Value::BigInt(Rc::from(bytes))
        };
        self.stack.push(v);
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            self.op_at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(
                            self.malformed(format!("pickle protocol {proto} (0-5 supported)"))
                        );
                    }
                }
                0x95 => {
                    self.le(8)?;
                }
                b'.' => {
                    let v = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(self.malformed("STOP with items left on the stack"));
                    }
                    return Ok(v);
                }
                b'(' => {
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'M' => {
                    let v = self.le(2)? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32 as i64;
                    self.stack.push(Value::Int(v));
                }
                0x8a => {
                    let n = self.u8()? as u64;
                    let s = self.take(n)?;
                    self.push_int(s);
                }
                0x8b => {
                    let n = self.le(4)?;
                    let s = self.take(n)?;
                    self.push_int(s);
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let t = line.trim_end_matches('L');
                    let v = match (op, t) {
                        (b'I', "00") => Value::Bool(false),
                        (b'I', "01") => Value::Bool(true),
                        _ => Value::Int(t.parse().map_err(|_| {
                            self.malformed(format!("bad integer literal {line:?}"))
                        })?),
                    };
                    self.stack.push(v);
                }
                b'G' => {
                    let s = self.take(8)?;
                    let v = f64::from_be_bytes(s.try_into().expect("8 bytes"));
                    self.stack.push(Value::Float(v));
                }
                b'F' => {
                    let line = self.line()?;
                    let v = line
                        .trim()
                        .parse()
                        .map_err(|_| self.malformed(format!("bad float literal {line:?}")))?;
                    self.stack.push(Value::Float(v));
                }
                0x8c | b'X' | 0x8d => {
                    let n = match op {
                        0x8c => self.u8()? as u64,
                        b'X' => self.le(4)?,
                        _ => self.le(8)?,
                    };
                    let s = self.take(n)?;
                    let s = std::str::from_utf8(s)
                        .map_err(|_| self.malformed("text is not valid UTF-8"))?;
                    self.stack.push(Value::Str(Rc::from(s)));
                }
                // Python 2 str: protocol-2 pickles write them for some metadata; read as latin-1.
                b'U' | b'T' => {
                    let n = if op == b'U' {
                        self.u8()? as u64
                    } else {
                        self.le(4)?
                    };
                    let s: String = self.take(n)?.iter().map(|&c| c as char).collect();
                    self.stack.push(Value::Str(Rc::from(s)));
                }
                b'C' | b'B' | 0x8e | 0x96 => {
                    let n = match op {
                        b'C' => self.u8()? as u64,
                        b'B' => self.le(4)?,
                        _ => self.le(8)?,
                    };
                    let s = self.take(n)?;
                    self.stack.push(Value::Bytes(Rc::from(s)));
                }
                b')' => {
                    let v = self.new_tuple(Vec::new());
                    self.stack.push(v);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let v = self.new_tuple(items);
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let v = self.new_tuple(items);
                    self.stack.push(v);
                }
                b']' => {
                    let v = self.new_list(Vec::new());
                    self.stack.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.new_list(items);
                    self.stack.push(v);
                }
                b'a' | b'e' => {
                    let items = if op == b'a' {
                        vec![self.pop()?]
                    } else {
                        self.pop_mark()?
                    };
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().extend(items),
                        _ => return Err(self.malformed("APPEND to a non-list")),
                    }
                }
                b'}' => {
                    let v = self.new_dict(Vec::new());
                    self.stack.push(v);
                }
                b'd' | b's' | b'u' => {
                    let flat = match op {
                        b'd' | b'u' => self.pop_mark()?,
                        _ => {
                            let v = self.pop()?;
                            let k = self.pop()?;
                            vec![k, v]
                        }
                    };
                    if flat.len() % 2 != 0 {
                        return Err(self.malformed("odd number of items for a dict"));
                    }
                    let mut it = flat.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        if matches!(k, Value::List(_) | Value::Dict(_) | Value::Set(_)) {
                            return Err(self.malformed("unhashable dict key"));
                        }
                        pairs.push((k, v));
                    }
                    if op == b'd' {
                        let v = self.new_dict(pairs);
                        self.stack.push(v);
                    } else {
                        match self.top()? {
                            Value::Dict(d) => d.borrow_mut().extend(pairs),
                            _ => return Err(self.malformed("SETITEM on a non-dict")),
                        }
                    }
                }
                0x8f => {
                    let v = self.new_set(Vec::new());
                    self.stack.push(v);
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::Set(s) => s.borrow_mut().extend(items),
                        _ => return Err(self.malformed("ADDITEMS on a non-set")),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.new_set(items);
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let v = self.global(&module, &name)?;
                    self.stack.push(v);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            let v = self.global(&m, &n)?;
                            self.stack.push(v);
                        }
                        _ => return Err(self.malformed("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 | 0x92 => {
                    let (f, args) = match op {
                        0x92 => {
                            let _kwargs = self.pop()?;
                            let args = self.pop()?;
                            (self.pop()?, args)
                        }
                        _ => {
                            let args = self.pop()?;
                            (self.pop()?, args)
                        }
                    };
                    let args = match args {
                        Value::Tuple(a) => a.borrow().clone(),
                        _ => return Err(self.malformed("call arguments are not a tuple")),
                    };
                    let Value::Global(g) = f else {
                        return Err(
                            self.malformed("call of something that is not an allowed global")
                        );
                    };
                    let v = apply(&g, args, self.op_at)?;
                    self.track(&v);
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        // OrderedDict attributes (a state_dict's `_metadata`), tensor attributes
                        // (`_rebuild_from_type_v2` state): recorded nowhere.
                        Value::Dict(_) | Value::Tensor(_) => {}
                        Value::Instance(i) => i.borrow_mut().state = Some(state),
                        _ => return Err(self.malformed("BUILD on a value that takes no state")),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = storage_from_pid(&pid, self.op_at)?;
                    self.stack.push(v);
                }
                b'h' | b'j' | b'g' => {
                    let k = match op {
                        b'h' => self.u8()? as u64,
                        b'j' => self.le(4)?,
                        _ => {
                            let line = self.line()?;
                            line.parse()
                                .map_err(|_| self.malformed(format!("bad memo key {line:?}")))?
                        }
                    };
                    let v = self
                        .memo
                        .get(&k)
                        .cloned()
                        .ok_or_else(|| self.malformed(format!("memo entry {k} missing")))?;
                    self.stack.push(v);
                }
                b'q' | b'r' | b'p' | 0x94 => {
                    let k = match op {
                        b'q' => self.u8()? as u64,
                        b'r' => self.le(4)?,
                        b'p' => {
                            let line = self.line()?;
                            line.parse()
                                .map_err(|_| self.malformed(format!("bad memo key {line:?}")))?
                        }
                        _ => self.memo.len() as u64,
                    };
                    if self.marks.last().is_some_and(|&m| m == self.stack.len()) {
                        return Err(self.malformed("memoising a MARK"));
                    }
                    let v = self.top()?.clone();
                    self.memo.insert(k, v);
                }
                other => {
                    return Err(PickleError::Opcode {
                        opcode: other,
                        name: opcode_name(other),
                        at: self.op_at,
                    })
                }
            }
        }
    }
}

/// Count the nodes [`to_object`] would build, stopping at the limits (cheap: no allocation).
fn count_nodes(v: &Value, depth: usize, nodes: &mut usize) -> bool {
    *nodes += 1;
    if depth > MAX_DEPTH || *nodes > MAX_NODES {
        return false;
    }
    let all =
        |items: &[Value], nodes: &mut usize| items.iter().all(|x| count_nodes(x, depth + 1, nodes));
    match v {
        Value::Tuple(l) | Value::List(l) | Value::Set(l) => all(&l.borrow(), nodes),
        Value::Dict(d) => d
            .borrow()
            .iter()
            .all(|(k, v)| count_nodes(k, depth + 1, nodes) && count_nodes(v, depth + 1, nodes)),
        Value::Instance(i) => {
            let i = i.borrow();
            all(&i.args, nodes)
                && i.state
                    .as_ref()
                    .is_none_or(|s| count_nodes(s, depth + 1, nodes))
        }
        _ => true,
    }
}

/// Convert the machine's value to the plain output tree (depth- and size-limited, so a stream of
/// shared references cannot expand without bound).
fn to_object(v: &Value, depth: usize, nodes: &mut usize, at: usize) -> Result<Object, PickleError> {
    *nodes += 1;
    if depth > MAX_DEPTH || *nodes > MAX_NODES {
        return Err(PickleError::Malformed {
            at,
            reason: format!(
                "object nested deeper than {MAX_DEPTH} or larger than {MAX_NODES} nodes (a reference cycle or an expansion bomb)"
            ),
        });
    }
    let list = |items: &[Value], nodes: &mut usize| -> Result<Vec<Object>, PickleError> {
        items
            .iter()
            .map(|x| to_object(x, depth + 1, nodes, at))
            .collect()
    };
    Ok(match v {
        Value::None => Object::None,
        Value::Bool(b) => Object::Bool(*b),
        Value::Int(i) => Object::Int(*i),
        Value::BigInt(b) => Object::BigInt(b.to_vec()),
        Value::Float(f) => Object::Float(*f),
        Value::Str(s) => Object::Str(s.to_string()),
        Value::Bytes(b) => Object::Bytes(b.to_vec()),
        Value::Tuple(t) => Object::Tuple(list(&t.borrow(), nodes)?),
        Value::List(l) => Object::List(list(&l.borrow(), nodes)?),
        Value::Set(l) => Object::Set(list(&l.borrow(), nodes)?),
        Value::Dict(d) => Object::Dict(
            d.borrow()
                .iter()
                .map(|(k, v)| {
                    Ok((
                        to_object(k, depth + 1, nodes, at)?,
                        to_object(v, depth + 1, nodes, at)?,
                    ))
                })
                .collect::<Result<_, PickleError>>()?,
        ),
        Value::Global(g) => Object::Global(g.to_string()),
        Value::Storage(s) => Object::Instance {
            class: "torch.storage".into(),
            args: vec![Object::Str(s.key.clone())],
            state: None,
        },
        Value::Tensor(t) => Object::Tensor(t.as_ref().clone()),
        Value::Instance(i) => {
            let i = i.borrow();
            Object::Instance {
                class: i.class.to_string(),
                args: list(&i.args, nodes)?,
                state: match &i.state {
                    Some(s) => Some(Box::new(to_object(s, depth + 1, nodes, at)?)),
                    None => None,
                },
            }
        }
    })
}

/// Run one pickle stream (which must end with STOP) under `allow`; returns the object and the
/// number of bytes the stream used.
pub(crate) fn unpickle_prefix(
    bytes: &[u8],
    allow: Allowlist,
) -> Result<(Object, usize), PickleError> {
    let mut m = Machine {
        b: bytes,
        pos: 0,
        op_at: 0,
        allow,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        lists: Vec::new(),
        dicts: Vec::new(),
        instances: Vec::new(),
    };
    let v = m.run()?;
    if !count_nodes(&v, 0, &mut 0) {
        return Err(PickleError::Malformed {
            at: m.pos,
            reason: format!(
                "object nested deeper than {MAX_DEPTH} or larger than {MAX_NODES} nodes (a reference cycle or an expansion bomb)"
            ),
        });
    }
    let mut nodes = 0;
    let obj = to_object(&v, 0, &mut nodes, m.pos)?;
    Ok((obj, m.pos))
}
