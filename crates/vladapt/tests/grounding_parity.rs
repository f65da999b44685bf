//! TransVG parity against independent references (tools/fixtures/build_grounding.py):
//! transformers `DetrModel` (hub naming, transformers' ResNet backbone with frozen BN),
//! transformers `BertModel` (`bert.` prefix, `gamma`/`beta`), and a PyTorch TransVG written from
//! the spec on torchvision's `Bottleneck` + `FrozenBatchNorm2d`. References are float64; every
//! comparison is within 1e-4 absolute.
mod common;
use common::{fixtures, max_abs_diff, read_f32};
use std::cell::RefCell;
use std::path::PathBuf;
use vladapt::models::grounding::visual::VisualEncoder;
use vladapt::models::grounding::{
    bert::Bert, GroundingBatch, GroundingConfig, GroundingHook, Layout, NoHook, TransVg, Weights,
};
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::{to_vec_f32, SafetensorsFile};

fn dir(name: &str) -> PathBuf {
    fixtures().join("grounding").join(name)
}

fn read_i64(f: &SafetensorsFile, name: &str) -> (Vec<i64>, Vec<usize>) {
    f.read_i64(name)
        .unwrap()
        .unwrap_or_else(|| panic!("fixture lacks {name}"))
}

fn images(f: &SafetensorsFile, name: &str, dev: &Device) -> Tensor<4> {
    let (v, s) = read_f32(f, name);
    Tensor::from_data(TensorData::new(v, [s[0], s[1], s[2], s[3]]), dev)
}

fn transvg_config() -> GroundingConfig {
    GroundingConfig::from_json_file(&dir("transvg").join("config.json")).unwrap()
}

#[test]
fn detr_encoder_matches_transformers_detr_model() {
    let dev = Device::flex();
    let mut cfg = GroundingConfig::preset("tiny").unwrap();
    cfg.resnet.layers = [1, 1, 2, 1];
    cfg.resnet.stem_width = 8;
    cfg.resnet.base_planes = 4;
    cfg.detr.layers = 2;
    let w = Weights::open(&dir("detr").join("model.safetensors"), Layout::Detr).unwrap();
    let enc = VisualEncoder::load(&w.root(), &cfg, &dev).unwrap();
    w.ensure_all_used().unwrap();
    let io = SafetensorsFile::open(&dir("detr").join("io.safetensors")).unwrap();
    let px = images(&io, "pixel_values", &dev);
    // transformers' pixel_mask is 1 on real pixels; ours is true on padding.
    let (m, _) = read_i64(&io, "pixel_mask");
    let pad: Vec<bool> = m.iter().map(|&v| v == 0).collect();
    let out = enc.forward(px, &pad, &NoHook);
    let (want, shape) = read_f32(&io, "encoder_last_hidden_state");
    assert_eq!(out.tokens.dims().to_vec(), shape);
    let diff = max_abs_diff(&to_vec_f32(&out.tokens), &want);
    eprintln!("DETR encoder parity: {diff:.2e}");
    assert!(
        diff < 1e-4,
        "DETR encoder differs from transformers by {diff}"
    );
}

#[test]
fn bert_matches_transformers_bert_model_with_old_layernorm_names() {
    let dev = Device::flex();
    let cfg = transvg_config();
    let w = Weights::open(&dir("bert").join("model.safetensors"), Layout::Bert).unwrap();
    let bert = Bert::load(&w.root(), &cfg.bert, &dev).unwrap();
    w.ensure_all_used().unwrap();
    let io = SafetensorsFile::open(&dir("bert").join("io.safetensors")).unwrap();
    let (ids, s) = read_i64(&io, "ids");
    let (mask, _) = read_i64(&io, "mask");
    let h = bert.forward(&ids, &mask, s[0], &dev).unwrap();
    let (want, _) = read_f32(&io, "last_hidden_state");
    let diff = max_abs_diff(&to_vec_f32(&h), &want);
    eprintln!("BERT parity: {diff:.2e}");
    assert!(diff < 1e-4, "BERT differs from transformers by {diff}");
}

struct Fixture {
    model: TransVg,
    batch: GroundingBatch,
    io: SafetensorsFile,
}

fn transvg(dev: &Device) -> Fixture {
    let cfg = transvg_config();
    let w = Weights::open(&dir("transvg").join("model.safetensors"), Layout::TransVg).unwrap();
    let model = TransVg::load(&w.root(), &cfg, dev).unwrap();
    w.ensure_all_used().unwrap();
    let io = SafetensorsFile::open(&dir("transvg").join("io.safetensors")).unwrap();
    let (pm, _) = read_i64(&io, "pixel_mask");
    let batch = GroundingBatch {
        images: images(&io, "images", dev),
        pixel_mask: pm.iter().map(|&v| v != 0).collect(),
        ids: read_i64(&io, "ids").0,
        text_mask: read_i64(&io, "text_mask").0,
    };
    Fixture { model, batch, io }
}

#[test]
fn transvg_trunk_memory_and_boxes_match_the_pytorch_reference() {
    let dev = Device::flex();
    let Fixture { model, batch, io } = transvg(&dev);
    let trunk = model.visual.backbone.forward(batch.images.clone(), &NoHook);
    let d_trunk = max_abs_diff(&to_vec_f32(&trunk), &read_f32(&io, "trunk").0);
    let mem = model.encode_visual(batch.images.clone(), &batch.pixel_mask, &NoHook);
    let d_mem = max_abs_diff(&to_vec_f32(&mem.tokens), &read_f32(&io, "memory").0);
    let boxes = model.forward(&batch).unwrap();
    let d_box = max_abs_diff(&to_vec_f32(&boxes), &read_f32(&io, "boxes").0);
    eprintln!("transvg parity: trunk {d_trunk:.2e}, memory {d_mem:.2e}, boxes {d_box:.2e}");
    assert!(d_trunk < 1e-4, "ResNet trunk differs by {d_trunk}");
    assert!(d_mem < 1e-4, "DETR memory differs by {d_mem}");
    assert!(d_box < 1e-4, "boxes differ by {d_box}");
    // Image 0 has content in columns 16..80: token columns sample pixels 0 (padding), 32 and 64
    // (content). Image 1 has content in rows 0..60: token rows sample 0, 32 (content), 64 (padding).
    assert_eq!(
        &mem.mask[0..9],
        &[true, false, false, true, false, false, true, false, false]
    );
    assert_eq!(
        &mem.mask[9..18],
        &[false, false, false, false, false, false, true, true, true]
    );
}

/// Records the hook calls and adds nothing (or a constant).
struct Recorder {
    calls: RefCell<Vec<String>>,
    add: f32,
}

impl GroundingHook for Recorder {
    fn conv_branch(&self, stage: usize, x_in: &Tensor<4>) -> Option<Tensor<4>> {
        self.calls
            .borrow_mut()
            .push(format!("conv{stage}:{:?}", x_in.dims()));
        Some(x_in.zeros_like().add_scalar(self.add))
    }
    fn qk_deltas(&self, layer: usize, src: &Tensor<3>) -> (Option<Tensor<3>>, Option<Tensor<3>>) {
        self.calls
            .borrow_mut()
            .push(format!("qk{layer}:{:?}", src.dims()));
        (Some(src.zeros_like().add_scalar(self.add)), None)
    }
}

#[test]
fn hooks_run_at_the_mmca_points_and_a_zero_branch_changes_nothing() {
    let dev = Device::flex();
    let Fixture { model, batch, .. } = transvg(&dev);
    let plain = to_vec_f32(&model.forward(&batch).unwrap());
    let zero = Recorder {
        calls: RefCell::new(vec![]),
        add: 0.0,
    };
    let with_zero = to_vec_f32(&model.forward_with(&batch, &zero).unwrap());
    assert!(max_abs_diff(&plain, &with_zero) < 1e-6);
    // last block of layer2 (input 32 ch at 12²), layer3 (64 ch, 6²), layer4 (128 ch, 3²); then
    // the two DETR layers on [B, 9, 32].
    assert_eq!(
        *zero.calls.borrow(),
        [
            "conv1:[2, 32, 12, 12]",
            "conv2:[2, 64, 6, 6]",
            "conv3:[2, 128, 3, 3]",
            "qk0:[2, 9, 32]",
            "qk1:[2, 9, 32]"
        ]
    );
    let shift = Recorder {
        calls: RefCell::new(vec![]),
        add: 0.5,
    };
    let shifted = to_vec_f32(&model.forward_with(&batch, &shift).unwrap());
    assert!(
        max_abs_diff(&plain, &shifted) > 1e-3,
        "a non-zero branch must change the boxes"
    );
}

#[test]
fn wrong_missing_and_unexpected_tensors_are_named() {
    let dev = Device::flex();
    let path = dir("transvg").join("model.safetensors");
    let w = Weights::open(&path, Layout::TransVg).unwrap();
    let mut cfg = transvg_config();
    cfg.detr.ffn = 65;
    let e = TransVg::load(&w.root(), &cfg, &dev)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("visumodel.transformer.encoder.layers.0.linear1.weight")
            && e.contains("[64, 32]"),
        "{e}"
    );
    let mut cfg = transvg_config();
    cfg.fusion.layers = 3;
    let e = TransVg::load(&w.root(), &cfg, &dev)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing tensor") && e.contains("vl_transformer.encoder.layers.2.self_attn"),
        "{e}"
    );
    let w = Weights::open(&path, Layout::TransVg).unwrap();
    let mut cfg = transvg_config();
    cfg.fusion.layers = 1;
    TransVg::load(&w.root(), &cfg, &dev).unwrap();
    let e = w.ensure_all_used().unwrap_err().to_string();
    assert!(
        e.contains("unexpected") && e.contains("vl_transformer.encoder.layers.1."),
        "{e}"
    );
}

/// Adds a learnable `[1, 1, d]` vector to the query input of every DETR layer.
struct Learnable(Tensor<3>);

impl GroundingHook for Learnable {
    fn qk_deltas(&self, _layer: usize, src: &Tensor<3>) -> (Option<Tensor<3>>, Option<Tensor<3>>) {
        let [b, s, d] = src.dims();
        (Some(self.0.clone().expand([b, s, d])), None)
    }
}

#[test]
fn autodiff_device_gives_the_same_boxes_and_gradients_reach_a_hook() {
    let dev = Device::flex().autodiff();
    let Fixture { model, batch, io } = transvg(&dev);
    let boxes = model.forward(&batch).unwrap();
    let d_box = max_abs_diff(&to_vec_f32(&boxes), &read_f32(&io, "boxes").0);
    assert!(d_box < 1e-4, "autodiff boxes differ by {d_box}");
    let d = model.config.detr.d_model;
    let p = Tensor::<3>::zeros([1, 1, d], &dev).require_grad();
    let out = model.forward_with(&batch, &Learnable(p.clone())).unwrap();
    let grads = out.sum().backward();
    let g = p.grad(&grads).expect("the hook's tensor gets a gradient");
    assert!(to_vec_f32(&g).iter().any(|v| v.abs() > 0.0));
}

#[test]
fn in_memory_tensors_rebuild_the_same_model_and_take_gradients() {
    // A model loaded from a file, materialised into flat tensors and rebuilt from them
    // (what a training step does with autodiff-tracked weights) gives the fixture's boxes.
    let dev = Device::flex().autodiff();
    let cfg = transvg_config();
    let w = Weights::open(&dir("transvg").join("model.safetensors"), Layout::TransVg).unwrap();
    let Fixture { batch, io, .. } = transvg(&dev);
    let mut flat = w.materialise(&dev).unwrap();
    for (name, _, t) in flat.iter_mut() {
        if name == "bbox_embed.layers.2.bias" {
            *t = t.clone().require_grad();
        }
    }
    let tracked = flat
        .iter()
        .find(|(n, _, _)| n == "bbox_embed.layers.2.bias")
        .map(|(_, _, t)| t.clone())
        .expect("the head bias is in the file");
    let rebuilt = Weights::from_tensors("<in memory>", flat);
    let model = TransVg::load(&rebuilt.root(), &cfg, &dev).unwrap();
    let boxes = model.forward(&batch).unwrap();
    let d_box = max_abs_diff(&to_vec_f32(&boxes), &read_f32(&io, "boxes").0);
    assert!(d_box < 1e-4, "rebuilt boxes differ by {d_box}");
    let grads = boxes.sum().backward();
    let g = tracked
        .grad(&grads)
        .expect("a tracked tensor gets a gradient");
    assert_eq!(g.dims(), [4]);
    // A wrong shape is named.
    let bad = Weights::from_tensors(
        "<in memory>",
        vec![("x".into(), vec![2, 3], Tensor::<1>::zeros([6], &dev))],
    );
    let err = bad
        .root()
        .tensor::<2>("x", [3, 2], &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains('x') && err.contains("[2, 3]"), "{err}");
}

#[test]
fn grounding_method_splits_trainable_tensors_and_keeps_the_boxes() {
    use vladapt::methods::grounding::{GroundingMethod, GroundingMethodConfig};
    let dev = Device::flex();
    let cfg = transvg_config();
    let w = Weights::open(&dir("transvg").join("model.safetensors"), Layout::TransVg).unwrap();
    let Fixture { batch, io, .. } = transvg(&dev);
    let m = GroundingMethod::new(&cfg, &w, GroundingMethodConfig::Transvg, &dev).unwrap();
    let boxes = m.forward(&batch).unwrap();
    let d_box = max_abs_diff(&to_vec_f32(&boxes), &read_f32(&io, "boxes").0);
    assert!(d_box < 1e-4, "boxes differ by {d_box}");
    // Frozen: the stem, layer1 and every BN tensor; trainable: the rest the model reads.
    assert!(m
        .frozen()
        .iter()
        .any(|(n, _, _)| n.ends_with("layer1.0.conv1.weight")));
    assert!(m
        .frozen()
        .iter()
        .all(|(n, _, _)| !n.starts_with("bbox_embed")));
    assert!(m
        .params()
        .entries()
        .iter()
        .all(|p| !p.name.contains(".bn") && !p.name.contains("layer1.")));
}
