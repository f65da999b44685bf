//! One restricted unpickler for every pickle vladapt reads: PyTorch checkpoints (`.pth`, see
//! [`crate::pth`]) and pickled NumPy arrays (the `animal-mnist` wheel).
//!
//! The reader is a pickle stack machine (protocols 0–5) that never imports or calls anything:
//! each global is checked against an [`Allowlist`] when the stream names it and a name not on the
//! list stops the read with [`PickleError::ForbiddenGlobal`], as `torch.load(weights_only=True)`
//! does. REDUCE / NEWOBJ / BUILD on an allowed global only record data ([`Object`]). Hostile
//! streams (truncation, bad memo references, reference cycles, expansion bombs, deep nesting) end
//! in an error, never a panic or unbounded memory.
//!
//! ```
//! use vladapt_data::pickle::{unpickle, Allowlist, Object, PickleError};
//! // pickle.dumps({'a': 1}, protocol=2)
//! let ok = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";
//! assert_eq!(unpickle(ok, Allowlist::Torch).unwrap().get("a"), Some(&Object::Int(1)));
//! // pickle.dumps of an object whose __reduce__ is (os.system, ('id',))
//! let evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
//! match unpickle(evil, Allowlist::Torch) {
//!     Err(PickleError::ForbiddenGlobal { module, name, .. }) => assert_eq!((module.as_str(), name.as_str()), ("posix", "system")),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod allow;
mod error;
pub mod numpy;
mod object;
mod vm;

pub use allow::Allowlist;
pub use error::PickleError;
pub use numpy::{parse_numpy_pickle, NdArray};
pub use object::{DType, Object, StorageRef, TensorRef};

/// Unpickle one complete stream (it must end with STOP and nothing may follow).
pub fn unpickle(bytes: &[u8], allow: Allowlist) -> Result<Object, PickleError> {
    let (obj, used) = vm::unpickle_prefix(bytes, allow)?;
    if used != bytes.len() {
        return Err(PickleError::Malformed {
            at: used,
            reason: format!("{} bytes after STOP", bytes.len() - used),
        });
    }
    Ok(obj)
}

/// Unpickle the stream at the start of `bytes`; returns the object and the bytes it used (legacy
/// PyTorch files hold several pickles back to back).
pub fn unpickle_prefix(bytes: &[u8], allow: Allowlist) -> Result<(Object, usize), PickleError> {
    vm::unpickle_prefix(bytes, allow)
}
