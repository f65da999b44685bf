//! `vladapt demo grounding`: the MMCA-vs-TransVG comparison of spec `mmca.md` §6.3 check 5,
//! offline: generate the grounding world (`vladapt_world::generate_grounding`: referring
//! expressions that single out one object each — attribute, superlative and relational ones, with
//! direction words — and disjoint train / test images) → for each seed a randomly initialised `tiny` TransVG → train every variant
//! with the `tiny` recipe on the same data, same seeds, same step budget → Acc@0.5 ± std (and
//! mean IoU) on the held-out test images. A toy check of mechanics and relative behaviour, not
//! of the papers' RefCOCO claims.
use super::ground_train::{load_split, method_for, METHODS};
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vladapt::models::grounding::pipeline::write_random_model;
use vladapt::models::grounding::GroundingConfig;
use vladapt::train::grounding::{load_trained, train_grounding, EncodedSet, GroundingStart};
use vladapt::train::grounding_config::GroundingRunConfig;
use vladapt::train::grounding_eval::{predict_boxes, prediction_sheet, score};
use vladapt::train::TrainOptions;

/// Arguments of `vladapt demo grounding`.
#[derive(Args)]
pub struct GroundingDemoArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/demo-grounding")]
    output: PathBuf,
    /// A few-second smoke version (tiny world, 1 seed, 1 epoch).
    #[arg(long)]
    quick: bool,
    /// World seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Override the plan's epochs per run.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the plan's number of training images.
    #[arg(long)]
    train_images: Option<usize>,
    /// Override the plan's seeds (comma-separated).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
}

/// Sizes of one demo configuration.
struct Plan {
    train_images: usize,
    test_images: usize,
    image_size: u32,
    epochs: usize,
    seeds: Vec<u64>,
}

/// The full plan fits the budget (the whole demo ≤ 15 minutes on 2 cores): 18 runs of
/// ~550 steps of batch 16 (~1 460 expressions, 6 epochs) on a 64² canvas (4 visual tokens).
fn plan(quick: bool) -> Plan {
    if quick {
        Plan {
            train_images: 12,
            test_images: 6,
            image_size: 64,
            epochs: 1,
            seeds: vec![1],
        }
    } else {
        Plan {
            train_images: 500,
            test_images: 150,
            image_size: 64,
            epochs: 6,
            seeds: vec![1, 2, 3],
        }
    }
}

/// The grounding world of the plan in `dir` (`train.jsonl`, `test.jsonl`, no val split):
/// `n_train + n_test` images of one generator seed, the last `n_test` held out; reused when
/// already there (the folder name carries the sizes).
fn world(dir: &Path, seed: u64, n_train: usize, n_test: usize, size: u32) -> Result<()> {
    if dir.join("train.jsonl").is_file() && dir.join("test.jsonl").is_file() {
        return Ok(());
    }
    let images = n_train + n_test;
    let opts = vladapt_world::GroundingOptions {
        seed,
        images,
        image_size: size,
        min_objects: 2,
        max_objects: 4,
        expressions_per_object: 1,
        val_fraction: 0.0,
        test_fraction: n_test as f64 / images as f64,
        ..Default::default()
    };
    let counts = opts.split_counts();
    anyhow::ensure!(
        counts == (n_train, 0, n_test),
        "grounding world: {images} images split as {counts:?}, not ({n_train}, 0, {n_test}) (the test share must be at most half)"
    );
    vladapt_world::generate_grounding(dir, &opts)
        .with_context(|| format!("generating {}", dir.display()))?;
    Ok(())
}

/// `mean ± std` (sample standard deviation; 0 for one value).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}

/// Run the grounding demo.
pub fn run(a: GroundingDemoArgs) -> Result<()> {
    let t_all = Instant::now();
    let mut p = plan(a.quick);
    if let Some(e) = a.epochs {
        p.epochs = e.max(1);
    }
    if let Some(n) = a.train_images {
        p.train_images = n.max(1);
    }
    if let Some(s) = a.seeds.clone().filter(|s| !s.is_empty()) {
        p.seeds = s;
    }
    let out = &a.output;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let device = super::device(&a.device)?;

    eprintln!("\n== 1/3 generating the grounding world's referring expressions");
    let world_dir = out.join(format!(
        "world/seed{}-{}+{}-{}px",
        a.seed, p.train_images, p.test_images, p.image_size
    ));
    world(
        &world_dir,
        a.seed,
        p.train_images,
        p.test_images,
        p.image_size,
    )?;
    let none = super::ground_train::SplitSource::default();
    let train = load_split(&world_dir.join("train.jsonl"), &none)?;
    let test = load_split(&world_dir.join("test.jsonl"), &none)?;
    eprintln!(
        "   {} training expressions on {} images, {} test expressions on {} images",
        train.len(),
        p.train_images,
        test.len(),
        p.test_images
    );

    let mut model_cfg = GroundingConfig::preset("tiny")?;
    model_cfg.image_size = p.image_size as usize;
    eprintln!(
        "\n== 2/3 training {} on {} seed(s), tiny TransVG ({}² canvas)",
        METHODS.join(", "),
        p.seeds.len(),
        model_cfg.image_size
    );
    let mut rows = Vec::new();
    for name in METHODS {
        let (mut accs, mut ious) = (Vec::new(), Vec::new());
        for &seed in &p.seeds {
            let model_dir = out.join(format!("init/seed{seed}"));
            if !model_dir.join("model.safetensors").is_file() {
                write_random_model(&model_dir, &model_cfg, None, seed)?;
            }
            let start = GroundingStart::from_model_dir(&model_dir)?;
            let train_set = EncodedSet::new(train.clone(), &start.model, &start.tokenizer)?;
            let mut cfg =
                GroundingRunConfig::preset("tiny", method_for(name, &model_cfg, seed)?, seed)?;
            cfg.apply_overrides(&[
                format!("train.epochs={}", p.epochs),
                // StepLR drop before the last epoch.
                format!("train.lr_drop={}", p.epochs.saturating_sub(1).max(1)),
                "train.augment=false".into(),
            ])?;
            let run_dir = out.join(format!("runs/{name}/seed{seed}"));
            let t = Instant::now();
            train_grounding(
                start,
                &cfg,
                &train_set,
                &run_dir,
                &device,
                TrainOptions {
                    resume: true,
                    progress: true,
                    stop_after_epochs: None,
                },
            )?;
            let trained = load_trained(&run_dir, &device)?;
            let test_set = EncodedSet::new(
                test.clone(),
                &trained.method.model_config,
                &trained.tokenizer,
            )?;
            let pred = predict_boxes(&trained.method, &test_set, 64, &device, false)?;
            let m = score("test", &pred, &test_set)?;
            if seed == p.seeds[0] {
                prediction_sheet(&run_dir.join("predictions.png"), &test_set, &pred, 16)?;
            }
            eprintln!(
                "   {name} seed {seed}: Acc@0.5 {:.2}%  mIoU {:.2}%  ({:.1}s)",
                m.acc_at_05,
                m.miou,
                t.elapsed().as_secs_f64()
            );
            accs.push(m.acc_at_05);
            ious.push(m.miou);
        }
        rows.push((name.to_string(), mean_std(&accs), mean_std(&ious)));
    }

    eprintln!("\n== 3/3 table");
    let mut table = String::from("| method | Acc@0.5 (%) | mIoU (%) |\n| --- | ---: | ---: |\n");
    for (name, (am, asd), (im, isd)) in &rows {
        table.push_str(&format!(
            "| {name} | {am:.2} ± {asd:.2} | {im:.2} ± {isd:.2} |\n"
        ));
    }
    let total = t_all.elapsed().as_secs_f64();
    let md = format!(
        "# vladapt grounding demo\n\nGrounding world (`vladapt world grounding`) seed {}, {} training / {} held-out test images ({}² px), tiny TransVG on a {}² canvas, recipe `tiny` ({} epochs), seeds {:?}; Acc@0.5 and mean IoU on the test images, mean ± std over seeds.\nTotal time {total:.0} s.\n\n{table}",
        a.seed, p.train_images, p.test_images, p.image_size, model_cfg.image_size, p.epochs, p.seeds
    );
    vladapt::tensor_io::write_atomic(&out.join("results.md"), md.as_bytes())?;
    println!("{table}");
    println!(
        "total time {total:.0} s; results in {}",
        out.join("results.md").display()
    );
    Ok(())
}
