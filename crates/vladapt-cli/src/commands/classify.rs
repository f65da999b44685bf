//! `vladapt classify`: zero-shot classification with prompt ensembling.
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use vladapt::models::clip::{l2_normalize, ClipPipeline, NoHook};
use vladapt::tensor::activation::softmax;
use vladapt::tensor_io::to_vec_f32;
use vladapt_data::classlist;

/// Arguments of `vladapt classify`.
#[derive(Args)]
pub struct ClassifyArgs {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// Comma-separated class names.
    #[arg(long, conflicts_with = "classes_file")]
    classes: Option<String>,
    /// File with one class name per line.
    #[arg(long)]
    classes_file: Option<PathBuf>,
    /// Prompt template(s) with `{}` for the class name (repeatable; ensembled).
    #[arg(long = "template")]
    templates: Vec<String>,
    /// Number of classes to print per image.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Device: cpu (Flex), tch, tch-cuda, cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images to classify.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// Read class names from `--classes` or `--classes-file` with the one class-list reader
/// ([`vladapt_data::classlist`]: BOM, CRLF, gaps, empty lists and duplicates handled alike).
pub fn read_classes(classes: &Option<String>, file: &Option<PathBuf>) -> Result<Vec<String>> {
    Ok(match (classes, file) {
        (Some(c), _) => classlist::parse_class_csv(c, "--classes")?,
        (None, Some(f)) => classlist::read_class_list(f)?,
        (None, None) => bail!("give the classes with --classes \"a,b,c\" or --classes-file FILE"),
    })
}

/// Run `vladapt classify`.
pub fn run(a: ClassifyArgs) -> Result<()> {
    let classes = read_classes(&a.classes, &a.classes_file)?;
    let templates = if a.templates.is_empty() {
        vec!["a photo of a {}.".to_string()]
    } else {
        a.templates.clone()
    };
    let device = super::device(&a.device)?;
    let p = ClipPipeline::load(&a.model, &device)?;
    let weights = p.zero_shot_weights(&classes, &templates)?;
    let mut probs = Vec::new();
    let mut good = Vec::new();
    let mut failed = Vec::new();
    for chunk in a.images.chunks(a.batch_size.max(1)) {
        let (chw, paths) = load_each(&p, chunk, &mut failed);
        if chw.is_empty() {
            continue;
        }
        let px = p.pixels_from_chw(chw);
        let f = l2_normalize(p.model.encode_image(px, &NoHook)?);
        probs.extend(to_vec_f32(&softmax(
            f.matmul(weights.clone().transpose())
                .mul_scalar(p.model.scale()),
            1,
        )));
        good.extend(paths);
    }
    print_top_k(&good, &probs, &classes, a.top_k, a.json);
    report_failures(&failed, a.images.len())
}

/// Decode and preprocess each image of `paths` on its own; the ones that fail go to `failed`
/// (path, message) and the others are returned with their paths, in order.
pub fn load_each(
    p: &ClipPipeline,
    paths: &[PathBuf],
    failed: &mut Vec<(PathBuf, String)>,
) -> (Vec<Vec<f32>>, Vec<PathBuf>) {
    use rayon::prelude::*;
    let results: Vec<_> = paths
        .par_iter()
        .map(|path| p.preprocess.load(path, &p.limits))
        .collect();
    let mut chw = Vec::new();
    let mut ok = Vec::new();
    for (path, r) in paths.iter().zip(results) {
        match r {
            Ok(v) => {
                chw.push(v);
                ok.push(path.clone());
            }
            Err(e) => failed.push((path.clone(), e.to_string())),
        }
    }
    (chw, ok)
}

/// Print one line per failed image to stderr; an error (exit 1) if any failed.
pub fn report_failures(failed: &[(PathBuf, String)], total: usize) -> Result<()> {
    for (_, msg) in failed {
        eprintln!("error: {msg}");
    }
    if !failed.is_empty() {
        bail!(
            "{} of {total} images could not be read (the others were answered above)",
            failed.len()
        );
    }
    Ok(())
}

/// Indices of the `k` largest values of `row` (clamped to 1..=len), largest first.
pub fn top_k(row: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&i, &j| row[j].total_cmp(&row[i]));
    idx.truncate(k.clamp(1, row.len().max(1)));
    idx
}

/// Print the `k` most probable classes of each image (`probs` row-major `[images, classes]`),
/// as text or as one JSON array.
pub fn print_top_k(images: &[PathBuf], probs: &[f32], classes: &[String], k: usize, json: bool) {
    let c = classes.len();
    let results: Vec<(&PathBuf, Vec<(&String, f32)>)> = images
        .iter()
        .zip(probs.chunks(c.max(1)))
        .map(|(path, row)| {
            (
                path,
                top_k(row, k)
                    .iter()
                    .map(|&i| (&classes[i], row[i]))
                    .collect(),
            )
        })
        .collect();
    if json {
        let v: Vec<_> = results
            .iter()
            .map(|(p, top)| serde_json::json!({"image": p, "predictions": top.iter().map(|(c, s)| serde_json::json!({"class": c, "probability": s})).collect::<Vec<_>>()}))
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (p, top) in results {
            println!("{}", p.display());
            for (c, s) in top {
                println!("  {:6.2}%  {c}", s * 100.0);
            }
        }
    }
}

#[cfg(test)]
mod class_list_tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classes_from_a_file_and_from_the_command_line_share_one_policy() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("classes.txt");
        std::fs::write(&f, "\u{feff}cat\r\ndog\r\n\r\n").unwrap();
        assert_eq!(
            read_classes(&None, &Some(f.clone())).unwrap(),
            v(&["cat", "dog"])
        );
        std::fs::write(&f, "cat\ndog\ncat\n").unwrap();
        let e = read_classes(&None, &Some(f.clone()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"cat\"") && e.contains("lines 1 and 3"), "{e}");
        assert!(e.contains("classes.txt"), "{e}");
        let e = read_classes(&Some("cat, dog,cat".into()), &None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--classes") && e.contains("entries 1 and 3"),
            "{e}"
        );
    }
}
