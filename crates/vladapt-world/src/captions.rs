//! Compositional captions and referring expressions derived from a rendered scene.

use rand::Rng;

use crate::render::PixelBox;
use crate::vocab::{count_word, Colour, Relation, Shape, SizeClass};

/// What the language side needs to know about one drawn object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectFacts {
    /// Shape.
    pub shape: Shape,
    /// Colour name.
    pub colour: Colour,
    /// Size class.
    pub size: SizeClass,
    /// Tight pixel box.
    pub bbox: PixelBox,
}

impl ObjectFacts {
    fn center(&self) -> [f32; 2] {
        let b = self.bbox;
        [(b[0] + b[2]) as f32 / 2.0, (b[1] + b[3]) as f32 / 2.0]
    }

    fn area(&self) -> u32 {
        (self.bbox[2] - self.bbox[0]) * (self.bbox[3] - self.bbox[1])
    }

    fn noun(&self) -> String {
        format!("{} {}", self.colour.name(), self.shape.name())
    }

    fn sized(&self) -> String {
        format!(
            "{} {} {}",
            self.size.name(),
            self.colour.name(),
            self.shape.name()
        )
    }
}

/// "a" or "an" for the following word.
pub fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn with_article(phrase: &str) -> String {
    format!("{} {}", article(phrase), phrase)
}

/// Language annotations of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Language {
    /// Captions, deduplicated, in a fixed order (see [`describe`]).
    pub captions: Vec<String>,
    /// Referring expressions per object (scene order); each list is non-empty.
    pub referring: Vec<Vec<String>>,
    /// Relations mentioned in captions or referring expressions.
    pub relations: Vec<Relation>,
}

/// Builds captions and referring expressions. Captions, in order:
/// 1. `a photo of a {colour} {shape}.` for the largest object;
/// 2. the list of all objects with sizes (`a large red circle and a small blue square`);
/// 3. counts per colour–shape group (`two green triangles and one yellow star`);
/// 4. for scenes with several objects, up to two object pairs with their spatial relation, in
///    both directions (`a large red circle above a small blue square`, `... below ...`);
/// 5. one object on its background (`a red circle on a striped background`);
/// 6. the object count (`three shapes` / `a single red circle`).
pub fn describe<R: Rng>(objects: &[ObjectFacts], background_word: &str, rng: &mut R) -> Language {
    let mut captions: Vec<String> = Vec::new();
    let mut relations: Vec<Relation> = Vec::new();
    let push = |c: String, caps: &mut Vec<String>| {
        if !caps.contains(&c) {
            caps.push(c);
        }
    };
    if objects.is_empty() {
        push(
            format!("an empty {background_word} background"),
            &mut captions,
        );
        return Language {
            captions,
            referring: Vec::new(),
            relations,
        };
    }
    let dominant = objects
        .iter()
        .enumerate()
        .max_by_key(|(i, o)| (o.area(), std::cmp::Reverse(*i)))
        .map(|(_, o)| *o)
        .unwrap_or(objects[0]);
    push(
        format!("a photo of {}.", with_article(&dominant.noun())),
        &mut captions,
    );
    let listing: Vec<String> = objects.iter().map(|o| with_article(&o.sized())).collect();
    push(listing.join(" and "), &mut captions);

    let mut groups: Vec<((Colour, Shape), usize)> = Vec::new();
    for o in objects {
        match groups.iter_mut().find(|(k, _)| *k == (o.colour, o.shape)) {
            Some((_, n)) => *n += 1,
            None => groups.push(((o.colour, o.shape), 1)),
        }
    }
    let counted: Vec<String> = groups
        .iter()
        .map(|((c, s), n)| {
            let noun = if *n == 1 { s.name() } else { s.plural() };
            format!("{} {} {}", count_word(*n), c.name(), noun)
        })
        .collect();
    push(counted.join(" and "), &mut captions);

    if objects.len() >= 2 {
        let mut pairs = vec![(0usize, 1usize)];
        if objects.len() >= 3 {
            let i = rng.random_range(0..objects.len());
            let mut j = rng.random_range(0..objects.len() - 1);
            if j >= i {
                j += 1;
            }
            if (i, j) != (0, 1) && (j, i) != (0, 1) {
                pairs.push((i, j));
            }
        }
        for (i, j) in pairs {
            let (a, b) = (&objects[i], &objects[j]);
            let rel = Relation::between(a.center(), b.center());
            relations.push(rel);
            relations.push(rel.inverse());
            push(
                format!(
                    "{} {} {}",
                    with_article(&a.sized()),
                    rel.phrase(),
                    with_article(&b.sized())
                ),
                &mut captions,
            );
            push(
                format!(
                    "{} {} {}",
                    with_article(&b.sized()),
                    rel.inverse().phrase(),
                    with_article(&a.sized())
                ),
                &mut captions,
            );
        }
    }
    let o = &objects[rng.random_range(0..objects.len())];
    push(
        format!(
            "{} on {} {} background",
            with_article(&o.noun()),
            article(background_word),
            background_word
        ),
        &mut captions,
    );
    if objects.len() == 1 {
        push(format!("a single {}", objects[0].noun()), &mut captions);
    } else {
        push(
            format!("{} shapes", count_word(objects.len())),
            &mut captions,
        );
    }

    let referring: Vec<Vec<String>> = (0..objects.len())
        .map(|i| referring_expressions(objects, i, &mut relations))
        .collect();
    relations.sort();
    relations.dedup();
    Language {
        captions,
        referring,
        relations,
    }
}

/// Shortest attribute description of object `i` that is unique in the scene, if any:
/// "the red circle", "the small red circle", "the leftmost red circle", ...
fn unique_description(objects: &[ObjectFacts], i: usize) -> Option<String> {
    let t = &objects[i];
    let same: Vec<usize> = (0..objects.len())
        .filter(|&k| objects[k].colour == t.colour && objects[k].shape == t.shape)
        .collect();
    if same.len() == 1 {
        return Some(format!("the {}", t.noun()));
    }
    if same.iter().filter(|&&k| objects[k].size == t.size).count() == 1 {
        return Some(format!("the {}", t.sized()));
    }
    let c = t.center();
    let others: Vec<[f32; 2]> = same
        .iter()
        .filter(|&&k| k != i)
        .map(|&k| objects[k].center())
        .collect();
    type Beats = fn([f32; 2], [f32; 2]) -> bool;
    let tests: [(&str, Beats); 4] = [
        ("leftmost", |a, b| a[0] < b[0]),
        ("rightmost", |a, b| a[0] > b[0]),
        ("topmost", |a, b| a[1] < b[1]),
        ("bottommost", |a, b| a[1] > b[1]),
    ];
    tests
        .iter()
        .find(|(_, f)| others.iter().all(|&o| f(c, o)))
        .map(|(w, _)| format!("the {w} {}", t.noun()))
}

/// Referring expressions of object `i`: its unique attribute description (if one exists) and a
/// relational one with respect to the nearest other object.
fn referring_expressions(
    objects: &[ObjectFacts],
    i: usize,
    relations: &mut Vec<Relation>,
) -> Vec<String> {
    let t = &objects[i];
    let own = unique_description(objects, i);
    let mut out: Vec<String> = own.iter().cloned().collect();
    let c = t.center();
    let nearest = (0..objects.len()).filter(|&k| k != i).min_by(|&a, &b| {
        let d = |k: usize| {
            let o = objects[k].center();
            (o[0] - c[0]).powi(2) + (o[1] - c[1]).powi(2)
        };
        d(a).total_cmp(&d(b))
    });
    if let Some(j) = nearest {
        let rel = Relation::between(c, objects[j].center());
        relations.push(rel);
        let subject = own.unwrap_or_else(|| format!("the {}", t.noun()));
        let reference =
            unique_description(objects, j).unwrap_or_else(|| format!("the {}", objects[j].noun()));
        out.push(format!("{subject} {} {reference}", rel.phrase()));
    }
    if out.is_empty() {
        out.push(format!("the {}", t.noun()));
    }
    out
}
