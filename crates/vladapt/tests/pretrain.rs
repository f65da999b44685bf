//! Random init, HF save/load round trip and contrastive pretraining (loss goes down, logit
//! scale clamp, bit-identical resume, input errors naming the file).
use std::path::Path;
use vladapt::methods::Params;
use vladapt::models::clip::{ClipModel, ClipPipeline, NoHook};
use vladapt::pretrain::{
    contrastive_loss, pretrain, run::clamp_logit_scale, Event, PairData, PretrainConfig,
    MAX_LOGIT_SCALE,
};
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::to_vec_f32;
use vladapt_tokenizer::ClipTokenizer;

fn tiny_config(image_size: usize) -> vladapt::models::clip::ClipConfig {
    let mut c = vladapt::pretrain::model_preset("tiny").unwrap();
    c.text.width = 32;
    c.text.layers = 1;
    c.text.heads = 2;
    c.text.intermediate = 64;
    c.text.context_length = 24;
    c.vision.width = 32;
    c.vision.layers = 1;
    c.vision.heads = 2;
    c.vision.intermediate = 64;
    c.vision.image_size = image_size;
    c.vision.patch_size = 8;
    c.projection_dim = 16;
    c
}

fn world(dir: &Path, n: usize) {
    let opts = vladapt_world::WorldOptions {
        image_size: 32,
        ..Default::default()
    };
    vladapt_world::generate_pretrain(dir, 3, n, &opts).unwrap();
}

fn host(p: &Params) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    p.to_host()
}

#[test]
fn save_load_round_trip_keeps_weights_and_embeddings() {
    let dev = Device::flex();
    let mut cfg = tiny_config(32);
    cfg.vision.activation = vladapt::models::clip::Activation::Gelu;
    let model = ClipModel::random_init(&cfg, 7, &dev).unwrap();
    // Same seed, same weights; another seed, other weights.
    let again = ClipModel::random_init(&cfg, 7, &dev).unwrap();
    assert_eq!(
        host(&model.to_params().unwrap()),
        host(&again.to_params().unwrap())
    );
    let other = ClipModel::random_init(&cfg, 8, &dev).unwrap();
    assert_ne!(
        host(&model.to_params().unwrap()),
        host(&other.to_params().unwrap())
    );
    // Init statistics follow the OpenAI scheme.
    let tok = to_vec_f32(&model.text.token_embedding);
    let std = (tok.iter().map(|v| v * v).sum::<f32>() / tok.len() as f32).sqrt();
    assert!((std - 0.02).abs() < 1e-3, "token embedding std {std}");
    assert!((model.logit_scale - (1.0f32 / 0.07).ln()).abs() < 1e-6);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    let tokenizer = ClipTokenizer::openai().unwrap();
    model.save_hf(&dir, &tokenizer).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let p = ClipPipeline::load(&dir, &dev).unwrap();
    assert_eq!(p.model.config.text, cfg.text);
    assert_eq!(p.model.config.vision, cfg.vision);
    assert_eq!(
        host(&p.model.to_params().unwrap()),
        host(&model.to_params().unwrap())
    );
    // Embeddings agree (weights are bit-identical; loaded weights are transposed views, so the
    // matmul kernels may sum in another order: differences stay at f32 rounding level).
    let close = |a: &[f32], b: &[f32]| {
        assert_eq!(a.len(), b.len());
        let d = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-5, "max abs diff {d}");
    };
    let texts = ["a photo of a red circle.", "two blue squares"];
    let ids = p.tokenize(&texts);
    let a = to_vec_f32(&model.encode_text(&ids, &NoHook).unwrap());
    let b = to_vec_f32(&p.model.encode_text(&ids, &NoHook).unwrap());
    close(&a, &b);
    let px: Vec<f32> = (0..2 * 3 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let pixels = || Tensor::<4>::from_data(TensorData::new(px.clone(), [2, 3, 32, 32]), &dev);
    let a = to_vec_f32(&model.encode_image(pixels(), &NoHook).unwrap());
    let b = to_vec_f32(&p.model.encode_image(pixels(), &NoHook).unwrap());
    close(&a, &b);
    // Saving again over an existing directory works (atomic replace).
    model.save_hf(&dir, &tokenizer).unwrap();
    assert!(ClipPipeline::load(&dir, &dev).is_ok());
}

/// Mean contrastive loss over the whole set (first caption of each image, fixed batches).
fn dataset_loss(cfg: &vladapt::models::clip::ClipConfig, params: &Params, data: &PairData) -> f64 {
    let dev = Device::flex();
    let model = ClipModel::from_params(cfg, params).unwrap();
    let s = cfg.vision.image_size;
    let mut sum = 0.0;
    let mut n = 0;
    for chunk in (0..data.len()).collect::<Vec<_>>().chunks(16) {
        if chunk.len() < 16 {
            break;
        }
        let px = data.pixels(chunk, None);
        let pixels = Tensor::<4>::from_data(TensorData::new(px, [chunk.len(), 3, s, s]), &dev);
        let ids: Vec<Vec<u32>> = chunk.iter().map(|&i| data.captions[i][0].clone()).collect();
        let img = model.encode_image(pixels, &NoHook).unwrap();
        let txt = model.encode_text(&ids, &NoHook).unwrap();
        let l = contrastive_loss(img, txt, params.get::<1>("logit_scale")).unwrap();
        sum += to_vec_f32(&l)[0] as f64;
        n += 1;
    }
    sum / n as f64
}

fn train_cfg(epochs: usize) -> PretrainConfig {
    PretrainConfig {
        epochs,
        batch_size: 16,
        lr: 2e-3,
        warmup_steps: 2,
        seed: 11,
        ..Default::default()
    }
}

#[test]
fn pretraining_reduces_the_loss_and_clamps_the_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("world");
    world(&w, 64);
    let cfg = tiny_config(32);
    let dev = Device::flex();
    let tok = ClipTokenizer::openai().unwrap();
    let data = PairData::load(&w, 32, cfg.text.context_length, &tok).unwrap();
    let init = ClipModel::random_init(&cfg, 11, &dev)
        .unwrap()
        .to_params()
        .unwrap();
    let before = dataset_loss(&cfg, &init, &data);
    let mut scales = Vec::new();
    let mut on = |e: &Event| {
        if let Event::Step { logit_scale, .. } = e {
            scales.push(*logit_scale)
        }
    };
    let run = tmp.path().join("run");
    let out = pretrain(&cfg, &train_cfg(6), &w, &run, false, &dev, &mut on).unwrap();
    assert_eq!(out.steps, 24);
    let after = dataset_loss(&cfg, &out.params, &data);
    eprintln!("contrastive loss before {before:.4}, after 24 steps {after:.4}");
    assert!(after < before - 0.1, "loss {before} -> {after}");
    assert!(scales.iter().all(|&s| (0.0..=MAX_LOGIT_SCALE).contains(&s)));
    for f in [
        "metrics.jsonl",
        "log.txt",
        "loss.png",
        "loss.svg",
        "pretrain.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 24);
    // The final model loads and reproduces the trained parameters.
    let p = ClipPipeline::load(&run.join("model"), &dev).unwrap();
    assert_eq!(host(&p.model.to_params().unwrap()), host(&out.params));
    // The clamp itself: a scale above ln(100) is set to ln(100), a negative one to 0.
    let mut ps = out.params.clone();
    for (v, want) in [(10.0f32, MAX_LOGIT_SCALE), (-1.0, 0.0), (3.0, 3.0)] {
        ps.entries_mut()
            .iter_mut()
            .find(|e| e.name == "logit_scale")
            .unwrap()
            .value = Tensor::from_data(TensorData::new(vec![v], [1]), &dev);
        assert_eq!(clamp_logit_scale(&mut ps, &dev), want);
        assert_eq!(to_vec_f32(&ps.get::<1>("logit_scale"))[0], want);
    }
    // Without --resume an existing checkpoint is refused.
    let e = pretrain(&cfg, &train_cfg(6), &w, &run, false, &dev, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("--resume"), "{e}");
}

#[test]
fn resume_continues_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("world");
    world(&w, 40);
    let cfg = tiny_config(32);
    let dev = Device::flex();
    let full = pretrain(
        &cfg,
        &train_cfg(3),
        &w,
        &tmp.path().join("a"),
        false,
        &dev,
        &mut |_| {},
    )
    .unwrap();
    let b = tmp.path().join("b");
    let stopped = PretrainConfig {
        stop_after_epochs: Some(1),
        ..train_cfg(3)
    };
    let part = pretrain(&cfg, &stopped, &w, &b, false, &dev, &mut |_| {}).unwrap();
    assert!(part.model_dir.is_none());
    assert_eq!(part.steps, 2);
    let resumed = pretrain(&cfg, &train_cfg(3), &w, &b, true, &dev, &mut |_| {}).unwrap();
    assert_eq!(resumed.steps, full.steps);
    assert_eq!(host(&resumed.params), host(&full.params));
    let la = std::fs::read_to_string(tmp.path().join("a/metrics.jsonl")).unwrap();
    let lb = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap();
    assert_eq!(la.lines().count(), lb.lines().count());
}

#[test]
fn bad_inputs_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(32);
    let dev = Device::flex();
    let run = tmp.path().join("run");
    let t = train_cfg(1);
    let missing = tmp.path().join("nope.csv");
    let e = pretrain(&cfg, &t, &missing, &run, false, &dev, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("nope.csv"), "{e}");

    let no_caption = tmp.path().join("nocap.csv");
    std::fs::write(&no_caption, "image,text\na.png,a red circle\n").unwrap();
    let e = pretrain(&cfg, &t, &no_caption, &run, false, &dev, &mut |_| {}).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("nocap.csv") && s.contains("caption"), "{s}");

    let missing_img = tmp.path().join("pairs.csv");
    std::fs::write(&missing_img, "image,caption\nghost.png,a red circle\n").unwrap();
    let e = pretrain(&cfg, &t, &missing_img, &run, false, &dev, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("ghost.png"), "{e}");
}
