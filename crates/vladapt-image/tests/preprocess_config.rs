//! Preprocess constructors: HF `preprocessor_config.json`, open_clip, CLIP defaults.
use std::path::PathBuf;

use vladapt_image::{CropRounding, ImageError, Preprocess, CLIP_MEAN, CLIP_STD};

fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vladapt-image-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn hf_clip_vit_b16_config() {
    // The `openai/clip-vit-base-patch16` preprocessor_config.json layout.
    let p = write(
        "clip_b16.json",
        r#"{"crop_size": {"height": 224, "width": 224}, "do_center_crop": true,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "resample": 3, "size": {"shortest_edge": 224}}"#,
    );
    let pp = Preprocess::from_hf_config(&p).unwrap();
    // Same sizes and statistics as OpenAI CLIP; the centre crop follows transformers.
    assert_eq!(
        pp,
        Preprocess {
            crop_rounding: CropRounding::Transformers,
            ..Preprocess::clip(224)
        }
    );
}

#[test]
fn hf_settings_that_change_the_pixels_are_refused_by_name() {
    for (field, json) in [
        ("resample", r#"{"size": 224, "resample": 2}"#),
        (
            "do_center_crop",
            r#"{"size": 224, "do_center_crop": false}"#,
        ),
        ("do_normalize", r#"{"size": 224, "do_normalize": false}"#),
        ("rescale_factor", r#"{"size": 224, "rescale_factor": 0.5}"#),
    ] {
        let p = write(&format!("refuse_{field}.json"), json);
        let e = Preprocess::from_hf_config(&p).unwrap_err().to_string();
        assert!(
            e.contains(field) && e.contains(&format!("refuse_{field}.json")),
            "{e}"
        );
    }
    let p = write(
        "accept_defaults.json",
        r#"{"size": 224, "resample": 3, "do_resize": true, "do_center_crop": true,
            "do_rescale": true, "rescale_factor": 0.00392156862745098, "do_normalize": true,
            "do_convert_rgb": true, "image_processor_type": "CLIPImageProcessor"}"#,
    );
    assert!(Preprocess::from_hf_config(&p).is_ok());
}

#[test]
fn hf_old_style_int_sizes_and_custom_stats() {
    let p = write(
        "old.json",
        r#"{"size": 336, "crop_size": 320, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.25, 0.125]}"#,
    );
    let pp = Preprocess::from_hf_config(&p).unwrap();
    assert_eq!(pp.shortest_edge, 336);
    assert_eq!(pp.crop, (320, 320));
    assert_eq!(pp.mean, [0.5, 0.5, 0.5]);
    assert_eq!(pp.std, [0.5, 0.25, 0.125]);
    // Missing crop/mean/std: square crop of `size`, CLIP statistics.
    let p = write("minimal.json", r#"{"size": {"shortest_edge": 288}}"#);
    let pp = Preprocess::from_hf_config(&p).unwrap();
    assert_eq!(
        (pp.shortest_edge, pp.crop, pp.mean, pp.std),
        (288, (288, 288), CLIP_MEAN, CLIP_STD)
    );
    // Rectangular crop keeps (height, width) order.
    let p = write(
        "rect.json",
        r#"{"size": 256, "crop_size": {"height": 240, "width": 200}}"#,
    );
    assert_eq!(Preprocess::from_hf_config(&p).unwrap().crop, (240, 200));
}

#[test]
fn hf_bad_configs_are_config_errors_naming_the_file() {
    let cases = [
        ("no_size.json", r#"{"crop_size": 224}"#),
        ("str_size.json", r#"{"size": "big"}"#),
        ("hw_size.json", r#"{"size": {"height": 224, "width": 224}}"#),
        (
            "bad_mean.json",
            r#"{"size": 224, "image_mean": [0.5, 0.5]}"#,
        ),
        (
            "zero_std.json",
            r#"{"size": 224, "image_std": [0.5, 0.0, 0.5]}"#,
        ),
        (
            "bad_crop.json",
            r#"{"size": 224, "crop_size": {"height": 224}}"#,
        ),
        ("not_json.json", "size = 224"),
    ];
    for (name, text) in cases {
        let p = write(name, text);
        match Preprocess::from_hf_config(&p) {
            Err(e @ ImageError::Config { .. }) => assert!(e.to_string().contains(name), "{e}"),
            other => panic!("{name}: expected Config error, got {other:?}"),
        }
    }
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nope/preprocessor_config.json");
    assert!(matches!(
        Preprocess::from_hf_config(&missing),
        Err(ImageError::Config { .. })
    ));
}

#[test]
fn open_clip_defaults_and_overrides() {
    assert_eq!(
        Preprocess::from_open_clip(224, None, None),
        Preprocess::clip(224)
    );
    let p = Preprocess::from_open_clip(384, Some([0.5; 3]), Some([0.5; 3]));
    assert_eq!(
        (p.shortest_edge, p.crop, p.mean, p.std),
        (384, (384, 384), [0.5; 3], [0.5; 3])
    );
}
