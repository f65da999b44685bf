//! Writer of the image–caption pretraining set.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::WorldError;
use crate::output::{
    create_dir, csv_field, image_rng, render_and_write, write_file, write_json, write_jsonl,
};
use crate::records::ImageRecord;
use crate::scene::{sample_scene, WorldOptions};
use crate::vocab::{Colour, Relation, Shape};

/// Domain constant mixed into the seed of pretraining images.
const PRETRAIN_DOMAIN: u64 = 0x5052_4554_5241_494E; // "PRETRAIN"

/// What [`generate_pretrain`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainSummary {
    /// Number of images.
    pub images: usize,
    /// Number of caption rows in `captions.csv`.
    pub captions: usize,
    /// Objects per colour name (canonical colour order).
    pub colour_counts: Vec<(String, usize)>,
    /// Objects per shape name (canonical shape order).
    pub shape_counts: Vec<(String, usize)>,
    /// Images whose language mentions each relation (canonical relation order).
    pub relation_counts: Vec<(String, usize)>,
}

impl PretrainSummary {
    /// Vocabulary items (colours, shapes, relations) that never occur.
    pub fn missing(&self) -> Vec<String> {
        self.colour_counts
            .iter()
            .chain(&self.shape_counts)
            .chain(&self.relation_counts)
            .filter(|(_, n)| *n == 0)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// File name width: at least six digits.
fn digits(n: usize) -> usize {
    n.saturating_sub(1).to_string().len().max(6)
}

/// Generates `n` pretraining images into `out`:
/// `images/NNNNNN.png`, `captions.csv` (header `image,caption`, one row per caption, all
/// captions of an image on consecutive rows), `annotations.jsonl` (one [`ImageRecord`] per
/// image, in image order) and `world.json` (generator settings and vocabulary).
///
/// Image `i` depends only on `(seed, i, opts)`. The first ten images each contain one object
/// of colour `i` and shape `i`, so every colour and shape occurs once `n >= 10`.
pub fn generate_pretrain(
    out: &Path,
    seed: u64,
    n: usize,
    opts: &WorldOptions,
) -> Result<PretrainSummary, WorldError> {
    opts.validate()?;
    if n == 0 {
        return Err(WorldError::InvalidOption {
            field: "n",
            reason: "at least one image is needed".into(),
        });
    }
    create_dir(&out.join("images"))?;
    let width = digits(n);
    let records: Vec<ImageRecord> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = image_rng(seed, PRETRAIN_DOMAIN, i as u64);
            let forced = (i < Colour::ALL.len()).then(|| (Colour::ALL[i], Shape::ALL[i]));
            let scene = sample_scene(&mut rng, opts, forced);
            let rel = format!("images/{i:0width$}.png");
            render_and_write(out, &rel, &scene, &mut rng)
        })
        .collect::<Result<_, _>>()?;

    let mut csv = String::from("image,caption\n");
    let mut rows = 0;
    for r in &records {
        for c in &r.captions {
            csv.push_str(&csv_field(&r.image));
            csv.push(',');
            csv.push_str(&csv_field(c));
            csv.push('\n');
            rows += 1;
        }
    }
    write_file(&out.join("captions.csv"), csv.as_bytes())?;
    write_jsonl(&out.join("annotations.jsonl"), &records)?;

    let summary = summarise(&records, rows);
    let manifest = serde_json::json!({
        "generator": "vladapt-world",
        "kind": "pretrain",
        "seed": seed,
        "images": n,
        "options": opts,
        "colours": Colour::ALL.map(|c| c.name()),
        "shapes": Shape::ALL.map(|s| s.name()),
        "relations": Relation::ALL.map(|r| r.phrase()),
        "summary": &summary,
    });
    write_json(&out.join("world.json"), &manifest)?;
    Ok(summary)
}

/// Counts vocabulary occurrences in `records`.
fn summarise(records: &[ImageRecord], caption_rows: usize) -> PretrainSummary {
    let colour_counts = Colour::ALL
        .iter()
        .map(|c| {
            let k = records
                .iter()
                .flat_map(|r| &r.objects)
                .filter(|o| o.colour == *c)
                .count();
            (c.name().to_string(), k)
        })
        .collect();
    let shape_counts = Shape::ALL
        .iter()
        .map(|s| {
            let k = records
                .iter()
                .flat_map(|r| &r.objects)
                .filter(|o| o.shape == *s)
                .count();
            (s.name().to_string(), k)
        })
        .collect();
    let relation_counts = Relation::ALL
        .iter()
        .map(|rel| {
            let phrase = format!(" {} ", rel.phrase());
            let k = records
                .iter()
                .filter(|r| {
                    r.captions.iter().any(|c| c.contains(&phrase))
                        || r.objects
                            .iter()
                            .flat_map(|o| &o.referring)
                            .any(|e| e.contains(&phrase))
                })
                .count();
            (rel.phrase().to_string(), k)
        })
        .collect();
    PretrainSummary {
        images: records.len(),
        captions: caption_rows,
        colour_counts,
        shape_counts,
        relation_counts,
    }
}
