//! Errors of the plotting crate; each names the output file.
use std::path::PathBuf;

/// A plot could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Writing the output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The output file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input cannot be plotted (empty matrix, cell of the wrong size …).
    #[error("{path}: {reason}")]
    Invalid {
        /// The output file.
        path: PathBuf,
        /// What is wrong with the input.
        reason: String,
    },
    /// The drawing backend failed.
    #[error("{path}: drawing failed: {reason}")]
    Draw {
        /// The output file.
        path: PathBuf,
        /// Backend message.
        reason: String,
    },
    /// The output name has no `.png` or `.svg` extension.
    #[error("{path}: plots are written as .png or .svg (got extension {ext:?})")]
    Format {
        /// The output file.
        path: PathBuf,
        /// The extension found.
        ext: String,
    },
}
