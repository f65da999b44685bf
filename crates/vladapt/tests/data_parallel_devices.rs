//! Data parallelism over two *distinct* burn devices on this CPU machine: Flex (`cpu`) and
//! NdArray (`ndarray`, enabled for test builds only). The frozen CLIP is copied to NdArray with
//! [`ToDevice`]; a method built there keeps its parameters and buffers there; the trainer with
//! `train.devices = ["cpu", "ndarray"]` trains like one device within float tolerance (the two
//! backends' kernels sum in different orders).
mod common;
#[path = "support/train_setup.rs"]
mod train_setup;
use train_setup::{rel_diff, small_method_overrides, tiny_clip, tiny_task};
use vladapt::methods::{build, ClassSet, MethodKind};
use vladapt::models::clip::NoHook;
use vladapt::models::ToDevice;
use vladapt::tensor::Device;
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::{train, Protocol, RunConfig, TrainData, TrainOptions};

fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .map(|v| v.abs() as f64)
        .fold(0.0, f64::max)
        .max(1e-12);
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn the_frozen_clip_moves_to_ndarray_and_computes_the_same_features_there() {
    let p = tiny_clip(&Device::flex());
    #[allow(deprecated)] // burn-ndarray: the second distinct CPU device, for this test only
    let nd = Device::ndarray();
    assert_ne!(nd, Device::flex());
    let clip = p.model.to_device(&nd);
    // Every tensor of the copy lives on NdArray; the original stays on Flex.
    assert_eq!(clip.text.token_embedding.device(), nd);
    assert_eq!(clip.text.blocks[0].attn.qkv.weight.device(), nd);
    assert_eq!(clip.vision.projection().device(), nd);
    assert_eq!(p.model.text.token_embedding.device(), Device::flex());

    let ids = p.tokenize(&["a photo of a cat", "a red square"]);
    let t_flex = p.model.encode_text(&ids, &NoHook).unwrap();
    let t_nd = clip.encode_text(&ids, &NoHook).unwrap();
    assert_eq!(t_nd.device(), nd);
    let d = max_rel(&to_vec_f32(&t_nd), &to_vec_f32(&t_flex));
    eprintln!("text features, NdArray vs Flex: {d:.2e} relative");
    assert!(d < 1e-5, "text features differ by {d:e}");

    let s = p.model.config.vision.image_size;
    let px: Vec<f32> = (0..2 * 3 * s * s)
        .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
        .collect();
    let x = p.pixels_from_flat(px, 2);
    let i_flex = p.model.encode_image(x.clone(), &NoHook).unwrap();
    let i_nd = clip.encode_image(x.to_device(&nd), &NoHook).unwrap();
    assert_eq!(i_nd.device(), nd);
    let d = max_rel(&to_vec_f32(&i_nd), &to_vec_f32(&i_flex));
    eprintln!("image features, NdArray vs Flex: {d:.2e} relative");
    assert!(d < 1e-5, "image features differ by {d:e}");
}

#[test]
fn methods_built_on_ndarray_keep_parameters_and_buffers_there() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 1);
    let p = tiny_clip(&Device::flex());
    #[allow(deprecated)] // burn-ndarray: the second distinct CPU device, for this test only
    let nd = Device::ndarray();
    let clip_nd = p.model.to_device(&nd);
    for kind in [MethodKind::Coop, MethodKind::Mma] {
        let cfg = config(kind, 1, 0.01, &[]);
        let classes = |clip| ClassSet {
            clip,
            tokenizer: &p.tokenizer,
            classnames: &ds.classnames,
            template: &ds.template,
        };
        let mut on_flex = build(&cfg.method, &p.model, &p.tokenizer, &Device::flex()).unwrap();
        on_flex.set_classes(&classes(&p.model)).unwrap();
        let mut on_nd = build(&cfg.method, &clip_nd, &p.tokenizer, &nd).unwrap();
        on_nd.set_classes(&classes(&clip_nd)).unwrap();
        for e in on_nd.params().entries() {
            assert_eq!(e.value.device(), nd, "{kind}: {}", e.name);
        }
        // Same parameters on both: the logits (text side through the frozen buffers) agree.
        *on_nd.params_mut() = on_flex.params().clone();
        for e in on_nd.params_mut().entries_mut() {
            e.value = e.value.clone().to_device(&nd);
        }
        let s = p.model.config.vision.image_size;
        let px: Vec<f32> = (0..3 * 3 * s * s)
            .map(|i| ((i % 89) as f32 / 44.0) - 1.0)
            .collect();
        let x = p.pixels_from_flat(px, 3);
        let f_flex = on_flex.image_features(&p.model, x.clone()).unwrap();
        let f_nd = on_nd.image_features(&clip_nd, x.to_device(&nd)).unwrap();
        let l_flex = on_flex.logits(&p.model, f_flex).unwrap();
        let l_nd = on_nd.logits(&clip_nd, f_nd).unwrap();
        assert_eq!(l_nd.device(), nd, "{kind}: logits");
        let d = max_rel(&to_vec_f32(&l_nd), &to_vec_f32(&l_flex));
        eprintln!("{kind}: logits NdArray vs Flex {d:.2e} relative");
        assert!(d < 1e-5, "{kind}: logits differ by {d:e}");
    }
}

/// A short run: batches of 3 (split 2 + 1 over two devices), constant lr, no augmentation.
fn config(kind: MethodKind, epochs: usize, lr: f64, extra: &[&str]) -> RunConfig {
    let mut c = RunConfig::preset(kind, Protocol::FewShot, 2, 3);
    let mut sets = vec![
        format!("train.schedule.base_lr={lr}"),
        "train.schedule.warmup_epochs=0".into(),
        "train.schedule.kind=\"constant\"".into(),
        "train.augment=false".into(),
        "train.batch_size=3".into(),
        "train.cache_views=0".into(),
    ];
    sets.extend(small_method_overrides(kind));
    sets.extend(extra.iter().map(|s| s.to_string()));
    c.apply_overrides(&sets).unwrap();
    c.train.schedule.max_epoch = epochs;
    c
}

#[test]
fn flex_plus_ndarray_trains_like_one_device() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_task(&tmp.path().join("data"), 3, 1);
    let p = tiny_clip(&Device::flex());
    let data = TrainData {
        dataset: "tiny_task",
        classnames: &ds.classnames,
        template: &ds.template,
        train: &ds.split.train,
        val: &[],
    };
    let quiet = TrainOptions {
        progress: false,
        ..Default::default()
    };
    for (kind, lr) in [(MethodKind::Coop, 0.02), (MethodKind::Mma, 0.0005)] {
        let run = |name: &str, epochs: usize, extra: &[&str]| {
            let dir = tmp.path().join(format!("{kind}-{name}"));
            let m = train(&p, &config(kind, epochs, lr, extra), &data, &dir, quiet).unwrap();
            let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
            (m.params().to_host(), log)
        };
        let (one, _) = run("one", 2, &[]);
        let (two, log) = run("flex-ndarray", 2, &["train.devices=[\"cpu\", \"ndarray\"]"]);
        let (init, _) = run("init", 0, &[]);
        // The run did use both devices.
        assert!(
            log.contains("data parallel: 2 replicas") && log.contains("NdArray"),
            "{log}"
        );
        let moved = rel_diff(&one, &init);
        let d = rel_diff(&one, &two);
        eprintln!(
            "{kind}: training moved the parameters by {moved:.3e}; flex+ndarray vs flex {d:.3e}"
        );
        assert!(moved > 1e-3, "{kind}: training did not move the parameters");
        assert!(
            d <= 1e-4,
            "{kind}: flex+ndarray differs from one device by {d:e} (relative)"
        );
    }
}

#[test]
fn device_lists_are_checked_when_the_configuration_is_read() {
    // A failed override may leave the configuration half-applied: each case starts afresh.
    let fresh = || RunConfig::preset(MethodKind::Coop, Protocol::FewShot, 2, 3);
    for (set, shown) in [
        (
            "train.devices=[\"cpu\", \"tpu\"]",
            "train.devices: device `tpu`: unknown device",
        ),
        (
            "train.devices=[\"cpu\", \"cpu\"]",
            "train.devices: device `cpu`: listed twice",
        ),
        (
            "train.devices=[\"cuda:x\"]",
            "train.devices: device `cuda:x`",
        ),
    ] {
        let e = fresh().apply_overrides(&[set.to_string()]).unwrap_err();
        assert!(
            matches!(e, vladapt::VladaptError::Device { .. }),
            "{set}: {e:?}"
        );
        assert!(e.to_string().contains(shown), "{set}: {e}");
    }
    #[cfg(not(feature = "cuda"))]
    {
        let e = fresh()
            .apply_overrides(&["train.devices=[\"cuda:0\", \"cuda:1\"]".to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`cuda` cargo feature"), "{e}");
    }
    let err = fresh()
        .apply_overrides(&[
            "train.devices=[\"cpu\", \"ndarray\"]".to_string(),
            "train.data_parallel=3".to_string(),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, vladapt::VladaptError::ConfigValue { key, value, .. }
            if key == "train.data_parallel" && value == "3"),
        "{err:?}"
    );
    let e = err.to_string();
    assert!(
        e.contains("train.data_parallel = 3") && e.contains("1 or 2"),
        "{e}"
    );
    let mut c = fresh();
    c.apply_overrides(&["train.devices=[\"cpu\", \"ndarray\"]".to_string()])
        .unwrap();
    assert_eq!(c.train.replicas(), 2);
}
