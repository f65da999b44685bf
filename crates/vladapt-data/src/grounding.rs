//! Visual grounding data and metric (the data layer of MMCA / TransVG; see the README's
//! grounding sections):
//! box formats, IoU / GIoU as TransVG computes them, Acc@0.5, and referring-expression samples
//! read from a vladapt world (`annotations.jsonl`: one record per image with objects, their
//! pixel boxes and referring expressions).
//!
//! Readers: [`load_grounding_jsonl`] / [`load_grounding_dir`] (the JSONL layout: one
//! `{"image", "expression", "box": [x1, y1, x2, y2]}` per line), [`load_transvg_split`] /
//! [`load_transvg_dataset`] (TransVG/ReSC `data/<ds>/<ds>_<split>.pth` split files, spec §4.1),
//! [`verify_grounding_jsonl`] / [`verify_transvg`] (every problem, with counts).
//! Augmentation (spec §3.3) and the eval transform: [`GroundingAugment`].
pub mod augment;
mod entries;
mod jsonl;
mod transvg;
mod verify;

pub use augment::{AugmentedSample, GroundingAugment, Placement, Quirks};
pub use entries::{Problem, ProblemKind, RawEntry};
pub use jsonl::{load_grounding_dir, load_grounding_jsonl, GroundingSplits};
pub use transvg::{load_transvg_dataset, load_transvg_split, GroundingSplitKind};
pub use verify::{verify_grounding_jsonl, verify_transvg, GroundingFileReport, GroundingReport};

use crate::error::DataError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A box in corner form `[x1, y1, x2, y2]` (any unit; normalised or pixels).
pub type BoxXyxy = [f32; 4];

/// `(cx, cy, w, h)` → `[x1, y1, x2, y2]` (the model's output format → corners, spec §1.5).
pub fn cxcywh_to_xyxy(b: [f32; 4]) -> BoxXyxy {
    let [cx, cy, w, h] = b;
    [cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h]
}

/// `[x1, y1, x2, y2]` → `(cx, cy, w, h)`.
pub fn xyxy_to_cxcywh(b: BoxXyxy) -> [f32; 4] {
    let [x1, y1, x2, y2] = b;
    [0.5 * (x1 + x2), 0.5 * (y1 + y2), x2 - x1, y2 - y1]
}

/// COCO `[x, y, w, h]` → `[x1, y1, x2, y2]` (RefCOCO index files, spec §4.1).
pub fn xywh_to_xyxy(b: [f32; 4]) -> BoxXyxy {
    let [x, y, w, h] = b;
    [x, y, x + w, y + h]
}

fn area(b: BoxXyxy) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

fn intersection(a: BoxXyxy, b: BoxXyxy) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    w * h
}

/// IoU as TransVG's metric computes it: `inter / (area1 + area2 − inter + 1e-16)`; 0 (not NaN)
/// for two degenerate boxes.
pub fn iou(a: BoxXyxy, b: BoxXyxy) -> f32 {
    let inter = intersection(a, b);
    (inter as f64 / (area(a) as f64 + area(b) as f64 - inter as f64 + 1e-16)) as f32
}

/// Generalised IoU: `IoU − (C − U) / C` with `C` the smallest enclosing box (the training loss
/// is `1 − GIoU`, spec §1.6). Guarded with an epsilon so a zero-area ground truth gives a finite
/// value instead of 0/0.
pub fn giou(a: BoxXyxy, b: BoxXyxy) -> f32 {
    let inter = intersection(a, b) as f64;
    let union = area(a) as f64 + area(b) as f64 - inter;
    let c = [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ];
    let c_area = area(c) as f64;
    const EPS: f64 = 1e-7;
    (inter / (union + EPS) - (c_area - union) / (c_area + EPS)) as f32
}

/// Acc@`threshold` in percent: the share of predictions whose IoU with the ground truth is at
/// least `threshold` (0.5 for Acc@0.5). Predictions are normalised `[0, 1]` corner boxes and are
/// clamped to the unit square first, as TransVG does. Lengths must match.
pub fn acc_at_iou(pred: &[BoxXyxy], truth: &[BoxXyxy], threshold: f32) -> Result<f64, DataError> {
    if pred.len() != truth.len() {
        return Err(DataError::Invalid {
            name: "pred",
            reason: format!(
                "{} predicted boxes for {} ground-truth boxes",
                pred.len(),
                truth.len()
            ),
        });
    }
    if pred.is_empty() {
        return Ok(0.0);
    }
    let hits = pred
        .iter()
        .zip(truth)
        .filter(|(p, t)| iou(p.map(|v| v.clamp(0.0, 1.0)), **t) >= threshold)
        .count();
    Ok(100.0 * hits as f64 / pred.len() as f64)
}

/// One referring expression with its target box.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundingSample {
    /// Image file.
    pub image: PathBuf,
    /// Image size in pixels `(width, height)`.
    pub size: (u32, u32),
    /// The expression ("the red circle left of the blue square").
    pub expression: String,
    /// Target box in pixels, corner form.
    pub bbox: BoxXyxy,
}

impl GroundingSample {
    /// The target box normalised by the image size (`[0, 1]` corners).
    pub fn normalised_box(&self) -> BoxXyxy {
        let (w, h) = (self.size.0 as f32, self.size.1 as f32);
        [
            self.bbox[0] / w,
            self.bbox[1] / h,
            self.bbox[2] / w,
            self.bbox[3] / h,
        ]
    }
}

#[derive(Deserialize)]
struct Record {
    image: String,
    width: u32,
    height: u32,
    objects: Vec<Object>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    #[serde(default)]
    referring: Vec<String>,
}

/// Every referring expression of a world directory (`annotations.jsonl` written by
/// `vladapt world generate` / `world task`), in file order. Each object's expressions resolve to
/// that object only (the generator makes them unique within the image). Errors name the file and
/// line; a box outside the image or with no area is an error too.
pub fn load_world_grounding(dir: &Path) -> Result<Vec<GroundingSample>, DataError> {
    let path = dir.join("annotations.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io {
        action: "cannot read",
        path: path.clone(),
        source,
    })?;
    let bad = |line: usize, reason: String| DataError::Format {
        what: "grounding annotations",
        path: path.clone(),
        reason: format!("line {line}: {reason}"),
    };
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Record = serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
        for (k, o) in r.objects.iter().enumerate() {
            let [x1, y1, x2, y2] = o.bbox;
            if !(0.0 <= x1 && x1 < x2 && x2 <= r.width as f32 && 0.0 <= y1 && y1 < y2)
                || y2 > r.height as f32
            {
                return Err(bad(
                    i + 1,
                    format!(
                        "object {k} of {}: box {:?} is empty or outside the {}×{} image",
                        r.image, o.bbox, r.width, r.height
                    ),
                ));
            }
            for e in &o.referring {
                out.push(GroundingSample {
                    image: dir.join(&r.image),
                    size: (r.width, r.height),
                    expression: e.clone(),
                    bbox: o.bbox,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_and_giou_match_hand_computed_values() {
        // Two 2×2 squares overlapping in a 1×1 square: IoU = 1 / (4 + 4 − 1) = 1/7.
        let (a, b) = ([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]);
        assert!((iou(a, b) - 1.0 / 7.0).abs() < 1e-7);
        // Enclosing box 3×3 = 9, union 7: GIoU = 1/7 − 2/9.
        assert!((giou(a, b) - (1.0 / 7.0 - 2.0 / 9.0)).abs() < 1e-6);
        assert!((iou(a, a) - 1.0).abs() < 1e-7 && (giou(a, a) - 1.0).abs() < 1e-6);
        // Disjoint 1×2 boxes: IoU 0; GIoU = −(C − U)/C with C = 4×2 = 8, U = 2 + 2 = 4: −0.5.
        let (c, d) = ([0.0, 0.0, 1.0, 2.0], [3.0, 0.0, 4.0, 2.0]);
        assert_eq!(iou(c, d), 0.0);
        assert!((giou(c, d) + 0.5).abs() < 1e-6);
        // Degenerate ground truth (zero area): finite values, no NaN.
        let z = [1.0, 1.0, 1.0, 1.0];
        assert_eq!(iou(z, z), 0.0);
        assert!(giou(a, z).is_finite() && giou(z, z).is_finite());
    }

    #[test]
    fn box_conversions_round_trip() {
        let b = [0.25, 0.5, 0.75, 1.0];
        assert_eq!(xyxy_to_cxcywh(b), [0.5, 0.75, 0.5, 0.5]);
        assert_eq!(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b);
        assert_eq!(
            xywh_to_xyxy([10.0, 20.0, 30.0, 40.0]),
            [10.0, 20.0, 40.0, 60.0]
        );
    }

    #[test]
    fn acc_at_half_counts_hits_and_clamps_predictions() {
        let truth = [
            [0.0, 0.0, 0.5, 0.5],
            [0.5, 0.5, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0],
        ];
        let pred = [
            [0.0, 0.0, 0.5, 0.5],   // IoU 1
            [0.0, 0.0, 0.5, 0.5],   // IoU 0
            [-0.5, -0.5, 1.5, 1.5], // clamped to the unit square: IoU 1
        ];
        assert!((acc_at_iou(&pred, &truth, 0.5).unwrap() - 200.0 / 3.0).abs() < 1e-9);
        // IoU exactly 0.5 counts (>=): [0,0,1,1] vs [0,0,1,0.5].
        let p = [[0.0, 0.0, 1.0, 0.5]];
        let t = [[0.0, 0.0, 1.0, 1.0]];
        assert_eq!(acc_at_iou(&p, &t, 0.5).unwrap(), 100.0);
        let e = acc_at_iou(&p, &truth, 0.5).unwrap_err().to_string();
        assert!(e.contains("1 predicted boxes for 3"), "{e}");
    }

    #[test]
    fn world_annotations_become_grounding_samples() {
        let dir = std::env::temp_dir().join(format!("vladapt-grounding-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rec = r#"{"image":"images/0.png","width":64,"height":32,"objects":[{"shape":"circle","colour":"red","box":[0,0,16,16],"referring":["the red circle","the leftmost shape"]},{"shape":"star","colour":"blue","box":[32,8,64,32],"referring":["the blue star"]}]}"#;
        std::fs::write(dir.join("annotations.jsonl"), format!("{rec}\n\n")).unwrap();
        let s = load_world_grounding(&dir).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].expression, "the leftmost shape");
        assert_eq!(s[2].bbox, [32.0, 8.0, 64.0, 32.0]);
        assert_eq!(s[2].normalised_box(), [0.5, 0.25, 1.0, 1.0]);
        assert_eq!(s[0].image, dir.join("images/0.png"));
        // A box outside the image is an error naming the file and line.
        let bad = rec.replace("[32,8,64,32]", "[32,8,65,32]");
        std::fs::write(dir.join("annotations.jsonl"), format!("{rec}\n{bad}\n")).unwrap();
        let e = load_world_grounding(&dir).unwrap_err().to_string();
        assert!(
            e.contains("annotations.jsonl") && e.contains("line 2"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let e = load_world_grounding(&dir).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
