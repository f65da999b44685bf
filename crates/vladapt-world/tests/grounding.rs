//! The grounding world: every expression re-resolved from the scene facts by an independent
//! reader of the text names exactly the object whose box it carries, also after a horizontal flip
//! with a word-level left↔right swap; several expressions per image point at different objects;
//! output is identical whatever the thread count.
use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use vladapt_world::{generate_grounding, GroundingOptions};

/// Scene facts as read back from `scenes.jsonl`, without the crate's types.
#[derive(Clone, Debug)]
struct Fact {
    shape: String,
    colour: String,
    size: String,
    bbox: [f64; 4],
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn facts(v: &Value) -> Vec<Fact> {
    v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let b: Vec<f64> = o["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            Fact {
                shape: o["shape"].as_str().unwrap().into(),
                colour: o["colour"].as_str().unwrap().into(),
                size: o["size"].as_str().unwrap().into(),
                bbox: [b[0], b[1], b[2], b[3]],
            }
        })
        .collect()
}

fn centre(f: &Fact) -> (f64, f64) {
    ((f.bbox[0] + f.bbox[2]) / 2.0, (f.bbox[1] + f.bbox[3]) / 2.0)
}

const SIZES: [&str; 2] = ["small", "large"];
const COLOURS: [&str; 10] = [
    "red", "green", "blue", "yellow", "purple", "orange", "pink", "cyan", "white", "black",
];
const SHAPES: [&str; 10] = [
    "circle", "square", "triangle", "star", "cross", "diamond", "hexagon", "ring", "pentagon",
    "crescent",
];

/// Objects a description ("large red circle", "red shape", "shape") fits.
fn describe(words: &[&str], objs: &[Fact]) -> Vec<usize> {
    let (mut size, mut colour, mut shape) = (None, None, None);
    for w in words {
        if SIZES.contains(w) {
            size = Some(*w);
        } else if COLOURS.contains(w) {
            colour = Some(*w);
        } else if SHAPES.contains(w) {
            shape = Some(*w);
        } else {
            assert_eq!(*w, "shape", "unknown word {w:?} in {words:?}");
        }
    }
    (0..objs.len())
        .filter(|&k| {
            let o = &objs[k];
            size.is_none_or(|s| s == o.size)
                && colour.is_none_or(|c| c == o.colour)
                && shape.is_none_or(|s| s == o.shape)
        })
        .collect()
}

/// Independent resolution of an expression's text against the facts.
fn resolve(text: &str, objs: &[Fact]) -> Vec<usize> {
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words[0], "the", "{text}");
    let rel_at = words
        .iter()
        .position(|w| ["left", "right", "above", "below"].contains(w));
    if let Some(p) = rel_at {
        let (rel, rest) = match words[p] {
            "left" | "right" => {
                assert_eq!(words[p + 1], "of", "{text}");
                (words[p], p + 2)
            }
            w => (w, p + 1),
        };
        assert_eq!(words[rest], "the", "{text}");
        let refs = describe(&words[rest + 1..], objs);
        assert_eq!(refs.len(), 1, "reference of {text:?} is not unique");
        let (rx, ry) = centre(&objs[refs[0]]);
        return describe(&words[1..p], objs)
            .into_iter()
            .filter(|&k| {
                let (x, y) = centre(&objs[k]);
                let (dx, dy) = (x - rx, y - ry);
                match rel {
                    "left" => dx < 0.0 && dx.abs() > dy.abs(),
                    "right" => dx > 0.0 && dx.abs() > dy.abs(),
                    "above" => dy < 0.0 && dy.abs() > dx.abs(),
                    _ => dy > 0.0 && dy.abs() > dx.abs(),
                }
            })
            .collect();
    }
    let key: Option<fn((f64, f64)) -> f64> = match words[1] {
        "leftmost" => Some(|c| -c.0),
        "rightmost" => Some(|c| c.0),
        "topmost" => Some(|c| -c.1),
        "bottommost" => Some(|c| c.1),
        _ => None,
    };
    match key {
        Some(key) => {
            let s = describe(&words[2..], objs);
            let best = s
                .iter()
                .map(|&k| key(centre(&objs[k])))
                .fold(f64::NEG_INFINITY, f64::max);
            s.into_iter()
                .filter(|&k| key(centre(&objs[k])) == best)
                .collect()
        }
        None => describe(&words[1..], objs),
    }
}

/// Word-level left↔right swap.
fn swap_left_right(text: &str) -> String {
    text.split_whitespace()
        .map(|w| match w {
            "left" => "right",
            "right" => "left",
            "leftmost" => "rightmost",
            "rightmost" => "leftmost",
            w => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn options(images: usize) -> GroundingOptions {
    GroundingOptions {
        seed: 7,
        images,
        image_size: 128,
        ..GroundingOptions::default()
    }
}

#[test]
fn every_expression_names_its_object_alone_also_when_flipped() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate_grounding(dir.path(), &options(120)).unwrap();
    assert_eq!(summary.images, (96, 12, 12));
    let scenes: HashMap<String, (Vec<Fact>, String, f64)> =
        read_jsonl(&dir.path().join("scenes.jsonl"))
            .iter()
            .map(|v| {
                (
                    v["image"].as_str().unwrap().to_string(),
                    (
                        facts(v),
                        v["split"].as_str().unwrap().to_string(),
                        v["width"].as_f64().unwrap(),
                    ),
                )
            })
            .collect();
    assert_eq!(scenes.len(), 120);
    let mut referents: HashMap<String, HashSet<usize>> = HashMap::new();
    let (mut total, mut direction, mut relational, mut attribute) = (0, 0, 0, 0);
    for (split, n) in [
        ("train", summary.expressions.0),
        ("val", summary.expressions.1),
        ("test", summary.expressions.2),
    ] {
        let lines = read_jsonl(&dir.path().join(format!("{split}.jsonl")));
        assert_eq!(lines.len(), n);
        for l in &lines {
            let image = l["image"].as_str().unwrap();
            assert!(dir.path().join(image).is_file(), "{image}");
            let (objs, s, w) = &scenes[image];
            assert_eq!(s, split, "{image} listed in {split}.jsonl");
            let text = l["expression"].as_str().unwrap();
            let b: Vec<f64> = l["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let found = resolve(text, objs);
            assert_eq!(found.len(), 1, "{text:?} in {image}: {found:?} of {objs:?}");
            assert_eq!(objs[found[0]].bbox.to_vec(), b, "{text:?} in {image}");
            // Flip: x ↦ W − x on every box, left ↔ right word by word; same object.
            let flipped: Vec<Fact> = objs
                .iter()
                .map(|o| Fact {
                    bbox: [w - o.bbox[2], o.bbox[1], w - o.bbox[0], o.bbox[3]],
                    ..o.clone()
                })
                .collect();
            let swapped = swap_left_right(text);
            assert_eq!(
                resolve(&swapped, &flipped),
                found,
                "{swapped:?} on the mirrored {image}"
            );
            referents
                .entry(image.to_string())
                .or_default()
                .insert(found[0]);
            total += 1;
            direction += usize::from(text.split_whitespace().any(|w| {
                ["left", "right", "top", "bottom"]
                    .iter()
                    .any(|d| w.starts_with(d))
            }));
            relational += usize::from(
                [" left of ", " right of ", " above ", " below "]
                    .iter()
                    .any(|r| text.contains(r)),
            );
            attribute += usize::from(
                !text.contains("most")
                    && !text.contains(" of ")
                    && !text.contains("above")
                    && !text.contains("below"),
            );
        }
    }
    assert_eq!(
        total,
        summary.expressions.0 + summary.expressions.1 + summary.expressions.2
    );
    assert!(total >= 2 * 120, "{total} expressions for 120 images");
    // Several expressions per image, pointing at different objects.
    let multi = referents.values().filter(|s| s.len() >= 2).count();
    assert!(
        multi * 10 >= 120 * 9,
        "{multi} of 120 images have ≥ 2 referents"
    );
    assert_eq!(direction, summary.with_direction_words);
    for (what, n) in [
        ("direction", direction),
        ("relational", relational),
        ("attribute", attribute),
    ] {
        assert!(n * 10 >= total, "{what}: {n} of {total}");
    }
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for sub in ["", "images"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn output_is_identical_for_one_or_four_threads_and_depends_on_the_seed() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let run = |threads: usize, dir: &Path, opts: GroundingOptions| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| generate_grounding(dir, &opts).unwrap())
    };
    run(1, a.path(), options(24));
    run(4, b.path(), options(24));
    assert_eq!(listing(a.path()), listing(b.path()));
    run(
        2,
        c.path(),
        GroundingOptions {
            seed: 8,
            ..options(24)
        },
    );
    let (ta, tc) = (
        std::fs::read(a.path().join("train.jsonl")).unwrap(),
        std::fs::read(c.path().join("train.jsonl")).unwrap(),
    );
    assert_ne!(ta, tc);
}

#[test]
fn bad_options_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    for (opts, field) in [
        (options(2), "images"),
        (
            GroundingOptions {
                min_objects: 1,
                ..options(10)
            },
            "min_objects",
        ),
        (
            GroundingOptions {
                val_fraction: 0.7,
                ..options(10)
            },
            "val_fraction",
        ),
        (
            GroundingOptions {
                image_size: 8,
                ..options(10)
            },
            "image_size",
        ),
    ] {
        let e = generate_grounding(dir.path(), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    }
}
