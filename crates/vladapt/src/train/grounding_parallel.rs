//! Data-parallel steps of the grounding trainer (TransVG, MMCA): the batch — images, masks,
//! token ids and targets, augmented once exactly as on one device — is split into contiguous
//! slices by [`DataParallel::split`]; replica `k` (a [`GroundingMethod`] whose frozen and
//! trainable tensors live on device `k`, [`GroundingMethod::to_device`]) takes the master's
//! parameters, runs forward and the L1 + GIoU loss (both means over its slice) on its device
//! and thread, and backpropagates; the weighted mean of the gradients (the full-batch gradient
//! up to summation order, see [`super::data_parallel`]) feeds the one AdamW step of the master.
use super::data_parallel::DataParallel;
use super::grounding::score_boxes;
use super::grounding_loss::l1_giou_loss;
use super::optim::Optimizer;
use super::task::{EpochLr, StepStats};
use crate::methods::grounding::GroundingMethod;
use crate::models::grounding::GroundingBatch;
use crate::tensor_io::to_vec_f32;
use crate::{Result, VladaptError};
use burn::tensor::{Device, Tensor};
use std::ops::Range;
use std::sync::Mutex;

/// One replica per device.
pub struct GroundingReplicas {
    /// The devices and the reduction.
    pub dp: DataParallel,
    /// One method per device, used by one device thread at a time.
    pub methods: Vec<Mutex<GroundingMethod>>,
}

impl GroundingReplicas {
    /// Copies of `master` on every device of `dp`.
    pub fn new(dp: DataParallel, master: &GroundingMethod) -> Self {
        let methods = dp
            .devices()
            .iter()
            .map(|d| Mutex::new(master.to_device(d)))
            .collect();
        Self { dp, methods }
    }
}

/// Rows `rows` of a batch of `b` samples, moved to `device`.
fn slice_batch(
    batch: &GroundingBatch,
    b: usize,
    rows: &Range<usize>,
    device: &Device,
) -> GroundingBatch {
    let [_, _, h, w] = batch.images.dims();
    let hw = h * w;
    let l = batch.ids.len() / b.max(1);
    GroundingBatch {
        images: batch
            .images
            .clone()
            .narrow(0, rows.start, rows.len())
            .to_device(device),
        pixel_mask: batch.pixel_mask[rows.start * hw..rows.end * hw].to_vec(),
        ids: batch.ids[rows.start * l..rows.end * l].to_vec(),
        text_mask: batch.text_mask[rows.start * l..rows.end * l].to_vec(),
    }
}

/// One data-parallel optimisation step on `batch` with targets `target` `[B, 4]`; a non-finite
/// loss updates nothing (the caller's NaN guard decides).
pub fn step_parallel(
    reps: &GroundingReplicas,
    master: &mut GroundingMethod,
    batch: &GroundingBatch,
    target: Tensor<2>,
    opt: &mut Optimizer,
    lr: &EpochLr,
) -> Result<StepStats> {
    let target_host = to_vec_f32(&target);
    let n = target_host.len() / 4;
    let poisoned = || VladaptError::Device {
        field: "data parallel".into(),
        name: "replica".into(),
        reason: "a replica's lock is poisoned (its thread panicked)".into(),
    };
    // Per replica: predicted boxes (host), and its slice's L1 and GIoU means.
    let parts: Mutex<Vec<(Vec<f32>, f64, f64)>> =
        Mutex::new(vec![(Vec::new(), 0.0, 0.0); reps.methods.len()]);
    let (loss, grads) = reps.dp.grads(master.params(), n, |k, rows, p, dev| {
        let mut m = reps.methods[k].lock().map_err(|_| poisoned())?;
        *m.params_mut() = p.clone();
        let sub = slice_batch(batch, n, &rows, dev);
        let t = target
            .clone()
            .narrow(0, rows.start, rows.len())
            .to_device(dev);
        let pred = m.forward(&sub)?;
        let loss = l1_giou_loss(pred.clone(), t)?;
        parts.lock().map_err(|_| poisoned())?[k] = (
            to_vec_f32(&pred.detach()),
            to_vec_f32(&loss.l1)[0] as f64,
            to_vec_f32(&loss.giou)[0] as f64,
        );
        Ok(loss.total)
    })?;
    let loss_v = loss as f32;
    if !loss_v.is_finite() {
        return Ok(StepStats {
            loss: loss_v,
            grad_norm: f64::NAN,
            count: n,
            ..Default::default()
        });
    }
    let slices = reps.dp.split(n);
    let parts = parts.into_inner().map_err(|_| poisoned())?;
    let (mut l1, mut giou) = (0.0, 0.0);
    for ((_, a, g), r) in parts.iter().zip(&slices) {
        l1 += a * r.len() as f64 / n as f64;
        giou += g * r.len() as f64 / n as f64;
    }
    let pred: Vec<f32> = parts.into_iter().flat_map(|(p, _, _)| p).collect();
    let (hits, iou_sum) = score_boxes(&pred, &target_host);
    let dev = master.params().entries().first().map(|e| e.value.device());
    let grads = match dev {
        Some(d) => grads.into_iter().map(|g| g.to_device(&d)).collect(),
        None => grads,
    };
    let grad_norm = opt.step_per_param(master.params_mut(), grads, &lr.per_param)?;
    Ok(StepStats {
        loss: loss_v,
        grad_norm,
        count: n,
        hits,
        extra: vec![
            ("l1", l1),
            ("giou", giou),
            ("miou", iou_sum / n.max(1) as f64),
        ],
    })
}
