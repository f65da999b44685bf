//! Background descriptions and their rasterisation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Kind of background, as recorded in annotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundKind {
    /// One flat colour.
    Plain,
    /// Linear blend between two colours along a random direction.
    Gradient,
    /// Flat colour with per-pixel uniform noise.
    Noise,
    /// Two-tone periodic pattern (stripes, checker board or dots).
    Texture,
}

/// Periodic pattern of a textured background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Parallel stripes at a random angle.
    Stripes,
    /// Rotated checker board.
    Checker,
    /// Dot grid.
    Dots,
}

/// Full description of a background; rendering it is deterministic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Background {
    /// Kind of background.
    pub kind: BackgroundKind,
    /// Primary and secondary colour.
    pub colours: [[u8; 3]; 2],
    /// Direction of gradients and patterns, radians.
    pub angle: f32,
    /// Pattern period in pixels.
    pub period: f32,
    /// Pattern used when `kind` is `Texture`.
    pub pattern: Pattern,
    /// Noise amplitude used when `kind` is `Noise`.
    pub noise_amp: u8,
    /// Seed of the per-pixel noise.
    pub noise_seed: u64,
}

impl Background {
    /// Word used in captions ("a red circle on a striped background").
    pub fn caption_word(&self) -> &'static str {
        match (self.kind, self.pattern) {
            (BackgroundKind::Plain, _) => "plain",
            (BackgroundKind::Gradient, _) => "gradient",
            (BackgroundKind::Noise, _) => "noisy",
            (BackgroundKind::Texture, Pattern::Stripes) => "striped",
            (BackgroundKind::Texture, Pattern::Checker) => "checkered",
            (BackgroundKind::Texture, Pattern::Dots) => "dotted",
        }
    }

    /// Fills `buf` (RGB, row-major, `size`×`size`) with this background.
    pub fn render(&self, buf: &mut [u8], size: u32) {
        let [a, b] = self.colours;
        let (s, c) = self.angle.sin_cos();
        let n = size as f32;
        let mut rng = ChaCha8Rng::seed_from_u64(self.noise_seed);
        for y in 0..size {
            for x in 0..size {
                let i = ((y * size + x) * 3) as usize;
                let px = x as f32 + 0.5;
                let py = y as f32 + 0.5;
                let rgb = match self.kind {
                    BackgroundKind::Plain => a,
                    BackgroundKind::Gradient => {
                        // Projection on the direction, normalised to [0, 1] over the image.
                        let t = ((px - n / 2.0) * c + (py - n / 2.0) * s)
                            / (n * std::f32::consts::SQRT_2)
                            + 0.5;
                        mix(a, b, t.clamp(0.0, 1.0))
                    }
                    BackgroundKind::Noise => {
                        let amp = self.noise_amp as i32;
                        a.map(|v| (v as i32 + rng.random_range(-amp..=amp)).clamp(0, 255) as u8)
                    }
                    BackgroundKind::Texture => {
                        let u = (px * c + py * s) / self.period;
                        let v = (-px * s + py * c) / self.period;
                        let on = match self.pattern {
                            Pattern::Stripes => u.rem_euclid(1.0) < 0.5,
                            Pattern::Checker => {
                                ((u.floor() as i64 + v.floor() as i64).rem_euclid(2)) == 0
                            }
                            Pattern::Dots => {
                                let du = u.rem_euclid(1.0) - 0.5;
                                let dv = v.rem_euclid(1.0) - 0.5;
                                du * du + dv * dv < 0.09
                            }
                        };
                        if on {
                            b
                        } else {
                            a
                        }
                    }
                };
                buf[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }
}

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    [0, 1, 2].map(|k| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * t).round() as u8)
}
