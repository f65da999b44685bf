//! Progress reporting as a small trait: the library reports steps and a status message, the
//! front end (the CLI draws terminal bars with `indicatif`) decides how to show them. Nothing is
//! shown until a front end installs a [`ProgressSink`] with [`set_sink`].
use std::sync::OnceLock;

/// One running task of known length.
pub trait Progress: Send + Sync {
    /// `n` more steps are done.
    fn inc(&self, n: u64);
    /// Replace the status message ("ep 2/5 loss 0.31 acc 88.0% lr 2.00e-3").
    fn set_message(&self, msg: String);
    /// The task ended; remove the bar.
    fn finish(&self);
}

/// Creates a [`Progress`] per task; installed once per process by the front end.
pub trait ProgressSink: Send + Sync {
    /// A task of `len` steps named `prefix` ("train", "eval").
    fn start(&self, len: u64, prefix: &str) -> Box<dyn Progress>;
}

static SINK: OnceLock<Box<dyn ProgressSink>> = OnceLock::new();

/// Install the process-wide sink (the first call wins; later calls are ignored and return
/// `false`).
pub fn set_sink(sink: Box<dyn ProgressSink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Reports nothing.
struct Hidden;

impl Progress for Hidden {
    fn inc(&self, _: u64) {}
    fn set_message(&self, _: String) {}
    fn finish(&self) {}
}

/// A task of `len` steps: reported to the installed sink when `show` is true, else hidden.
pub fn bar(len: u64, prefix: &str, show: bool) -> Box<dyn Progress> {
    match SINK.get() {
        Some(s) if show => s.start(len, prefix),
        _ => Box::new(Hidden),
    }
}
