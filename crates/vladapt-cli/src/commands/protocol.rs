//! `vladapt protocol few-shot|base2novel|cross-dataset|domain-gen`.
use super::train::{load_verified, resolve_config, TrainOpts};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use vladapt::methods::MethodKind;
use vladapt::models::clip::ClipPipeline;
use vladapt::protocols::suite::{base2novel, few_shot_curve, transfer, SuiteOptions};
use vladapt::train::Protocol;

/// Protocol subcommands.
#[derive(Subcommand)]
pub enum ProtocolCmd {
    /// Few-shot curve: shots × seeds → mean ± std, PNG plot.
    FewShot(FewShotArgs),
    /// Base-to-novel table: methods × seeds → Base / Novel / HM.
    Base2novel(B2nArgs),
    /// Train on a source dataset, evaluate on target datasets.
    CrossDataset(TransferArgs),
    /// Train on ImageNet, evaluate on ImageNet-V2/Sketch/A/R.
    DomainGen(TransferArgs),
}

/// `protocol few-shot`.
#[derive(Args)]
pub struct FewShotArgs {
    #[command(flatten)]
    opts: TrainOpts,
    /// Method.
    #[arg(long, default_value = "coop")]
    method: String,
    /// Shot counts.
    #[arg(
        long = "shot-list",
        value_delimiter = ',',
        default_value = "1,2,4,8,16"
    )]
    shot_list: Vec<usize>,
    /// Seeds.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    seeds: Vec<u64>,
    /// Output directory.
    #[arg(long)]
    output: PathBuf,
}

/// `protocol base2novel`.
#[derive(Args)]
pub struct B2nArgs {
    #[command(flatten)]
    opts: TrainOpts,
    /// Methods (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "zeroshot,coop,cocoop,clip-adapter,maple,mma"
    )]
    methods: Vec<String>,
    /// Seeds.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    seeds: Vec<u64>,
    /// Output directory.
    #[arg(long)]
    output: PathBuf,
}

/// `protocol cross-dataset` / `domain-gen`.
#[derive(Args)]
pub struct TransferArgs {
    #[command(flatten)]
    opts: TrainOpts,
    /// Method.
    #[arg(long)]
    method: String,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Target datasets `NAME` (under --root) or `NAME=ROOT` (comma-separated). Domain-gen
    /// defaults to imagenet-v2, imagenet-sketch, imagenet-a, imagenet-r.
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// Output directory.
    #[arg(long)]
    output: PathBuf,
}

/// Suite options of a protocol command writing into `output`.
fn suite<'a>(output: &'a std::path::Path, o: &TrainOpts) -> SuiteOptions<'a> {
    SuiteOptions {
        output,
        max_test: o.max_test,
        allow_fewer: o.allow_fewer,
        progress: true,
    }
}

/// The library error inside `e` when it is one with no added context (so that callers keep the
/// typed variant), else an [`Argument`](vladapt::VladaptError::Argument) error with the whole chain.
fn library_error(e: anyhow::Error) -> vladapt::VladaptError {
    if e.chain().count() == 1 {
        match e.downcast::<vladapt::VladaptError>() {
            Ok(v) => v,
            Err(e) => vladapt::VladaptError::argument("run configuration", format!("{e:#}")),
        }
    } else {
        vladapt::VladaptError::argument("run configuration", format!("{e:#}"))
    }
}

/// Run a protocol.
pub fn run(cmd: ProtocolCmd) -> Result<()> {
    match cmd {
        ProtocolCmd::FewShot(a) => {
            let kind = MethodKind::parse(&a.method)?;
            let ds = load_verified(&a.opts.dataset, &a.opts.root)?;
            let pipe = ClipPipeline::load(&a.opts.model, &super::device(&a.opts.device)?)?;
            let o = suite(&a.output, &a.opts);
            let opts = a.opts.clone();
            let cfg = move |m: MethodKind, k: usize, s: u64| -> vladapt::Result<_> {
                let mut t = opts.clone();
                t.shots = k;
                resolve_config(&t, m, Protocol::FewShot, s).map_err(library_error)
            };
            let curve = few_shot_curve(&pipe, &ds, kind, &a.shot_list, &a.seeds, &cfg, &o)?;
            for (k, m, s) in curve {
                println!("{k:>3} shots: {m:.2} ± {s:.2}");
            }
            println!("results: {}", a.output.join("results.md").display());
        }
        ProtocolCmd::Base2novel(a) => {
            let kinds = a
                .methods
                .iter()
                .map(|m| MethodKind::parse(m))
                .collect::<vladapt::Result<Vec<_>>>()?;
            let ds = load_verified(&a.opts.dataset, &a.opts.root)?;
            let pipe = ClipPipeline::load(&a.opts.model, &super::device(&a.opts.device)?)?;
            let o = suite(&a.output, &a.opts);
            let opts = a.opts.clone();
            let cfg = move |m: MethodKind, s: u64| -> vladapt::Result<_> {
                resolve_config(&opts, m, Protocol::Base2novel, s).map_err(library_error)
            };
            base2novel(&pipe, &ds, &kinds, &a.seeds, &cfg, &o)?;
            print!("{}", std::fs::read_to_string(a.output.join("results.md"))?);
        }
        ProtocolCmd::CrossDataset(a) | ProtocolCmd::DomainGen(a) => {
            let kind = MethodKind::parse(&a.method)?;
            let targets = if a.targets.is_empty() {
                vec![
                    "imagenet-v2".into(),
                    "imagenet-sketch".into(),
                    "imagenet-a".into(),
                    "imagenet-r".into(),
                ]
            } else {
                a.targets.clone()
            };
            if targets.is_empty() {
                bail!("--targets is empty");
            }
            let src = load_verified(&a.opts.dataset, &a.opts.root)?;
            let tds = targets
                .iter()
                .map(|t| match t.split_once('=') {
                    Some((n, r)) => load_verified(n, std::path::Path::new(r)),
                    None => load_verified(t, &a.opts.root),
                })
                .collect::<Result<Vec<_>>>()?;
            let pipe = ClipPipeline::load(&a.opts.model, &super::device(&a.opts.device)?)?;
            let cfg = resolve_config(&a.opts, kind, Protocol::FewShot, a.seed)?;
            let o = suite(&a.output, &a.opts);
            for (n, acc) in transfer(&pipe, &src, &tds, cfg, &o)? {
                println!("{n:>24}: {acc:.2}%");
            }
        }
    }
    Ok(())
}
