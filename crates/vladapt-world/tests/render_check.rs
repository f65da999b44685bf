//! Rendering checks: analytic areas, boxes inside the image, box pixels in the object's colour.

mod common;

use std::f64::consts::PI;

use common::{nominal, read_jsonl};
use vladapt_world::{
    generate_pretrain, render_scene, Background, BackgroundKind, Colour, Pattern, Scene,
    SceneObject, Shape, SizeClass, Style, WorldOptions,
};

fn plain_black() -> Background {
    Background {
        kind: BackgroundKind::Plain,
        colours: [[0, 0, 0], [0, 0, 0]],
        angle: 0.0,
        period: 5.0,
        pattern: Pattern::Stripes,
        noise_amp: 0,
        noise_seed: 0,
    }
}

fn single(shape: Shape, half: f32, center: [f32; 2], outline: Option<f32>) -> Scene {
    Scene {
        size: 64,
        style: Style::Pretrain,
        background: plain_black(),
        objects: vec![SceneObject {
            shape,
            colour: Colour::White,
            size: SizeClass::Large,
            rgb: [255, 255, 255],
            center,
            half,
            rotation: 0.0,
        }],
        outline_px: outline,
        post_noise: 0,
        supersample: 4,
    }
}

/// Sum of coverage over the image, in pixels (white on black, red channel / 255).
fn covered_area(scene: &Scene) -> f64 {
    let r = render_scene(scene);
    r.image.pixels().map(|p| p.0[0] as f64 / 255.0).sum()
}

#[test]
fn antialiased_areas_match_geometry() {
    // Circle of radius 10 px: area π·10² = 314.16.
    let a = covered_area(&single(Shape::Circle, 10.0, [31.3, 30.7], None));
    assert!((a - PI * 100.0).abs() < 2.0, "circle area {a}");
    // Square of half side 0.85·10 = 8.5 px centred off-grid: area 17² = 289.
    let a = covered_area(&single(Shape::Square, 10.0, [30.25, 33.6], None));
    assert!((a - 289.0).abs() < 2.0, "square area {a}");
    // Diamond with half diagonal 12: area 2·12² = 288.
    let a = covered_area(&single(Shape::Diamond, 12.0, [31.7, 32.3], None));
    assert!((a - 288.0).abs() < 2.0, "diamond area {a}");
    // Ring of outer radius 10, inner radius 4.4: π(100 − 19.36) = 253.34.
    let a = covered_area(&single(Shape::Ring, 10.0, [32.5, 31.5], None));
    assert!((a - PI * (100.0 - 19.36)).abs() < 2.0, "ring area {a}");
    // Triangle (0,−0.95),(1,0.85),(−1,0.85) scaled by 10: base 20, height 18 → 180.
    let a = covered_area(&single(Shape::Triangle, 10.0, [32.0, 32.0], None));
    assert!((a - 180.0).abs() < 2.0, "triangle area {a}");
    // Outline circle, stroke 2 px inside the edge: π(10² − 8²) = 113.1.
    let a = covered_area(&single(Shape::Circle, 10.0, [32.0, 32.0], Some(2.0)));
    assert!((a - PI * 36.0).abs() < 2.0, "outline circle area {a}");
}

#[test]
fn edges_are_antialiased_and_interior_is_exact() {
    let scene = single(Shape::Circle, 10.0, [32.0, 32.0], None);
    let r = render_scene(&scene);
    assert_eq!(r.image.get_pixel(32, 32).0, [255, 255, 255]);
    assert_eq!(r.image.get_pixel(5, 5).0, [0, 0, 0]);
    let partial = r
        .image
        .pixels()
        .filter(|p| p.0[0] > 0 && p.0[0] < 255)
        .count();
    // Edge pixels: roughly the circumference 2π·10 ≈ 63.
    assert!(
        (40..=110).contains(&partial),
        "{partial} partially covered pixels"
    );
    // Tight box of pixels at least half covered: centre 32 ± 10 → columns 22..42.
    assert_eq!(r.boxes, vec![[22, 22, 42, 42]]);
}

#[test]
fn boxes_lie_inside_and_contain_the_object_colour() {
    let dir = tempfile::tempdir().unwrap();
    generate_pretrain(dir.path(), 5, 120, &WorldOptions::default()).unwrap();
    let records = read_jsonl(&dir.path().join("annotations.jsonl"));
    assert_eq!(records.len(), 120);
    let mut checked = 0;
    for rec in &records {
        let img = image::open(dir.path().join(rec["image"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        let (w, h) = (img.width(), img.height());
        assert_eq!((w, h), (64, 64));
        for obj in rec["objects"].as_array().unwrap() {
            let b: Vec<u32> = obj["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert!(
                b[0] < b[2] && b[2] <= w && b[1] < b[3] && b[3] <= h,
                "box {b:?}"
            );
            let name = obj["colour"].as_str().unwrap();
            let drawn: Vec<u8> = obj["rgb"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            let nom = nominal(name);
            for k in 0..3 {
                assert!(
                    (drawn[k] as i32 - nom[k] as i32).abs() <= 12,
                    "{name} drawn as {drawn:?}"
                );
            }
            let mut hits = 0usize;
            for y in b[1]..b[3] {
                for x in b[0]..b[2] {
                    let p = img.get_pixel(x, y).0;
                    if (0..3).all(|k| (p[k] as i32 - nom[k] as i32).abs() <= 16) {
                        hits += 1;
                    }
                }
            }
            let area = ((b[2] - b[0]) * (b[3] - b[1])) as f64;
            let frac = hits as f64 / area;
            let shape = obj["shape"].as_str().unwrap();
            // Smallest analytic fill of the tight box over the shapes is the crescent/star
            // (about 0.35); edge pixels are blended, so allow some slack.
            assert!(
                frac >= 0.22,
                "{name} {shape} box {b:?}: only {frac:.2} in colour"
            );
            // Box side s: a disc of radius s/2 whose one-pixel rim is blended has at least
            // π(s/2 − 1)² pure pixels and at most π(s/2)²; an upright square at least (s − 2)².
            let s = (b[2] - b[0]).min(b[3] - b[1]) as f64;
            match shape {
                "circle" => {
                    let lo = PI * (s / 2.0 - 1.0).powi(2) / area;
                    let hi = PI * (s / 2.0 + 0.5).powi(2) / area;
                    assert!(
                        frac >= lo && frac <= hi,
                        "circle fill {frac:.2} not in {lo:.2}..{hi:.2}"
                    );
                }
                "square" => {
                    let lo = (s - 2.0).powi(2) / area;
                    assert!(frac >= lo, "square fill {frac:.2} < {lo:.2}");
                }
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(checked >= 200, "only {checked} objects checked");
}
