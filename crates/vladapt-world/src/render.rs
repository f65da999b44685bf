//! Rasterisation of scenes: signed distances with supersampling at edges.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scene::{Scene, SceneObject};
use crate::sdf::shape_sdf;

/// Pixel box `[x0, y0, x1, y1]`: the object covers columns `x0..x1` and rows `y0..y1`
/// (end-exclusive, so `x1 - x0` is the width in pixels).
pub type PixelBox = [u32; 4];

/// A rendered scene: the image and, per object (scene order), the tight box of the pixels the
/// object covers by at least half.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The RGB image.
    pub image: RgbImage,
    /// Tight pixel box of each object.
    pub boxes: Vec<PixelBox>,
}

/// Signed distance in pixels from pixel-space point `(x, y)` to the object (stroke if
/// `outline` is set).
fn object_distance(obj: &SceneObject, x: f32, y: f32, outline: Option<f32>) -> f32 {
    let (s, c) = obj.rotation.sin_cos();
    let dx = (x - obj.center[0]) / obj.half;
    let dy = (y - obj.center[1]) / obj.half;
    // Rotate the sample into the object's frame (inverse rotation).
    let p = [c * dx + s * dy, -s * dx + c * dy];
    let d = shape_sdf(obj.shape, p) * obj.half;
    match outline {
        Some(t) => (d + t / 2.0).abs() - t / 2.0,
        None => d,
    }
}

/// Coverage in [0, 1] of pixel `(px, py)` by the object; pixels whose centre is farther than
/// 0.75 px from the edge are exact, the others are supersampled on an `ss`×`ss` grid.
fn coverage(obj: &SceneObject, px: u32, py: u32, outline: Option<f32>, ss: u32) -> f32 {
    let d = object_distance(obj, px as f32 + 0.5, py as f32 + 0.5, outline);
    if d <= -0.75 {
        return 1.0;
    }
    if d >= 0.75 {
        return 0.0;
    }
    let mut inside = 0u32;
    for sy in 0..ss {
        for sx in 0..ss {
            let x = px as f32 + (sx as f32 + 0.5) / ss as f32;
            let y = py as f32 + (sy as f32 + 0.5) / ss as f32;
            if object_distance(obj, x, y, outline) <= 0.0 {
                inside += 1;
            }
        }
    }
    inside as f32 / (ss * ss) as f32
}

/// Renders `scene` deterministically.
pub fn render_scene(scene: &Scene) -> Rendered {
    let size = scene.size;
    let mut buf = vec![0u8; (size * size * 3) as usize];
    scene.background.render(&mut buf, size);
    let ss = scene.supersample.max(1);
    let mut boxes = Vec::with_capacity(scene.objects.len());
    for obj in &scene.objects {
        let reach = obj.half * 1.45 + 1.0;
        let lo = |c: f32| (c - reach).floor().max(0.0) as u32;
        let hi = |c: f32| ((c + reach).ceil().max(0.0) as u32).min(size);
        let (x_lo, x_hi) = (lo(obj.center[0]), hi(obj.center[0]));
        let (y_lo, y_hi) = (lo(obj.center[1]), hi(obj.center[1]));
        let mut bx = [u32::MAX, u32::MAX, 0, 0];
        for y in y_lo..y_hi {
            for x in x_lo..x_hi {
                let a = coverage(obj, x, y, scene.outline_px, ss);
                if a <= 0.0 {
                    continue;
                }
                let i = ((y * size + x) * 3) as usize;
                for k in 0..3 {
                    let bg = buf[i + k] as f32;
                    buf[i + k] = (bg + (obj.rgb[k] as f32 - bg) * a).round() as u8;
                }
                if a >= 0.5 {
                    bx[0] = bx[0].min(x);
                    bx[1] = bx[1].min(y);
                    bx[2] = bx[2].max(x + 1);
                    bx[3] = bx[3].max(y + 1);
                }
            }
        }
        if bx[0] == u32::MAX {
            // Degenerate (sub-pixel) object: fall back to its nominal square, clamped.
            let r = obj.half;
            let cl = |v: f32| (v.max(0.0) as u32).min(size);
            bx = [
                cl(obj.center[0] - r),
                cl(obj.center[1] - r),
                cl(obj.center[0] + r),
                cl(obj.center[1] + r),
            ];
        }
        boxes.push(bx);
    }
    if scene.post_noise > 0 {
        let amp = scene.post_noise as i32;
        let mut rng =
            ChaCha8Rng::seed_from_u64(scene.background.noise_seed ^ 0x9E37_79B9_7F4A_7C15);
        for v in buf.iter_mut() {
            *v = (*v as i32 + rng.random_range(-amp..=amp)).clamp(0, 255) as u8;
        }
    }
    if let Some(deg) = scene.style.hue_rotation() {
        for px in buf.chunks_exact_mut(3) {
            let out = crate::style::rotate_hue([px[0], px[1], px[2]], deg);
            px.copy_from_slice(&out);
        }
    }
    let image = RgbImage::from_raw(size, size, buf).unwrap_or_else(|| RgbImage::new(size, size));
    Rendered { image, boxes }
}
