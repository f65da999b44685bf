//! `vladapt demo`: the papers' base-to-novel experiment, offline, from nothing: generate the
//! procedural world → pretrain a tiny CLIP contrastively → few-shot adaptation on the base half
//! of a downstream task in another style → Base / Novel / HM table.
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use vladapt::methods::MethodKind;
use vladapt::models::clip::ClipPipeline;
use vladapt::pretrain::{model_preset, pretrain, Event, PretrainConfig};
use vladapt::protocols::suite::{base2novel, SuiteOptions};
use vladapt::train::{Protocol, RunConfig};

/// Arguments of `vladapt demo`.
#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "`vladapt demo grounding` runs the grounding demo instead: TransVG vs MMCA and its ablations on the procedural world's referring expressions."
)]
pub struct DemoArgs {
    /// Another demo instead of base-to-novel.
    #[command(subcommand)]
    what: Option<DemoCmd>,
    /// Output directory.
    #[arg(long, default_value = "runs/demo")]
    output: PathBuf,
    /// ~1-minute smoke version (small world, 1 pretraining epoch, 1 seed, few epochs).
    #[arg(long)]
    quick: bool,
    /// World seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// The other demos.
#[derive(clap::Subcommand)]
enum DemoCmd {
    /// Grounding: TransVG, MMCA, MMCA without the gate, static LoRA, transformer-only and
    /// conv-only adapters trained on the world's referring expressions (Acc@0.5 ± std).
    Grounding(super::demo_grounding::GroundingDemoArgs),
}

/// Sizes of one demo configuration.
struct Plan {
    pretrain_images: usize,
    pretrain_epochs: usize,
    classes: usize,
    train_per_class: usize,
    test_per_class: usize,
    shots: usize,
    seeds: Vec<u64>,
    /// Fewest optimiser steps per method (`None`: the fixed smoke-test epochs of `--quick`).
    min_steps: Option<usize>,
}

/// Fewest optimiser steps a method takes in the full demo. The base training set is tiny
/// (5 classes × 16 shots = 80 images), so an official recipe of few epochs with a large batch
/// (MMA: 5 epochs × batch 16 = 25 steps) would barely move. Each method keeps its official
/// recipe (lr, batch, schedule shape) and its official epoch count, raised until it takes at
/// least this many steps.
const MIN_STEPS: usize = 250;

fn plan(quick: bool) -> Plan {
    if quick {
        Plan {
            pretrain_images: 1024,
            pretrain_epochs: 2,
            classes: 10,
            train_per_class: 4,
            test_per_class: 8,
            shots: 4,
            seeds: vec![1],
            min_steps: None,
        }
    } else {
        Plan {
            pretrain_images: 12_000,
            pretrain_epochs: 3,
            classes: 10,
            train_per_class: 16,
            test_per_class: 100,
            shots: 16,
            seeds: vec![1, 2, 3],
            min_steps: Some(MIN_STEPS),
        }
    }
}

/// Epochs so that a run of `batch` over `images` takes at least `min_steps` steps, never fewer
/// than `official`.
fn epochs_for(official: usize, images: usize, batch: usize, min_steps: usize) -> usize {
    let per_epoch = images.div_ceil(batch.max(1)).max(1);
    official.max(min_steps.div_ceil(per_epoch))
}

/// The demo's run configuration of a method: the official recipe with enough epochs, and the
/// method's own demo overrides ([`QuickDemo`](vladapt::methods::QuickDemo)).
fn demo_config(kind: MethodKind, p: &Plan, seed: u64) -> vladapt::Result<RunConfig> {
    let mut c = RunConfig::preset(kind, Protocol::Base2novel, p.shots, seed);
    let demo = kind
        .quick_demo()
        .ok_or_else(|| vladapt::VladaptError::Unsupported {
            what: kind.to_string(),
            reason: "has no demo settings (its MethodSpec::quick_demo is None)".into(),
        })?;
    if kind.gradient_steps() {
        let e = match p.min_steps {
            Some(min) => {
                let base_images = p.classes.div_ceil(2) * p.shots;
                epochs_for(
                    c.train.schedule.max_epoch,
                    base_images,
                    c.train.batch_size,
                    min,
                )
            }
            None => demo.quick_epochs,
        };
        c.apply_overrides(&[format!("train.schedule.max_epoch={e}")])?;
    }
    let overrides: Vec<String> = demo.overrides.iter().map(|o| o.to_string()).collect();
    c.apply_overrides(&overrides)?;
    Ok(c)
}

fn step(name: &str) -> Instant {
    eprintln!("\n== {name}");
    Instant::now()
}

/// Run the demo.
pub fn run(a: DemoArgs) -> Result<()> {
    if let Some(DemoCmd::Grounding(g)) = a.what {
        return super::demo_grounding::run(g);
    }
    let t_all = Instant::now();
    let p = plan(a.quick);
    let out = &a.output;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let device = super::device(&a.device)?;

    let t = step("1/4 generating the procedural world (pretraining pairs)");
    let world = out.join("world");
    if !world.join("captions.csv").is_file() {
        let opts = vladapt_world::WorldOptions::default();
        vladapt_world::generate_pretrain(&world, a.seed, p.pretrain_images, &opts)?;
    }
    eprintln!(
        "   {} images in {:.1}s",
        p.pretrain_images,
        t.elapsed().as_secs_f64()
    );

    let t = step("2/4 generating the downstream task (colour names under a colour cast)");
    let task_dir = out.join("task");
    if !task_dir.join(vladapt_data::DESCRIPTOR_FILE).is_file() {
        let spec = vladapt_world::TaskSpec {
            name: "world_cast".into(),
            style: vladapt_world::Style::Cast,
            class_kind: vladapt_world::ClassKind::Colour,
            num_classes: p.classes,
            train_per_class: p.train_per_class,
            val_per_class: 4,
            test_per_class: p.test_per_class,
            ..Default::default()
        };
        vladapt_world::generate_task(&task_dir, a.seed + 1, &spec)?;
    }
    let ds = vladapt_data::load_dataset("vladapt", &task_dir)?;
    eprintln!(
        "   {} classes ({} base / {} novel) in {:.1}s",
        ds.num_classes(),
        ds.num_classes().div_ceil(2),
        ds.num_classes() / 2,
        t.elapsed().as_secs_f64()
    );

    let t = step("3/4 pretraining a tiny CLIP contrastively on the world");
    let pre = out.join("pretrain");
    let model_dir = pre.join("model");
    if !model_dir.join("model.safetensors").is_file() {
        let cfg = model_preset("tiny")?;
        let train = PretrainConfig {
            epochs: p.pretrain_epochs,
            seed: a.seed,
            ..PretrainConfig::default()
        };
        let resume = pre.join("checkpoint").exists();
        let mut last = Instant::now();
        let mut on_event = |e: &Event| {
            if let Event::Step { .. } = e {
                if last.elapsed().as_secs() >= 10 {
                    eprintln!("   {e:?}");
                    last = Instant::now();
                }
            }
        };
        pretrain(&cfg, &train, &world, &pre, resume, &device, &mut on_event)?;
    }
    eprintln!(
        "   pretrained in {:.1}s → {}",
        t.elapsed().as_secs_f64(),
        model_dir.display()
    );

    let t = step("4/4 base-to-novel: zero-shot, CoOp, CoCoOp, CLIP-Adapter, MaPLe, MMA");
    let pipe = ClipPipeline::load(&model_dir, &device)?;
    // Every method with demo settings, in registration order.
    let methods: Vec<MethodKind> = MethodKind::all()
        .into_iter()
        .filter(|k| k.quick_demo().is_some())
        .collect();
    let b2n = out.join("base2novel");
    let o = SuiteOptions {
        output: &b2n,
        max_test: None,
        allow_fewer: false,
        progress: true,
    };
    let cfg = |m: MethodKind, s: u64| demo_config(m, &p, s);
    base2novel(&pipe, &ds, &methods, &p.seeds, &cfg, &o)?;
    eprintln!(
        "   adapted and evaluated in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let table = std::fs::read_to_string(b2n.join("results.md"))?;
    let total = t_all.elapsed().as_secs_f64();
    let md = format!("# vladapt demo\n\nWorld seed {}, {} pretraining images, tiny CLIP, task `world_cast` ({} classes), {} shots.\nTotal time {:.0} s.\n\n{table}", a.seed, p.pretrain_images, p.classes, p.shots, total);
    vladapt::tensor_io::write_atomic(&out.join("results.md"), md.as_bytes())?;
    println!("{table}");
    println!(
        "total time {total:.0} s; results in {}",
        out.join("results.md").display()
    );
    Ok(())
}
