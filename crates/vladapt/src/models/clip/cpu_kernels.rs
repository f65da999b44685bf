//! Fused CPU kernels for the inference path on Flex, where burn runs element-wise activations
//! one element at a time on one thread. Used only for tensors without autodiff on the Flex
//! device; autodiff and other backends keep burn's differentiable ops.
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// Elements per parallel work item.
const CHUNK: usize = 1 << 14;

/// `exp(x)` for `f32` (Cephes `expf`: range reduction by ln 2, degree-6 polynomial, exponent
/// bits); relative error ≤ 2 ulp. Inputs are clamped to [−87.34, 88.72], so results stay in
/// [≈1.2e-38, ≈3.4e38] (no 0 or inf), which is all quick-GELU needs.
/// Written branch-free so that the compiler vectorises loops over it.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.336_55, 88.722_83);
    let fx = (x * LOG2E + 0.5).floor();
    let r = x - fx * C1 - fx * C2;
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r2 + r + 1.0;
    // 2^fx through the exponent bits (fx ∈ [-126, 128] after the clamp). fx = 128 is split in
    // two multiplications so that the largest inputs give finite results up to f32::MAX.
    // fx is an integer in [-127, 128]: adding 1.5·2^23 puts it in the low mantissa bits, which
    // keeps the conversion in vector registers (an `as i32` cast is scalar, for its NaN rules).
    let k = (fx + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000) as i32;
    let half = k >> 1;
    let a = f32::from_bits(((half + 127) as u32) << 23);
    let b = f32::from_bits(((k - half + 127) as u32) << 23);
    y * a * b
}

/// `x · sigmoid(1.702 x)` (OpenAI's quick-GELU) written as `x / (1 + exp(-1.702 x))`.
#[inline(always)]
fn quick_gelu_one(x: f32) -> f32 {
    x / (1.0 + exp_f32(-1.702 * x))
}

fn quick_gelu_slice_generic(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = quick_gelu_one(*x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quick_gelu_slice_avx512(v: &mut [f32]) {
    quick_gelu_slice_generic(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quick_gelu_slice_avx2(v: &mut [f32]) {
    quick_gelu_slice_generic(v)
}

/// Quick-GELU in place on a slice, with the widest SIMD the CPU has.
pub fn quick_gelu_slice(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { quick_gelu_slice_avx512(v) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { quick_gelu_slice_avx2(v) };
        }
    }
    quick_gelu_slice_generic(v)
}

/// Whether `x` can take the fused CPU path: a plain (non-autodiff) f32 tensor on Flex.
pub fn fused_cpu_path<const D: usize>(x: &Tensor<D>) -> bool {
    !x.is_autodiff() && x.device() == Device::flex() && x.dtype() == burn::tensor::DType::F32
}

/// Quick-GELU of a plain Flex tensor: one parallel SIMD pass instead of three single-threaded
/// ones (mul, sigmoid, mul), in the tensor's own buffer when it is not shared. Tensors whose data
/// is not `f32` take burn's ops.
pub fn quick_gelu_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let shape = x.dims();
    let data = x.into_data();
    if data.dtype() != burn::tensor::DType::F32 {
        let x = Tensor::<D>::from_data(data, &device);
        return x.clone() * burn::tensor::activation::sigmoid(x.mul_scalar(1.702));
    }
    // Internal invariant, not input-dependent: host f32 data always converts (every bit pattern
    // is a valid f32); the buffer is reused when the tensor was not shared.
    let mut v = data
        .try_into_vec::<f32>()
        .expect("f32 host data converts to Vec<f32>");
    v.par_chunks_mut(CHUNK).for_each(quick_gelu_slice);
    Tensor::from_data(TensorData::new(v, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_two_ulp() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp_f32(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        // Clamped ends: exp(−87.33655) ≈ 1.1755e-38 and exp(88.72283) ≈ 3.4028e38.
        assert!(
            (exp_f32(-200.0) / 1.1755e-38 - 1.0).abs() < 1e-3,
            "{}",
            exp_f32(-200.0)
        );
        assert!(
            (exp_f32(100.0) / 3.4028e38 - 1.0).abs() < 1e-3,
            "{}",
            exp_f32(100.0)
        );
    }

    #[test]
    fn quick_gelu_matches_the_definition() {
        let xs: Vec<f32> = (-2000..2000).map(|i| i as f32 * 0.01).collect();
        let mut v = xs.clone();
        quick_gelu_slice(&mut v);
        for (x, y) in xs.iter().zip(&v) {
            let want = x * (1.0 / (1.0 + (-1.702 * x).exp()));
            assert!(
                (y - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "x={x}: {y} vs {want}"
            );
        }
        // Hand values: quick_gelu(0) = 0; quick_gelu(1) = 1/(1+e^-1.702) = 1/1.182319 = 0.845795.
        assert_eq!(v[2000], 0.0);
        assert!((v[2100] - 0.845_795).abs() < 2e-6, "{}", v[2100]);
    }

    #[test]
    fn fused_tensor_path_matches_burns_ops_and_is_skipped_under_autodiff() {
        use burn::tensor::Distribution;
        let x = Tensor::<3>::random([2, 5, 7], Distribution::Normal(0.0, 2.0), &Device::flex());
        assert!(fused_cpu_path(&x));
        let want = crate::tensor_io::to_vec_f32(
            &(x.clone() * burn::tensor::activation::sigmoid(x.clone().mul_scalar(1.702))),
        );
        let got = quick_gelu_flex(x);
        assert_eq!(got.dims(), [2, 5, 7]);
        for (g, w) in crate::tensor_io::to_vec_f32(&got).iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "{g} vs {w}");
        }
        let y = Tensor::<2>::zeros([2, 2], &Device::flex().autodiff());
        assert!(!fused_cpu_path(&y));
    }
}
