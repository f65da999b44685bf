//! Scene descriptions and their random sampling.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::background::Background;
use crate::error::WorldError;
use crate::style::Style;
use crate::vocab::{Colour, Shape, SizeClass};

/// One object of a scene.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneObject {
    /// Shape drawn.
    pub shape: Shape,
    /// Colour name.
    pub colour: Colour,
    /// Size class.
    pub size: SizeClass,
    /// Actual (jittered, style-dependent) colour.
    pub rgb: [u8; 3],
    /// Centre in pixels.
    pub center: [f32; 2],
    /// Half side of the shape's local square in pixels.
    pub half: f32,
    /// Rotation in radians (0 for rotation-sensitive shapes).
    pub rotation: f32,
}

/// Everything needed to render one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Image side in pixels.
    pub size: u32,
    /// Style the scene was sampled for.
    pub style: Style,
    /// Background description.
    pub background: Background,
    /// Objects; they never overlap.
    pub objects: Vec<SceneObject>,
    /// Stroke width for outline rendering, `None` = filled.
    pub outline_px: Option<f32>,
    /// Uniform noise amplitude added to every pixel after drawing.
    pub post_noise: u8,
    /// Supersampling factor per axis at shape edges.
    pub supersample: u32,
}

/// Options of the pretraining generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldOptions {
    /// Image side in pixels (16..=1024, default 64).
    pub image_size: u32,
    /// Rendering style (default `pretrain`).
    pub style: Style,
    /// Fewest objects per image (default 1).
    pub min_objects: usize,
    /// Most objects per image (default 4, at most 6).
    pub max_objects: usize,
    /// Supersampling factor per axis at shape edges (1..=8, default 4).
    pub supersample: u32,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            image_size: 64,
            style: Style::Pretrain,
            min_objects: 1,
            max_objects: 4,
            supersample: 4,
        }
    }
}

impl WorldOptions {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), WorldError> {
        validate_common(self.image_size, self.supersample)?;
        if self.min_objects == 0 || self.min_objects > self.max_objects || self.max_objects > 6 {
            return Err(WorldError::InvalidOption {
                field: "min_objects/max_objects",
                reason: format!(
                    "need 1 <= min_objects <= max_objects <= 6, got {}..{}",
                    self.min_objects, self.max_objects
                ),
            });
        }
        Ok(())
    }
}

pub(crate) fn validate_common(image_size: u32, supersample: u32) -> Result<(), WorldError> {
    if !(16..=1024).contains(&image_size) {
        return Err(WorldError::InvalidOption {
            field: "image_size",
            reason: format!("must be in 16..=1024, got {image_size}"),
        });
    }
    if !(1..=8).contains(&supersample) {
        return Err(WorldError::InvalidOption {
            field: "supersample",
            reason: format!("must be in 1..=8, got {supersample}"),
        });
    }
    Ok(())
}

/// Side of the object's square as a fraction of the image side, per size class.
fn side_fraction<R: Rng>(size: SizeClass, rng: &mut R) -> f32 {
    match size {
        SizeClass::Small => rng.random_range(0.16..0.22),
        SizeClass::Large => rng.random_range(0.30..0.40),
    }
}

/// Half extent used for placement: the shape plus margin for rotation.
fn extent(half: f32) -> f32 {
    half * 1.2 + 0.5
}

/// Tries to place a square of half side `half` without overlapping `placed`.
fn place<R: Rng>(rng: &mut R, size: u32, half: f32, placed: &[SceneObject]) -> Option<[f32; 2]> {
    let n = size as f32;
    let e = extent(half);
    if 2.0 * e >= n {
        return None;
    }
    for _ in 0..40 {
        let c = [rng.random_range(e..n - e), rng.random_range(e..n - e)];
        let free = placed.iter().all(|o| {
            let f = extent(o.half) + e + 1.0;
            (o.center[0] - c[0]).abs() >= f || (o.center[1] - c[1]).abs() >= f
        });
        if free {
            return Some(c);
        }
    }
    None
}

fn rotation<R: Rng>(rng: &mut R, shape: Shape) -> f32 {
    if shape.rotation_sensitive() {
        0.0
    } else {
        rng.random_range(-0.21..0.21)
    }
}

fn make_object<R: Rng>(
    rng: &mut R,
    style: Style,
    colour: Colour,
    shape: Shape,
    size: SizeClass,
    half: f32,
    center: [f32; 2],
) -> SceneObject {
    SceneObject {
        shape,
        colour,
        size,
        rgb: style.object_rgb(colour, rng),
        center,
        half,
        rotation: rotation(rng, shape),
    }
}

/// Samples a pretraining-style scene with `min_objects..=max_objects` objects (fewer when they
/// do not fit). `forced` fixes the colour and shape of the first object (used to guarantee
/// vocabulary coverage). About a quarter of the later objects repeat an earlier object's colour
/// and shape so that counting captions ("two green triangles") occur.
pub fn sample_scene<R: Rng>(
    rng: &mut R,
    opts: &WorldOptions,
    forced: Option<(Colour, Shape)>,
) -> Scene {
    let size = opts.image_size;
    let want = rng.random_range(opts.min_objects..=opts.max_objects);
    let mut objects: Vec<SceneObject> = Vec::with_capacity(want);
    for k in 0..want {
        let (colour, shape) = match (k, forced) {
            (0, Some(f)) => f,
            _ if k > 0 && rng.random_bool(0.25) => {
                let prev = &objects[rng.random_range(0..objects.len())];
                (prev.colour, prev.shape)
            }
            _ => (
                *Colour::ALL.choose(rng).unwrap_or(&Colour::Red),
                *Shape::ALL.choose(rng).unwrap_or(&Shape::Circle),
            ),
        };
        let mut sclass = if rng.random_bool(0.5) {
            SizeClass::Large
        } else {
            SizeClass::Small
        };
        let mut placed = None;
        for _ in 0..2 {
            let half = side_fraction(sclass, rng) * size as f32 / 2.0;
            if let Some(c) = place(rng, size, half, &objects) {
                placed = Some((half, c));
                break;
            }
            sclass = SizeClass::Small;
        }
        if let Some((half, c)) = placed {
            let obj = make_object(rng, opts.style, colour, shape, sclass, half, c);
            objects.push(obj);
        }
    }
    Scene {
        size,
        style: opts.style,
        background: opts.style.sample_background(rng),
        objects,
        outline_px: opts.style.outline_px(size),
        post_noise: opts.style.post_noise(),
        supersample: opts.supersample,
    }
}

/// Samples a classification scene: one dominant large object of the class's colour and shape,
/// plus `0..=max_distractors` small distractors whose colour–shape combination differs from
/// the class (whose colour differs from the class colour when `distinct_colour`).
pub fn sample_task_scene<R: Rng>(
    rng: &mut R,
    size: u32,
    style: Style,
    supersample: u32,
    class: (Colour, Shape),
    max_distractors: usize,
    distinct_colour: bool,
) -> Scene {
    let n = size as f32;
    let half = rng.random_range(0.42..0.56) * n / 2.0;
    let e = extent(half);
    let center = [rng.random_range(e..n - e), rng.random_range(e..n - e)];
    let mut objects = vec![make_object(
        rng,
        style,
        class.0,
        class.1,
        SizeClass::Large,
        half,
        center,
    )];
    let k = rng.random_range(0..=max_distractors);
    for _ in 0..k {
        let (colour, shape) = loop {
            let c = *Colour::ALL.choose(rng).unwrap_or(&Colour::Red);
            let s = *Shape::ALL.choose(rng).unwrap_or(&Shape::Circle);
            let clash = if distinct_colour {
                c == class.0
            } else {
                (c, s) == class
            };
            if !clash {
                break (c, s);
            }
        };
        let h = rng.random_range(0.14..0.20) * n / 2.0;
        if let Some(c) = place(rng, size, h, &objects) {
            let obj = make_object(rng, style, colour, shape, SizeClass::Small, h, c);
            objects.push(obj);
        }
    }
    Scene {
        size,
        style,
        background: style.sample_background(rng),
        objects,
        outline_px: style.outline_px(size),
        post_noise: style.post_noise(),
        supersample,
    }
}
