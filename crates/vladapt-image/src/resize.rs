//! Bicubic and bilinear resampling that reproduce Pillow's `Image.resize(size, Image.BICUBIC)`
//! / `Image.resize(size, Image.BILINEAR)` bit for bit: Keys cubic with a = -0.5 (support 2) or
//! the triangle `max(0, 1 − |x|)` (support 1), support widened by the scale factor when downscaling
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

/// Pillow's 8-bit resampling filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `Image.BICUBIC`: Keys cubic, a = −0.5, support 2.
    Bicubic,
    /// `Image.BILINEAR`: triangle `max(0, 1 − |x|)`, support 1 (antialiased when shrinking).
    Bilinear,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bicubic => 2.0,
            Filter::Bilinear => 1.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Bicubic => bicubic(x),
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
        }
    }
}

/// Per-output-pixel source window and fixed-point weights for one axis, for a contiguous range
/// of output pixels (so a crop of a huge resized image costs only the crop).
struct Coeffs {
    /// Kernel length (same for every output pixel).
    ksize: usize,
    /// `(first source index, number of taps)` per output pixel of the range.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output pixel, zero padded.
    weights: Vec<i32>,
}

impl Coeffs {
    /// First source index used by any output pixel of the range and one past the last.
    fn source_span(&self) -> (usize, usize) {
        let lo = self.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let hi = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        (lo, hi.max(lo))
    }
}

/// Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for the full box `[0, in_size)`,
/// evaluated for output pixels `first .. first + count` of `out_size` only.
fn precompute(filter: Filter, in_size: u64, out_size: u64, first: u64, count: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(count);
    let mut weights = vec![0i32; count * ksize];
    let mut k = vec![0f64; ksize];
    for i in 0..count {
        let xx = first + i as u64;
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C casts truncate toward zero; negative values are clamped to 0 right after.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter.eval((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut weights[i * ksize..i * ksize + n];
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

/// The identity "resampling" of an axis whose size does not change (Pillow skips that pass):
/// output pixel `first + i` copies source pixel `first + i`.
fn identity(first: u64, count: usize) -> Coeffs {
    Coeffs {
        ksize: 1,
        bounds: (0..count).map(|i| (first as usize + i, 1)).collect(),
        weights: vec![1i32 << PRECISION_BITS; count],
    }
}

/// Coefficients for output pixels `first .. first + count` of an axis resized `in_size → out`.
fn axis(filter: Filter, in_size: u32, out: u64, first: u64, count: usize) -> Coeffs {
    if u64::from(in_size) == out {
        identity(first, count)
    } else {
        precompute(filter, u64::from(in_size), out, first, count)
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

/// Resample every row of `src` (row stride `stride` pixels, 3 channels) with the column
/// coefficients `c` (source column indices are absolute) → rows of `c.bounds.len()` pixels.
fn horizontal(src: &[u8], stride: usize, c: &Coeffs) -> Vec<u8> {
    let dw = c.bounds.len();
    let rows = src.len() / (stride * 3).max(1);
    let mut out = vec![0u8; dw * rows * 3];
    for (src_row, dst_row) in src
        .chunks_exact(stride * 3)
        .zip(out.chunks_exact_mut(dw * 3))
    {
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

/// Resample columns `cols.0 .. cols.1` of `src` (row stride `stride` pixels, 3 channels; row
/// `r` of `src` is source row `y_off + r`) with the row coefficients `c` → `c.bounds.len()` rows
/// of `cols.1 - cols.0` pixels.
fn vertical(src: &[u8], stride: usize, cols: (usize, usize), y_off: usize, c: &Coeffs) -> Vec<u8> {
    let width = (cols.1 - cols.0) * 3;
    let mut out = vec![0u8; width * c.bounds.len()];
    let mut acc = vec![0i64; width];
    for (yy, dst_row) in out.chunks_exact_mut(width.max(1)).enumerate() {
        let (ymin, n) = c.bounds[yy];
        let k = &c.weights[yy * c.ksize..yy * c.ksize + n];
        acc.fill(1i64 << (PRECISION_BITS - 1));
        for (y, &wt) in k.iter().enumerate() {
            let at = (ymin + y - y_off) * stride * 3 + cols.0 * 3;
            let row = &src[at..at + width];
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

/// `c` with source indices made relative to column `x0`.
fn shift_columns(c: &Coeffs, x0: usize) -> Coeffs {
    Coeffs {
        ksize: c.ksize,
        bounds: c.bounds.iter().map(|&(a, n)| (a - x0, n)).collect(),
        weights: c.weights.clone(),
    }
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
    resize_window(img, (u64::from(w), u64::from(h)), (0, 0, w, h), order)
}

/// Resize to `w`×`h` exactly as Pillow's `img.resize((w, h), Image.BILINEAR)` on an RGB image
/// (the antialiased triangle filter; horizontal pass first, as Pillow ≤ 12 and as Pillow 13
/// whenever the height does not shrink by more than twice the width's shrink).
pub fn resize_bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    resize_window_filtered(
        img,
        (u64::from(w), u64::from(h)),
        (0, 0, w, h),
        PassOrder::HorizontalFirst,
        Filter::Bilinear,
    )
}

/// The window `(left, top, width, height)` of `img` resized to `size = (w, h)` with Pillow
/// bicubic — bit-identical to resizing the whole image and cropping, but the work and memory
/// are those of the window plus the source rows/columns it reads, so a 1×1,000,000 image
/// "resized" to 224×224,000,000 and centre-cropped costs a 224×224 buffer.
///
/// The window must lie inside `[0, w) × [0, h)`; the part outside is left black.
pub fn resize_window(
    img: &RgbImage,
    size: (u64, u64),
    window: (u64, u64, u32, u32),
    order: PassOrder,
) -> RgbImage {
    resize_window_filtered(img, size, window, order, Filter::Bicubic)
}

/// [`resize_window`] with an explicit Pillow filter.
pub fn resize_window_filtered(
    img: &RgbImage,
    size: (u64, u64),
    window: (u64, u64, u32, u32),
    order: PassOrder,
    filter: Filter,
) -> RgbImage {
    let (sw, sh) = img.dimensions();
    let (w, h) = size;
    let (left, top, cw, ch) = window;
    let cw = (cw as u64).min(w.saturating_sub(left)) as u32;
    let ch = (ch as u64).min(h.saturating_sub(top)) as u32;
    if cw == 0 || ch == 0 || sw == 0 || sh == 0 {
        return RgbImage::new(window.2, window.3);
    }
    let vertical_first = order == PassOrder::Pillow13
        && h < u64::from(sh)
        && (i128::from(sh) - i128::from(h)) > 2 * (i128::from(sw) - i128::from(w));
    let cx = axis(filter, sw, w, left, cw as usize);
    let cy = axis(filter, sh, h, top, ch as usize);
    let (x0, x1) = cx.source_span();
    let (y0, y1) = cy.source_span();
    let raw = img.as_raw();
    let stride = sw as usize;
    // Only source rows y0..y1 and columns x0..x1 are read; no copy of the source is made.
    let rows = &raw[y0 * stride * 3..y1 * stride * 3];
    let data = if vertical_first {
        let v = vertical(rows, stride, (x0, x1), y0, &cy);
        let shifted = shift_columns(&cx, x0);
        horizontal(&v, x1 - x0, &shifted)
    } else {
        let hz = horizontal(rows, stride, &cx);
        vertical(&hz, cw as usize, (0, cw as usize), y0, &cy)
    };
    let mut out = RgbImage::new(window.2, window.3);
    let src = RgbImage::from_raw(cw, ch, data).unwrap_or_else(|| RgbImage::new(cw, ch));
    image::imageops::replace(&mut out, &src, 0, 0);
    out
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
