//! `vladapt bench …`: speed and memory targets, each measured side by side with its reference in
//! the same run (one file per benchmark; the PyTorch orchestration they share is `reference`).
mod dataset;
mod embed;
mod ground;
mod measure;
mod reference;
mod serve;
mod train;
mod train_ground;

use anyhow::Result;
use clap::{Args, Subcommand};

/// Also used by `embed-dataset run` for its memory report.
pub(crate) use measure::peak_rss_mb;

/// Arguments of `vladapt bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Image and text embedding throughput (images/s, texts/s) and peak RSS, compared with PyTorch.
    Embed(embed::EmbedBenchArgs),
    /// One training step (median ms) and one epoch (s) of a method, compared with the
    /// official-style PyTorch step.
    Train(train::TrainBenchArgs),
    /// `vladapt serve` under load vs offline predict: throughput with concurrent clients, p99,
    /// memory with many CoOp adapters, mixed-adapter traffic, robustness load.
    Serve(serve::ServeBenchArgs),
    /// `embed-dataset run` images/s vs the model alone, N shards vs 1, peak RSS vs dataset size.
    EmbedDataset(dataset::EmbedDatasetBenchArgs),
    /// TransVG grounding forward (images/s at 640²) and peak RSS, compared with PyTorch.
    Ground(ground::GroundBenchArgs),
}

/// Run `vladapt bench …`.
pub fn run(a: BenchArgs) -> Result<()> {
    match a.command {
        BenchCommand::Embed(e) => embed::run(e),
        BenchCommand::Train(t) => train::run(t),
        BenchCommand::Serve(s) => serve::run(s),
        BenchCommand::EmbedDataset(d) => dataset::run(d),
        BenchCommand::Ground(g) => ground::run(g),
    }
}
