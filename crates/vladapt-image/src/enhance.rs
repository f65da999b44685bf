//! Pillow's `ImageEnhance` Brightness, Contrast and Color (saturation) on RGB8, byte-exact: what
//! torchvision's `adjust_brightness` / `adjust_contrast` / `adjust_saturation` do on a PIL image
//! and what TransVG's ColorJitter applies (MMCA spec §3.3).
//!
//! Each enhancer is `Image.blend(degenerate, image, factor)`, which Pillow computes per byte in C
//! `float`: `in1 + factor · (in2 − in1)`, truncated to `u8`, and clipped to `[0, 255]` first when
//! `factor` is outside `[0, 1]` (`libImaging/Blend.c`).
use image::RgbImage;

/// `Image.blend(a, b, alpha)` on equal-length byte buffers: `a + alpha · (b − a)` in `f32`,
/// truncated (clipped to `[0, 255]` when extrapolating).
pub fn pil_blend(a: &[u8], b: &[u8], alpha: f32) -> Vec<u8> {
    let interpolate = (0.0..=1.0).contains(&alpha);
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let t = f32::from(x) + alpha * (f32::from(y) - f32::from(x));
            if interpolate {
                t as u8
            } else if t <= 0.0 {
                0
            } else if t >= 255.0 {
                255
            } else {
                t as u8
            }
        })
        .collect()
}

/// Pillow's `convert("L")` of one pixel: `(19595 R + 38470 G + 7471 B + 0x8000) >> 16`.
pub fn pil_luma(p: [u8; 3]) -> u8 {
    ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16)
        as u8
}

fn from_raw_like(img: &RgbImage, raw: Vec<u8>) -> RgbImage {
    RgbImage::from_raw(img.width(), img.height(), raw).unwrap_or_else(|| img.clone())
}

/// `ImageEnhance.Brightness(img).enhance(factor)`: blend with black.
pub fn adjust_brightness(img: &RgbImage, factor: f32) -> RgbImage {
    let black = vec![0u8; img.as_raw().len()];
    from_raw_like(img, pil_blend(&black, img.as_raw(), factor))
}

/// `ImageEnhance.Contrast(img).enhance(factor)`: blend with a flat grey of value
/// `int(mean(L) + 0.5)`, the mean of the `convert("L")` image as `ImageStat` computes it.
pub fn adjust_contrast(img: &RgbImage, factor: f32) -> RgbImage {
    let n = u64::from(img.width()) * u64::from(img.height());
    let sum: u64 = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| u64::from(pil_luma([p[0], p[1], p[2]])))
        .sum();
    let mean = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
    let grey = (mean + 0.5) as u8;
    let flat = vec![grey; img.as_raw().len()];
    from_raw_like(img, pil_blend(&flat, img.as_raw(), factor))
}

/// `ImageEnhance.Color(img).enhance(factor)`: blend with `convert("L").convert("RGB")`.
pub fn adjust_saturation(img: &RgbImage, factor: f32) -> RgbImage {
    let grey: Vec<u8> = img
        .as_raw()
        .chunks_exact(3)
        .flat_map(|p| [pil_luma([p[0], p[1], p[2]]); 3])
        .collect();
    from_raw_like(img, pil_blend(&grey, img.as_raw(), factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_truncates_and_clips_like_pillow() {
        // 10 + 0.5·(21 − 10) = 15.5 → 15 (truncated, not rounded).
        assert_eq!(pil_blend(&[10], &[21], 0.5), vec![15]);
        // Extrapolation clips: 0 + 1.4·200 = 280 → 255; 100 + 1.4·(0 − 100) = −40 → 0.
        assert_eq!(pil_blend(&[0, 100], &[200, 0], 1.4), vec![255, 0]);
        // factor 1 returns the image, 0 the degenerate.
        assert_eq!(pil_blend(&[3, 4], &[200, 7], 1.0), vec![200, 7]);
        assert_eq!(pil_blend(&[3, 4], &[200, 7], 0.0), vec![3, 4]);
    }

    #[test]
    fn luma_weights_sum_to_one() {
        assert_eq!(pil_luma([255, 255, 255]), 255);
        assert_eq!(pil_luma([0, 0, 0]), 0);
        // 255·19595 + 0x8000 = 5029493 → >> 16 = 76 (Pillow's L of pure red).
        assert_eq!(pil_luma([255, 0, 0]), 76);
    }
}
