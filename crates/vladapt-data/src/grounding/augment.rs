//! TransVG / MMCA training augmentation (spec §3.3) and the val/test transform, on a square
//! canvas of side `S` (640 official; every size constant is scaled by `S / 640` for smaller
//! canvases):
//!
//! 1. RandomSelect: a phrase with a direction word always takes branch A; otherwise branch B
//!    with probability 0.5. Branch A: long side → `640 − 32k` (k = 0..6). Branch B: short side →
//!    {400, 500, 600}, RandomSizeCrop(384..600, 20 tries), long side → `640 − 32k`.
//! 2. ColorJitter, p 0.8: Pillow `ImageEnhance` brightness / contrast / saturation with factors
//!    U[0.6, 1.4], in random order.
//! 3. GaussianBlur (off unless enabled).
//! 4. Horizontal flip, p 0.5, with the left↔right text swap.
//! 5. ToTensor + ImageNet normalisation; pad onto `S²` at a random offset (train) or centred at
//!    `round((S − h)/2 − 0.1)` (eval); mask true outside the image; box → normalised
//!    `(cx, cy, w, h)` on the canvas.
//!
//! Three quirks of the official code are switches ([`Quirks`]): the substring direction-word
//! test ("laptop" contains "top"), the crop acceptance test with swapped axes and only a lower
//! bound, and the plain-substring left↔right swap ("bright" → "bleft"). [`GroundingAugment::official`]
//! keeps them; [`GroundingAugment::fixed`] uses word-level tests and accepts a crop only when
//! the box centre lies inside it (so the clamped box never has zero area).
use rand::seq::SliceRandom;
use rand::Rng;
use vladapt_image::{
    adjust_brightness, adjust_contrast, adjust_saturation, resize_bilinear, to_chw_normalised,
    RgbImage,
};

use super::{xyxy_to_cxcywh, BoxXyxy};
use crate::error::DataError;

/// ImageNet mean (TransVG's `NormalizeAndPad`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The words of TransVG's RandomSelect.
pub const DIRECTION_WORDS: [&str; 5] = ["left", "right", "top", "bottom", "middle"];

/// Which official-code quirks to reproduce (spec §5.2 item 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quirks {
    /// Direction words found by substring (`"top" in "laptop"`); else by whole word (the five
    /// words and their `-most` forms).
    pub substring_direction_words: bool,
    /// Crop accepted when `box_cx > top` and `box_cy > left` (axes swapped, lower bound only);
    /// else when the box centre lies strictly inside the crop.
    pub swapped_crop_axes: bool,
    /// Flip swaps "left"/"right" by plain substring replacement ("bright" → "bleft"); else only
    /// whole words (and "leftmost" ↔ "rightmost").
    pub substring_flip_swap: bool,
}

impl Quirks {
    /// The official code's behaviour.
    pub const OFFICIAL: Quirks = Quirks {
        substring_direction_words: true,
        swapped_crop_axes: true,
        substring_flip_swap: true,
    };
    /// Corrected behaviour.
    pub const FIXED: Quirks = Quirks {
        substring_direction_words: false,
        swapped_crop_axes: false,
        substring_flip_swap: false,
    };
}

/// The augmentation pipeline's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundingAugment {
    /// Canvas side `S`.
    pub canvas: u32,
    /// Long-side sizes of branch A and of branch B's last step (`640 − 32k` scaled).
    pub long_sides: Vec<u32>,
    /// Short-side sizes of branch B (`{400, 500, 600}` scaled).
    pub short_sides: Vec<u32>,
    /// RandomSizeCrop side range (`384..=600` scaled).
    pub crop_range: (u32, u32),
    /// RandomSizeCrop attempts.
    pub crop_tries: u32,
    /// Probability of branch B for phrases without direction words.
    pub crop_prob: f64,
    /// Probability of ColorJitter.
    pub jitter_prob: f64,
    /// Jitter strength: factors drawn from `U[1 − j, 1 + j]`.
    pub jitter: f32,
    /// GaussianBlur `(p, σ_min, σ_max)`; `None` = off (the official scripts).
    pub blur: Option<(f64, f32, f32)>,
    /// Probability of the horizontal flip.
    pub flip_prob: f64,
    /// Random placement on the canvas (`aug_translate`); else centred.
    pub translate: bool,
    /// Official quirks.
    pub quirks: Quirks,
}

/// One augmented sample, ready for the model.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentedSample {
    /// `3 · S · S` normalised values, CHW (0 on padding: the mean colour).
    pub chw: Vec<f32>,
    /// `S · S` flags, true = padding.
    pub mask: Vec<bool>,
    /// Target `(cx, cy, w, h)` normalised by `S`.
    pub box_cxcywh: [f32; 4],
    /// The expression after lower-casing (and the flip's word swap).
    pub expression: String,
    /// Where the image sits on the canvas.
    pub placement: Placement,
}

/// Where the transformed image was pasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Pasted size `(w, h)`.
    pub size: (u32, u32),
    /// `(left, top)` offset.
    pub offset: (u32, u32),
    /// Whether the image was flipped.
    pub flipped: bool,
}

/// Python's `round` (half to even).
fn py_round(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// `round(v · S / 640)`, at least 1.
fn scaled(v: u32, canvas: u32) -> u32 {
    (py_round(f64::from(v) * f64::from(canvas) / 640.0) as u32).max(1)
}

impl GroundingAugment {
    fn with_quirks(canvas: u32, quirks: Quirks) -> Self {
        Self {
            canvas,
            long_sides: (0..7).map(|k| scaled(640 - 32 * k, canvas)).collect(),
            short_sides: [400, 500, 600].map(|v| scaled(v, canvas)).to_vec(),
            crop_range: (scaled(384, canvas), scaled(600, canvas)),
            crop_tries: 20,
            crop_prob: 0.5,
            jitter_prob: 0.8,
            jitter: 0.4,
            blur: None,
            flip_prob: 0.5,
            translate: true,
            quirks,
        }
    }

    /// The official pipeline (`--aug_crop --aug_scale --aug_translate`, no blur), quirks
    /// included, on an `S²` canvas (640 in the papers).
    pub fn official(canvas: u32) -> Self {
        Self::with_quirks(canvas, Quirks::OFFICIAL)
    }

    /// The same pipeline with the quirks fixed (word-level tests, crop accepted only with the box
    /// centre inside it).
    pub fn fixed(canvas: u32) -> Self {
        Self::with_quirks(canvas, Quirks::FIXED)
    }

    /// Whether the (lower-cased) phrase holds a direction word, per the quirk setting.
    pub fn has_direction_word(&self, text: &str) -> bool {
        if self.quirks.substring_direction_words {
            DIRECTION_WORDS.iter().any(|w| text.contains(w))
        } else {
            words(text).any(|w| {
                DIRECTION_WORDS
                    .iter()
                    .any(|d| w == *d || w.strip_suffix("most") == Some(d))
            })
        }
    }

    /// The flip's text swap, per the quirk setting.
    pub fn swap_left_right(&self, text: &str) -> String {
        if self.quirks.substring_flip_swap {
            text.replace("right", "*&^special^&*")
                .replace("left", "right")
                .replace("*&^special^&*", "left")
        } else {
            swap_words(text)
        }
    }

    /// Whether a crop `(top, left, h, w)` is accepted for `bbox` (pixels, corners).
    pub fn accept_crop(&self, bbox: BoxXyxy, top: u32, left: u32, h: u32, w: u32) -> bool {
        let [cx, cy, ..] = xyxy_to_cxcywh(bbox);
        let (t, l) = (top as f32, left as f32);
        if self.quirks.swapped_crop_axes {
            cx > t && cy > l
        } else {
            l < cx && cx < l + w as f32 && t < cy && cy < t + h as f32
        }
    }

    fn check(&self, img: &RgbImage, bbox: BoxXyxy) -> Result<(), DataError> {
        if self.canvas == 0
            || self.long_sides.is_empty()
            || self.long_sides.iter().any(|&s| s == 0 || s > self.canvas)
        {
            return Err(DataError::Invalid {
                name: "GroundingAugment",
                reason: format!(
                    "canvas {} with long sides {:?}: every long side must be in 1..=canvas",
                    self.canvas, self.long_sides
                ),
            });
        }
        if img.width() == 0 || img.height() == 0 {
            return Err(DataError::Invalid {
                name: "image",
                reason: format!("{}×{} image has no pixels", img.width(), img.height()),
            });
        }
        if !bbox.iter().all(|v| v.is_finite()) {
            return Err(DataError::Invalid {
                name: "box",
                reason: format!("non-finite box {bbox:?}"),
            });
        }
        Ok(())
    }

    /// The val/test transform: long side → `S` (PIL bilinear), normalise, centre pad. Equal to
    /// the model's `prepare` on the image, with the box mapped the same way.
    pub fn eval(
        &self,
        img: &RgbImage,
        expression: &str,
        bbox: BoxXyxy,
    ) -> Result<AugmentedSample, DataError> {
        self.check(img, bbox)?;
        let (img, bbox) = resize_side(img, bbox, self.canvas, true);
        Ok(self.pad(&img, bbox, expression.to_lowercase(), None, false))
    }

    /// The training pipeline on one sample; `rng` should be the sample's own stream
    /// (`vladapt_image::augment_rng(seed, epoch, index)`).
    pub fn apply<R: Rng>(
        &self,
        img: &RgbImage,
        expression: &str,
        bbox: BoxXyxy,
        rng: &mut R,
    ) -> Result<AugmentedSample, DataError> {
        self.check(img, bbox)?;
        let mut text = expression.to_lowercase();
        let branch_b = !self.has_direction_word(&text) && rng.random_bool(self.crop_prob);
        let (mut img, mut bbox) = (img.clone(), bbox);
        if branch_b {
            let short = self.short_sides[rng.random_range(0..self.short_sides.len())];
            (img, bbox) = resize_side(&img, bbox, short, false);
            (img, bbox) = self.random_size_crop(&img, bbox, rng);
        }
        let long = self.long_sides[rng.random_range(0..self.long_sides.len())];
        (img, bbox) = resize_side(&img, bbox, long, true);
        if rng.random_bool(self.jitter_prob) {
            img = self.color_jitter(&img, rng);
        }
        if let Some((p, lo, hi)) = self.blur {
            if rng.random_bool(p) {
                let sigma = rng.random_range(lo..=hi);
                img = image::imageops::blur(&img, sigma);
            }
        }
        let flipped = rng.random_bool(self.flip_prob);
        if flipped {
            img = image::imageops::flip_horizontal(&img);
            let w = img.width() as f32;
            bbox = [w - bbox[2], bbox[1], w - bbox[0], bbox[3]];
            text = self.swap_left_right(&text);
        }
        let offset = self.translate.then(|| {
            (
                rng.random_range(0..=self.canvas - img.width()),
                rng.random_range(0..=self.canvas - img.height()),
            )
        });
        Ok(self.pad(&img, bbox, text, offset, flipped))
    }

    /// RandomSizeCrop: up to `crop_tries` draws of `w ∈ [min, min(W, max)]`,
    /// `h ∈ [min, min(H, max)]`, origin uniform; the first accepted crop shifts the box and
    /// clamps it to the crop. No accepted crop → unchanged.
    fn random_size_crop<R: Rng>(
        &self,
        img: &RgbImage,
        bbox: BoxXyxy,
        rng: &mut R,
    ) -> (RgbImage, BoxXyxy) {
        let (lo, hi) = self.crop_range;
        let (iw, ih) = (img.width(), img.height());
        for _ in 0..self.crop_tries {
            let w = rng.random_range(lo.min(iw)..=hi.min(iw).max(lo.min(iw)));
            let h = rng.random_range(lo.min(ih)..=hi.min(ih).max(lo.min(ih)));
            let top = rng.random_range(0..=ih - h);
            let left = rng.random_range(0..=iw - w);
            if self.accept_crop(bbox, top, left, h, w) {
                let cropped = image::imageops::crop_imm(img, left, top, w, h).to_image();
                let (l, t) = (left as f32, top as f32);
                let b = [
                    (bbox[0] - l).clamp(0.0, w as f32),
                    (bbox[1] - t).clamp(0.0, h as f32),
                    (bbox[2] - l).clamp(0.0, w as f32),
                    (bbox[3] - t).clamp(0.0, h as f32),
                ];
                return (cropped, b);
            }
        }
        (img.clone(), bbox)
    }

    /// Brightness, contrast, saturation in a random order, each with a factor `U[1−j, 1+j]`.
    fn color_jitter<R: Rng>(&self, img: &RgbImage, rng: &mut R) -> RgbImage {
        let mut order = [0usize, 1, 2];
        order.shuffle(rng);
        let mut out = img.clone();
        for k in order {
            let f = rng.random_range(1.0 - self.jitter..=1.0 + self.jitter);
            out = match k {
                0 => adjust_brightness(&out, f),
                1 => adjust_contrast(&out, f),
                _ => adjust_saturation(&out, f),
            };
        }
        out
    }

    /// ToTensor + normalise, paste at `offset` (or centred), mask, box → canvas `(cx, cy, w, h)`.
    fn pad(
        &self,
        img: &RgbImage,
        bbox: BoxXyxy,
        expression: String,
        offset: Option<(u32, u32)>,
        flipped: bool,
    ) -> AugmentedSample {
        let s = self.canvas;
        let (w, h) = (img.width(), img.height());
        let (left, top) = offset.unwrap_or_else(|| (centre_offset(s, w), centre_offset(s, h)));
        let chw = to_chw_normalised(img, &IMAGENET_MEAN, &IMAGENET_STD);
        let (c, wu, hu, l, t) = (
            s as usize,
            w as usize,
            h as usize,
            left as usize,
            top as usize,
        );
        let mut pixels = vec![0f32; 3 * c * c];
        let mut mask = vec![true; c * c];
        for ch in 0..3 {
            for y in 0..hu {
                let src = &chw[(ch * hu + y) * wu..(ch * hu + y + 1) * wu];
                let dst = (ch * c + t + y) * c + l;
                pixels[dst..dst + wu].copy_from_slice(src);
            }
        }
        for y in 0..hu {
            mask[(t + y) * c + l..(t + y) * c + l + wu].fill(false);
        }
        let (lf, tf) = (left as f32, top as f32);
        let shifted = [bbox[0] + lf, bbox[1] + tf, bbox[2] + lf, bbox[3] + tf];
        AugmentedSample {
            chw: pixels,
            mask,
            box_cxcywh: xyxy_to_cxcywh(shifted).map(|v| v / s as f32),
            expression,
            placement: Placement {
                size: (w, h),
                offset: (left, top),
                flipped,
            },
        }
    }
}

/// TransVG's centred offset `round((S − side)/2 − 0.1)`.
pub fn centre_offset(canvas: u32, side: u32) -> u32 {
    py_round(f64::from(canvas.saturating_sub(side)) / 2.0 - 0.1).max(0.0) as u32
}

/// TransVG's `resize`: ratio `size / max(w, h)` (long side) or `size / min(w, h)`, new sizes
/// `round(side · ratio)` (at least 1), PIL bilinear, box scaled by the ratio.
pub fn resize_side(
    img: &RgbImage,
    bbox: BoxXyxy,
    size: u32,
    long_side: bool,
) -> (RgbImage, BoxXyxy) {
    let (w, h) = (img.width(), img.height());
    let side = if long_side { w.max(h) } else { w.min(h) };
    let ratio = f64::from(size) / f64::from(side);
    let nw = (py_round(f64::from(w) * ratio) as u32).max(1);
    let nh = (py_round(f64::from(h) * ratio) as u32).max(1);
    let out = if (nw, nh) == (w, h) {
        img.clone()
    } else {
        resize_bilinear(img, nw, nh)
    };
    let r = ratio as f32;
    (out, bbox.map(|v| v * r))
}

/// Maximal runs of ASCII letters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
}

/// Word-level left↔right swap (also "leftmost" ↔ "rightmost"); everything else unchanged.
fn swap_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "left" => "right",
            "right" => "left",
            "leftmost" => "rightmost",
            "rightmost" => "leftmost",
            w => w,
        });
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_alphabetic() {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn direction_words_substring_vs_word_level() {
        let (o, f) = (
            GroundingAugment::official(640),
            GroundingAugment::fixed(640),
        );
        // "laptop" contains "top": official never crops it, fixed does not count it.
        assert!(o.has_direction_word("the laptop on the desk"));
        assert!(!f.has_direction_word("the laptop on the desk"));
        for t in [
            "man on the left",
            "top shelf",
            "the leftmost circle",
            "bottom-right corner",
        ] {
            assert!(o.has_direction_word(t) && f.has_direction_word(t), "{t}");
        }
        assert!(!o.has_direction_word("the red circle") && !f.has_direction_word("the red circle"));
        // "bright": official sees "right"; word-level does not.
        assert!(o.has_direction_word("bright lamp") && !f.has_direction_word("bright lamp"));
    }

    #[test]
    fn flip_text_swap_official_vs_fixed() {
        let (o, f) = (
            GroundingAugment::official(640),
            GroundingAugment::fixed(640),
        );
        assert_eq!(
            o.swap_left_right("bright left leftover"),
            "bleft right rightover"
        );
        assert_eq!(
            f.swap_left_right("bright left leftover"),
            "bright right leftover"
        );
        assert_eq!(
            f.swap_left_right("the leftmost one, right-hand"),
            "the rightmost one, left-hand"
        );
        // Swapping twice is the identity for the word-level swap.
        let t = "far left of the right man, leftmost";
        assert_eq!(f.swap_left_right(&f.swap_left_right(t)), t);
    }

    #[test]
    fn crop_acceptance_official_swapped_axes_vs_fixed() {
        let (o, f) = (
            GroundingAugment::official(640),
            GroundingAugment::fixed(640),
        );
        // Box centre (cx, cy) = (500, 50); crop top 100, left 10, 300×300.
        let b = [490.0, 40.0, 510.0, 60.0];
        // Official: cx = 500 > top = 100 and cy = 50 > left = 10 → accepted, although the
        // centre (500, 50) lies outside the crop's rows 100..400 and columns 10..310.
        assert!(o.accept_crop(b, 100, 10, 300, 300));
        assert!(!f.accept_crop(b, 100, 10, 300, 300));
        // Centre inside the crop on the right axes: fixed accepts; official compares cx with
        // the top (500 > 0) and cy with the left (50 > 400 fails) → refused.
        assert!(f.accept_crop(b, 0, 400, 300, 200));
        assert!(!o.accept_crop(b, 0, 400, 300, 200));
    }

    #[test]
    fn centring_formula_and_scaled_sizes() {
        // round((640 − 480)/2 − 0.1) = round(79.9) = 80; round((640 − 479)/2 − 0.1) = round(80.4) = 80.
        assert_eq!(centre_offset(640, 480), 80);
        assert_eq!(centre_offset(640, 479), 80);
        // (128 − 101)/2 − 0.1 = 13.4 → 13; (128 − 99)/2 − 0.1 = 14.4 → 14.
        assert_eq!(centre_offset(128, 101), 13);
        assert_eq!(centre_offset(128, 99), 14);
        let o = GroundingAugment::official(640);
        assert_eq!(o.long_sides, vec![640, 608, 576, 544, 512, 480, 448]);
        assert_eq!(
            (o.short_sides.clone(), o.crop_range),
            (vec![400, 500, 600], (384, 600))
        );
        let t = GroundingAugment::fixed(128);
        // 640·0.2 = 128, 608·0.2 = 121.6 → 122, …, 448·0.2 = 89.6 → 90; 384·0.2 = 76.8 → 77.
        assert_eq!(t.long_sides, vec![128, 122, 115, 109, 102, 96, 90]);
        assert_eq!(
            (t.short_sides.clone(), t.crop_range),
            (vec![80, 100, 120], (77, 120))
        );
    }

    #[test]
    fn eval_box_mask_and_values() {
        // 200×100 on 64: ratio 0.32 → 64×32, top = round(16 − 0.1) = 16.
        let a = GroundingAugment::official(64);
        let img = RgbImage::from_pixel(200, 100, image::Rgb([255, 0, 0]));
        let s = a
            .eval(&img, "The Red Thing", [50.0, 25.0, 150.0, 75.0])
            .unwrap();
        assert_eq!(s.placement.offset, (0, 16));
        assert_eq!(s.expression, "the red thing");
        // Box → (16, 8+16, 48, 24+16) → cx = 32/64, cy = 32/64, w = 32/64, h = 16/64.
        for (v, e) in s.box_cxcywh.iter().zip([0.5, 0.5, 0.5, 0.25]) {
            assert!((v - e).abs() < 1e-6, "{:?}", s.box_cxcywh);
        }
        // Mask: rows 0..16 and 48..64 padding, rows 16..48 image.
        assert!(s.mask[15 * 64] && !s.mask[16 * 64] && !s.mask[47 * 64 + 63] && s.mask[48 * 64]);
        assert_eq!(s.mask.iter().filter(|m| !**m).count(), 64 * 32);
        // Padding is 0 (the mean colour); red pixels are (1 − 0.485)/0.229 in channel 0.
        assert_eq!(s.chw[0], 0.0);
        assert!((s.chw[20 * 64] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((s.chw[64 * 64 + 20 * 64] + 0.456 / 0.224).abs() < 1e-5);
    }

    #[test]
    fn flipping_twice_is_the_identity() {
        let img = gradient(37, 23);
        let flip = |i: &RgbImage| image::imageops::flip_horizontal(i);
        assert_eq!(flip(&flip(&img)), img);
        let w = 37.0;
        let b: BoxXyxy = [3.0, 4.0, 20.0, 9.0];
        let fb = |b: BoxXyxy| [w - b[2], b[1], w - b[0], b[3]];
        assert_eq!(fb(b), [17.0, 4.0, 34.0, 9.0]);
        assert_eq!(fb(fb(b)), b);
    }

    #[test]
    fn training_samples_keep_the_box_on_the_image_and_are_seeded() {
        for aug in [
            GroundingAugment::official(128),
            GroundingAugment::fixed(128),
        ] {
            let img = gradient(160, 120);
            let mut flips = 0;
            for k in 0..200u64 {
                let mut rng = ChaCha8Rng::seed_from_u64(k);
                let s = aug
                    .apply(&img, "the circle", [40.0, 30.0, 100.0, 90.0], &mut rng)
                    .unwrap();
                let mut again = ChaCha8Rng::seed_from_u64(k);
                assert_eq!(
                    aug.apply(&img, "the circle", [40.0, 30.0, 100.0, 90.0], &mut again)
                        .unwrap(),
                    s
                );
                let (w, h) = s.placement.size;
                let (l, t) = s.placement.offset;
                assert!(
                    l + w <= 128 && t + h <= 128 && w.max(h) >= 90,
                    "{:?}",
                    s.placement
                );
                assert_eq!(s.mask.iter().filter(|m| !**m).count(), (w * h) as usize);
                // The box lies within the pasted image (canvas pixels), up to the half pixel by
                // which `round(side · ratio)` can cut the image below the scaled box edge.
                let [cx, cy, bw, bh] = s.box_cxcywh.map(|v| v * 128.0);
                let eps = 0.5 + 1e-3;
                assert!(cx - bw / 2.0 >= l as f32 - eps && cx + bw / 2.0 <= (l + w) as f32 + eps);
                assert!(cy - bh / 2.0 >= t as f32 - eps && cy + bh / 2.0 <= (t + h) as f32 + eps);
                if aug.quirks == Quirks::FIXED {
                    assert!(bw > 0.0 && bh > 0.0, "fixed crop gave a zero-area box");
                }
                flips += usize::from(s.placement.flipped);
            }
            assert!((60..140).contains(&flips), "{flips} flips of 200");
        }
    }

    #[test]
    fn fixed_crop_never_loses_the_box_official_can() {
        // A small box near the bottom-left corner of a 600×600 image; crops of 384..600.
        let img = gradient(600, 600);
        let b = [5.0, 560.0, 25.0, 590.0];
        let (o, f) = (
            GroundingAugment::official(640),
            GroundingAugment::fixed(640),
        );
        let mut official_empty = 0;
        for k in 0..300u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(k);
            let (_, fb) = f.random_size_crop(&img, b, &mut rng);
            assert!(fb[2] > fb[0] && fb[3] > fb[1], "{fb:?}");
            let mut rng = ChaCha8Rng::seed_from_u64(k);
            let (_, ob) = o.random_size_crop(&img, b, &mut rng);
            official_empty += usize::from(!(ob[2] > ob[0] && ob[3] > ob[1]));
        }
        assert!(
            official_empty > 0,
            "the official acceptance test never cut the box away"
        );
    }
}
