//! PNG plots drawn with the `image` crate only (no system fonts): line plots and heat maps.
pub mod canvas;
pub mod font;

use std::path::Path;

use canvas::{Canvas, Color};
use font::text_width;

use crate::error::DataError;
use crate::metrics::ConfusionMatrix;

/// Width of a line plot in pixels.
pub const LINE_PLOT_W: u32 = 800;
/// Height of a line plot in pixels.
pub const LINE_PLOT_H: u32 = 500;

const BLACK: Color = [0, 0, 0];
const GREY: Color = [225, 225, 225];
const PALETTE: &[Color] = &[
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// "Nice" tick positions inside [lo, hi]: the step of 1, 2 or 5 × 10^k whose tick count is
/// closest to `n`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || n == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let span = hi - lo;
    let step = [0.5, 1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|a, b| {
            ((span / a) - n as f64)
                .abs()
                .total_cmp(&((span / b) - n as f64).abs())
        })
        .unwrap_or(mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    (lo, hi)
}

/// Line plot of one or more (x, y) series, with markers, axes, ticks, axis labels, a title and a
/// legend, written as an 800×500 PNG. Non-finite points are skipped.
pub fn line_plot(
    path: &Path,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x_label: &str,
    y_label: &str,
) -> Result<(), DataError> {
    let (w, h) = (LINE_PLOT_W as i64, LINE_PLOT_H as i64);
    let mut c = Canvas::new(LINE_PLOT_W, LINE_PLOT_H);
    let legend_w = series
        .iter()
        .map(|(n, _)| text_width(n, 1) as i64)
        .max()
        .unwrap_or(0)
        .min(200)
        + 36;
    let (left, right, top, bottom) = (70i64, w - 20 - legend_w, 40i64, h - 55);
    let pts = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (x0, x1) = range(pts().map(|p| p.0));
    let (mut y0, mut y1) = range(pts().map(|p| p.1));
    let pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    let px = |x: f64| left + ((x - x0) / (x1 - x0) * (right - left) as f64).round() as i64;
    let py = |y: f64| bottom - ((y - y0) / (y1 - y0) * (bottom - top) as f64).round() as i64;
    let xt = nice_ticks(x0, x1, 6);
    let yt = nice_ticks(y0, y1, 6);
    let xstep = if xt.len() > 1 { xt[1] - xt[0] } else { 1.0 };
    let ystep = if yt.len() > 1 { yt[1] - yt[0] } else { 1.0 };
    for &t in &yt {
        let y = py(t);
        c.line(left, y, right, y, GREY, 1);
        c.line(left - 4, y, left, y, BLACK, 1);
        let s = fmt_tick(t, ystep);
        c.text(left - 8 - text_width(&s, 1) as i64, y - 3, &s, 1, BLACK);
    }
    for &t in &xt {
        let x = px(t);
        c.line(x, top, x, bottom, GREY, 1);
        c.line(x, bottom, x, bottom + 4, BLACK, 1);
        c.text_centered(x, bottom + 8, &fmt_tick(t, xstep), 1, BLACK);
    }
    c.rect(left, top, right - left, bottom - top, BLACK);
    c.text_centered(w / 2, 12, title, 2, BLACK);
    c.text_centered((left + right) / 2, h - 22, x_label, 1, BLACK);
    c.text_vertical(14, (top + bottom) / 2, y_label, 1, BLACK);
    for (i, (name, p)) in series.iter().enumerate() {
        let col = PALETTE[i % PALETTE.len()];
        let good: Vec<(i64, i64)> = p
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| (px(x), py(y)))
            .collect();
        for win in good.windows(2) {
            c.line(win[0].0, win[0].1, win[1].0, win[1].1, col, 2);
        }
        for &(x, y) in &good {
            c.disc(x, y, 3, col);
        }
        let ly = top + 10 + i as i64 * 16;
        c.line(right + 12, ly + 3, right + 28, ly + 3, col, 2);
        c.disc(right + 20, ly + 3, 3, col);
        c.text(right + 34, ly, name, 1, BLACK);
    }
    c.save(path)
}

fn heat_color(t: f64) -> Color {
    // White → dark blue.
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    [lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0)]
}

/// Side of one heat-map cell in pixels for `n` classes.
pub fn heatmap_cell(n: usize) -> u32 {
    (640 / n.max(1) as u32).clamp(2, 48)
}

/// Heat map of a square (or rectangular) matrix, rows = true class, columns = predicted class.
/// Colours scale from 0 (white) to the matrix maximum (dark blue). Class labels are drawn when
/// there are at most 60, values inside cells when the cells are large enough.
pub fn heatmap(
    path: &Path,
    title: &str,
    matrix: &[Vec<f64>],
    labels: &[String],
) -> Result<(), DataError> {
    let rows = matrix.len();
    let cols = matrix.iter().map(|r| r.len()).max().unwrap_or(0);
    if rows == 0 || cols == 0 {
        return Err(DataError::Invalid {
            name: "matrix",
            reason: "heat map of an empty matrix".into(),
        });
    }
    let cell = heatmap_cell(rows.max(cols)) as i64;
    let show_labels = rows.max(cols) <= 60;
    let lab = |i: usize| -> String {
        labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string())
            .chars()
            .take(14)
            .collect()
    };
    let label_w = if show_labels {
        (0..rows.max(cols))
            .map(|i| text_width(&lab(i), 1) as i64)
            .max()
            .unwrap_or(0)
            + 10
    } else {
        10
    };
    let left = 30 + label_w;
    let top = 40i64;
    let w = left + cell * cols as i64 + 20;
    let h = top + cell * rows as i64 + label_w + 30;
    let mut c = Canvas::new(w.max(200) as u32, h.max(120) as u32);
    let max = matrix
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let integers = matrix.iter().flatten().all(|v| v.fract() == 0.0);
    for (r, row) in matrix.iter().enumerate() {
        for (k, &v) in row.iter().enumerate() {
            let t = if max > 0.0 && v.is_finite() {
                v / max
            } else {
                0.0
            };
            let (x, y) = (left + k as i64 * cell, top + r as i64 * cell);
            c.fill_rect(x, y, cell, cell, heat_color(t));
            let s = if integers {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            if cell >= 12 && text_width(&s, 1) as i64 + 4 <= cell {
                let fg = if t > 0.5 { [255, 255, 255] } else { BLACK };
                c.text_centered(x + cell / 2, y + cell / 2 - 3, &s, 1, fg);
            }
        }
    }
    c.rect(left, top, cell * cols as i64, cell * rows as i64, BLACK);
    if show_labels {
        for r in 0..rows {
            let s = lab(r);
            c.text(
                left - 6 - text_width(&s, 1) as i64,
                top + r as i64 * cell + cell / 2 - 3,
                &s,
                1,
                BLACK,
            );
        }
        for k in 0..cols {
            let s = lab(k);
            let cx = left + k as i64 * cell + cell / 2 - 3;
            let len = text_width(&s, 1) as i64;
            c.text_vertical(cx, top + rows as i64 * cell + 6 + len / 2, &s, 1, BLACK);
        }
    }
    c.text_centered(c.img.width() as i64 / 2, 12, title, 2, BLACK);
    c.text_vertical(6, top + cell * rows as i64 / 2, "TRUE", 1, BLACK);
    c.text_centered(
        left + cell * cols as i64 / 2,
        h.max(120) - 14,
        "PREDICTED",
        1,
        BLACK,
    );
    c.save(path)
}

/// Heat map of a confusion matrix, row-normalised.
pub fn confusion_heatmap(path: &Path, title: &str, cm: &ConfusionMatrix) -> Result<(), DataError> {
    heatmap(path, title, &cm.normalised(), &cm.labels)
}
