//! Terminal progress bars (`indicatif`) for the library's progress reports
//! ([`vladapt::train::progress`]); hidden when stderr is not a terminal.
use indicatif::{ProgressBar, ProgressStyle};
use vladapt::train::progress::{Progress, ProgressSink};

struct Bar(ProgressBar);

impl Progress for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_message(&self, msg: String) {
        self.0.set_message(msg);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Draws one `indicatif` bar per reported task on stderr.
pub struct TerminalBars;

impl ProgressSink for TerminalBars {
    fn start(&self, len: u64, prefix: &str) -> Box<dyn Progress> {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{elapsed_precise}<{eta_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_prefix(prefix.to_string());
        Box::new(Bar(pb))
    }
}
