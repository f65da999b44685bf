//! Decoding bytes/files to RGB8 the way `PIL.Image.open(p).convert("RGB")` does, with the
//! pixel budget checked from the header first and EXIF orientation applied.
use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{ImageError, ImageLimits};
use crate::header::sniff_dimensions;

/// Open `path`, check the pixel budget, decode, apply EXIF orientation, convert to RGB8.
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
/// replicated, palettes are expanded and 16-bit samples keep their high byte (`v >> 8`). Unlike
/// PIL (which clips 16-bit greyscale to 255) 16-bit grey is scaled the same way. The EXIF
/// orientation tag, when present, is applied as `PIL.ImageOps.exif_transpose` does.
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
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_err(
            "unrecognised image format (expected PNG, JPEG, WebP, BMP or GIF)".into(),
        ));
    }
    reader.limits(decoder_limits(limits));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_err(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    check_pixels(name, u64::from(w), u64::from(h), limits)?;
    if w == 0 || h == 0 {
        return Err(decode_err(format!("image has zero size {w}x{h}")));
    }
    // A broken EXIF block should not make an otherwise valid image unreadable.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let dynamic = DynamicImage::from_decoder(decoder).map_err(|e| decode_err(e.to_string()))?;
    let mut rgb = DynamicImage::ImageRgb8(to_rgb_like_pil(dynamic));
    rgb.apply_orientation(orientation);
    Ok(rgb.into_rgb8())
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
