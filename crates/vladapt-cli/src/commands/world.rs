//! `vladapt world`: generate the procedural image–text world (pretraining set or a
//! classification task).
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use vladapt_world::{generate_pretrain, generate_task, Style, TaskSpec, WorldOptions};

/// Arguments of `vladapt world`.
#[derive(Args)]
pub struct WorldArgs {
    #[command(subcommand)]
    command: WorldCommand,
}

#[derive(Subcommand)]
enum WorldCommand {
    /// Image–caption pretraining set: images/, captions.csv, annotations.jsonl, world.json.
    Generate(GenerateArgs),
    /// Colour×shape classification task (split.json, vladapt_dataset.json), base-to-novel ready.
    Task(TaskArgs),
}

/// Arguments of `vladapt world generate`.
#[derive(Args)]
struct GenerateArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of images.
    #[arg(long)]
    n: usize,
    /// Style: pretrain, outline, noisy, texture, palette, cast.
    #[arg(long, default_value = "pretrain")]
    style: String,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    size: u32,
}

/// Arguments of `vladapt world task`.
#[derive(Args)]
struct TaskArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of classes (1..=100 colour–shape classes, 1..=10 colour classes).
    #[arg(long, default_value_t = 20)]
    classes: usize,
    /// What the classes distinguish: colour-shape ("red circle") or colour ("red").
    #[arg(long, default_value = "colour-shape")]
    class_kind: String,
    /// Style: pretrain, outline, noisy, texture, palette, cast.
    #[arg(long, default_value = "outline")]
    style: String,
    /// Training images per class.
    #[arg(long, default_value_t = 32)]
    train_per_class: usize,
    /// Validation images per class.
    #[arg(long, default_value_t = 8)]
    val_per_class: usize,
    /// Test images per class.
    #[arg(long, default_value_t = 50)]
    test_per_class: usize,
    /// Most small distractor objects per image.
    #[arg(long, default_value_t = 0)]
    max_distractors: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    size: u32,
    /// Data set name (default: world_<style>).
    #[arg(long)]
    name: Option<String>,
}

fn style(s: &str) -> Result<Style> {
    s.parse::<Style>().with_context(|| format!("--style {s}"))
}

/// Run `vladapt world`.
pub fn run(a: WorldArgs) -> Result<()> {
    let t0 = Instant::now();
    match a.command {
        WorldCommand::Generate(g) => {
            let opts = WorldOptions {
                image_size: g.size,
                style: style(&g.style)?,
                ..WorldOptions::default()
            };
            let s = generate_pretrain(&g.out, g.seed, g.n, &opts)
                .with_context(|| format!("generating {}", g.out.display()))?;
            eprintln!(
                "{}: {} images, {} captions in {:.1}s",
                g.out.display(),
                s.images,
                s.captions,
                t0.elapsed().as_secs_f64()
            );
            let missing = s.missing();
            if !missing.is_empty() {
                eprintln!("note: never occurring: {}", missing.join(", "));
            }
        }
        WorldCommand::Task(t) => {
            let st = style(&t.style)?;
            let spec = TaskSpec {
                name: t.name.unwrap_or_else(|| format!("world_{}", st.name())),
                num_classes: t.classes,
                train_per_class: t.train_per_class,
                val_per_class: t.val_per_class,
                test_per_class: t.test_per_class,
                style: st,
                max_distractors: t.max_distractors,
                image_size: t.size,
                class_kind: t
                    .class_kind
                    .parse()
                    .with_context(|| format!("--class-kind {}", t.class_kind))?,
                ..TaskSpec::default()
            };
            let s = generate_task(&t.out, t.seed, &spec)
                .with_context(|| format!("generating {}", t.out.display()))?;
            eprintln!(
                "{}: {} classes ({} base), {:?} in {:.1}s",
                t.out.display(),
                s.classnames.len(),
                s.num_base,
                s.counts,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
