//! `vladapt world`: generate the procedural image–text world (pretraining set or a
//! classification task).
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use vladapt_world::{
    generate_grounding, generate_pretrain, generate_task, GroundingOptions, Style, TaskSpec,
    WorldOptions,
};

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
    /// Referring-expression grounding set: images/, train.jsonl, val.jsonl, test.jsonl
    /// ({"image", "expression", "box": [x1, y1, x2, y2]} per line, each expression naming exactly
    /// one object), scenes.jsonl, world.json.
    Grounding(GroundingArgs),
}

/// Arguments of `vladapt world grounding`.
#[derive(Args)]
struct GroundingArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of images (split into train / val / test).
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 128)]
    size: u32,
    /// Style: pretrain, outline, noisy, texture, palette, cast.
    #[arg(long, default_value = "pretrain")]
    style: String,
    /// Fewest objects per image (≥ 2).
    #[arg(long, default_value_t = 2)]
    min_objects: usize,
    /// Most objects per image (≤ 6).
    #[arg(long, default_value_t = 5)]
    max_objects: usize,
    /// Expressions per object (1..=4).
    #[arg(long, default_value_t = 1)]
    expressions_per_object: usize,
    /// Share of images in val.jsonl.
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Share of images in test.jsonl.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
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
        WorldCommand::Grounding(g) => {
            let opts = GroundingOptions {
                seed: g.seed,
                images: g.images,
                image_size: g.size,
                style: style(&g.style)?,
                min_objects: g.min_objects,
                max_objects: g.max_objects,
                expressions_per_object: g.expressions_per_object,
                val_fraction: g.val_fraction,
                test_fraction: g.test_fraction,
                ..GroundingOptions::default()
            };
            let s = generate_grounding(&g.out, &opts)
                .with_context(|| format!("generating {}", g.out.display()))?;
            eprintln!(
                "{}: images train/val/test {:?}, expressions {:?} (attribute/superlative/relational {:?}, {} with direction words) in {:.1}s",
                g.out.display(),
                s.images,
                s.expressions,
                s.kinds,
                s.with_direction_words,
                t0.elapsed().as_secs_f64()
            );
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
