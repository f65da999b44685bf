//! Error type and decoding limits.
use std::path::PathBuf;

/// Errors of this crate; every message names the file (or config) concerned.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read from disk.
    #[error("cannot read image {path}: {source}")]
    Io {
        /// File that failed to open or read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a decodable image (empty, truncated, unknown format, corrupt).
    #[error("cannot decode image {name}: {reason}")]
    Decode {
        /// File name (or caller-supplied label) of the image.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The header announces more pixels than [`ImageLimits::max_pixels`]; nothing was decoded.
    #[error("image {name} is {width}x{height} = {pixels} pixels, over the limit of {limit} pixels (possible decompression bomb)")]
    TooLarge {
        /// File name (or caller-supplied label) of the image.
        name: String,
        /// Width read from the header.
        width: u64,
        /// Height read from the header.
        height: u64,
        /// `width * height`.
        pixels: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// Resizing the shorter side to `shortest_edge` would make a side longer than 2³²−1 pixels
    /// (an aspect ratio beyond what torchvision/PIL can resize either).
    #[error("image of {width}x{height} cannot be resized to shorter side {shortest_edge}: the longer side would become {} pixels (aspect ratio too extreme, limit 4294967295)", resized.0.max(resized.1))]
    AspectRatio {
        /// Source width.
        width: u32,
        /// Source height.
        height: u32,
        /// Requested shorter side.
        shortest_edge: u32,
        /// `(width, height)` the resize would produce.
        resized: (u64, u64),
    },
    /// A preprocessing configuration file is missing fields or malformed.
    #[error("invalid preprocessing config {path}: {reason}")]
    Config {
        /// Config file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Pixel budget checked from the header, before decoding.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        // PIL's DecompressionBombError threshold (2 × MAX_IMAGE_PIXELS).
        Self {
            max_pixels: 178_956_970,
        }
    }
}
