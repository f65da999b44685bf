//! Data-parallel training on one machine: several logical devices (Flex), gradients combined by
//! the gather reduction. Checks the combined gradient against the analytic gradient of softmax
//! regression (computed here in f64, independently of burn) and against burn's single-device
//! full-batch gradient, and a multi-device training loop against the single-device one.
use std::ops::Range;
use vladapt::methods::Params;
use vladapt::tensor::{Device, Tensor, TensorData};
use vladapt::tensor_io::to_vec_f32;
use vladapt::train::data_parallel::{DataParallel, DeviceGrads, Reduction};
use vladapt::train::loss::cross_entropy;
use vladapt::train::optim::{OptimConfig, Optimizer};

const F: usize = 5;
const C: usize = 3;
const H: usize = 4;

/// Deterministic pseudo-random values in [-1, 1) (64-bit LCG).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

struct Data {
    x: Vec<f32>,
    y: Vec<usize>,
}

impl Data {
    fn new(n: usize, seed: u64) -> Self {
        let x = values(n * F, seed);
        let y = (0..n).map(|i| (i * 7 + seed as usize) % C).collect();
        Data { x, y }
    }
    fn x(&self, rows: Range<usize>, dev: &Device) -> Tensor<2> {
        let n = rows.len();
        let v = self.x[rows.start * F..rows.end * F].to_vec();
        Tensor::from_data(TensorData::new(v, [n, F]), dev)
    }
}

/// Softmax regression `x·W + b`, plus a parameter that takes no part in the loss.
fn linear_params(dev: &Device) -> Params {
    let mut p = Params::new();
    p.push("w", &[F, C], values(F * C, 11), dev);
    p.push("b", &[C], values(C, 12), dev);
    p.push("unused", &[2], vec![0.5, -0.5], dev);
    p
}

fn linear_loss(p: &Params, d: &Data, rows: Range<usize>, dev: &Device) -> Tensor<1> {
    let w: Tensor<2> = p.get("w");
    let b: Tensor<1> = p.get("b");
    let logits = d.x(rows.clone(), dev).matmul(w) + b.unsqueeze_dim(0);
    cross_entropy(logits, &d.y[rows]).unwrap()
}

/// The analytic gradient of mean cross-entropy of softmax regression, in f64:
/// ∂L/∂W = Xᵀ(P − Y)/N, ∂L/∂b = Σᵢ(Pᵢ − Yᵢ)/N, with P = softmax(XW + b).
fn analytic(p: &Params, d: &Data) -> (f64, Vec<f64>, Vec<f64>) {
    let host = p.to_host();
    let w: Vec<f64> = host[0].2.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = host[1].2.iter().map(|&v| v as f64).collect();
    let n = d.y.len();
    let (mut gw, mut gb, mut loss) = (vec![0.0; F * C], vec![0.0; C], 0.0);
    for i in 0..n {
        let x = &d.x[i * F..(i + 1) * F];
        let z: Vec<f64> = (0..C)
            .map(|c| b[c] + (0..F).map(|f| x[f] as f64 * w[f * C + c]).sum::<f64>())
            .collect();
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        loss -= z[d.y[i]] - m - s.ln();
        for c in 0..C {
            let g = (z[c] - m).exp() / s - f64::from(u8::from(c == d.y[i]));
            gb[c] += g / n as f64;
            for f in 0..F {
                gw[f * C + c] += x[f] as f64 * g / n as f64;
            }
        }
    }
    (loss / n as f64, gw, gb)
}

fn max_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

fn flex(n: usize) -> DataParallel {
    DataParallel::new(vec![Device::flex(); n]).unwrap()
}

#[test]
fn split_gives_contiguous_slices_that_differ_by_at_most_one() {
    assert_eq!(flex(2).split(7), vec![0..4, 4..7]);
    assert_eq!(flex(3).split(7), vec![0..3, 3..5, 5..7]);
    assert_eq!(flex(3).split(1), vec![0..1, 1..1, 1..1]);
    assert_eq!(flex(1).split(5), vec![0..5]);
}

#[test]
fn combined_gradient_of_uneven_slices_equals_the_full_batch_gradient() {
    let dev = Device::flex();
    let data = Data::new(7, 3);
    let params = linear_params(&dev);
    let (want_loss, want_w, want_b) = analytic(&params, &data);

    // burn's single-device full-batch gradient.
    let mut one = params.clone();
    one.track();
    let l = linear_loss(&one, &data, 0..7, &dev);
    let g1 = one.grads(&l.backward());

    for devices in [2usize, 3] {
        let dp = flex(devices);
        assert_eq!(dp.reduction(), Reduction::Gather);
        let (loss, g) = dp
            .grads(&params, 7, |_, rows, p, d| {
                Ok(linear_loss(p, &data, rows, d))
            })
            .unwrap();
        assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
        let gw = to_vec_f32(&g[0]);
        let gb = to_vec_f32(&g[1]);
        assert!(
            max_diff(&gw, &want_w) < 1e-6,
            "{devices} devices: dW {gw:?} vs {want_w:?}"
        );
        assert!(
            max_diff(&gb, &want_b) < 1e-6,
            "{devices} devices: db {gb:?} vs {want_b:?}"
        );
        // Same as burn on one device within float tolerance (only the summation order differs).
        let g1w = to_vec_f32(g1[0].as_ref().unwrap());
        let d: f32 = gw
            .iter()
            .zip(&g1w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-6, "{devices} devices vs 1: {d}");
        // No path to the loss: zero, not missing.
        assert!(g1[2].is_none());
        assert_eq!(to_vec_f32(&g[2]), vec![0.0, 0.0]);
    }
}

#[test]
fn slice_means_are_weighted_by_their_sizes() {
    // Two halves of unequal size: the plain mean of the slice gradients would be wrong.
    let dev = Device::flex();
    let data = Data::new(5, 9);
    let params = linear_params(&dev);
    let (_, want_w, _) = analytic(&params, &data);
    let dp = flex(2);
    let part = |rows: Range<usize>| {
        let mut p = params.clone();
        p.track();
        let l = linear_loss(&p, &data, rows.clone(), &dev);
        DeviceGrads {
            count: rows.len(),
            grads: p.grads(&l.backward()),
        }
    };
    let g = dp
        .reduce_mean(&params, vec![part(0..3), part(3..5)])
        .unwrap();
    assert!(max_diff(&to_vec_f32(&g[0]), &want_w) < 1e-6);
    // The unweighted mean differs measurably (guards the test's power).
    let a = to_vec_f32(part(0..3).grads[0].as_ref().unwrap());
    let b = to_vec_f32(part(3..5).grads[0].as_ref().unwrap());
    let plain: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x + y) / 2.0).collect();
    assert!(max_diff(&plain, &want_w) > 1e-3);
    // Mismatched inputs are errors, not panics.
    let e = dp
        .reduce_mean(&params, vec![part(0..5)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 gradient sets for 2 devices"), "{e}");
}

/// Two-layer MLP `tanh(x·W1 + b1)·W2` for the training-loop check.
fn mlp_params(dev: &Device) -> Params {
    let mut p = Params::new();
    p.push("w1", &[F, H], values(F * H, 21), dev);
    p.push("b1", &[H], values(H, 22), dev);
    p.push("w2", &[H, C], values(H * C, 23), dev);
    p
}

fn mlp_loss(p: &Params, d: &Data, rows: Range<usize>, dev: &Device) -> Tensor<1> {
    let (w1, b1, w2): (Tensor<2>, Tensor<1>, Tensor<2>) = (p.get("w1"), p.get("b1"), p.get("w2"));
    let h = (d.x(rows.clone(), dev).matmul(w1) + b1.unsqueeze_dim(0)).tanh();
    cross_entropy(h.matmul(w2), &d.y[rows]).unwrap()
}

#[test]
fn a_two_device_training_loop_equals_the_one_device_loop() {
    let dev = Device::flex();
    let cfg = OptimConfig::default(); // SGD, momentum 0.9, weight decay 5e-4
    let batches: Vec<Data> = (0..6)
        .map(|s| Data::new(6 + s % 2, 100 + s as u64))
        .collect();

    let mut p1 = mlp_params(&dev);
    let mut o1 = Optimizer::new(cfg.clone(), &p1);
    let mut p2 = mlp_params(&dev);
    let mut o2 = Optimizer::new(cfg, &p2);
    let dp = flex(2);
    for d in &batches {
        let n = d.y.len();
        p1.track();
        let g = p1.grads(&mlp_loss(&p1, d, 0..n, &dev).backward());
        p1.untrack();
        let g: Vec<Tensor<1>> = g.into_iter().map(Option::unwrap).collect();
        o1.step(&mut p1, g, 0.5).unwrap();

        let (_, g) = dp
            .grads(&p2, n, |_, rows, p, dv| Ok(mlp_loss(p, d, rows, dv)))
            .unwrap();
        o2.step(&mut p2, g, 0.5).unwrap();
    }
    let (h1, h2, h0) = (p1.to_host(), p2.to_host(), mlp_params(&dev).to_host());
    for ((a, b), c) in h1.iter().zip(&h2).zip(&h0) {
        let d =
            a.2.iter()
                .zip(&b.2)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
        assert!(d < 1e-5, "{}: 2 devices differ from 1 by {d}", a.0);
        // The loop did train (guards against comparing two untouched copies).
        let moved =
            a.2.iter()
                .zip(&c.2)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
        assert!(moved > 1e-3, "{} did not move", a.0);
    }
}

#[test]
fn collective_reduction_is_refused_where_burn_has_no_all_reduce() {
    let e = DataParallel::with_reduction(vec![Device::flex(); 2], Reduction::Collective)
        .unwrap_err()
        .to_string();
    assert!(e.contains("CUDA"), "{e}");
    assert!(DataParallel::new(vec![]).is_err());
}
