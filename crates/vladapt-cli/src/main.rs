//! `vladapt` — adapt CLIP to your task from a handful of labelled examples.
use clap::{Parser, Subcommand};

mod commands;

/// Command-line interface of vladapt.
#[derive(Parser)]
#[command(
    name = "vladapt",
    version,
    about = "Few-shot adaptation of CLIP (CoOp, CoCoOp, CLIP-Adapter, MaPLe, MMA) in Rust"
)]
struct Cli {
    /// Log filter (e.g. info, debug); logs go to stderr.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print L2-normalised CLIP embeddings of texts and images as one JSON object.
    Embed(commands::embed::EmbedArgs),
    /// Zero-shot classification of images with prompt ensembling.
    Classify(commands::classify::ClassifyArgs),
    /// Train a method few-shot and evaluate it (few-shot or base-to-novel protocol).
    Train(commands::train::TrainArgs),
    /// Evaluate a trained run on a dataset.
    Eval(commands::train::EvalArgs),
    /// Predict classes of images with a trained run.
    Predict(commands::train::PredictArgs),
    /// One forward/backward pass writing logits, loss and gradients (parity checks).
    InspectStep(commands::train::InspectArgs),
    /// Run an evaluation protocol over methods/shots/seeds.
    #[command(subcommand)]
    Protocol(commands::protocol::ProtocolCmd),
    /// Generate the procedural image–text world (pretraining set or classification task).
    World(commands::world::WorldArgs),
    /// Contrastive CLIP pretraining from scratch on image–caption pairs.
    Pretrain(commands::pretrain::PretrainArgs),
    /// Offline end-to-end demo: world → pretrain a tiny CLIP → base-to-novel table
    /// (`demo grounding`: TransVG vs MMCA and its ablations on referring expressions).
    Demo(commands::demo::DemoArgs),
    /// Datasets: fetch, verify, list.
    Data(commands::data::DataArgs),
    /// Benchmarks against the PyTorch reference.
    Bench(commands::bench::BenchArgs),
    /// HTTP server with a web page: classify uploaded images (trained run or zero-shot).
    Serve(commands::serve::ServeArgs),
    /// Embed a whole dataset or manifest to Parquet: sharded, resumable, then merge and verify.
    EmbedDataset(commands::embed_dataset::EmbedDatasetArgs),
    /// Merge the per-shard results of `vladapt eval --shard i/N` into the whole evaluation.
    EvalMerge(commands::train::EvalMergeArgs),
    /// Convert a PyTorch checkpoint (.pth) to safetensors without running its pickle.
    Convert(commands::convert::ConvertArgs),
    /// Visual grounding (TransVG): predict the box a referring expression points at.
    Ground(commands::ground::GroundArgs),
}

fn main() {
    vladapt::device::tune_cpu_allocator();
    let cli = Cli::parse();
    vladapt::train::progress::set_sink(Box::new(commands::progress_bars::TerminalBars));
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let result = match cli.command {
        Command::Embed(a) => commands::embed::run(a),
        Command::Classify(a) => commands::classify::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Eval(a) => commands::train::eval(a),
        Command::Predict(a) => commands::train::predict(a),
        Command::InspectStep(a) => commands::train::inspect(a),
        Command::Protocol(c) => commands::protocol::run(c),
        Command::World(a) => commands::world::run(a),
        Command::Pretrain(a) => commands::pretrain::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Data(a) => commands::data::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::EmbedDataset(a) => commands::embed_dataset::run(a),
        Command::EvalMerge(a) => commands::train::eval_merge(a),
        Command::Convert(a) => commands::convert::run(a),
        Command::Ground(a) => commands::ground::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", render_error(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, each cause once: library errors already embed their
/// source in their message (`{path}: {source}`), so a cause whose text is already there is not
/// repeated ("No such file or directory (os error 2)" printed twice otherwise).
fn render_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}
