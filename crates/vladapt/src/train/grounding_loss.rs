//! TransVG's box loss (spec `mmca.md` §1.6, official `utils/loss_utils.py::trans_vg_loss`):
//! plain L1 on normalised `(cx, cy, w, h)` plus `1 − GIoU` on the corner boxes, each summed over
//! the batch and divided by the batch size; total = L1 + GIoU (weights 1 and 1).
//!
//! GIoU (Rezatofighi et al. 2019, eq. 1 and Alg. 1, as torchvision's `generalized_box_iou`):
//! `IoU = I / U`, `GIoU = IoU − (C − U) / C` with `U = A₁ + A₂ − I` and `C` the area of the
//! smallest enclosing box. A zero-area ground truth (possible after the official crop) meets a
//! zero-area prediction only as `0 / 0`; `U` and `C` are floored at [`AREA_EPS`], which leaves
//! every non-degenerate value unchanged (the official code would return NaN there).
use crate::{Result, VladaptError};
use burn::tensor::Tensor;

/// Floor of the union and enclosing areas (normalised units², a 1e-4-pixel box on a 640 canvas
/// is ~2e-14), so degenerate pairs give a finite loss instead of `0 / 0`.
pub const AREA_EPS: f64 = 1e-12;

/// The loss terms of one batch, each a one-element tensor that carries the autodiff graph.
#[derive(Debug, Clone)]
pub struct GroundingLoss {
    /// `l1 + giou`.
    pub total: Tensor<1>,
    /// `Σ_b Σ_coord |pred − target| / B`.
    pub l1: Tensor<1>,
    /// `Σ_b (1 − GIoU_b) / B`.
    pub giou: Tensor<1>,
}

/// Corner form `(x1, y1, x2, y2)` of `[B, 4]` centre boxes, as four `[B, 1]` columns.
fn corners(b: Tensor<2>) -> [Tensor<2>; 4] {
    let col = |i: usize| b.clone().narrow(1, i, 1);
    let (cx, cy, w, h) = (col(0), col(1), col(2), col(3));
    [
        cx.clone() - w.clone().mul_scalar(0.5),
        cy.clone() - h.clone().mul_scalar(0.5),
        cx + w.mul_scalar(0.5),
        cy + h.mul_scalar(0.5),
    ]
}

/// Per-sample GIoU `[B, 1]` of two `[B, 4]` centre-form box sets (pairwise along the batch,
/// the diagonal of torchvision's matrix).
pub fn giou(pred: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    let [ax1, ay1, ax2, ay2] = corners(pred);
    let [bx1, by1, bx2, by2] = corners(target);
    let area_a = (ax2.clone() - ax1.clone()) * (ay2.clone() - ay1.clone());
    let area_b = (bx2.clone() - bx1.clone()) * (by2.clone() - by1.clone());
    let iw = (ax2.clone().min_pair(bx2.clone()) - ax1.clone().max_pair(bx1.clone())).clamp_min(0.0);
    let ih = (ay2.clone().min_pair(by2.clone()) - ay1.clone().max_pair(by1.clone())).clamp_min(0.0);
    let inter = iw * ih;
    let union = (area_a + area_b - inter.clone()).clamp_min(AREA_EPS);
    let iou = inter / union.clone();
    let cw = (ax2.max_pair(bx2) - ax1.min_pair(bx1)).clamp_min(0.0);
    let ch = (ay2.max_pair(by2) - ay1.min_pair(by1)).clamp_min(0.0);
    let enclose = (cw * ch).clamp_min(AREA_EPS);
    iou - (enclose.clone() - union) / enclose
}

/// L1 + GIoU loss of predicted boxes `pred [B, 4]` against `target [B, 4]`, both normalised
/// `(cx, cy, w, h)` on the padded canvas. The target is checked on the host: finite values and
/// non-negative width/height (an error names the sample); the prediction is the model's.
pub fn l1_giou_loss(pred: Tensor<2>, target: Tensor<2>) -> Result<GroundingLoss> {
    let [b, k] = pred.dims();
    if k != 4 || target.dims() != [b, 4] {
        return Err(VladaptError::Shape {
            what: "grounding loss: predicted boxes and targets".into(),
            expected: "[B, 4] both".into(),
            actual: format!("{:?} and {:?}", pred.dims(), target.dims()),
        });
    }
    if b == 0 {
        return Err(VladaptError::Shape {
            what: "grounding loss: batch".into(),
            expected: "at least one box".into(),
            actual: "[0, 4]".into(),
        });
    }
    let host = crate::tensor_io::to_vec_f32(&target);
    for (i, r) in host.chunks(4).enumerate() {
        if r.iter().any(|v| !v.is_finite()) || r[2] < 0.0 || r[3] < 0.0 {
            return Err(VladaptError::argument(
                "grounding loss",
                format!("target box {i} = {r:?} is not a finite (cx, cy, w, h) with w, h ≥ 0"),
            ));
        }
    }
    let l1 = (pred.clone() - target.clone())
        .abs()
        .sum()
        .div_scalar(b as f64);
    let giou = giou(pred, target)
        .neg()
        .add_scalar(1.0)
        .sum()
        .div_scalar(b as f64);
    Ok(GroundingLoss {
        total: l1.clone() + giou.clone(),
        l1,
        giou,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_io::to_vec_f32;
    use burn::tensor::{Device, TensorData};

    fn boxes(v: Vec<f32>) -> Tensor<2> {
        let n = v.len() / 4;
        Tensor::from_data(TensorData::new(v, [n, 4]), &Device::flex())
    }

    fn scalar(t: &Tensor<1>) -> f32 {
        to_vec_f32(t)[0]
    }

    #[test]
    fn hand_computed_terms() {
        // Sample 0: pred = [0, 0, 2, 2] (corners), target = [1, 1, 3, 3]: I = 1, U = 7,
        // C = 9 → GIoU = 1/7 − 2/9. L1: |1 − 2| + |1 − 2| + 0 + 0 = 2.
        // Sample 1: identical boxes → GIoU 1, L1 0.
        let pred = boxes(vec![1.0, 1.0, 2.0, 2.0, 0.5, 0.5, 0.2, 0.4]);
        let target = boxes(vec![2.0, 2.0, 2.0, 2.0, 0.5, 0.5, 0.2, 0.4]);
        let loss = l1_giou_loss(pred, target).unwrap();
        let g0 = 1.0 / 7.0 - 2.0 / 9.0;
        assert!((scalar(&loss.l1) - 1.0).abs() < 1e-6);
        assert!((scalar(&loss.giou) - (1.0 - g0) / 2.0).abs() < 1e-6);
        assert!((scalar(&loss.total) - (1.0 + (1.0 - g0) / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn disjoint_boxes_and_zero_area_targets() {
        // Disjoint: pred [0, 0, 1, 1], target [2, 0, 3, 1]: I = 0, U = 2, C = 3 → GIoU = −1/3.
        let g = to_vec_f32(&giou(
            boxes(vec![0.5, 0.5, 1.0, 1.0]),
            boxes(vec![2.5, 0.5, 1.0, 1.0]),
        ));
        assert!((g[0] + 1.0 / 3.0).abs() < 1e-6, "{g:?}");
        // Zero-area target inside the prediction: I = 0, U = A_pred, C = A_pred → GIoU 0.
        let g = to_vec_f32(&giou(
            boxes(vec![0.5, 0.5, 0.4, 0.4]),
            boxes(vec![0.5, 0.5, 0.0, 0.0]),
        ));
        assert!(g[0].abs() < 1e-6, "{g:?}");
        // Both degenerate and equal: finite (the official code gives NaN).
        let l = l1_giou_loss(
            boxes(vec![0.5, 0.5, 0.0, 0.0]),
            boxes(vec![0.5, 0.5, 0.0, 0.0]),
        )
        .unwrap();
        assert!(scalar(&l.total).is_finite());
    }

    #[test]
    fn bad_targets_are_named() {
        let e = l1_giou_loss(
            boxes(vec![0.5; 8]),
            boxes(vec![0.5, 0.5, 0.1, 0.1, 0.5, 0.5, -0.1, 0.1]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("target box 1"), "{e}");
        let e = l1_giou_loss(boxes(vec![0.5; 8]), boxes(vec![f32::NAN; 8]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("target box 0"), "{e}");
        let e = l1_giou_loss(boxes(vec![0.5; 8]), boxes(vec![0.5; 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[B, 4]"), "{e}");
    }
}
