//! Grounding evaluation (spec `mmca.md` §1.7, §4.2): one box per expression, Acc@0.5 (IoU ≥ 0.5
//! after clamping the prediction to the canvas) and mean IoU per split; a Markdown table shaped
//! like the papers' (RefCOCO val/testA/testB, RefCOCO+ val/testA/testB, RefCOCOg
//! val-g/val-u/test-u, ReferIt test — or the splits given, e.g. the world's val/test); a PNG
//! sheet of predictions (image, expression, true box green, predicted box red).
use super::grounding::{score_boxes, EncodedSet};
use super::progress;
use crate::methods::grounding::GroundingMethod;
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vladapt_data::grounding::cxcywh_to_xyxy;
use vladapt_plot::{image_sheet, Rgb as Color, SheetBox, SheetCell};

/// The metrics of one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// Split label (`val`, `refcoco/testA`, …).
    pub split: String,
    /// Expressions evaluated.
    pub n: usize,
    /// Acc@0.5 in percent.
    pub acc_at_05: f64,
    /// Mean IoU in percent.
    pub miou: f64,
}

/// Predicted boxes (normalised `(cx, cy, w, h)` on the canvas) for every sample of `data`, in
/// batches of `batch`.
pub fn predict_boxes(
    method: &GroundingMethod,
    data: &EncodedSet,
    batch: usize,
    device: &Device,
    show_progress: bool,
) -> Result<Vec<[f32; 4]>> {
    let idx: Vec<usize> = (0..data.len()).collect();
    let chunks: Vec<&[usize]> = idx.chunks(batch.max(1)).collect();
    let bar = progress::bar(chunks.len() as u64, "eval", show_progress);
    let mut out = Vec::with_capacity(data.len());
    for c in chunks {
        let (b, _) = data.batch(c, device);
        let v = to_vec_f32(&method.forward(&b)?);
        out.extend(v.chunks(4).map(|r| [r[0], r[1], r[2], r[3]]));
        bar.inc(1);
    }
    bar.finish();
    Ok(out)
}

/// Acc@0.5 and mean IoU of `pred` against the targets of `data`
/// ([`metrics_from_ious`] of [`sample_ious`]).
pub fn score(split: &str, pred: &[[f32; 4]], data: &EncodedSet) -> Result<SplitMetrics> {
    metrics_from_ious(split, &sample_ious(split, pred, data)?)
}

/// The IoU of every prediction with its target (the prediction clamped to the canvas, as
/// TransVG's metric), in sample order. A sharded evaluation stores these so that merging sums
/// them in the single-process order.
pub fn sample_ious(split: &str, pred: &[[f32; 4]], data: &EncodedSet) -> Result<Vec<f32>> {
    if pred.len() != data.len() {
        return Err(VladaptError::Shape {
            what: format!("{split}: predictions"),
            expected: format!("{} rows (one per expression)", data.len()),
            actual: format!("{} predictions for {} expressions", pred.len(), data.len()),
        });
    }
    Ok(pred
        .iter()
        .enumerate()
        .map(|(i, p)| score_boxes(p, &data.target(i)).1 as f32)
        .collect())
}

/// Acc@0.5 (IoU ≥ 0.5) and mean IoU, in percent, of per-sample IoUs: `hits / n` and
/// `Σᵢ iouᵢ / n` with the sum taken in f64 in the given order (the order of
/// [`score_boxes`], so the same IoUs give the same bits).
pub fn metrics_from_ious(split: &str, ious: &[f32]) -> Result<SplitMetrics> {
    if ious.is_empty() {
        return Err(VladaptError::argument(split, "no expressions"));
    }
    let (mut hits, mut sum) = (0usize, 0f64);
    for &v in ious {
        hits += usize::from(v >= 0.5);
        sum += v as f64;
    }
    let n = ious.len();
    Ok(SplitMetrics {
        split: split.to_string(),
        n,
        acc_at_05: 100.0 * hits as f64 / n as f64,
        miou: 100.0 * sum / n as f64,
    })
}

/// The papers' columns: `(dataset/split label, header)`.
pub const PAPER_COLUMNS: &[(&str, &str)] = &[
    ("refcoco/val", "RefCOCO val"),
    ("refcoco/testA", "RefCOCO testA"),
    ("refcoco/testB", "RefCOCO testB"),
    ("refcoco+/val", "RefCOCO+ val"),
    ("refcoco+/testA", "RefCOCO+ testA"),
    ("refcoco+/testB", "RefCOCO+ testB"),
    ("refcocog/val-g", "RefCOCOg val-g"),
    ("refcocog/val-u", "RefCOCOg val-u"),
    ("refcocog/test-u", "RefCOCOg test-u"),
    ("referit/test", "ReferIt test"),
];

/// A Markdown table of Acc@0.5 (%): one row per `(name, metrics)`. When any split is one of
/// the papers' ([`PAPER_COLUMNS`]) the columns are the papers' (– where not evaluated);
/// otherwise one column per split label in first-seen order.
pub fn markdown_table(rows: &[(String, Vec<SplitMetrics>)]) -> String {
    let paper = rows
        .iter()
        .flat_map(|(_, m)| m)
        .any(|m| PAPER_COLUMNS.iter().any(|(k, _)| *k == m.split));
    let cols: Vec<(String, String)> = if paper {
        PAPER_COLUMNS
            .iter()
            .map(|(k, h)| (k.to_string(), h.to_string()))
            .collect()
    } else {
        let mut c: Vec<(String, String)> = Vec::new();
        for m in rows.iter().flat_map(|(_, m)| m) {
            if !c.iter().any(|(k, _)| *k == m.split) {
                c.push((m.split.clone(), m.split.clone()));
            }
        }
        c
    };
    let mut s = String::from("| method |");
    for (_, h) in &cols {
        s.push_str(&format!(" {h} |"));
    }
    s.push_str("\n| --- |");
    for _ in &cols {
        s.push_str(" ---: |");
    }
    s.push('\n');
    for (name, ms) in rows {
        s.push_str(&format!("| {name} |"));
        for (k, _) in &cols {
            match ms.iter().find(|m| m.split == *k) {
                Some(m) => s.push_str(&format!(" {:.2} |", m.acc_at_05)),
                None => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    s
}

const GREEN: Color = [0, 170, 0];
const RED: Color = [220, 0, 0];
const BLACK: Color = [0, 0, 0];

/// A PNG sheet of the first `max` predictions: each cell the preprocessed canvas image (padding
/// grey), the true box in green, the predicted box in red, and the expression with the IoU
/// underneath. Written atomically.
pub fn prediction_sheet(
    path: &Path,
    data: &EncodedSet,
    pred: &[[f32; 4]],
    max: usize,
) -> Result<()> {
    let n = data.len().min(pred.len()).min(max);
    if n == 0 {
        return Err(VladaptError::argument(
            path.display().to_string(),
            "no predictions to draw",
        ));
    }
    let side = data.prepared(0).letterbox.canvas as usize;
    let cell = side.clamp(96, 256);
    let mean = crate::models::grounding::preprocess::IMAGENET_MEAN;
    let std = crate::models::grounding::preprocess::IMAGENET_STD;
    let cells = pred
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, &pb)| {
            let p = data.prepared(i);
            let scale = side as f64 / cell as f64;
            // Nearest-neighbour resample of the canvas, padding grey, ImageNet normalisation undone.
            let image = image::RgbImage::from_fn(cell as u32, cell as u32, |x, y| {
                let at = |v: u32| (((v as f64 + 0.5) * scale) as usize).min(side - 1);
                let (sx, sy) = (at(x), at(y));
                if p.mask[sy * side + sx] {
                    return image::Rgb([200, 200, 200]);
                }
                image::Rgb(std::array::from_fn(|k| {
                    let v = p.pixels[(k * side + sy) * side + sx] * std[k] + mean[k];
                    (v * 255.0).round().clamp(0.0, 255.0) as u8
                }))
            });
            let outline = |b: [f32; 4], color: Color| SheetBox {
                xyxy: cxcywh_to_xyxy(b).map(|v| f64::from(v.clamp(0.0, 1.0)) * cell as f64),
                color,
                thickness: 2,
            };
            let (_, iou) = score_boxes(&pb, &data.target(i));
            let expr = &data.samples[i].expression;
            let max_chars = (cell / 7).max(4);
            SheetCell {
                image,
                boxes: vec![outline(data.target(i), GREEN), outline(pb, RED)],
                lines: vec![
                    (expr.chars().take(max_chars).collect(), BLACK),
                    (
                        expr.chars().skip(max_chars).take(max_chars).collect(),
                        BLACK,
                    ),
                    (
                        format!("IoU {iou:.2}"),
                        if iou >= 0.5 { GREEN } else { RED },
                    ),
                ],
            }
        })
        .collect::<Vec<_>>();
    Ok(image_sheet(path, &cells)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(split: &str, acc: f64) -> SplitMetrics {
        SplitMetrics {
            split: split.into(),
            n: 10,
            acc_at_05: acc,
            miou: 0.0,
        }
    }

    #[test]
    fn metrics_from_ious_counts_hits_at_one_half_and_averages() {
        // Hand-computed: hits are IoU ≥ 0.5 (0.5 and 1.0, not the f32 just below 0.5);
        // mIoU = (0.5 + 0.25 + 1 + 0.49999997) / 4.
        let below = f32::from_bits(0.5f32.to_bits() - 1);
        let m = metrics_from_ious("val", &[0.5, 0.25, 1.0, below]).unwrap();
        assert_eq!((m.n, m.acc_at_05), (4, 50.0));
        let want = 100.0 * (0.5 + 0.25 + 1.0 + below as f64) / 4.0;
        assert!((m.miou - want).abs() < 1e-12, "{} vs {want}", m.miou);
        assert!(metrics_from_ious("val", &[])
            .unwrap_err()
            .to_string()
            .contains("val: no expressions"));
    }

    #[test]
    fn paper_columns_with_dashes_for_missing_splits() {
        let t = markdown_table(&[(
            "TransVG".into(),
            vec![m("refcoco/testA", 83.2), m("referit/test", 69.3)],
        )]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("| method | RefCOCO val | RefCOCO testA |"));
        assert!(lines[0].ends_with("ReferIt test |"));
        assert_eq!(
            lines[2],
            "| TransVG | – | 83.20 | – | – | – | – | – | – | – | 69.30 |"
        );
    }

    #[test]
    fn other_splits_get_their_own_columns() {
        let t = markdown_table(&[
            ("a".into(), vec![m("val", 50.0), m("test", 40.0)]),
            ("b".into(), vec![m("test", 45.5)]),
        ]);
        assert_eq!(
            t,
            "| method | val | test |\n| --- | ---: | ---: |\n| a | 50.00 | 40.00 |\n| b | – | 45.50 |\n"
        );
    }
}
