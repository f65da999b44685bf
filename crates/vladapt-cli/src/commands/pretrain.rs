//! `vladapt pretrain`: contrastive CLIP pretraining from scratch on image–caption pairs.
use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;
use vladapt::pretrain::{model_preset, pretrain, read_model_config, Event, PretrainConfig};

/// Arguments of `vladapt pretrain`.
#[derive(Args)]
pub struct PretrainArgs {
    /// World directory (with captions.csv) or a CSV file with `image,caption` columns.
    #[arg(long)]
    data: PathBuf,
    /// Run directory (checkpoint/, metrics.jsonl, log.txt, loss.png, model/).
    #[arg(long)]
    output: PathBuf,
    /// Model size preset: tiny, small.
    #[arg(long, default_value = "tiny", conflicts_with = "config")]
    preset: String,
    /// Model config JSON (vladapt ClipConfig or a Hugging Face CLIP config.json).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size (pairs per contrastive batch).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Warm-up steps.
    #[arg(long)]
    warmup_steps: Option<usize>,
    /// Decoupled weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Light augmentation (random-resized crop 0.7–1, no flip).
    #[arg(long)]
    augment: bool,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many epochs (continue later with --resume).
    #[arg(long)]
    stop_after_epochs: Option<usize>,
    /// Continue from OUTPUT/checkpoint.
    #[arg(long)]
    resume: bool,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run `vladapt pretrain`.
pub fn run(a: PretrainArgs) -> Result<()> {
    let model = match &a.config {
        Some(p) => read_model_config(p)?,
        None => model_preset(&a.preset)?,
    };
    let d = PretrainConfig::default();
    let train = PretrainConfig {
        epochs: a.epochs.unwrap_or(d.epochs),
        batch_size: a.batch_size.unwrap_or(d.batch_size),
        lr: a.lr.unwrap_or(d.lr),
        warmup_steps: a.warmup_steps.unwrap_or(d.warmup_steps),
        weight_decay: a.weight_decay.unwrap_or(d.weight_decay),
        augment: a.augment,
        seed: a.seed.unwrap_or(d.seed),
        stop_after_epochs: a.stop_after_epochs,
        ..d
    };
    let device = super::device(&a.device)?;
    let t0 = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut on_event = |e: &Event| match e {
        Event::Start {
            images,
            captions,
            total_steps,
            start_step,
            steps_per_epoch,
        } => {
            eprintln!(
                "{images} images, {captions} captions; {steps_per_epoch} steps/epoch, \
                 {total_steps} steps"
            );
            let pb = ProgressBar::new(*total_steps as u64);
            pb.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            pb.set_position(*start_step as u64);
            pb.reset_eta();
            bar = Some(pb);
        }
        Event::Step {
            epoch,
            loss,
            lr,
            logit_scale,
            ..
        } => {
            if let Some(pb) = &bar {
                pb.set_message(format!(
                    "epoch {} loss {loss:.4} lr {lr:.2e} scale {:.1}",
                    epoch + 1,
                    logit_scale.exp()
                ));
                pb.inc(1);
            }
        }
        Event::Epoch { epoch, mean_loss } => {
            if let Some(pb) = &bar {
                pb.println(format!(
                    "epoch {}: mean loss {mean_loss:.4} (checkpoint saved)",
                    epoch + 1
                ));
            }
        }
    };
    let out = pretrain(
        &model,
        &train,
        &a.data,
        &a.output,
        a.resume,
        &device,
        &mut on_event,
    );
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let out = out?;
    eprintln!(
        "{} epochs, {} steps in {:.1}s; loss {:.4} → {:.4}; logit scale {:.1}",
        out.epochs,
        out.steps,
        t0.elapsed().as_secs_f64(),
        out.first_epoch_loss,
        out.last_epoch_loss,
        out.logit_scale.exp()
    );
    match out.model_dir {
        Some(d) => eprintln!("model: {}", d.display()),
        None if a.stop_after_epochs.is_some() => {
            eprintln!("stopped early; continue with --resume")
        }
        None => bail!("training ended without a model"),
    }
    Ok(())
}
