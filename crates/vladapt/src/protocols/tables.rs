//! Aggregation of run results into the papers' tables (markdown) and plots.
use super::run::RunResult;
use crate::methods::MethodKind;
use serde::Serialize;
use vladapt_data::metrics::{harmonic_mean, mean_std};

/// One row of a base-to-novel table (mean over seeds).
#[derive(Debug, Clone, Serialize)]
pub struct B2nRow {
    /// Method.
    pub method: MethodKind,
    /// Mean base accuracy.
    pub base: f64,
    /// Std of base accuracy over seeds.
    pub base_std: f64,
    /// Mean novel accuracy (`None`: not applicable).
    pub novel: Option<f64>,
    /// Std of novel accuracy.
    pub novel_std: Option<f64>,
    /// HM of the seed-averaged base and novel (as the papers compute it).
    pub hm: Option<f64>,
    /// Seeds aggregated.
    pub seeds: usize,
    /// Mean training seconds.
    pub train_seconds: f64,
}

/// Aggregate results of one method over seeds.
pub fn b2n_row(method: MethodKind, runs: &[RunResult]) -> B2nRow {
    let base: Vec<f64> = runs.iter().map(|r| r.base.accuracy).collect();
    let (b, bs) = mean_std(&base);
    let novel: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.novel.as_ref().map(|n| n.accuracy))
        .collect();
    let (novel, novel_std) = if novel.len() == runs.len() && !novel.is_empty() {
        let (m, s) = mean_std(&novel);
        (Some(m), Some(s))
    } else {
        (None, None)
    };
    let t = runs.iter().map(|r| r.train_seconds).sum::<f64>() / runs.len().max(1) as f64;
    B2nRow {
        method,
        base: b,
        base_std: bs,
        novel,
        novel_std,
        hm: novel.map(|n| harmonic_mean(b, n)),
        seeds: runs.len(),
        train_seconds: t,
    }
}

/// A markdown table laid out like the papers: Method | Base | Novel | HM.
pub fn b2n_markdown(title: &str, rows: &[B2nRow]) -> String {
    let mut s = format!("### {title}\n\n| Method | Base | Novel | HM | seeds | train s |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let f = |v: Option<f64>, sd: Option<f64>| match (v, sd) {
            (Some(v), Some(sd)) => format!("{v:.2} ± {sd:.2}"),
            (Some(v), None) => format!("{v:.2}"),
            _ => "n/a".into(),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.0} |\n",
            r.method,
            f(Some(r.base), Some(r.base_std)),
            f(r.novel, r.novel_std),
            f(r.hm, None),
            r.seeds,
            r.train_seconds
        );
    }
    s
}
