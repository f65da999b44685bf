//! Test-time transform: resize shorter side (PIL bicubic), centre crop, ToTensor, Normalize —
//! OpenAI CLIP's `preprocess` / torchvision `Resize(n) + CenterCrop(n)`.
use std::path::Path;

use image::RgbImage;
use serde_json::Value;

use crate::decode::load_rgb;
use crate::error::{ImageError, ImageLimits};
use crate::resize::{resize_window, PassOrder};
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
    /// Where the centre crop lands when the margin is odd.
    pub crop_rounding: CropRounding,
}

/// Centre-crop placement: the two reference libraries differ by one pixel when the margin
/// `n - c` is odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropRounding {
    /// torchvision `CenterCrop` (OpenAI CLIP, open_clip, Dassl): offset
    /// `int(round((n - c) / 2))` (half to even); a larger crop pads `(c - n) // 2` before.
    #[default]
    Torchvision,
    /// transformers `center_crop` (`CLIPImageProcessor`): offset `(n - c) // 2`; a larger
    /// crop pads `ceil((c - n) / 2)` before.
    Transformers,
}

impl Preprocess {
    /// OpenAI CLIP preprocessing at `size` (resize shorter side to `size`, crop `size`×`size`).
    pub fn clip(size: u32) -> Self {
        Self {
            shortest_edge: size,
            crop: (size, size),
            mean: CLIP_MEAN,
            std: CLIP_STD,
            crop_rounding: CropRounding::Torchvision,
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
            crop_rounding: CropRounding::Torchvision,
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
        // Settings this pipeline does not implement are refused rather than ignored.
        for (key, ok) in [
            ("resample", &[serde_json::json!(3)][..]),
            ("do_resize", &[Value::Bool(true)][..]),
            ("do_center_crop", &[Value::Bool(true)][..]),
            ("do_rescale", &[Value::Bool(true)][..]),
            ("do_normalize", &[Value::Bool(true)][..]),
            ("do_convert_rgb", &[Value::Bool(true), Value::Null][..]),
        ] {
            if let Some(x) = v.get(key) {
                if !ok.contains(x) {
                    return Err(err(format!(
                        "field `{key}` = {x} is not supported (only {}: bicubic resize, centre crop, \
                         x/255, normalise)",
                        ok[0]
                    )));
                }
            }
        }
        if let Some(x) = v.get("rescale_factor") {
            if x.as_f64().is_none_or(|f| (f - 1.0 / 255.0).abs() > 1e-9) {
                return Err(err(format!(
                    "field `rescale_factor` = {x} is not supported (only 1/255)"
                )));
            }
        }
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
            crop_rounding: CropRounding::Transformers,
        })
    }

    /// Resize (shorter side to `shortest_edge`, PIL bicubic) and centre crop, as RGB8.
    ///
    /// Bit-identical to PIL `resize` followed by torchvision `CenterCrop`, but only the crop
    /// window of the resized image is computed ([`resize_window`]): memory and time are those
    /// of the crop plus the source rows/columns it reads, whatever the aspect ratio (a 1×10⁶
    /// image resized to 224×224,000,000 costs a 224×224 buffer). Refused only when the resized
    /// size does not fit in 32 bits, which torchvision/PIL cannot make either.
    pub fn resize_and_crop(&self, img: &RgbImage) -> Result<RgbImage, ImageError> {
        let (w, h) = img.dimensions();
        let (nw, nh) = self.check_size(w, h)?;
        let (ch, cw) = self.crop;
        let (pad_x, left) = crop_offset(nw, cw, self.crop_rounding);
        let (pad_y, top) = crop_offset(nh, ch, self.crop_rounding);
        let win = resize_window(
            img,
            (nw, nh),
            (left, top, cw.min(nw as u32), ch.min(nh as u32)),
            PassOrder::HorizontalFirst,
        );
        if win.dimensions() == (cw, ch) {
            return Ok(win);
        }
        let mut out = RgbImage::new(cw, ch);
        image::imageops::replace(&mut out, &win, i64::from(pad_x), i64::from(pad_y));
        Ok(out)
    }

    /// The resized size of a `w`×`h` image, or [`ImageError::AspectRatio`] when a side would
    /// not fit in 32 bits (the only way [`Preprocess::resize_and_crop`] fails).
    pub fn check_size(&self, w: u32, h: u32) -> Result<(u64, u64), ImageError> {
        let (nw, nh) = resized_size_u64(w, h, self.shortest_edge);
        if nw > u64::from(u32::MAX) || nh > u64::from(u32::MAX) {
            return Err(ImageError::AspectRatio {
                width: w,
                height: h,
                shortest_edge: self.shortest_edge,
                resized: (nw, nh),
            });
        }
        Ok((nw, nh))
    }

    /// Full transform: resize, centre crop, ToTensor, Normalize → CHW floats of length
    /// `3 * crop.0 * crop.1`.
    pub fn apply(&self, img: &RgbImage) -> Result<Vec<f32>, ImageError> {
        Ok(to_chw_normalised(
            &self.resize_and_crop(img)?,
            &self.mean,
            &self.std,
        ))
    }

    /// [`load_rgb`] then [`Preprocess::apply`]; errors name `path`.
    pub fn load(&self, path: &Path, limits: &ImageLimits) -> Result<Vec<f32>, ImageError> {
        let img = load_rgb(path, limits)?;
        self.apply(&img).map_err(|e| ImageError::Decode {
            name: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// Centre crop along one axis of length `n` cropped to `c`: `(padding before, offset into the
/// resized image)`, per [`CropRounding`].
fn crop_offset(n: u64, c: u32, rounding: CropRounding) -> (u32, u64) {
    let c64 = u64::from(c);
    match rounding {
        CropRounding::Torchvision if c64 > n => (((c64 - n) / 2) as u32, 0),
        CropRounding::Torchvision => (0, round_half_even((n - c64) as f64 / 2.0) as u64),
        CropRounding::Transformers if c64 > n => ((c64 - n).div_ceil(2) as u32, 0),
        CropRounding::Transformers => (0, (n - c64) / 2),
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
/// (Saturates at `u32::MAX`; [`Preprocess::resize_and_crop`] refuses such sizes.)
pub fn resized_size(w: u32, h: u32, size: u32) -> (u32, u32) {
    let (a, b) = resized_size_u64(w, h, size);
    (
        a.min(u64::from(u32::MAX)) as u32,
        b.min(u64::from(u32::MAX)) as u32,
    )
}

/// [`resized_size`] without saturation.
fn resized_size_u64(w: u32, h: u32, size: u32) -> (u64, u64) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    if short == 0 {
        return (u64::from(w), u64::from(h));
    }
    // Python: int(size * long / short), evaluated in double precision.
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u64;
    if w <= h {
        (u64::from(size), new_long)
    } else {
        (new_long, u64::from(size))
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
