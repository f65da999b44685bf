//! `vladapt ground`: visual grounding with TransVG — `predict` a box for a referring expression,
//! `init` a model directory with random weights (the `tiny` demo preset or a full-size shape),
//! `train` and `eval` (in `ground_train.rs`).
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use image::Rgb;
use std::path::{Path, PathBuf};
use vladapt::methods::grounding::GroundingMethodConfig;
use vladapt::models::grounding::pipeline::{write_random_model, GroundingPipeline};
use vladapt::models::grounding::{GroundingConfig, PRESETS};
use vladapt::train::grounding::{check_run_dir, load_trained, read_method};

/// Arguments of `vladapt ground`.
#[derive(Args)]
pub struct GroundArgs {
    #[command(subcommand)]
    cmd: GroundCmd,
}

#[derive(Subcommand)]
enum GroundCmd {
    /// Predict the box a referring expression points at; prints it in image pixels.
    Predict(PredictArgs),
    /// Write a model directory with seeded random weights for a preset.
    Init(InitArgs),
    /// Train a grounding method (TransVG, MMCA variants) with an official or the tiny recipe.
    Train(super::ground_train::TrainArgs),
    /// Evaluate a model directory per split: Acc@0.5, mean IoU, table, JSON, PNG sheet.
    Eval(super::ground_train::EvalArgs),
    /// One forward/backward (TransVG or MMCA) on given images, expressions and boxes, written
    /// to safetensors: boxes, L1/GIoU/total loss, every gradient, the visual-encoder output.
    InspectStep(super::ground_inspect::InspectStepArgs),
    /// Merge the result files of `ground eval --shard i/N` into the single-process table and
    /// JSON (checks every shard is there once, with the same model, splits and batch size).
    EvalMerge(super::ground_shard::MergeArgs),
}

#[derive(Args)]
struct PredictArgs {
    /// Model directory (grounding_config.json, model.safetensors, vocab.txt) or a finished
    /// `vladapt ground train` run directory (TransVG or an MMCA variant).
    #[arg(long)]
    model: PathBuf,
    /// Image file.
    #[arg(long)]
    image: PathBuf,
    /// Referring expression ("the man in the red shirt on the left").
    #[arg(long)]
    text: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Write a copy of the image with the box drawn (PNG/JPEG by extension).
    #[arg(long)]
    draw: Option<PathBuf>,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
struct InitArgs {
    /// Preset: transvg-r50, transvg-r101, tiny.
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Run `vladapt ground`.
pub fn run(a: GroundArgs) -> Result<()> {
    match a.cmd {
        GroundCmd::Predict(p) => predict(p),
        GroundCmd::Init(i) => init(i),
        GroundCmd::Train(t) => super::ground_train::train(t),
        GroundCmd::Eval(e) => super::ground_train::eval(e),
        GroundCmd::InspectStep(i) => super::ground_inspect::run(i),
        GroundCmd::EvalMerge(m) => super::ground_shard::merge(m),
    }
}

fn init(a: InitArgs) -> Result<()> {
    let cfg = GroundingConfig::preset(&a.preset)
        .with_context(|| format!("--preset (known: {})", PRESETS.join(", ")))?;
    write_random_model(&a.out, &cfg, None, a.seed)?;
    eprintln!("wrote a random {} model to {}", a.preset, a.out.display());
    Ok(())
}

fn predict(a: PredictArgs) -> Result<()> {
    let device = super::device(&a.device)?;
    if a.text.trim().is_empty() {
        bail!("--text: the expression is empty");
    }
    let img = vladapt_image::load_rgb(&a.image, &vladapt_image::ImageLimits::default())
        .with_context(|| format!("--image {}", a.image.display()))?;
    // A plain TransVG model directory is loaded strictly (every tensor of the file must be
    // read); a `ground train` run directory is checked as a run, and an MMCA one runs with its
    // adapters.
    check_run_dir(&a.model).with_context(|| format!("--model {}", a.model.display()))?;
    let method = read_method(&a.model).with_context(|| format!("--model {}", a.model.display()))?;
    let (p, max) = match method {
        GroundingMethodConfig::Transvg => {
            let pipe = GroundingPipeline::load(&a.model, &device)?;
            (
                pipe.predict(&img, &a.text)?,
                pipe.model.config.max_query_len,
            )
        }
        GroundingMethodConfig::Mmca(_) => {
            let t = load_trained(&a.model, &device)
                .with_context(|| format!("--model {}", a.model.display()))?;
            let max = t.method.model_config.max_query_len;
            (t.predict(&img, &a.text, &device)?, max)
        }
    };
    if p.truncated {
        eprintln!(
            "note: the expression has more than {} word pieces; it was truncated to the first {} (as BERT does with max_query_len {max})",
            max - 2,
            p.pieces
        );
    }
    let [x1, y1, x2, y2] = p.box_pixels;
    if a.json {
        let v = serde_json::json!({
            "image": a.image,
            "text": a.text,
            "box_xyxy": [x1, y1, x2, y2],
            "box_canvas_cxcywh": p.box_canvas,
            "image_size": [p.letterbox.original.0, p.letterbox.original.1],
            "truncated": p.truncated,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{x1:.1} {y1:.1} {x2:.1} {y2:.1}");
    }
    if let Some(out) = &a.draw {
        draw_box(img, p.box_pixels, out)?;
    }
    Ok(())
}

/// Draw a red rectangle outline (3 px, clipped to the image) and save atomically.
fn draw_box(mut img: image::RgbImage, b: [f32; 4], out: &Path) -> Result<()> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let t = 3.max(w.min(h) / 200);
    let [x1, y1, x2, y2] = b.map(|v| v.round() as i64);
    let red = Rgb([255u8, 0, 0]);
    for y in y1.max(0)..=y2.min(h - 1) {
        for x in x1.max(0)..=x2.min(w - 1) {
            let edge = x - x1 < t || x2 - x < t || y - y1 < t || y2 - y < t;
            if edge {
                img.put_pixel(x as u32, y as u32, red);
            }
        }
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("png");
    let tmp = out.with_extension(format!("tmp.{ext}"));
    img.save(&tmp)
        .with_context(|| format!("--draw {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("--draw {}", out.display()))?;
    Ok(())
}
