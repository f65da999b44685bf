//! Referring-expression grounding data (MMCA spec §6.3): images with 2–5 objects and, per object,
//! templated expressions resolved against the scene so that each names **exactly one** object.
//!
//! Three kinds of expression, each with a structured form ([`Expression`]) whose referents are
//! computed from the scene facts, never from the text:
//! - attribute: "the red circle", "the large blue square", "the yellow shape";
//! - superlative (direction words): "the leftmost square", "the topmost red shape";
//! - relational: "the circle left of the green triangle", "the yellow shape above the red circle".
//!
//! Geometry uses box centres in doubled integer pixels (`x1 + x2`), so a horizontal flip
//! (`x ↦ W − x`) maps every relation and superlative exactly onto its mirror word: flipping the
//! image and swapping left↔right word by word keeps each referent (checked for every expression
//! the generator emits). Candidates must hold with a margin and every competitor must fail with
//! the same margin, so no expression hinges on a one-pixel difference.
use std::path::Path;

use rand::seq::IndexedRandom;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::WorldError;
use crate::output::{create_dir, image_rng, write_png};
use crate::render::{render_scene, PixelBox};
use crate::scene::{sample_scene, validate_common, WorldOptions};
use crate::style::Style;
use crate::vocab::{Colour, Relation, Shape, SizeClass};

/// Domain constant mixed into the seed of grounding images.
const GROUNDING_DOMAIN: u64 = 0x4752_4F55_4E44_494E; // "GROUNDIN"

/// Options of [`generate_grounding`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingOptions {
    /// Seed; image `i` depends only on `(seed, i, options)`.
    pub seed: u64,
    /// Number of images (≥ 3 so that every split gets one).
    pub images: usize,
    /// Image side in pixels (16..=1024; 128 or 160 for the tiny demo).
    pub image_size: u32,
    /// Rendering style.
    pub style: Style,
    /// Fewest objects per image (≥ 2).
    pub min_objects: usize,
    /// Most objects per image (≤ 6).
    pub max_objects: usize,
    /// Expressions per object (1..=4), each of a different text.
    pub expressions_per_object: usize,
    /// Supersampling factor per axis at shape edges (1..=8).
    pub supersample: u32,
    /// Share of images in `val.jsonl` (`[0, 0.5]`).
    pub val_fraction: f64,
    /// Share of images in `test.jsonl` (`[0, 0.5]`).
    pub test_fraction: f64,
}

impl Default for GroundingOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            images: 1000,
            image_size: 128,
            style: Style::Pretrain,
            min_objects: 2,
            max_objects: 5,
            expressions_per_object: 1,
            supersample: 2,
            val_fraction: 0.1,
            test_fraction: 0.1,
        }
    }
}

impl GroundingOptions {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), WorldError> {
        validate_common(self.image_size, self.supersample)?;
        let bad = |field: &'static str, reason: String| WorldError::InvalidOption { field, reason };
        if self.images < 3 {
            return Err(bad(
                "images",
                format!(
                    "need at least 3 images (one per split), got {}",
                    self.images
                ),
            ));
        }
        if self.min_objects < 2 || self.min_objects > self.max_objects || self.max_objects > 6 {
            return Err(bad(
                "min_objects/max_objects",
                format!(
                    "need 2 <= min_objects <= max_objects <= 6, got {}..{}",
                    self.min_objects, self.max_objects
                ),
            ));
        }
        if !(1..=4).contains(&self.expressions_per_object) {
            return Err(bad(
                "expressions_per_object",
                format!("must be in 1..=4, got {}", self.expressions_per_object),
            ));
        }
        for (field, v) in [
            ("val_fraction", self.val_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(0.0..=0.5).contains(&v) {
                return Err(bad(field, format!("must be in [0, 0.5], got {v}")));
            }
        }
        Ok(())
    }

    /// Number of images of each split `(train, val, test)`: val and test get
    /// `max(1, round(n · fraction))` images each (0 when the fraction is 0), train the rest.
    pub fn split_counts(&self) -> (usize, usize, usize) {
        let part = |f: f64| {
            if f == 0.0 {
                0
            } else {
                ((self.images as f64 * f).round() as usize).max(1)
            }
        };
        let (v, t) = (part(self.val_fraction), part(self.test_fraction));
        (self.images.saturating_sub(v + t), v, t)
    }
}

/// One object as the language side sees it: attributes and its tight pixel box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundObject {
    /// Shape.
    pub shape: Shape,
    /// Colour name.
    pub colour: Colour,
    /// Size class.
    pub size: SizeClass,
    /// Tight box `[x1, y1, x2, y2]`, end-exclusive pixels.
    #[serde(rename = "box")]
    pub bbox: PixelBox,
}

impl GroundObject {
    /// Doubled centre `(x1 + x2, y1 + y2)`: exact under a horizontal flip.
    fn centre2(&self) -> [i64; 2] {
        let b = self.bbox.map(i64::from);
        [b[0] + b[2], b[1] + b[3]]
    }

    /// The object mirrored in an image of width `w`: `x1' = w − x2`, `x2' = w − x1`.
    pub fn flipped(&self, w: u32) -> Self {
        let b = self.bbox;
        Self {
            bbox: [w - b[2], b[1], w - b[0], b[3]],
            ..*self
        }
    }
}

/// An attribute description: any subset of size, colour and shape ("large red circle", "red
/// shape", "circle", "shape").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description {
    /// Size word, if used.
    pub size: Option<SizeClass>,
    /// Colour word, if used.
    pub colour: Option<Colour>,
    /// Shape noun, or the generic "shape".
    pub shape: Option<Shape>,
}

impl Description {
    /// Whether `o` fits every attribute given.
    pub fn matches(&self, o: &GroundObject) -> bool {
        self.size.is_none_or(|s| s == o.size)
            && self.colour.is_none_or(|c| c == o.colour)
            && self.shape.is_none_or(|s| s == o.shape)
    }

    /// "large red circle", "red shape", "shape".
    pub fn phrase(&self) -> String {
        let mut words: Vec<&str> = Vec::new();
        if let Some(s) = self.size {
            words.push(s.name());
        }
        if let Some(c) = self.colour {
            words.push(c.name());
        }
        words.push(self.shape.map_or("shape", Shape::name));
        words.join(" ")
    }

    /// The 8 descriptions `o` fits (each attribute present or absent), most specific last.
    fn all_of(o: &GroundObject) -> Vec<Description> {
        let mut out = Vec::with_capacity(8);
        for mask in 0u8..8 {
            out.push(Description {
                size: (mask & 4 != 0).then_some(o.size),
                colour: (mask & 2 != 0).then_some(o.colour),
                shape: (mask & 1 != 0).then_some(o.shape),
            });
        }
        out
    }

    fn is_generic(&self) -> bool {
        self.size.is_none() && self.colour.is_none() && self.shape.is_none()
    }
}

/// Direction of a superlative ("leftmost", …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extreme {
    /// Smallest centre x.
    Leftmost,
    /// Largest centre x.
    Rightmost,
    /// Smallest centre y.
    Topmost,
    /// Largest centre y.
    Bottommost,
}

impl Extreme {
    /// All four, in canonical order.
    pub const ALL: [Extreme; 4] = [
        Extreme::Leftmost,
        Extreme::Rightmost,
        Extreme::Topmost,
        Extreme::Bottommost,
    ];

    /// The word.
    pub fn word(self) -> &'static str {
        match self {
            Extreme::Leftmost => "leftmost",
            Extreme::Rightmost => "rightmost",
            Extreme::Topmost => "topmost",
            Extreme::Bottommost => "bottommost",
        }
    }

    /// Larger = more extreme (doubled pixels).
    fn key(self, o: &GroundObject) -> i64 {
        let [x, y] = o.centre2();
        match self {
            Extreme::Leftmost => -x,
            Extreme::Rightmost => x,
            Extreme::Topmost => -y,
            Extreme::Bottommost => y,
        }
    }

    /// The mirrored direction (left ↔ right).
    pub fn mirrored(self) -> Self {
        match self {
            Extreme::Leftmost => Extreme::Rightmost,
            Extreme::Rightmost => Extreme::Leftmost,
            e => e,
        }
    }
}

/// How clearly `a` stands in relation `rel` to `b` (doubled pixels): positive = holds. Stricter
/// than [`Relation::between`]: the centre offset's dominant axis and sign must both agree, with no
/// tie (`|dx| > |dy|` and `dx < 0` for "left of").
fn relation_score(rel: Relation, a: &GroundObject, b: &GroundObject) -> i64 {
    let (ca, cb) = (a.centre2(), b.centre2());
    let (dx, dy) = (ca[0] - cb[0], ca[1] - cb[1]);
    match rel {
        Relation::LeftOf => (-dx).min(dx.abs() - dy.abs()),
        Relation::RightOf => dx.min(dx.abs() - dy.abs()),
        Relation::Above => (-dy).min(dy.abs() - dx.abs()),
        Relation::Below => dy.min(dy.abs() - dx.abs()),
    }
}

/// Whether `a` is in relation `rel` to `b` (strictly, see [`relation_score`]).
pub fn relation_holds(rel: Relation, a: &GroundObject, b: &GroundObject) -> bool {
    relation_score(rel, a, b) > 0
}

/// A referring expression in structured form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expression {
    /// "the {description}".
    Attribute(Description),
    /// "the {extreme} {description}".
    Superlative(Extreme, Description),
    /// "the {subject} {relation} the {reference}"; the reference description must itself name
    /// exactly one object.
    Relational(Description, Relation, Description),
}

impl Expression {
    /// The English text.
    pub fn text(&self) -> String {
        match self {
            Expression::Attribute(d) => format!("the {}", d.phrase()),
            Expression::Superlative(e, d) => format!("the {} {}", e.word(), d.phrase()),
            Expression::Relational(s, r, o) => {
                format!("the {} {} the {}", s.phrase(), r.phrase(), o.phrase())
            }
        }
    }

    /// Kind name: `attribute`, `superlative` or `relational`.
    pub fn kind(&self) -> &'static str {
        match self {
            Expression::Attribute(_) => "attribute",
            Expression::Superlative(..) => "superlative",
            Expression::Relational(..) => "relational",
        }
    }

    /// The same expression with left and right swapped (what a horizontal flip requires).
    pub fn mirrored(&self) -> Self {
        match *self {
            Expression::Superlative(e, d) => Expression::Superlative(e.mirrored(), d),
            Expression::Relational(s, r, o) => Expression::Relational(s, r.mirrored(), o),
            a => a,
        }
    }

    /// Indices of the objects the expression picks out (strict semantics; several or none when
    /// ambiguous or unsatisfied). A superlative needs a unique extreme among ≥ 1 matching objects;
    /// a relational expression needs a unique reference.
    pub fn referents(&self, objects: &[GroundObject]) -> Vec<usize> {
        let fits = |d: &Description| -> Vec<usize> {
            (0..objects.len())
                .filter(|&k| d.matches(&objects[k]))
                .collect()
        };
        match self {
            Expression::Attribute(d) => fits(d),
            Expression::Superlative(e, d) => {
                let s = fits(d);
                let Some(best) = s.iter().map(|&k| e.key(&objects[k])).max() else {
                    return Vec::new();
                };
                s.into_iter()
                    .filter(|&k| e.key(&objects[k]) == best)
                    .collect()
            }
            Expression::Relational(sub, rel, refd) => {
                let r = fits(refd);
                let [j] = r.as_slice() else {
                    return Vec::new();
                };
                fits(sub)
                    .into_iter()
                    .filter(|&k| relation_holds(*rel, &objects[k], &objects[*j]))
                    .collect()
            }
        }
    }
}

/// Every expression that names object `i` alone with a clear margin (doubled pixels): attribute
/// descriptions unique in the scene; superlatives whose winner beats every other matching object
/// by `margin`; relations that hold for `i` by `margin` and fail for every other subject
/// candidate by `margin`. Each is also checked to keep its referent under a horizontal flip.
pub fn candidate_expressions(
    objects: &[GroundObject],
    i: usize,
    margin: i64,
    image_width: u32,
) -> Vec<Expression> {
    let t = &objects[i];
    let mut out = Vec::new();
    let matching = |d: &Description| -> Vec<usize> {
        (0..objects.len())
            .filter(|&k| d.matches(&objects[k]))
            .collect()
    };
    for d in Description::all_of(t) {
        let s = matching(&d);
        if !d.is_generic() && s.len() == 1 {
            out.push(Expression::Attribute(d));
        }
        if s.len() >= 2 {
            for e in Extreme::ALL {
                let best_other = s
                    .iter()
                    .filter(|&&k| k != i)
                    .map(|&k| e.key(&objects[k]))
                    .max();
                if best_other.is_some_and(|b| e.key(t) - b >= margin) {
                    out.push(Expression::Superlative(e, d));
                }
            }
        }
    }
    for (j, r) in objects.iter().enumerate() {
        if j == i {
            continue;
        }
        let Some(refd) = Description::all_of(r)
            .into_iter()
            .filter(|d| !d.is_generic() && matching(d).len() == 1)
            .min_by_key(|d| {
                u8::from(d.size.is_some()) * 2
                    + u8::from(d.colour.is_some())
                    + u8::from(d.shape.is_some())
            })
        else {
            continue;
        };
        for rel in Relation::ALL {
            if relation_score(rel, t, r) < margin {
                continue;
            }
            for sub in Description::all_of(t) {
                let clear = matching(&sub)
                    .into_iter()
                    .filter(|&k| k != i && k != j)
                    .all(|k| relation_score(rel, &objects[k], r) <= -margin);
                if clear {
                    out.push(Expression::Relational(sub, rel, refd));
                }
            }
        }
    }
    let flipped: Vec<GroundObject> = objects.iter().map(|o| o.flipped(image_width)).collect();
    out.retain(|e| e.referents(objects) == [i] && e.mirrored().referents(&flipped) == [i]);
    out
}

/// Picks up to `n` different expressions for object `i`: a kind first (uniformly among the kinds
/// available), then an expression of that kind; relational expressions whose subject alone is
/// ambiguous are preferred (3:1), since they need the relation to resolve.
fn choose_expressions<R: Rng>(
    objects: &[GroundObject],
    i: usize,
    margin: i64,
    width: u32,
    n: usize,
    rng: &mut R,
) -> Vec<Expression> {
    let mut pool = candidate_expressions(objects, i, margin, width);
    let mut out = Vec::new();
    while out.len() < n && !pool.is_empty() {
        let mut kinds: Vec<&'static str> = pool.iter().map(Expression::kind).collect();
        kinds.dedup();
        kinds.sort_unstable();
        kinds.dedup();
        let Some(&kind) = kinds.choose(rng) else {
            break;
        };
        let mut of_kind: Vec<usize> = (0..pool.len())
            .filter(|&k| pool[k].kind() == kind)
            .collect();
        if kind == "relational" {
            let needs_relation: Vec<usize> = of_kind
                .iter()
                .copied()
                .filter(|&k| match pool[k] {
                    Expression::Relational(s, _, _) => {
                        objects.iter().filter(|o| s.matches(o)).count() > 1
                    }
                    _ => false,
                })
                .collect();
            if !needs_relation.is_empty() && rng.random_bool(0.75) {
                of_kind = needs_relation;
            }
        }
        let Some(&k) = of_kind.choose(rng) else {
            break;
        };
        out.push(pool.swap_remove(k));
    }
    out
}

/// One line of `train.jsonl` / `val.jsonl` / `test.jsonl` (the grounding JSONL layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingLine {
    /// Image path relative to the JSONL file's folder.
    pub image: String,
    /// The referring expression.
    pub expression: String,
    /// Target box `[x1, y1, x2, y2]` in pixels.
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    /// `<image number>_<object>_<k>`.
    pub id: String,
}

/// One line of `scenes.jsonl`: the facts every expression of the image was resolved against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingScene {
    /// Image path relative to the output folder.
    pub image: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `train`, `val` or `test`.
    pub split: String,
    /// Objects in drawing order.
    pub objects: Vec<GroundObject>,
}

/// What [`generate_grounding`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundingSummary {
    /// Images per split `(train, val, test)`.
    pub images: (usize, usize, usize),
    /// Expressions per split `(train, val, test)`.
    pub expressions: (usize, usize, usize),
    /// Expressions per kind `(attribute, superlative, relational)`.
    pub kinds: (usize, usize, usize),
    /// Expressions containing a direction word (left/right/top/bottom).
    pub with_direction_words: usize,
}

/// One generated image: its scene facts and its expression lines.
struct Generated {
    scene: GroundingScene,
    lines: Vec<(GroundingLine, &'static str)>,
}

fn generate_one(
    out: &Path,
    opts: &GroundingOptions,
    i: usize,
    split: &str,
    width: usize,
) -> Result<Generated, WorldError> {
    let mut rng = image_rng(opts.seed, GROUNDING_DOMAIN, i as u64);
    let world = WorldOptions {
        image_size: opts.image_size,
        style: opts.style,
        min_objects: opts.min_objects,
        max_objects: opts.max_objects,
        supersample: opts.supersample,
    };
    let scene = sample_scene(&mut rng, &world, None);
    let rendered = render_scene(&scene);
    let rel = format!("images/{i:0width$}.png");
    write_png(&out.join(&rel), &rendered.image)?;
    let objects: Vec<GroundObject> = scene
        .objects
        .iter()
        .zip(&rendered.boxes)
        .map(|(o, b)| GroundObject {
            shape: o.shape,
            colour: o.colour,
            size: o.size,
            bbox: *b,
        })
        .collect();
    // Margin: 1/16 of the image side, in doubled pixels.
    let margin = i64::from(opts.image_size) / 8;
    let mut lines = Vec::new();
    for k in 0..objects.len() {
        let chosen = choose_expressions(
            &objects,
            k,
            margin,
            opts.image_size,
            opts.expressions_per_object,
            &mut rng,
        );
        for (n, e) in chosen.iter().enumerate() {
            lines.push((
                GroundingLine {
                    image: rel.clone(),
                    expression: e.text(),
                    bbox: objects[k].bbox,
                    id: format!("{i:0width$}_{k}_{n}"),
                },
                e.kind(),
            ));
        }
    }
    Ok(Generated {
        scene: GroundingScene {
            image: rel,
            width: opts.image_size,
            height: opts.image_size,
            split: split.to_string(),
            objects,
        },
        lines,
    })
}

/// Whether the text holds a direction word (TransVG's RandomSelect list, word-level).
fn has_direction_word(text: &str) -> bool {
    text.split_whitespace().any(|w| {
        ["left", "right", "top", "bottom", "middle"]
            .iter()
            .any(|d| w.starts_with(d))
    })
}

/// Writes `text` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, text: &str) -> Result<(), WorldError> {
    let tmp = path.with_extension("jsonl.tmp");
    let wrap = |source| WorldError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(wrap)?;
    std::fs::rename(&tmp, path).map_err(wrap)
}

fn jsonl<T: Serialize>(path: &Path, items: &[&T]) -> Result<(), WorldError> {
    let mut text = String::new();
    for it in items {
        let line = serde_json::to_string(it).map_err(|source| WorldError::Json {
            what: path.display().to_string(),
            source,
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    write_atomic(path, &text)
}

/// Generates a referring-expression grounding dataset into `out`:
/// `images/NNNNNN.png`, `train.jsonl`, `val.jsonl`, `test.jsonl` (one [`GroundingLine`] per
/// expression, image paths relative to `out`), `scenes.jsonl` (one [`GroundingScene`] per image)
/// and `world.json` (options and summary). The first images are train, then val, then test
/// ([`GroundingOptions::split_counts`]). Byte-identical output for the same options whatever the
/// thread count.
pub fn generate_grounding(
    out: &Path,
    opts: &GroundingOptions,
) -> Result<GroundingSummary, WorldError> {
    opts.validate()?;
    create_dir(&out.join("images"))?;
    let (n_train, n_val, _) = opts.split_counts();
    let split_of = |i: usize| {
        if i < n_train {
            "train"
        } else if i < n_train + n_val {
            "val"
        } else {
            "test"
        }
    };
    let width = opts.images.saturating_sub(1).to_string().len().max(6);
    let generated: Vec<Generated> = (0..opts.images)
        .into_par_iter()
        .map(|i| generate_one(out, opts, i, split_of(i), width))
        .collect::<Result<_, _>>()?;

    let mut summary = GroundingSummary {
        images: opts.split_counts(),
        expressions: (0, 0, 0),
        kinds: (0, 0, 0),
        with_direction_words: 0,
    };
    for (split, count) in [
        ("train", &mut summary.expressions.0),
        ("val", &mut summary.expressions.1),
        ("test", &mut summary.expressions.2),
    ] {
        let lines: Vec<&GroundingLine> = generated
            .iter()
            .filter(|g| g.scene.split == split)
            .flat_map(|g| g.lines.iter().map(|(l, _)| l))
            .collect();
        *count = lines.len();
        jsonl(&out.join(format!("{split}.jsonl")), &lines)?;
    }
    for (l, kind) in generated.iter().flat_map(|g| &g.lines) {
        match *kind {
            "attribute" => summary.kinds.0 += 1,
            "superlative" => summary.kinds.1 += 1,
            _ => summary.kinds.2 += 1,
        }
        summary.with_direction_words += usize::from(has_direction_word(&l.expression));
    }
    let scenes: Vec<&GroundingScene> = generated.iter().map(|g| &g.scene).collect();
    jsonl(&out.join("scenes.jsonl"), &scenes)?;
    let manifest = serde_json::json!({
        "generator": "vladapt-world",
        "kind": "grounding",
        "options": opts,
        "summary": &summary,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|source| WorldError::Json {
        what: "world.json".into(),
        source,
    })? + "\n";
    let path = out.join("world.json");
    let tmp = out.join("world.json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| WorldError::Write { path, source })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(shape: Shape, colour: Colour, size: SizeClass, bbox: PixelBox) -> GroundObject {
        GroundObject {
            shape,
            colour,
            size,
            bbox,
        }
    }

    #[test]
    fn relations_follow_the_dominant_axis_strictly() {
        let a = obj(Shape::Circle, Colour::Red, SizeClass::Small, [0, 0, 10, 10]);
        let b = obj(
            Shape::Square,
            Colour::Blue,
            SizeClass::Small,
            [40, 5, 50, 15],
        );
        assert!(
            relation_holds(Relation::LeftOf, &a, &b) && relation_holds(Relation::RightOf, &b, &a)
        );
        assert!(
            !relation_holds(Relation::Above, &a, &b) && !relation_holds(Relation::LeftOf, &a, &a)
        );
        // Exactly diagonal: neither axis dominates, no relation holds.
        let c = obj(Shape::Star, Colour::Red, SizeClass::Small, [40, 40, 50, 50]);
        assert!(Relation::ALL.iter().all(|&r| !relation_holds(r, &a, &c)));
    }

    #[test]
    fn two_identical_circles_need_a_direction_word() {
        let l = obj(
            Shape::Circle,
            Colour::Red,
            SizeClass::Small,
            [0, 50, 20, 70],
        );
        let r = obj(
            Shape::Circle,
            Colour::Red,
            SizeClass::Small,
            [90, 50, 110, 70],
        );
        let objs = [l, r];
        let c = candidate_expressions(&objs, 0, 16, 128);
        let texts: Vec<String> = c.iter().map(Expression::text).collect();
        assert!(
            texts.contains(&"the leftmost red circle".to_string()),
            "{texts:?}"
        );
        assert!(!texts.iter().any(|t| t == "the red circle"), "{texts:?}");
        assert!(texts.iter().all(|t| t.contains("left")), "{texts:?}");
    }
}
