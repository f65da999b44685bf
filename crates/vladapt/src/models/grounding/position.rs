//! DETR's 2-D sine position embedding with the pixel mask, and the mask downsampling (spec §1.2).
use burn::tensor::{Device, Tensor, TensorData};

/// Nearest-neighbour downsampling of a padding mask as PyTorch's `F.interpolate(mode="nearest")`:
/// output `(i, j)` samples source `(⌊i·H/h⌋, ⌊j·W/w⌋)`. `mask` is `B·H·W` (true = padding).
pub fn downsample_mask(
    mask: &[bool],
    batch: usize,
    (hh, ww): (usize, usize),
    (h, w): (usize, usize),
) -> Vec<bool> {
    let sy = hh as f32 / h as f32;
    let sx = ww as f32 / w as f32;
    let mut out = Vec::with_capacity(batch * h * w);
    for b in 0..batch {
        for i in 0..h {
            let y = ((i as f32 * sy).floor() as usize).min(hh - 1);
            for j in 0..w {
                let x = ((j as f32 * sx).floor() as usize).min(ww - 1);
                out.push(mask[(b * hh + y) * ww + x]);
            }
        }
    }
    out
}

/// The sine embedding `[B, d, h, w]` (`d` = 2·`num_pos_feats`) of a `B·h·w` padding mask,
/// computed in f32 as DETR's `PositionEmbeddingSine(normalize=True, scale=2π, T=10000)`:
/// `y = cumsum_h(¬mask)`, `x = cumsum_w(¬mask)`, each divided by its last value + 1e-6 and
/// multiplied by 2π; channel `i` of each half is `sin` (even `i`) or `cos` (odd `i`) of
/// `e / T^(2⌊i/2⌋/num_pos_feats)`; output `concat(pos_y, pos_x)`.
pub fn sine_position(
    mask: &[bool],
    batch: usize,
    h: usize,
    w: usize,
    d: usize,
    device: &Device,
) -> Tensor<4> {
    let f = d / 2;
    let scale = 2.0 * std::f32::consts::PI;
    let dim_t: Vec<f32> = (0..f)
        .map(|i| 10000f32.powf((2 * (i / 2)) as f32 / f as f32))
        .collect();
    let mut out = vec![0f32; batch * d * h * w];
    for b in 0..batch {
        let m = &mask[b * h * w..(b + 1) * h * w];
        let mut ye = vec![0f32; h * w];
        let mut xe = vec![0f32; h * w];
        for j in 0..w {
            let mut acc = 0f32;
            for i in 0..h {
                acc += if m[i * w + j] { 0.0 } else { 1.0 };
                ye[i * w + j] = acc;
            }
        }
        for i in 0..h {
            let mut acc = 0f32;
            for j in 0..w {
                acc += if m[i * w + j] { 0.0 } else { 1.0 };
                xe[i * w + j] = acc;
            }
        }
        for i in 0..h {
            for j in 0..w {
                let y = ye[i * w + j] / (ye[(h - 1) * w + j] + 1e-6) * scale;
                let x = xe[i * w + j] / (xe[i * w + w - 1] + 1e-6) * scale;
                for (c, dt) in dim_t.iter().enumerate() {
                    let (py, px) = (y / dt, x / dt);
                    let (vy, vx) = if c % 2 == 0 {
                        (py.sin(), px.sin())
                    } else {
                        (py.cos(), px.cos())
                    };
                    out[((b * d + c) * h + i) * w + j] = vy;
                    out[((b * d + f + c) * h + i) * w + j] = vx;
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [batch, d, h, w]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_io::to_vec_f32;

    #[test]
    fn mask_sampling_is_asymmetric_like_pytorch_nearest() {
        // spec §1.2: a 640×480 image centred on 640² has 80 px of padding above and below;
        // nearest sampling of rows 32·i gives 3 padded token rows on top, 2 at the bottom.
        let (hh, ww) = (640, 640);
        let mask: Vec<bool> = (0..hh * ww)
            .map(|p| {
                let y = p / ww;
                !(80..560).contains(&y)
            })
            .collect();
        let m = downsample_mask(&mask, 1, (hh, ww), (20, 20));
        let padded_rows: Vec<usize> = (0..20).filter(|i| m[i * 20]).collect();
        assert_eq!(padded_rows, vec![0, 1, 2, 18, 19]);
    }

    #[test]
    fn sine_values_by_hand() {
        // 1×2×2 all-valid mask, d = 4 (num_pos_feats 2): dim_t = [1, 1].
        // y_embed row 0 = 1/(2+1e-6)·2π ≈ π, row 1 = 2π; channel 0 = sin(y), 1 = cos(y).
        let p = to_vec_f32(&sine_position(&[false; 4], 1, 2, 2, 4, &Device::flex()));
        let pi = std::f32::consts::PI;
        let y0 = 1.0 / (2.0 + 1e-6) * 2.0 * pi;
        let expect_c0 = [
            y0.sin(),
            y0.sin(),
            (2.0 * pi * 2.0 / (2.0 + 1e-6)).sin(),
            (2.0 * pi * 2.0 / (2.0 + 1e-6)).sin(),
        ];
        for (a, b) in p[0..4].iter().zip(expect_c0) {
            assert!((a - b).abs() < 1e-6);
        }
        // channel 3 = cos(x): x row-wise [π, 2π] → [-1, 1].
        assert!((p[12] + 1.0).abs() < 1e-5 && (p[13] - 1.0).abs() < 1e-5);
    }
}
