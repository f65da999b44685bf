//! Progress bars (hidden when `show` is false or stderr is not a terminal).
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps with a prefix.
pub fn bar(len: u64, prefix: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>8} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_prefix(prefix.to_string());
    pb
}
