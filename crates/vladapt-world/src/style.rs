//! Rendering styles: the pretraining look and the downstream looks that differ from it.

use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::background::{Background, BackgroundKind, Pattern};
use crate::error::WorldError;
use crate::vocab::Colour;

/// How a scene is drawn. `Pretrain` is the pretraining distribution; every other style is a
/// downstream domain shift so that adapting the pretrained model matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Filled shapes, nominal palette, all four background kinds, mild background noise.
    #[default]
    Pretrain,
    /// Shapes drawn as strokes (outlines) on plain or gradient backgrounds.
    Outline,
    /// Pretraining look plus strong per-pixel noise over the whole image (objects included).
    Noisy,
    /// Filled shapes on busy, higher-contrast and more saturated textured backgrounds.
    Texture,
    /// Filled shapes in a shifted palette (other shades of the same colour names).
    Palette,
    /// A camera colour cast: the pretraining look with every pixel's hue rotated by
    /// [`CAST_HUE_DEGREES`] (greys unchanged), so each colour drifts towards its neighbour
    /// (red → orange, blue → purple, …) and zero-shot colour words are partly wrong.
    Cast,
}

/// Hue rotation of the `cast` style, in degrees.
pub const CAST_HUE_DEGREES: f32 = 35.0;

impl Style {
    /// All styles, in canonical order.
    pub const ALL: [Style; 6] = [
        Style::Pretrain,
        Style::Outline,
        Style::Noisy,
        Style::Texture,
        Style::Palette,
        Style::Cast,
    ];

    /// Lower-case name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Style::Pretrain => "pretrain",
            Style::Outline => "outline",
            Style::Noisy => "noisy",
            Style::Texture => "texture",
            Style::Palette => "palette",
            Style::Cast => "cast",
        }
    }

    /// Colour of one object instance: the style's shade of `colour` plus a small per-channel
    /// jitter (±12, ±20 for `noisy`).
    pub fn object_rgb<R: Rng>(self, colour: Colour, rng: &mut R) -> [u8; 3] {
        let base = match self {
            Style::Palette => colour.shifted_rgb(),
            _ => colour.rgb(),
        };
        let jitter: i32 = if self == Style::Noisy { 20 } else { 12 };
        base.map(|c| (c as i32 + rng.random_range(-jitter..=jitter)).clamp(0, 255) as u8)
    }

    /// Stroke width in pixels when shapes are outlined, `None` for filled shapes.
    pub fn outline_px(self, image_size: u32) -> Option<f32> {
        match self {
            Style::Outline => Some((image_size as f32 / 28.0).max(1.6)),
            _ => None,
        }
    }

    /// Amplitude of uniform noise added to every pixel after drawing (0 = none).
    pub fn post_noise(self) -> u8 {
        match self {
            Style::Noisy => 48,
            _ => 0,
        }
    }

    /// Hue rotation in degrees applied to the finished image, `None` for no colour cast.
    pub fn hue_rotation(self) -> Option<f32> {
        match self {
            Style::Cast => Some(CAST_HUE_DEGREES),
            _ => None,
        }
    }

    /// Draws a background description for this style.
    pub fn sample_background<R: Rng>(self, rng: &mut R) -> Background {
        let kind = match self {
            Style::Pretrain | Style::Noisy | Style::Cast => match rng.random_range(0..4) {
                0 => BackgroundKind::Plain,
                1 => BackgroundKind::Gradient,
                2 => BackgroundKind::Noise,
                _ => BackgroundKind::Texture,
            },
            Style::Outline => {
                if rng.random_bool(0.5) {
                    BackgroundKind::Plain
                } else {
                    BackgroundKind::Gradient
                }
            }
            Style::Texture => BackgroundKind::Texture,
            Style::Palette => match rng.random_range(0..3) {
                0 => BackgroundKind::Plain,
                1 => BackgroundKind::Gradient,
                _ => BackgroundKind::Noise,
            },
        };
        let busy = self == Style::Texture;
        let (a, b) = if busy {
            (saturated(rng), saturated(rng))
        } else {
            let a = muted(rng);
            let mut b = muted(rng);
            // Keep the two tones of a texture distinguishable.
            if kind == BackgroundKind::Texture && luminance_gap(a, b) < 30.0 {
                b = a.map(|c| if c > 128 { c - 45 } else { c + 45 });
            }
            (a, b)
        };
        let pattern = match rng.random_range(0..3) {
            0 => Pattern::Stripes,
            1 => Pattern::Checker,
            _ => Pattern::Dots,
        };
        let period = if busy {
            rng.random_range(3.0..7.0)
        } else {
            rng.random_range(4.0..10.0)
        };
        Background {
            kind,
            colours: [a, b],
            angle: rng.random_range(0.0..std::f32::consts::PI),
            period,
            pattern,
            noise_amp: rng.random_range(18..=36),
            noise_seed: rng.random(),
        }
    }
}

impl FromStr for Style {
    type Err = WorldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Style::ALL
            .into_iter()
            .find(|st| st.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| WorldError::UnknownStyle(s.to_string()))
    }
}

impl std::fmt::Display for Style {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A greyish tone of middle brightness: contrasts with both the white and the black objects.
fn muted<R: Rng>(rng: &mut R) -> [u8; 3] {
    let v: i32 = rng.random_range(80..=180);
    [0; 3].map(|_| (v + rng.random_range(-28..=28)).clamp(0, 255) as u8)
}

/// A moderately saturated random colour (texture style).
fn saturated<R: Rng>(rng: &mut R) -> [u8; 3] {
    [0; 3].map(|_| rng.random_range(40..=215u8))
}

fn luminance_gap(a: [u8; 3], b: [u8; 3]) -> f32 {
    let l = |c: [u8; 3]| 0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32;
    (l(a) - l(b)).abs()
}

/// Rotate the hue of one RGB pixel by `degrees` in HSV space (saturation and value kept; greys
/// are unchanged).
pub fn rotate_hue(rgb: [u8; 3], degrees: f32) -> [u8; 3] {
    let [r, g, b] = rgb.map(|c| c as f32 / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    if delta <= 0.0 {
        return rgb;
    }
    let h = if max == r {
        60.0 * ((g - b) / delta).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    let h = (h + degrees).rem_euclid(360.0);
    let (s, v) = (delta / max, max);
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0).rem_euclid(2.0) - 1.0).abs());
    let m = v - c;
    let (r1, g1, b1) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [r1, g1, b1].map(|u| ((u + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}
