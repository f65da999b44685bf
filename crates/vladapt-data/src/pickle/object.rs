//! What a restricted unpickle produces: a plain tree of Python values, tensors and inert instances.

/// Element type of a PyTorch storage (and of the converted safetensors tensor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// `torch.float64` (`DoubleStorage`).
    F64,
    /// `torch.float32` (`FloatStorage`).
    F32,
    /// `torch.float16` (`HalfStorage`).
    F16,
    /// `torch.bfloat16` (`BFloat16Storage`).
    BF16,
    /// `torch.int64` (`LongStorage`).
    I64,
    /// `torch.int32` (`IntStorage`).
    I32,
    /// `torch.int16` (`ShortStorage`).
    I16,
    /// `torch.int8` (`CharStorage`).
    I8,
    /// `torch.uint8` (`ByteStorage`).
    U8,
    /// `torch.bool` (`BoolStorage`).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// From a legacy storage class name (`FloatStorage`, …).
    pub fn from_storage_name(name: &str) -> Option<Self> {
        Some(match name {
            "DoubleStorage" => DType::F64,
            "FloatStorage" => DType::F32,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" | "UntypedStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    /// From a `torch.<name>` dtype global (`float32`, `half`, …).
    pub fn from_torch_name(name: &str) -> Option<Self> {
        Some(match name {
            "float64" | "double" => DType::F64,
            "float32" | "float" => DType::F32,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "int64" | "long" => DType::I64,
            "int32" | "int" => DType::I32,
            "int16" | "short" => DType::I16,
            "int8" => DType::I8,
            "uint8" => DType::U8,
            "bool" => DType::Bool,
            _ => return None,
        })
    }

    /// The PyTorch name (`float32`, …).
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F64 => "float64",
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }
}

/// A storage reference from a persistent id `('storage', StorageType, key, location, numel)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// Record name under `data/` in the zip (or the legacy storage key).
    pub key: String,
    /// Element type declared by the storage class.
    pub dtype: DType,
    /// Declared number of elements of that type.
    pub numel: u64,
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage viewed.
    pub storage: StorageRef,
    /// Element type of the tensor (the storage's, or `_rebuild_tensor_v3`'s explicit dtype).
    pub dtype: DType,
    /// Offset of element 0, in elements.
    pub offset: u64,
    /// Shape.
    pub shape: Vec<u64>,
    /// Strides, in elements.
    pub stride: Vec<u64>,
}

/// A Python value produced by the restricted unpickler. Nothing in it was ever executed: classes
/// are recorded by name, with the arguments and state the stream gave them.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` that fits 64 bits.
    Int(i64),
    /// `int` wider than 64 bits, as little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bytes` / `bytearray`.
    Bytes(Vec<u8>),
    /// `tuple` (also `torch.Size`).
    Tuple(Vec<Object>),
    /// `list`.
    List(Vec<Object>),
    /// `set` / `frozenset`.
    Set(Vec<Object>),
    /// `dict` / `OrderedDict`, items in insertion order (a repeated key appears twice; the last
    /// one wins, as in Python).
    Dict(Vec<(Object, Object)>),
    /// A tensor (or `nn.Parameter`).
    Tensor(TensorRef),
    /// An allowed global itself, e.g. `torch.float32` or a class passed as an argument.
    Global(String),
    /// An instance of an allowed class (`argparse.Namespace`, `numpy.ndarray`, `numpy.dtype`,
    /// `torch.device`, …): constructor arguments and BUILD state, recorded, never run.
    Instance {
        /// `module.name` of the class.
        class: String,
        /// Arguments of the REDUCE / NEWOBJ that made it.
        args: Vec<Object>,
        /// BUILD state, if any.
        state: Option<Box<Object>>,
    },
}

impl Object {
    /// The value of `key` in a dict (last occurrence), if this is a dict.
    pub fn get(&self, key: &str) -> Option<&Object> {
        match self {
            Object::Dict(items) => items
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Object::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's type for messages (`dict`, `Tensor`, `argparse.Namespace`, …).
    pub fn type_name(&self) -> String {
        match self {
            Object::None => "None".into(),
            Object::Bool(_) => "bool".into(),
            Object::Int(_) | Object::BigInt(_) => "int".into(),
            Object::Float(_) => "float".into(),
            Object::Str(_) => "str".into(),
            Object::Bytes(_) => "bytes".into(),
            Object::Tuple(_) => "tuple".into(),
            Object::List(_) => "list".into(),
            Object::Set(_) => "set".into(),
            Object::Dict(_) => "dict".into(),
            Object::Tensor(_) => "Tensor".into(),
            Object::Global(g) => g.clone(),
            Object::Instance { class, .. } => class.clone(),
        }
    }
}
