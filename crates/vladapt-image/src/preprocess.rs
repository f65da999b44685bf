//! Test-time transform: resize shorter side (PIL bicubic), centre crop, ToTensor, Normalize —
//! OpenAI CLIP's `preprocess` / torchvision `Resize(n) + CenterCrop(n)`.
use std::path::Path;

use image::RgbImage;
use serde_json::Value;

use crate::error::ImageError;
use crate::resize::resize_bicubic;
use crate::tensor::{to_chw_normalised, CLIP_MEAN, CLIP_STD};

/// Deterministic evaluation preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Target length of the shorter image side after resizing.
    pub shortest_edge: u32,
    /// Centre crop size `(height, width)`.
    pub crop: (u32, u32),
    /// Per-channel mean subtracted after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

impl Preprocess {
    /// OpenAI CLIP preprocessing at `size` (resize shorter side to `size`, crop `size`×`size`).
    pub fn clip(size: u32) -> Self {
        Self {
            shortest_edge: size,
            crop: (size, size),
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }

    /// open_clip's `image_transform` for evaluation (resize mode "shortest"), with its optional
    /// `mean`/`std` overrides; OpenAI constants otherwise.
    pub fn from_open_clip(image_size: u32, mean: Option<[f32; 3]>, std: Option<[f32; 3]>) -> Self {
        Self {
            shortest_edge: image_size,
            crop: (image_size, image_size),
            mean: mean.unwrap_or(CLIP_MEAN),
            std: std.unwrap_or(CLIP_STD),
        }
    }

    /// Read a Hugging Face `preprocessor_config.json` (`CLIPImageProcessor`): `size` as an int or
    /// `{"shortest_edge": n}`, `crop_size` as an int or `{"height": h, "width": w}` (defaults to a
    /// square of `size`), `image_mean` / `image_std` (default to the CLIP constants).
    pub fn from_hf_config(path: &Path) -> Result<Self, ImageError> {
        let err = |reason: String| ImageError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        let size = v
            .get("size")
            .ok_or_else(|| err("missing field `size`".into()))?;
        let shortest_edge = match size {
            Value::Object(m) => m.get("shortest_edge").and_then(as_u32).ok_or_else(|| {
                err(format!(
                    "field `size` must be an integer or {{\"shortest_edge\": n}}, got {size}"
                ))
            })?,
            other => as_u32(other).ok_or_else(|| {
                err(format!(
                    "field `size` must be a positive integer, got {other}"
                ))
            })?,
        };
        let crop =
            match v.get("crop_size") {
                None | Some(Value::Null) => (shortest_edge, shortest_edge),
                Some(Value::Object(m)) => {
                    let h = m.get("height").and_then(as_u32);
                    let w = m.get("width").and_then(as_u32);
                    match (h, w) {
                        (Some(h), Some(w)) => (h, w),
                        _ => return Err(err(
                            "field `crop_size` must hold positive integers `height` and `width`"
                                .into(),
                        )),
                    }
                }
                Some(other) => {
                    let s = as_u32(other).ok_or_else(|| {
                        err(format!(
                            "field `crop_size` must be a positive integer, got {other}"
                        ))
                    })?;
                    (s, s)
                }
            };
        let mean = triple(&v, "image_mean").map_err(&err)?.unwrap_or(CLIP_MEAN);
        let std = triple(&v, "image_std").map_err(&err)?.unwrap_or(CLIP_STD);
        if std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err(err(format!(
                "field `image_std` must be non-zero, got {std:?}"
            )));
        }
        Ok(Self {
            shortest_edge,
            crop,
            mean,
            std,
        })
    }

    /// Resize (shorter side to `shortest_edge`, PIL bicubic) and centre crop, as RGB8.
    pub fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = img.dimensions();
        let (nw, nh) = resized_size(w, h, self.shortest_edge);
        let resized = if (nw, nh) == (w, h) {
            img.clone()
        } else {
            resize_bicubic(img, nw, nh)
        };
        center_crop(&resized, self.crop.0, self.crop.1)
    }

    /// Full transform: resize, centre crop, ToTensor, Normalize → CHW floats of length
    /// `3 * crop.0 * crop.1`.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        to_chw_normalised(&self.resize_and_crop(img), &self.mean, &self.std)
    }
}

fn as_u32(v: &Value) -> Option<u32> {
    v.as_u64()
        .filter(|&n| n > 0)
        .and_then(|n| u32::try_from(n).ok())
}

fn triple(v: &Value, key: &str) -> Result<Option<[f32; 3]>, String> {
    let Some(x) = v.get(key) else {
        return Ok(None);
    };
    let bad = || format!("field `{key}` must be a list of 3 numbers, got {x}");
    let arr = x.as_array().ok_or_else(bad)?;
    if arr.len() != 3 {
        return Err(bad());
    }
    let mut out = [0f32; 3];
    for (o, a) in out.iter_mut().zip(arr) {
        *o = a.as_f64().ok_or_else(bad)? as f32;
    }
    Ok(Some(out))
}

/// torchvision `Resize(size)` output for a `w`×`h` image: the shorter side becomes `size`, the
/// longer `int(size * long / short)`.
pub fn resized_size(w: u32, h: u32, size: u32) -> (u32, u32) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    if short == 0 {
        return (w, h);
    }
    let new_long = (u64::from(size) * u64::from(long)) as f64 / f64::from(short);
    let new_long = new_long.min(f64::from(u32::MAX)) as u32;
    if w <= h {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Python's `round` (half to even) for non-negative halves, as used by torchvision.
pub(crate) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// torchvision `CenterCrop((ch, cw))` on a PIL image: zero-pad when the crop is larger, then
/// `top = int(round((h - ch) / 2))`, `left = int(round((w - cw) / 2))`.
pub fn center_crop(img: &RgbImage, ch: u32, cw: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let padded;
    let img = if cw > w || ch > h {
        let left = if cw > w { (cw - w) / 2 } else { 0 };
        let top = if ch > h { (ch - h) / 2 } else { 0 };
        let right = if cw > w { (cw - w).div_ceil(2) } else { 0 };
        let bottom = if ch > h { (ch - h).div_ceil(2) } else { 0 };
        let mut p = RgbImage::new(w + left + right, h + top + bottom);
        image::imageops::replace(&mut p, img, i64::from(left), i64::from(top));
        padded = p;
        &padded
    } else {
        img
    };
    let (w, h) = img.dimensions();
    let top = round_half_even(f64::from(h - ch) / 2.0) as u32;
    let left = round_half_even(f64::from(w - cw) / 2.0) as u32;
    image::imageops::crop_imm(img, left, top, cw, ch).to_image()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_size_matches_python_int() {
        // int(224 * 655 / 450) = int(326.04) = 326; landscape mirrors it.
        assert_eq!(resized_size(450, 655, 224), (224, 326));
        assert_eq!(resized_size(655, 450, 224), (326, 224));
        assert_eq!(resized_size(100, 100, 32), (32, 32));
        // int(32 * 99 / 70) = int(45.257) = 45
        assert_eq!(resized_size(70, 99, 32), (32, 45));
    }

    #[test]
    fn python_round_is_half_even() {
        assert_eq!(round_half_even(0.5), 0.0);
        assert_eq!(round_half_even(1.5), 2.0);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.4), 3.0);
        assert_eq!(round_half_even(3.6), 4.0);
    }

    #[test]
    fn center_crop_offsets_and_padding() {
        let mut img = RgbImage::new(5, 4);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([x as u8, y as u8, 9]);
        }
        // h-ch = 1 → round(0.5) = 0; w-cw = 3 → round(1.5) = 2.
        let c = center_crop(&img, 3, 2);
        assert_eq!(c.get_pixel(0, 0).0, [2, 0, 9]);
        // Crop larger than the image: pad left (7-5)//2 = 1, top (6-4)//2 = 1.
        let c = center_crop(&img, 6, 7);
        assert_eq!(c.dimensions(), (7, 6));
        assert_eq!(c.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(c.get_pixel(1, 1).0, [0, 0, 9]);
        assert_eq!(c.get_pixel(5, 4).0, [4, 3, 9]);
        assert_eq!(c.get_pixel(6, 5).0, [0, 0, 0]);
    }
}
