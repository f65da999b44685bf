//! Which globals a pickle may name. Nothing is imported: a name on the list only tells the reader
//! how to record the data that follows it.

/// The set of globals accepted, per kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowlist {
    /// What `torch.load(weights_only=True)` accepts for dense tensors (PyTorch 2.x
    /// `_get_allowed_globals`): `collections.OrderedDict`, `torch._utils._rebuild_*`, the storage
    /// classes, dtypes, `torch.Size`, `torch.device`, `_codecs.encode`, `builtins.set` …, plus
    /// `argparse.Namespace`, which the DETR and TransVG training scripts store under `args` (PyTorch
    /// needs `add_safe_globals([argparse.Namespace])` for it; here it is an inert record).
    Torch,
    /// A pickled NumPy array: `numpy.core.multiarray._reconstruct`, `numpy.ndarray`,
    /// `numpy.dtype`, `_codecs.encode`.
    NumPy,
}

const TORCH_EXACT: &[&str] = &[
    "collections.OrderedDict",
    "collections.Counter",
    "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout",
    "torch.Size",
    "torch.Tensor",
    "torch.device",
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.set",
    "builtins.complex",
    "torch._tensor._rebuild_from_type_v2",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "argparse.Namespace",
];

/// `torch.<dtype>` names (`torch.float32`, …) and the legacy storage classes.
const TORCH_NAMES: &[&str] = &[
    "float64",
    "double",
    "float32",
    "float",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "uint16",
    "uint32",
    "uint64",
    "float8_e4m3fn",
    "float8_e5m2",
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QUInt8Storage",
    "QInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
];

const NUMPY_EXACT: &[&str] = &[
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
    "_codecs.encode",
];

impl Allowlist {
    /// The normalised `module.name` if allowed (Python 2 module names are mapped as Python 3's
    /// unpickler maps them), else `None`.
    pub fn resolve(self, module: &str, name: &str) -> Option<String> {
        let module = python3_module(module);
        let full = format!("{module}.{name}");
        let ok = match self {
            Allowlist::Torch => {
                TORCH_EXACT.contains(&full.as_str())
                    || (module == "torch" && TORCH_NAMES.contains(&name))
                    || (module == "torch._utils"
                        && name.starts_with("_rebuild_")
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            }
            Allowlist::NumPy => NUMPY_EXACT.contains(&full.as_str()),
        };
        ok.then_some(full)
    }
}

/// The Python 3 name of a module that protocol-2 pickles spell the Python 2 way (as Python 3's
/// unpickler maps them with `fix_imports`).
pub(crate) fn python3_module(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        m => m,
    }
}
