//! ToTensor + Normalize: RGB8 → CHW `f32`, computed in `f32` like torchvision
//! (`x.float().div(255)`, then `(x - mean) / std`).
use image::RgbImage;

/// CLIP normalisation mean (OpenAI `clip.py`).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP normalisation standard deviation (OpenAI `clip.py`).
// Digits kept exactly as published; the f32 rounding is the same as torch's.
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Planar (CHW) normalised floats of `img`: `(v / 255 - mean[c]) / std[c]`.
pub fn to_chw_normalised(img: &RgbImage, mean: &[f32; 3], std: &[f32; 3]) -> Vec<f32> {
    let plane = img.width() as usize * img.height() as usize;
    let mut out = vec![0f32; plane * 3];
    for (i, p) in img.as_raw().chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(p[c]) / 255.0 - mean[c]) / std[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_values_by_hand() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([0, 255, 51]));
        img.put_pixel(1, 0, image::Rgb([255, 0, 102]));
        let t = to_chw_normalised(&img, &[0.5, 0.0, 0.2], &[0.5, 1.0, 0.1]);
        let want = [-1.0, 1.0, 1.0, 0.0, 0.0, 2.0];
        for (a, b) in t.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{t:?}");
        }
    }
}
