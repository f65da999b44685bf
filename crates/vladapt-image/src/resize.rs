//! Bicubic resampling that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` bit for bit:
//! Keys cubic with a = -0.5, support widened by the scale factor when downscaling
//! (antialiasing), coefficients normalised then quantised to 22-bit fixed point, a horizontal
//! pass then a vertical pass, each rounded and clipped to 8 bits.
use image::RgbImage;

/// Fixed-point precision of Pillow's 8-bit resampler (`PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Bicubic kernel with a = -0.5 (Pillow `bicubic_filter`), support 2.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per-output-pixel source window and fixed-point weights for one axis.
struct Coeffs {
    /// Kernel length (same for every output pixel).
    ksize: usize,
    /// `(first source index, number of taps)` per output pixel.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output pixel, zero padded.
    weights: Vec<i32>,
}

/// Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for the full box `[0, in_size)`.
fn precompute(in_size: u32, out_size: u32) -> Coeffs {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size as usize);
    let mut weights = vec![0i32; out_size as usize * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size as usize {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C casts truncate toward zero; negative values are clamped to 0 right after.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = bicubic((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..xx * ksize + n];
        for (dst, &w) in row.iter_mut().zip(k.iter()) {
            let w = if ww != 0.0 { w / ww } else { w };
            let f = w * f64::from(1u32 << PRECISION_BITS);
            *dst = if w < 0.0 {
                (f - 0.5) as i32
            } else {
                (f + 0.5) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

/// Pillow `clip8`: drop the fixed-point fraction and clamp to 0..=255.
#[inline]
fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resample rows of `src` (width `sw`, 3 channels) to width `dw`.
fn horizontal(src: &[u8], sw: u32, rows: u32, dw: u32) -> Vec<u8> {
    let c = precompute(sw, dw);
    let (sw, dw) = (sw as usize, dw as usize);
    let mut out = vec![0u8; dw * rows as usize * 3];
    for (src_row, dst_row) in src.chunks_exact(sw * 3).zip(out.chunks_exact_mut(dw * 3)) {
        for (xx, dst) in dst_row.chunks_exact_mut(3).enumerate() {
            let (xmin, n) = c.bounds[xx];
            let k = &c.weights[xx * c.ksize..xx * c.ksize + n];
            let mut ss = [1i64 << (PRECISION_BITS - 1); 3];
            for (x, &w) in k.iter().enumerate() {
                let p = &src_row[(xmin + x) * 3..(xmin + x) * 3 + 3];
                for ch in 0..3 {
                    ss[ch] += i64::from(p[ch]) * i64::from(w);
                }
            }
            for ch in 0..3 {
                dst[ch] = clip8(ss[ch]);
            }
        }
    }
    out
}

/// Resample columns of `src` (width `w`, height `sh`, 3 channels) to height `dh`.
fn vertical(src: &[u8], w: u32, sh: u32, dh: u32) -> Vec<u8> {
    let c = precompute(sh, dh);
    let stride = w as usize * 3;
    let mut out = vec![0u8; stride * dh as usize];
    let mut acc = vec![0i64; stride];
    for (yy, dst_row) in out.chunks_exact_mut(stride).enumerate() {
        let (ymin, n) = c.bounds[yy];
        let k = &c.weights[yy * c.ksize..yy * c.ksize + n];
        acc.fill(1i64 << (PRECISION_BITS - 1));
        for (y, &wt) in k.iter().enumerate() {
            let row = &src[(ymin + y) * stride..(ymin + y + 1) * stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i64::from(p) * i64::from(wt);
            }
        }
        for (d, &a) in dst_row.iter_mut().zip(acc.iter()) {
            *d = clip8(a);
        }
    }
    out
}

/// Order of the two separable passes.
///
/// Pillow up to 12.x always ran the horizontal pass first. Pillow 13 (python-pillow/Pillow
/// PR #9549) runs the vertical pass first when the height shrinks by more than twice as many
/// pixels as the width (`h < sh && sh - h > 2 * (sw - w)`); results then differ by a level or
/// so on some pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassOrder {
    /// Pillow ≤ 12 (the versions the CLIP / CoOp results were produced with): always
    /// horizontal then vertical.
    #[default]
    HorizontalFirst,
    /// Pillow ≥ 13: vertical first when `h < sh && (sh - h) > 2 * (sw - w)`.
    Pillow13,
}

/// Resize to `w`×`h` exactly as Pillow's `img.resize((w, h), Image.BICUBIC)` on an RGB image
/// (Pillow ≤ 12 pass order; see [`resize_bicubic_ordered`]).
///
/// A pass whose size does not change is skipped (as Pillow does), so resizing to the same size
/// returns an identical copy. A degenerate input (zero width or height) gives a black image.
pub fn resize_bicubic(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    resize_bicubic_ordered(img, w, h, PassOrder::HorizontalFirst)
}

/// [`resize_bicubic`] with an explicit Pillow pass order.
pub fn resize_bicubic_ordered(img: &RgbImage, w: u32, h: u32, order: PassOrder) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if w == 0 || h == 0 || sw == 0 || sh == 0 {
        return RgbImage::new(w, h);
    }
    let vertical_first = order == PassOrder::Pillow13
        && h < sh
        && i64::from(sh - h) > 2 * (i64::from(sw) - i64::from(w));
    let mut data = img.as_raw().clone();
    if vertical_first {
        data = vertical(&data, sw, sh, h);
        if w != sw {
            data = horizontal(&data, sw, h, w);
        }
    } else {
        if w != sw {
            data = horizontal(&data, sw, sh, w);
        }
        if h != sh {
            data = vertical(&data, w, sh, h);
        }
    }
    RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_values_by_hand() {
        // a = -0.5: k(0) = 1, k(0.5) = 0.5625, k(1) = 0, k(1.5) = -0.0625, k(2) = 0.
        assert_eq!(bicubic(0.0), 1.0);
        assert!((bicubic(0.5) - 0.5625).abs() < 1e-12);
        assert!(bicubic(1.0).abs() < 1e-12);
        assert!((bicubic(-1.5) + 0.0625).abs() < 1e-12);
        assert_eq!(bicubic(2.0), 0.0);
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage::from_pixel(13, 7, image::Rgb([200, 17, 255]));
        for (w, h) in [(5, 3), (29, 11), (13, 20)] {
            let r = resize_bicubic(&img, w, h);
            assert!(r.pixels().all(|p| p.0 == [200, 17, 255]), "{w}x{h}");
        }
    }
}
