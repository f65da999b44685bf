//! Errors of the restricted unpickler.

/// Why a pickle stream was refused. Positions are byte offsets into the pickle stream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    /// The stream references a global that the allowlist does not contain. Nothing is ever
    /// imported or called; the stream is refused as `torch.load(weights_only=True)` refuses it.
    #[error("forbidden global {module}.{name} at byte {at} (only tensor-rebuild globals are accepted; a pickle that names other globals could run code in Python)")]
    ForbiddenGlobal {
        /// Module part, e.g. `posix`.
        module: String,
        /// Name part, e.g. `system`.
        name: String,
        /// Byte offset of the GLOBAL / STACK_GLOBAL opcode.
        at: usize,
    },
    /// An allowed global was used in a way that the reader does not reproduce.
    #[error("unsupported use of {global} at byte {at}: {reason}")]
    Unsupported {
        /// `module.name` of the global.
        global: String,
        /// Byte offset of the opcode.
        at: usize,
        /// What was found.
        reason: String,
    },
    /// The stream ended inside an opcode or before STOP.
    #[error("truncated pickle: ended at byte {at} inside an opcode or before STOP")]
    Truncated {
        /// Byte offset where more data was needed.
        at: usize,
    },
    /// An opcode the reader refuses (extension registry, out-of-band buffers, INST/OBJ, …) or an
    /// unknown byte.
    #[error("unsupported pickle opcode 0x{opcode:02x} ({name}) at byte {at}")]
    Opcode {
        /// The opcode byte.
        opcode: u8,
        /// Its pickletools name, or "unknown".
        name: &'static str,
        /// Byte offset.
        at: usize,
    },
    /// The stream is structurally wrong (stack underflow, missing MARK, bad memo reference, …).
    #[error("malformed pickle at byte {at}: {reason}")]
    Malformed {
        /// Byte offset of the opcode.
        at: usize,
        /// What is wrong.
        reason: String,
    },
}
