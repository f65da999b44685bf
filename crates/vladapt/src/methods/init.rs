//! Parameter initialisers matching PyTorch's.
use burn::tensor::{Device, Distribution, Tensor};

/// PyTorch `nn.Linear` default: weight and bias ~ U(−1/√in, 1/√in). Weight `[out, in]`.
pub fn torch_linear(out: usize, inp: usize, device: &Device) -> (Tensor<2>, Tensor<1>) {
    let b = 1.0 / (inp as f64).sqrt();
    (
        Tensor::random([out, inp], Distribution::Uniform(-b, b), device),
        Tensor::random([out], Distribution::Uniform(-b, b), device),
    )
}

/// Kaiming-normal, mode fan_out, ReLU gain: std = √(2/out) for a `[out, in]` weight.
pub fn kaiming_normal_fan_out(out: usize, inp: usize, device: &Device) -> Tensor<2> {
    Tensor::random(
        [out, inp],
        Distribution::Normal(0.0, (2.0 / out as f64).sqrt()),
        device,
    )
}

/// `x` in the forward pass, `s ×` the gradient in the backward pass (MMA's gradient-scale op).
pub fn scale_grad<const D: usize>(x: Tensor<D>, s: f64) -> Tensor<D> {
    x.clone().mul_scalar(s) + x.detach().mul_scalar(1.0 - s)
}

/// `y = x Wᵀ + b` for a PyTorch-layout weight `[out, in]`.
pub fn linear_t<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<D> {
    burn::tensor::module::linear(x, w.transpose(), b)
}
