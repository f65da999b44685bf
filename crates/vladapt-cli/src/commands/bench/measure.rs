//! Measurement helpers shared by the benches: throughput, median, peak memory, rounding.
use anyhow::Result;
use std::time::Instant;

/// Items per second of `f` (which handles `batch` items) over `iters` timed calls after
/// `warmup` untimed ones.
pub(super) fn throughput(
    f: &dyn Fn() -> Result<()>,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> Result<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let t0 = Instant::now();
    for _ in 0..iters {
        f()?;
    }
    Ok((batch * iters) as f64 / t0.elapsed().as_secs_f64())
}

/// Median (mean of the two middle values for an even count; NaN when empty).
pub(super) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Peak resident set size of this process in MiB (`VmHWM` of /proc/self/status).
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `x` rounded to 3 decimals (JSON output).
pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `x` rounded to 6 decimals (JSON output).
pub(super) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
        assert_eq!(round3(1.23456), 1.235);
    }
}
