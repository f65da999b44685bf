//! Referring expressions of a generated world load as grounding samples whose boxes belong to
//! the objects the expressions name.
use vladapt_data::grounding::load_world_grounding;

#[test]
fn world_expressions_point_at_the_objects_they_name() {
    let dir = std::env::temp_dir().join(format!("vladapt-gw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    vladapt_world::generate_pretrain(&dir, 3, 40, &vladapt_world::WorldOptions::default()).unwrap();
    let samples = load_world_grounding(&dir).unwrap();
    // Independent reading of the same file: object facts by (image, box).
    let text = std::fs::read_to_string(dir.join("annotations.jsonl")).unwrap();
    let mut facts = std::collections::HashMap::new();
    let mut expected = 0;
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        for o in r["objects"].as_array().unwrap() {
            let b: Vec<u64> = o["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let name = format!(
                "the {} {}",
                o["colour"].as_str().unwrap(),
                o["shape"].as_str().unwrap()
            );
            facts.insert((r["image"].as_str().unwrap().to_string(), b), name);
            expected += o["referring"].as_array().unwrap().len();
        }
    }
    assert_eq!(samples.len(), expected);
    assert!(samples.len() >= 40, "{} expressions", samples.len());
    let mut checked = 0;
    for s in &samples {
        let [x1, y1, x2, y2] = s.bbox;
        assert!(0.0 <= x1 && x1 < x2 && x2 <= 64.0 && 0.0 <= y1 && y1 < y2 && y2 <= 64.0);
        let rel = s
            .image
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let key = (rel, s.bbox.iter().map(|&v| v as u64).collect::<Vec<_>>());
        let name = &facts[&key];
        // "the red circle …" names the colour and shape of the object whose box it carries.
        if s.expression.starts_with(name.as_str()) {
            checked += 1;
        } else {
            // Other forms ("the small red circle", "the leftmost circle") still mention the shape.
            let shape = name.rsplit(' ').next().unwrap();
            assert!(
                s.expression.contains(shape),
                "{:?} for {name}",
                s.expression
            );
        }
    }
    assert!(checked > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
