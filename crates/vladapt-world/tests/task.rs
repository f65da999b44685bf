//! Classification task files: Dassl split, manifest, class order for base-to-novel.

mod common;

use std::collections::BTreeSet;

use common::read_jsonl;
use vladapt_world::{generate_task, task_classes, Style, TaskSpec, WorldError};

#[test]
fn split_and_manifest_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TaskSpec {
        train_per_class: 4,
        val_per_class: 2,
        test_per_class: 3,
        max_distractors: 2,
        style: Style::Noisy,
        name: "world_noisy".into(),
        ..TaskSpec::default()
    };
    let summary = generate_task(dir.path(), 5, &spec).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("vladapt_dataset.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["name"], "world_noisy");
    assert_eq!(manifest["template"], "a photo of a {}.");
    assert_eq!(manifest["split_file"], "split.json");
    assert_eq!(manifest["image_root"], "images");
    let classnames: Vec<String> = manifest["classnames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(classnames.len(), 20);
    assert_eq!(classnames, summary.classnames);
    assert_eq!(summary.num_base, 10);
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("split.json")).unwrap())
            .unwrap();
    let mut seen = BTreeSet::new();
    for (name, per_class) in [("train", 4), ("val", 2), ("test", 3)] {
        let entries = split[name].as_array().unwrap();
        assert_eq!(entries.len(), 20 * per_class, "{name} size");
        let mut per_label = [0usize; 20];
        for e in entries {
            let e = e.as_array().unwrap();
            assert_eq!(e.len(), 3);
            let rel = e[0].as_str().unwrap();
            let label = e[1].as_u64().unwrap() as usize;
            assert_eq!(e[2].as_str().unwrap(), classnames[label]);
            assert!(rel.starts_with(&format!("{name}/")));
            assert!(
                dir.path().join("images").join(rel).is_file(),
                "{rel} missing"
            );
            assert!(seen.insert(rel.to_string()), "{rel} listed twice");
            per_label[label] += 1;
        }
        assert!(per_label.iter().all(|&n| n == per_class));
    }
    // The annotations agree: the dominant (first, largest) object is the class.
    let records = read_jsonl(&dir.path().join("annotations.jsonl"));
    assert_eq!(records.len(), 20 * 9);
    let mut with_distractors = 0;
    for r in &records {
        let objs = r["objects"].as_array().unwrap();
        let cls = r["classname"].as_str().unwrap();
        assert_eq!(
            format!(
                "{} {}",
                objs[0]["colour"].as_str().unwrap(),
                objs[0]["shape"].as_str().unwrap()
            ),
            cls
        );
        assert_eq!(classnames[r["label"].as_u64().unwrap() as usize], cls);
        for d in &objs[1..] {
            let name = format!(
                "{} {}",
                d["colour"].as_str().unwrap(),
                d["shape"].as_str().unwrap()
            );
            assert_ne!(name, cls, "distractor repeats the class");
        }
        if objs.len() > 1 {
            with_distractors += 1;
        }
        assert!(objs.len() <= 3);
    }
    assert!(
        with_distractors > 40,
        "{with_distractors} images with distractors"
    );
}

fn words(names: &[String], k: usize) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| n.split(' ').nth(k).unwrap().to_string())
        .collect()
}

#[test]
fn base_and_novel_cover_everything_without_shared_classes() {
    for n in [20usize, 21, 30, 57, 100] {
        let names: Vec<String> = task_classes(n).unwrap().iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), n);
        let b = n.div_ceil(2);
        let (base, novel) = names.split_at(b);
        assert_eq!(words(base, 0).len(), 10, "n={n}: base colours");
        assert_eq!(words(base, 1).len(), 10, "n={n}: base shapes");
        assert_eq!(words(novel, 0).len(), 10, "n={n}: novel colours");
        assert_eq!(words(novel, 1).len(), 10, "n={n}: novel shapes");
        let all: BTreeSet<&String> = names.iter().collect();
        assert_eq!(all.len(), n, "n={n}: duplicate class");
    }
    // Small tasks: still disjoint, same colour set on both sides.
    let names: Vec<String> = task_classes(8).unwrap().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "red circle",
            "green square",
            "blue triangle",
            "yellow star",
            "red square",
            "green triangle",
            "blue star",
            "yellow cross",
        ]
    );
    assert!(task_classes(0).is_err());
    assert!(task_classes(101).is_err());
}

#[test]
fn invalid_specs_are_rejected_with_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let bad = TaskSpec {
        template: "a photo of a thing.".into(),
        ..TaskSpec::default()
    };
    match generate_task(dir.path(), 0, &bad) {
        Err(WorldError::InvalidOption { field, .. }) => assert_eq!(field, "template"),
        other => panic!("expected template error, got {other:?}"),
    }
    let bad = TaskSpec {
        image_size: 8,
        ..TaskSpec::default()
    };
    match generate_task(dir.path(), 0, &bad) {
        Err(WorldError::InvalidOption { field, .. }) => assert_eq!(field, "image_size"),
        other => panic!("expected image_size error, got {other:?}"),
    }
    assert!(matches!(
        "sketchy".parse::<Style>(),
        Err(WorldError::UnknownStyle(_))
    ));
    assert_eq!("Outline".parse::<Style>().unwrap(), Style::Outline);
    // Nothing was written for rejected specs.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn colour_classes_split_five_base_five_novel() {
    let names: Vec<String> = vladapt_world::colour_classes(10)
        .unwrap()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(
        names,
        ["red", "green", "blue", "yellow", "purple", "orange", "pink", "cyan", "white", "black"]
    );
    assert!(vladapt_world::colour_classes(0).is_err());
    let e = vladapt_world::colour_classes(11).unwrap_err().to_string();
    assert!(e.contains("num_classes"), "{e}");
    let spec = TaskSpec {
        num_classes: 11,
        class_kind: vladapt_world::ClassKind::Colour,
        ..TaskSpec::default()
    };
    assert!(spec
        .validate()
        .unwrap_err()
        .to_string()
        .contains("num_classes"));
    assert_eq!(
        "colour".parse::<vladapt_world::ClassKind>().unwrap(),
        vladapt_world::ClassKind::Colour
    );
    assert!("texture".parse::<vladapt_world::ClassKind>().is_err());
}

#[test]
fn colour_task_shows_the_class_colour_in_varied_shapes_under_the_cast() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TaskSpec {
        name: "world_cast".into(),
        num_classes: 6,
        class_kind: vladapt_world::ClassKind::Colour,
        style: Style::Cast,
        train_per_class: 12,
        val_per_class: 1,
        test_per_class: 1,
        max_distractors: 2,
        ..TaskSpec::default()
    };
    let s = generate_task(dir.path(), 3, &spec).unwrap();
    assert_eq!(
        s.classnames,
        ["red", "green", "blue", "yellow", "purple", "orange"]
    );
    assert_eq!(s.num_base, 3);
    let recs = read_jsonl(&dir.path().join("annotations.jsonl"));
    let mut shapes_of_red = BTreeSet::new();
    for r in &recs {
        let class = r["classname"].as_str().unwrap();
        let objects = r["objects"].as_array().unwrap();
        // The dominant object has the class colour; no distractor shares it.
        assert_eq!(objects[0]["colour"], class);
        for o in &objects[1..] {
            assert_ne!(o["colour"], class, "distractor shares the class colour");
        }
        if class == "red" {
            shapes_of_red.insert(objects[0]["shape"].as_str().unwrap().to_string());
        }
    }
    assert!(shapes_of_red.len() >= 4, "shapes of red: {shapes_of_red:?}");
    // The cast rotates hues: a red object's pixels are orange-ish (hue ≈ 35°), not red.
    let r = recs
        .iter()
        .find(|r| r["classname"] == "red" && r["split"] == "train")
        .unwrap();
    let img = image::open(dir.path().join(r["image"].as_str().unwrap()))
        .unwrap()
        .to_rgb8();
    // Nominal red (220, 30, 30) ± 12 rotated by 35° is about (220, 139, 30).
    let orange = img
        .pixels()
        .filter(|p| p[0] > 190 && (100..180).contains(&p[1]) && p[2] < 70)
        .count();
    let red = img
        .pixels()
        .filter(|p| p[0] > 190 && p[1] < 70 && p[2] < 70)
        .count();
    assert!(orange >= 20, "only {orange} cast-red pixels");
    assert_eq!(red, 0, "{red} uncast red pixels");
}

#[test]
fn hue_rotation_matches_hand_computed_values() {
    use vladapt_world::rotate_hue;
    assert_eq!(rotate_hue([255, 0, 0], 120.0), [0, 255, 0]);
    assert_eq!(rotate_hue([0, 255, 0], 120.0), [0, 0, 255]);
    assert_eq!(rotate_hue([0, 0, 255], -120.0), [0, 255, 0]);
    // 60°: red → yellow; 30°: red → (255, 128, 0) (x = 0.5 of the chroma).
    assert_eq!(rotate_hue([255, 0, 0], 60.0), [255, 255, 0]);
    assert_eq!(rotate_hue([255, 0, 0], 30.0), [255, 128, 0]);
    // Greys, white and black are unchanged; a full turn is the identity.
    for g in [[0, 0, 0], [128, 128, 128], [255, 255, 255]] {
        assert_eq!(rotate_hue(g, 35.0), g);
    }
    assert_eq!(rotate_hue([220, 30, 30], 360.0), [220, 30, 30]);
    // Saturation and value are kept: max and min channel stay.
    let out = rotate_hue([220, 30, 30], 35.0);
    assert_eq!(*out.iter().max().unwrap(), 220);
    assert_eq!(*out.iter().min().unwrap(), 30);
}
