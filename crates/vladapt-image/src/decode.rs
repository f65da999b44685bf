//! Decoding bytes/files to RGB8 the way `PIL.Image.open(p).convert("RGB")` does, with the
//! pixel budget checked from the header first.
//!
//! JPEG goes through libjpeg-turbo ([`crate::jpeg`]), bit-identical to Pillow; PNG, WebP, BMP
//! and GIF through the `image` crate. Like `Image.open` (and OpenAI CLIP, open_clip and
//! Dassl/CoOp, which all call it), the EXIF orientation tag is *not* applied: a photo stored
//! sideways with "rotate 90°" in its EXIF is fed to the model sideways, as in the reference
//! pipelines.
use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{ImageError, ImageLimits};
use crate::header::sniff_dimensions;

/// Open `path`, check the pixel budget, decode, convert to RGB8.
pub fn load_rgb(path: &Path, limits: &ImageLimits) -> Result<RgbImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_rgb(&bytes, &path.display().to_string(), limits)
}

/// Decode in-memory bytes (PNG, JPEG, WebP, BMP, GIF first frame); `name` is used in error
/// messages.
///
/// Colour conversion follows PIL's `.convert("RGB")`: alpha is dropped (not composited), grey is
/// replicated, palettes are expanded and 16-bit samples keep their high byte (`v >> 8`).
///
/// 16-bit PNGs differ from PIL on purpose for greyscale: PIL opens a 16-bit grey PNG as mode
/// `I;16` and `convert("RGB")` *clips* each sample to 255 (any value ≥ 255 becomes white, so a
/// typical 16-bit photo turns almost entirely white); we keep the high byte (`v >> 8`), the
/// same as PIL does for 16-bit RGB/RGBA PNGs (which it reads as 8-bit). 16-bit RGB(A) is
/// therefore identical to PIL and 16-bit grey is not. The EXIF orientation tag is ignored, as
/// by `PIL.Image.open`.
pub fn decode_rgb(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage, ImageError> {
    let decode_err = |reason: String| ImageError::Decode {
        name: name.to_string(),
        reason,
    };
    if bytes.is_empty() {
        return Err(decode_err("the file is empty (0 bytes)".into()));
    }
    if let Some((w, h)) = sniff_dimensions(bytes) {
        check_pixels(name, w, h, limits)?;
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return crate::jpeg::decode_jpeg(bytes, name, limits, |w, h| {
            check_pixels(name, w, h, limits)
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_err(
            "unrecognised image format (expected PNG, JPEG, WebP, BMP or GIF)".into(),
        ));
    }
    reader.limits(decoder_limits(limits));
    let decoder = reader
        .into_decoder()
        .map_err(|e| decode_err(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    check_pixels(name, u64::from(w), u64::from(h), limits)?;
    if w == 0 || h == 0 {
        return Err(decode_err(format!("image has zero size {w}x{h}")));
    }
    let dynamic = DynamicImage::from_decoder(decoder).map_err(|e| decode_err(e.to_string()))?;
    Ok(to_rgb_like_pil(dynamic))
}

fn check_pixels(
    name: &str,
    width: u64,
    height: u64,
    limits: &ImageLimits,
) -> Result<(), ImageError> {
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooLarge {
            name: name.to_string(),
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// Allocation limits handed to the `image` decoders: generous enough for a 16-bit RGBA image at
/// the pixel budget, so our own `max_pixels` check is the one that decides.
fn decoder_limits(limits: &ImageLimits) -> Limits {
    let mut l = Limits::default();
    l.max_image_width = None;
    l.max_image_height = None;
    l.max_alloc = Some(limits.max_pixels.saturating_mul(16).max(512 << 20));
    l
}

/// Convert any decoded colour type to RGB8 as PIL's `convert("RGB")` does.
fn to_rgb_like_pil(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(i) => i,
        DynamicImage::ImageLuma8(i) => map_pixels(w, h, i.as_raw(), 1, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(i) => map_pixels(w, h, i.as_raw(), 2, |p| [p[0]; 3]),
        DynamicImage::ImageRgba8(i) => map_pixels(w, h, i.as_raw(), 4, |p| [p[0], p[1], p[2]]),
        DynamicImage::ImageLuma16(i) => map_pixels(w, h, i.as_raw(), 1, |p| [hi(p[0]); 3]),
        DynamicImage::ImageLumaA16(i) => map_pixels(w, h, i.as_raw(), 2, |p| [hi(p[0]); 3]),
        DynamicImage::ImageRgb16(i) => {
            map_pixels(w, h, i.as_raw(), 3, |p| [hi(p[0]), hi(p[1]), hi(p[2])])
        }
        DynamicImage::ImageRgba16(i) => {
            map_pixels(w, h, i.as_raw(), 4, |p| [hi(p[0]), hi(p[1]), hi(p[2])])
        }
        other => other.to_rgb8(),
    }
}

/// High byte of a 16-bit sample (PIL's `;16B` unpackers keep the most significant byte).
fn hi(v: u16) -> u8 {
    (v >> 8) as u8
}

fn map_pixels<T: Copy>(
    w: u32,
    h: u32,
    raw: &[T],
    channels: usize,
    f: impl Fn(&[T]) -> [u8; 3],
) -> RgbImage {
    let data: Vec<u8> = raw.chunks_exact(channels).flat_map(f).collect();
    // The buffer length is w*h*3 by construction; fall back to an empty image if not.
    RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(0, 0))
}
