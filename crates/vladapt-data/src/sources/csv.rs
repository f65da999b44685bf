//! `csv`: a list file with `path,label` or `path,classname` rows (header optional, optional `split` column).
use std::collections::BTreeSet;
use std::path::Path;

use super::common::{split_per_class, DEFAULT_SPLIT_SEED};
use super::DatasetSource;
use crate::error::DataError;
use crate::types::{Dataset, ImageRef, Sample, Split};

/// The CSV source; `root` is the CSV file. Paths are relative to the CSV's folder. Labels are either
/// integers (names from `classnames.txt` beside the CSV, one per line, else the numbers) or class
/// names (sorted, label = index). A third column `train`/`val`/`test` gives the split; without it a
/// seeded per-class 50/20/30 split is made.
#[derive(Debug, Clone, Copy)]
pub struct Csv;

/// Split one CSV line into fields, honouring double quotes (`""` inside quotes is a quote).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// Load a CSV list (see [`Csv`]).
pub fn load_csv(csv: &Path) -> Result<Dataset, DataError> {
    let text = std::fs::read_to_string(csv).map_err(|e| DataError::io("cannot read", csv, e))?;
    let base = csv.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut rows: Vec<(usize, Vec<String>)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, csv_fields(l.trim_end_matches('\r'))))
        .collect();
    let (mut c_path, mut c_label, mut c_split) = (0usize, 1usize, Some(2usize));
    if let Some((_, first)) = rows.first() {
        let lower: Vec<String> = first.iter().map(|f| f.to_lowercase()).collect();
        let is_header = lower.iter().any(|f| {
            [
                "path",
                "image",
                "file",
                "filename",
                "impath",
                "label",
                "class",
                "classname",
                "split",
            ]
            .contains(&f.as_str())
        });
        if is_header {
            let find = |names: &[&str]| lower.iter().position(|f| names.contains(&f.as_str()));
            c_path = find(&["path", "image", "file", "filename", "impath"]).unwrap_or(0);
            c_label = find(&["label", "class", "classname", "target"]).unwrap_or(1);
            c_split = find(&["split", "subset"]);
            rows.remove(0);
        }
    }
    if rows.is_empty() {
        return Err(DataError::format("CSV", csv, "no rows"));
    }
    let mut parsed = Vec::with_capacity(rows.len());
    for (line, f) in &rows {
        let get = |c: usize, what: &str| {
            f.get(c).filter(|s| !s.is_empty()).cloned().ok_or_else(|| {
                DataError::format("CSV", csv, format!("line {line}: missing {what} column"))
            })
        };
        let split = match c_split.and_then(|c| f.get(c)).map(|s| s.to_lowercase()) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) if ["train", "val", "test"].contains(&s.as_str()) => Some(s),
            Some(s) => {
                return Err(DataError::format(
                    "CSV",
                    csv,
                    format!("line {line}: split '{s}' is not train, val or test"),
                ))
            }
        };
        parsed.push((*line, get(c_path, "path")?, get(c_label, "label")?, split));
    }
    let numeric = parsed.iter().all(|(_, _, l, _)| l.parse::<usize>().is_ok());
    let (classnames, labels): (Vec<String>, Vec<usize>) = if numeric {
        let labels: Vec<usize> = parsed
            .iter()
            .map(|(_, _, l, _)| l.parse().unwrap_or(0))
            .collect();
        let n = labels
            .iter()
            .max()
            .map(|m| m.saturating_add(1))
            .unwrap_or(0);
        let names_file = base.join("classnames.txt");
        let names = if names_file.is_file() {
            let v: Vec<String> = crate::classlist::read_class_list(&names_file)?
                .into_iter()
                .map(|l| l.replace('_', " "))
                .collect();
            if v.len() < n {
                return Err(DataError::format(
                    "classnames.txt",
                    &names_file,
                    format!("{} names for {n} labels", v.len()),
                ));
            }
            v
        } else {
            // Without names, each label up to the largest becomes a class: refuse a label no row
            // count can justify (a typo such as 10000000000 would allocate that many names).
            if n > parsed.len() {
                return Err(DataError::format(
                    "CSV",
                    csv,
                    format!(
                        "label {} but only {} rows: numeric labels must be 0..number of classes (or add classnames.txt beside the CSV)",
                        n - 1,
                        parsed.len()
                    ),
                ));
            }
            (0..n).map(|i| i.to_string()).collect()
        };
        (names, labels)
    } else {
        let set: BTreeSet<&str> = parsed.iter().map(|(_, _, l, _)| l.as_str()).collect();
        let names: Vec<&str> = set.into_iter().collect();
        let labels = parsed
            .iter()
            .map(|(_, _, l, _)| names.iter().position(|n| n == l).unwrap_or(0))
            .collect();
        (names.iter().map(|n| n.replace('_', " ")).collect(), labels)
    };
    let has_split = parsed.iter().any(|p| p.3.is_some());
    let mut split = Split::default();
    let mut unsplit = Vec::new();
    for ((line, path, _, part), label) in parsed.into_iter().zip(labels) {
        let s = Sample {
            image: ImageRef::File(base.join(&path)),
            label,
        };
        match part.as_deref() {
            Some("train") => split.train.push(s),
            Some("val") => split.val.push(s),
            Some("test") => split.test.push(s),
            _ if has_split => {
                return Err(DataError::format(
                    "CSV",
                    csv,
                    format!("line {line}: empty split while other rows have one"),
                ))
            }
            _ => unsplit.push(s),
        }
    }
    if !has_split {
        split = split_per_class(unsplit, 0.5, 0.2, DEFAULT_SPLIT_SEED);
    }
    let name = csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".into());
    Ok(Dataset {
        name,
        classnames,
        template: "a photo of a {}.".into(),
        split,
        root: base,
    })
}

impl DatasetSource for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }
    fn layout(&self) -> &'static str {
        "a CSV file `path,label` or `path,classname` (optional header, optional third column train/val/test), paths relative to the CSV"
    }
    fn load(&self, root: &Path) -> Result<Dataset, DataError> {
        load_csv(root)
    }
}
