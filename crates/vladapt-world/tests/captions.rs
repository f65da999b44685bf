//! Captions and referring expressions agree with what was drawn.

mod common;

use common::{read_jsonl, NOMINAL, SHAPES};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vladapt_world::{
    describe, generate_pretrain, Colour, ObjectFacts, Shape, SizeClass, WorldOptions,
};

fn fact(shape: Shape, colour: Colour, size: SizeClass, bbox: [u32; 4]) -> ObjectFacts {
    ObjectFacts {
        shape,
        colour,
        size,
        bbox,
    }
}

#[test]
fn two_objects_hand_checked() {
    let objs = [
        fact(Shape::Circle, Colour::Red, SizeClass::Large, [0, 0, 20, 20]),
        fact(
            Shape::Square,
            Colour::Orange,
            SizeClass::Small,
            [40, 5, 50, 15],
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let l = describe(&objs, "striped", &mut rng);
    assert_eq!(l.captions[0], "a photo of a red circle.");
    assert_eq!(
        l.captions[1],
        "a large red circle and a small orange square"
    );
    assert_eq!(l.captions[2], "one red circle and one orange square");
    assert_eq!(
        l.captions[3],
        "a large red circle left of a small orange square"
    );
    assert_eq!(
        l.captions[4],
        "a small orange square right of a large red circle"
    );
    assert!(
        l.captions[5] == "a red circle on a striped background"
            || l.captions[5] == "an orange square on a striped background"
    );
    assert_eq!(l.captions[6], "two shapes");
    assert_eq!(l.captions.len(), 7);
    assert_eq!(
        l.referring[0],
        vec!["the red circle", "the red circle left of the orange square"]
    );
    assert_eq!(
        l.referring[1],
        vec![
            "the orange square",
            "the orange square right of the red circle"
        ]
    );
}

#[test]
fn duplicates_are_counted_and_disambiguated() {
    let objs = [
        fact(
            Shape::Triangle,
            Colour::Green,
            SizeClass::Small,
            [0, 40, 10, 50],
        ),
        fact(
            Shape::Triangle,
            Colour::Green,
            SizeClass::Small,
            [40, 40, 50, 50],
        ),
        fact(
            Shape::Star,
            Colour::Yellow,
            SizeClass::Large,
            [20, 0, 44, 24],
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let l = describe(&objs, "plain", &mut rng);
    assert_eq!(l.captions[0], "a photo of a yellow star.");
    assert_eq!(l.captions[2], "two green triangles and one yellow star");
    assert!(l.captions.contains(&"three shapes".to_string()));
    assert_eq!(l.referring[0][0], "the leftmost green triangle");
    assert_eq!(l.referring[1][0], "the rightmost green triangle");
    assert_eq!(l.referring[2][0], "the yellow star");
    // Same size: size does not disambiguate; large vs small would.
    let objs2 = [
        fact(Shape::Ring, Colour::Blue, SizeClass::Small, [0, 0, 10, 10]),
        fact(
            Shape::Ring,
            Colour::Blue,
            SizeClass::Large,
            [30, 30, 60, 60],
        ),
    ];
    let l2 = describe(&objs2, "plain", &mut rng);
    assert_eq!(l2.referring[0][0], "the small blue ring");
    assert_eq!(l2.referring[1][0], "the large blue ring");
    assert_eq!(l2.captions[2], "two blue rings");
}

fn centre(b: &[u64]) -> [f64; 2] {
    [(b[0] + b[2]) as f64 / 2.0, (b[1] + b[3]) as f64 / 2.0]
}

/// Independent relation judgement from box centres.
fn holds(rel: &str, a: [f64; 2], b: [f64; 2]) -> bool {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    match rel {
        "left of" => dx < 0.0 && dx.abs() >= dy.abs(),
        "right of" => dx > 0.0 && dx.abs() >= dy.abs(),
        "above" => dy < 0.0 && dy.abs() > dx.abs(),
        "below" => dy > 0.0 && dy.abs() > dx.abs(),
        _ => false,
    }
}

#[test]
fn generated_captions_mention_drawn_objects_and_true_relations() {
    let dir = tempfile::tempdir().unwrap();
    generate_pretrain(dir.path(), 9, 150, &WorldOptions::default()).unwrap();
    let records = read_jsonl(&dir.path().join("annotations.jsonl"));
    let mut relational = 0;
    for rec in &records {
        let caps: Vec<&str> = rec["captions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let objs = rec["objects"].as_array().unwrap();
        let desc = |o: &serde_json::Value| {
            format!(
                "{} {} {}",
                o["size"].as_str().unwrap(),
                o["colour"].as_str().unwrap(),
                o["shape"].as_str().unwrap()
            )
        };
        // The listing caption names every object with its size, colour and shape.
        for o in objs {
            assert!(
                caps[1].contains(&desc(o)),
                "{:?} missing {}",
                caps[1],
                desc(o)
            );
        }
        // The photo caption names one drawn object.
        assert!(objs.iter().any(|o| caps[0].contains(&format!(
            "{} {}.",
            o["colour"].as_str().unwrap(),
            o["shape"].as_str().unwrap()
        ))));
        // No caption names a colour or shape that was not drawn.
        for c in &caps {
            for word in c.split(' ').map(|w| w.trim_end_matches('.')) {
                if NOMINAL.iter().any(|(n, _)| *n == word) {
                    assert!(
                        objs.iter().any(|o| o["colour"] == word),
                        "{c}: {word} not drawn"
                    );
                }
                if SHAPES.contains(&word) {
                    assert!(
                        objs.iter().any(|o| o["shape"] == word),
                        "{c}: {word} not drawn"
                    );
                }
            }
        }
        // Relational captions "a A rel a B": some drawn pair matching A, B satisfies rel.
        for c in &caps {
            for rel in ["left of", "right of", "above", "below"] {
                let Some((a, b)) = c.split_once(&format!(" {rel} ")) else {
                    continue;
                };
                let (a, b) = (
                    a.trim_start_matches("a ").trim_start_matches("an "),
                    b.trim_start_matches("a ").trim_start_matches("an "),
                );
                let ok = objs.iter().any(|x| {
                    desc(x) == a
                        && objs.iter().any(|y| {
                            !std::ptr::eq(x, y)
                                && desc(y) == b
                                && holds(
                                    rel,
                                    centre(
                                        &x["box"]
                                            .as_array()
                                            .unwrap()
                                            .iter()
                                            .map(|v| v.as_u64().unwrap())
                                            .collect::<Vec<_>>(),
                                    ),
                                    centre(
                                        &y["box"]
                                            .as_array()
                                            .unwrap()
                                            .iter()
                                            .map(|v| v.as_u64().unwrap())
                                            .collect::<Vec<_>>(),
                                    ),
                                )
                        })
                });
                assert!(ok, "relation caption {c:?} does not hold");
                relational += 1;
            }
        }
        // Every object has at least one referring expression naming its colour and shape.
        for o in objs {
            let noun = format!(
                "{} {}",
                o["colour"].as_str().unwrap(),
                o["shape"].as_str().unwrap()
            );
            let exprs = o["referring"].as_array().unwrap();
            assert!(!exprs.is_empty());
            assert!(exprs[0].as_str().unwrap().starts_with("the "));
            assert!(exprs[0].as_str().unwrap().contains(&noun));
        }
    }
    assert!(relational > 100, "only {relational} relational captions");
}

#[test]
fn pretraining_set_covers_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate_pretrain(dir.path(), 21, 200, &WorldOptions::default()).unwrap();
    assert!(
        summary.missing().is_empty(),
        "missing {:?}",
        summary.missing()
    );
    let csv = std::fs::read_to_string(dir.path().join("captions.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("image,caption"));
    let rows: Vec<(&str, &str)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 2, "row {l:?} needs quoting");
            (f[0], f[1])
        })
        .collect();
    assert_eq!(rows.len(), summary.captions);
    let images: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0).collect();
    assert_eq!(images.len(), 200);
    assert!(images.iter().all(|i| dir.path().join(i).is_file()));
    let text: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let has = |w: &str| {
        text.iter()
            .any(|c| c.split(' ').any(|x| x.trim_end_matches('.') == w))
    };
    for (c, _) in NOMINAL {
        assert!(has(c), "colour {c} never captioned");
    }
    for s in SHAPES {
        assert!(has(s), "shape {s} never captioned");
    }
    for rel in ["left of", "right of", "above", "below"] {
        assert!(
            text.iter().any(|c| c.contains(&format!(" {rel} "))),
            "{rel} never used"
        );
    }
    for count in ["two", "three", "four"] {
        assert!(has(count), "count {count} never used");
    }
}
