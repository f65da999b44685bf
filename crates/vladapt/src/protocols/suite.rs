//! Multi-run protocols: base-to-novel tables, few-shot curves, cross-dataset transfer and
//! domain generalisation. Each writes `results.json`, `results.md` and plots into its output
//! directory; sub-runs already finished are skipped.
use super::run::{run_dir, run_one, RunResult, RunSpec};
use super::tables::{b2n_markdown, b2n_row, B2nRow};
use crate::methods::{ClassSet, MethodKind};
use crate::models::clip::ClipPipeline;
use crate::tensor_io::write_atomic;
use crate::train::run_dir::load_adapter;
use crate::train::{evaluate, RunConfig};
use crate::Result;
use std::path::Path;
use vladapt_data::metrics::mean_std;
use vladapt_data::Dataset;

/// Shared options of the suites.
pub struct SuiteOptions<'a> {
    /// Output directory.
    pub output: &'a Path,
    /// Cap on test images per evaluation.
    pub max_test: Option<usize>,
    /// Allow classes with fewer images than K.
    pub allow_fewer: bool,
    /// Progress bars.
    pub progress: bool,
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    crate::io::write_json_atomic(path, v)
}

/// Base-to-novel: every method × seed on `dataset`; table of Base / Novel / HM (mean over seeds).
pub fn base2novel(
    pipe: &ClipPipeline,
    dataset: &Dataset,
    methods: &[MethodKind],
    seeds: &[u64],
    config: &dyn Fn(MethodKind, u64) -> Result<RunConfig>,
    o: &SuiteOptions<'_>,
) -> Result<Vec<B2nRow>> {
    let mut rows = Vec::new();
    let mut all: Vec<RunResult> = Vec::new();
    for &m in methods {
        let mut runs = Vec::new();
        for &seed in seeds {
            let cfg = config(m, seed)?;
            let spec = RunSpec {
                output: run_dir(o.output, m, cfg.shots, seed),
                config: cfg,
                split_file: None,
                allow_fewer: o.allow_fewer,
                max_test: o.max_test,
                progress: o.progress,
            };
            runs.push(run_one(pipe, dataset, &spec)?);
        }
        rows.push(b2n_row(m, &runs));
        all.extend(runs);
        // Rewrite the table after every method so an interrupted suite still shows progress.
        let md = b2n_markdown(
            &format!(
                "Base-to-novel on {} ({} shots, seeds {:?})",
                dataset.name, all[0].shots, seeds
            ),
            &rows,
        );
        write_atomic(&o.output.join("results.md"), md.as_bytes())?;
        write_json(
            &o.output.join("results.json"),
            &serde_json::json!({"rows": rows, "runs": all}),
        )?;
    }
    Ok(rows)
}

/// Few-shot curve of one method: accuracy (mean ± std over seeds) per shot count, plus a PNG.
pub fn few_shot_curve(
    pipe: &ClipPipeline,
    dataset: &Dataset,
    method: MethodKind,
    shots: &[usize],
    seeds: &[u64],
    config: &dyn Fn(MethodKind, usize, u64) -> Result<RunConfig>,
    o: &SuiteOptions<'_>,
) -> Result<Vec<(usize, f64, f64)>> {
    let mut curve = Vec::new();
    let mut md = format!(
        "### Few-shot {} on {}\n\n| shots | accuracy | std | seeds |\n|---|---|---|---|\n",
        method, dataset.name
    );
    for &k in shots {
        let mut accs = Vec::new();
        for &seed in seeds {
            let cfg = config(method, k, seed)?;
            let spec = RunSpec {
                output: run_dir(o.output, method, k, seed),
                config: cfg,
                split_file: None,
                allow_fewer: o.allow_fewer,
                max_test: o.max_test,
                progress: o.progress,
            };
            accs.push(run_one(pipe, dataset, &spec)?.base.accuracy);
        }
        let (m, s) = mean_std(&accs);
        md += &format!("| {k} | {m:.2} | {s:.2} | {} |\n", accs.len());
        curve.push((k, m, s));
        write_atomic(&o.output.join("results.md"), md.as_bytes())?;
        write_json(&o.output.join("results.json"), &curve)?;
    }
    let series = vec![(
        method.to_string(),
        curve.iter().map(|&(k, m, _)| (k as f64, m)).collect(),
    )];
    let png = o.output.join("few_shot.png");
    vladapt_plot::write_png_and_svg(&png, |p| {
        vladapt_plot::line_plot(
            p,
            &format!("few-shot {} on {}", method, dataset.name),
            &series,
            "shots",
            "accuracy %",
        )
    })?;
    Ok(curve)
}

/// Cross-dataset transfer / domain generalisation: train on `source` (all classes), then
/// evaluate the same weights on each target with the target's classes.
pub fn transfer(
    pipe: &ClipPipeline,
    source: &Dataset,
    targets: &[Dataset],
    cfg: RunConfig,
    o: &SuiteOptions<'_>,
) -> Result<Vec<(String, f64)>> {
    let dir = run_dir(o.output, cfg.method.kind(), cfg.shots, cfg.seed);
    let spec = RunSpec {
        output: dir.clone(),
        config: cfg,
        split_file: None,
        allow_fewer: o.allow_fewer,
        max_test: o.max_test,
        progress: o.progress,
    };
    let src = run_one(pipe, source, &spec)?;
    let mut out = vec![(source.name.clone(), src.base.accuracy)];
    let (mut method, _) = load_adapter(&dir, pipe)?;
    for t in targets {
        method.set_classes(&ClassSet {
            clip: &pipe.model,
            tokenizer: &pipe.tokenizer,
            classnames: &t.classnames,
            template: &t.template,
        })?;
        method.freeze_for_inference(&pipe.model)?;
        let test: Vec<_> = match o.max_test {
            Some(m) if t.split.test.len() > m => t
                .split
                .test
                .iter()
                .step_by(t.split.test.len() / m)
                .take(m)
                .cloned()
                .collect(),
            _ => t.split.test.clone(),
        };
        let r = evaluate(method.as_ref(), pipe, &test, &t.classnames, 100, o.progress)?;
        out.push((t.name.clone(), r.accuracy));
    }
    let targets_mean = if out.len() > 1 {
        out[1..].iter().map(|x| x.1).sum::<f64>() / (out.len() - 1) as f64
    } else {
        f64::NAN
    };
    let mut md = format!(
        "### Transfer from {} ({})\n\n| dataset | accuracy |\n|---|---|\n",
        source.name, src.method
    );
    for (n, a) in &out {
        md += &format!("| {n} | {a:.2} |\n");
    }
    md += &format!("| **targets mean** | {targets_mean:.2} |\n");
    write_atomic(&o.output.join("results.md"), md.as_bytes())?;
    write_json(
        &o.output.join("results.json"),
        &serde_json::json!({"source": source.name, "results": out, "targets_mean": targets_mean}),
    )?;
    Ok(out)
}
