//! `vladapt data`: fetch, verify and list datasets.
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use vladapt_data::sources::SOURCES;
use vladapt_data::{fetch, fetch_names, load_dataset, verify, ImageLimits};

/// Arguments of `vladapt data`.
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download a small public dataset into ROOT/<name>/ (vladapt layout).
    Fetch(FetchArgs),
    /// Check a dataset: counts per class and split, missing and undecodable files.
    /// Grounding datasets: `--dataset grounding --root DIR|FILE.jsonl`, or a TransVG name
    /// (referit, unc, unc+, gref, gref_umd, flickr) with `--root data/` and `--image-root ln_data/`.
    /// Exits with status 1 when a problem is found.
    Verify(VerifyArgs),
    /// List the known dataset names, their expected layout and which ones `fetch` can download.
    List(ListArgs),
}

/// Arguments of `vladapt data fetch`.
#[derive(Args)]
struct FetchArgs {
    /// Dataset name (see `vladapt data list`).
    name: String,
    /// Data root; the dataset is written to ROOT/<name>/.
    #[arg(long)]
    root: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vladapt data verify`.
#[derive(Args)]
struct VerifyArgs {
    /// Dataset name (see `vladapt data list`).
    #[arg(long)]
    dataset: String,
    /// Data root (for imagefolder/csv/idx/vladapt: the dataset folder or file itself; for
    /// grounding: the JSONL file or folder; for TransVG names: the `data/` folder).
    #[arg(long)]
    root: PathBuf,
    /// Grounding only: image root (JSONL: instead of the file's folder; TransVG: the `ln_data/`
    /// folder, default: `ln_data` beside `--root`).
    #[arg(long)]
    image_root: Option<PathBuf>,
    /// TransVG datasets only: one split (default: every split file present).
    #[arg(long)]
    split: Option<String>,
    /// Only check that files exist; do not decode them.
    #[arg(long)]
    no_decode: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vladapt data list`.
#[derive(Args)]
struct ListArgs {
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `vladapt data …`.
pub fn run(a: DataArgs) -> Result<()> {
    match a.command {
        DataCommand::Fetch(f) => run_fetch(f),
        DataCommand::Verify(v) => run_verify(v),
        DataCommand::List(l) => run_list(l),
    }
}

fn run_fetch(a: FetchArgs) -> Result<()> {
    std::fs::create_dir_all(&a.root)
        .with_context(|| format!("{}: cannot create the data root", a.root.display()))?;
    let report = fetch(&a.name, &a.root, &super::packages::PackageManagers)?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

fn run_verify_grounding(a: &VerifyArgs) -> Result<Option<()>> {
    use vladapt_data::grounding::{verify_grounding_jsonl, verify_transvg, GroundingSplitKind};
    let report = if a.dataset == "grounding" {
        verify_grounding_jsonl(&a.root, a.image_root.as_deref())?
    } else if let Some(kind) = GroundingSplitKind::parse(&a.dataset) {
        let ln_data = match &a.image_root {
            Some(p) => p.clone(),
            None => a
                .root
                .parent()
                .map(|p| p.join("ln_data"))
                .unwrap_or_else(|| PathBuf::from("ln_data")),
        };
        verify_transvg(&a.root, &ln_data, kind, a.split.as_deref())?
    } else {
        return Ok(None);
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    if !report.is_ok() {
        let counts: Vec<String> = report
            .counts()
            .iter()
            .map(|(k, n)| format!("{n} × {}", k.describe()))
            .collect();
        bail!(
            "grounding dataset {} has problems: {}",
            report.dataset,
            counts.join(", ")
        );
    }
    Ok(Some(()))
}

fn run_verify(a: VerifyArgs) -> Result<()> {
    if run_verify_grounding(&a)?.is_some() {
        return Ok(());
    }
    let d = load_dataset(&a.dataset, &a.root)?;
    let report = verify(&d, &ImageLimits::default(), !a.no_decode);
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    if !report.is_ok() {
        bail!(
            "dataset {} has problems: {} missing, {} undecodable, {} with a bad label",
            report.dataset,
            report.missing.len(),
            report.undecodable.len(),
            report.bad_labels.len()
        );
    }
    Ok(())
}

fn run_list(a: ListArgs) -> Result<()> {
    let fetchable = fetch_names();
    if a.json {
        let v: Vec<_> = SOURCES
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name(),
                    "aliases": s.aliases(),
                    "fetchable": fetchable.contains(&s.name()),
                    "layout": s.layout(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let w = SOURCES.iter().map(|s| s.name().len()).max().unwrap_or(4);
    println!("{:<w$}  {:<5}  layout", "name", "fetch");
    for s in SOURCES {
        let fetch = if fetchable.contains(&s.name()) {
            "yes"
        } else {
            "-"
        };
        let aliases = if s.aliases().is_empty() {
            String::new()
        } else {
            format!(" (aliases: {})", s.aliases().join(", "))
        };
        println!("{:<w$}  {fetch:<5}  {}{aliases}", s.name(), s.layout());
    }
    println!(
        "\nfetchable with `vladapt data fetch NAME --root DIR`: {}",
        fetchable.join(", ")
    );
    Ok(())
}
