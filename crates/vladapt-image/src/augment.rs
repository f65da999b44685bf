//! Training augmentation (Dassl `random_resized_crop, random_flip, normalize`): torchvision
//! `RandomResizedCrop` (bicubic) + `RandomHorizontalFlip` + ToTensor + Normalize, driven by a
//! per-sample ChaCha8 stream.
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::preprocess::round_half_even;
use crate::resize::resize_bicubic;
use crate::tensor::{to_chw_normalised, CLIP_MEAN, CLIP_STD};

/// Random-resized-crop + horizontal-flip augmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainAugment {
    /// Output side length (square).
    pub size: u32,
    /// Range of the crop area as a fraction of the image area.
    pub scale: (f32, f32),
    /// Range of the crop aspect ratio (width / height), sampled log-uniformly.
    pub ratio: (f32, f32),
    /// Probability of a horizontal flip.
    pub flip_p: f32,
    /// Per-channel mean subtracted after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

/// A crop window `(top, left, height, width)` in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: u32,
    /// First column.
    pub left: u32,
    /// Number of rows.
    pub height: u32,
    /// Number of columns.
    pub width: u32,
}

impl TrainAugment {
    /// Dassl/CoOp defaults: scale (0.08, 1), ratio (3/4, 4/3), flip 0.5, CLIP mean/std.
    pub fn clip(size: u32) -> Self {
        Self {
            size,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            flip_p: 0.5,
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }

    /// torchvision `RandomResizedCrop.get_params` for a `width`×`height` image: up to 10
    /// attempts with area ~ U(scale) · area and log-uniform aspect ratio, then the centre-crop
    /// fallback clamped to the ratio range. The box always lies inside the image.
    pub fn crop_params(&self, width: u32, height: u32, rng: &mut ChaCha8Rng) -> CropBox {
        let area = f64::from(width) * f64::from(height);
        let (lo, hi) = (f64::from(self.ratio.0).ln(), f64::from(self.ratio.1).ln());
        for _ in 0..10 {
            let target_area = area * uniform(rng, f64::from(self.scale.0), f64::from(self.scale.1));
            let aspect = uniform(rng, lo, hi).exp();
            let w = round_half_even((target_area * aspect).sqrt());
            let h = round_half_even((target_area / aspect).sqrt());
            if w > 0.0 && w <= f64::from(width) && h > 0.0 && h <= f64::from(height) {
                let (w, h) = (w as u32, h as u32);
                let top = rng.random_range(0..=height - h);
                let left = rng.random_range(0..=width - w);
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        // Fallback: central crop with the aspect ratio clamped to the allowed range.
        let in_ratio = f64::from(width) / f64::from(height.max(1));
        let rmin = f64::from(self.ratio.0.min(self.ratio.1));
        let rmax = f64::from(self.ratio.0.max(self.ratio.1));
        let (w, h) = if in_ratio < rmin {
            let h = round_half_even(f64::from(width) / rmin) as u32;
            (width, h.min(height))
        } else if in_ratio > rmax {
            let w = round_half_even(f64::from(height) * rmax) as u32;
            (w.min(width), height)
        } else {
            (width, height)
        };
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }

    /// Crop + bicubic resize to `size`×`size` + optional flip, as RGB8.
    pub fn augment_image(&self, img: &RgbImage, rng: &mut ChaCha8Rng) -> RgbImage {
        let b = self.crop_params(img.width(), img.height(), rng);
        let crop = image::imageops::crop_imm(img, b.left, b.top, b.width, b.height).to_image();
        let mut out = if (b.width, b.height) == (self.size, self.size) {
            crop
        } else {
            resize_bicubic(&crop, self.size, self.size)
        };
        // torchvision: `if torch.rand(1) < p: hflip`.
        if rng.random::<f32>() < self.flip_p {
            image::imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }

    /// Full augmentation → CHW normalised floats of length `3 * size * size`.
    pub fn apply(&self, img: &RgbImage, rng: &mut ChaCha8Rng) -> Vec<f32> {
        to_chw_normalised(&self.augment_image(img, rng), &self.mean, &self.std)
    }
}

/// Uniform draw in `[a, b)` (returns `a` when the range is empty).
fn uniform(rng: &mut ChaCha8Rng, a: f64, b: f64) -> f64 {
    a + (b - a) * rng.random::<f64>()
}

/// The random stream for one sample: depends only on `(seed, epoch, index)`, so augmentation is
/// reproducible whatever the thread scheduling or batch composition.
pub fn augment_rng(seed: u64, epoch: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    key[24..].copy_from_slice(b"vlad-aug");
    ChaCha8Rng::from_seed(key)
}
