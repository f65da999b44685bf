//! The OpenCLIP `ModifiedResNet` image tower against open_clip 3.3
//! (tools/fixtures/build_rn.py: random weights with random BatchNorm statistics, F16 on disk,
//! reference computed in float64), and the methods that run on / refuse a ResNet tower.
mod common;
use common::*;
use vladapt::methods::{build, ClassSet, MethodConfig, MethodKind};
use vladapt::models::clip::{ClipPipeline, ImageTower, NoHook};
use vladapt::tensor::{Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};

const NAME: &str = "tiny-openclip-rn";

fn load() -> (ClipPipeline, SafetensorsFile, serde_json::Value) {
    let fx = fixtures();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join(format!("expected/{NAME}.json"))).unwrap(),
    )
    .unwrap();
    let exp = SafetensorsFile::open(&fx.join(format!("expected/{NAME}.safetensors"))).unwrap();
    let device = vladapt::device::default_device();
    let p = ClipPipeline::load(&fx.join(format!("models/{NAME}")), &device).unwrap();
    (p, exp, meta)
}

fn ref_pixels(exp: &SafetensorsFile) -> Tensor<4> {
    let (px, s) = read_f32(exp, "pixel_values");
    Tensor::<4>::from_data(
        TensorData::new(px, [s[0], s[1], s[2], s[3]]),
        &vladapt::device::default_device(),
    )
}

fn texts(meta: &serde_json::Value) -> Vec<String> {
    meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn resnet_tower_matches_open_clip() {
    let (p, exp, meta) = load();
    match &p.model.vision {
        ImageTower::ResNet(r) => assert_eq!(r.dims.layers, vec![1, 2, 1, 1]),
        ImageTower::Vit(_) => panic!("{NAME} must load a ResNet image tower"),
    }
    // Image embeddings (unnormalised, the attention-pool output) from the reference pixels.
    let raw = to_vec_f32(&p.model.encode_image(ref_pixels(&exp), &NoHook).unwrap());
    let (want, shape) = read_f32(&exp, "image_embeds_raw");
    assert_eq!(shape, vec![6, 32]);
    let abs = max_abs_diff(&raw, &want);
    let rel = max_rel_diff(&raw, &want);
    eprintln!("{NAME}: image embeds max abs err {abs:.2e}, relative to max |ref| {rel:.2e}");
    assert!(
        rel < 1e-5,
        "{NAME}: image embeddings differ (abs {abs}, rel {rel})"
    );

    // Unit-normalised embeddings (what zero-shot compares) within 1e-5 absolute.
    let unit = |v: &[f32]| -> Vec<f32> {
        v.chunks(32)
            .flat_map(|r| {
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                r.iter().map(move |x| x / n)
            })
            .collect()
    };
    let nerr = max_abs_diff(&unit(&raw), &unit(&want));
    eprintln!("{NAME}: normalised image embeds max abs err {nerr:.2e}");
    assert!(
        nerr < 1e-5,
        "{NAME}: normalised image embeddings differ by {nerr}"
    );

    // Text tower (unchanged code path) on the same checkpoint.
    let texts = texts(&meta);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let ids = p.tokenize(&refs);
    let t = to_vec_f32(&p.model.encode_text(&ids, &NoHook).unwrap());
    let (want_t, _) = read_f32(&exp, "text_embeds_raw");
    let rel_t = max_rel_diff(&t, &want_t);
    eprintln!("{NAME}: text embeds rel err {rel_t:.2e}");
    assert!(rel_t < 1e-5, "{NAME}: text embeddings differ (rel {rel_t})");

    // Our preprocessing of the PNGs (shortest side → 64, PIL bicubic, centre crop) gives the
    // open_clip pixels.
    let files: Vec<_> = meta["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| fixtures().join("images").join(f.as_str().unwrap()))
        .collect();
    let ours = to_vec_f32(&p.load_pixels(&files).unwrap());
    let (ref_px, _) = read_f32(&exp, "pixel_values");
    let perr = max_abs_diff(&ours, &ref_px);
    eprintln!("{NAME}: preprocessing max abs err {perr:.2e}");
    assert!(perr < 1e-5, "{NAME}: pixels differ by {perr}");

    // Logits = 100 · cos.
    let img = p.model.encode_image(ref_pixels(&exp), &NoHook).unwrap();
    let txt = p.model.encode_text(&ids, &NoHook).unwrap();
    let logits = to_vec_f32(&p.model.logits(img, txt));
    let (want_l, _) = read_f32(&exp, "logits_per_image");
    let el = max_abs_diff(&logits, &want_l);
    eprintln!("{NAME}: logits max abs err {el:.2e}");
    assert!(el < 1e-3, "{NAME}: logits differ by {el}");
}

#[test]
fn encode_only_methods_run_and_prompting_methods_refuse_a_resnet_tower() {
    let (p, exp, _) = load();
    let device = vladapt::device::default_device();
    let classnames: Vec<String> = ["cat", "dog", "sea"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for kind in [
        MethodKind::Zeroshot,
        MethodKind::LinearProbe,
        MethodKind::Coop,
        MethodKind::Cocoop,
        MethodKind::ClipAdapter,
    ] {
        let cfg = MethodConfig::default_for(kind);
        let mut m = build(&cfg, &p.model, &p.tokenizer, &device).unwrap();
        m.set_classes(&ClassSet {
            clip: &p.model,
            tokenizer: &p.tokenizer,
            classnames: &classnames,
            template: "a photo of a {}.",
        })
        .unwrap();
        let f = m.image_features(&p.model, ref_pixels(&exp)).unwrap();
        let logits = m.logits(&p.model, f).unwrap();
        assert_eq!(logits.dims(), [6, 3], "{kind:?}");
        let v = to_vec_f32(&logits);
        assert!(v.iter().all(|x| x.is_finite()), "{kind:?}: {v:?}");
    }
    for (kind, name) in [(MethodKind::Maple, "maple"), (MethodKind::Mma, "mma")] {
        let err = build(
            &MethodConfig::default_for(kind),
            &p.model,
            &p.tokenizer,
            &device,
        )
        .err()
        .unwrap_or_else(|| panic!("{name} must refuse a ResNet tower"))
        .to_string();
        assert!(
            err.contains(&format!("{name} needs a ViT image tower"))
                && err.contains("ResNet (vision_cfg.layers = [1, 2, 1, 1])"),
            "{err}"
        );
    }
}

#[test]
fn bad_resnet_configs_and_weights_are_refused_by_name() {
    let src = fixtures().join(format!("models/{NAME}"));
    let device = vladapt::device::default_device();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        src.join("open_clip_model.safetensors"),
        dir.join("open_clip_model.safetensors"),
    )
    .unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("open_clip_config.json")).unwrap())
            .unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut c = cfg.clone();
        edit(&mut c);
        std::fs::write(dir.join("open_clip_config.json"), c.to_string()).unwrap();
        ClipPipeline::load(&dir, &device)
            .err()
            .expect("must refuse")
            .to_string()
    };
    let e = with(&|c| c["model_cfg"]["vision_cfg"]["layers"] = serde_json::json!([1, 2, 1]));
    assert!(e.contains("vision_cfg.layers") && e.contains("four"), "{e}");
    // Width 8 does not match the stored width-4 convolutions: the tensor is named.
    let e = with(&|c| c["model_cfg"]["vision_cfg"]["width"] = serde_json::json!(8));
    assert!(e.contains("visual.conv1.weight"), "{e}");
    let e = with(&|c| c["model_cfg"]["vision_cfg"]["image_size"] = serde_json::json!(48));
    assert!(e.contains("multiple of 32"), "{e}");
}
