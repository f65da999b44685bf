//! Heat maps of a matrix (confusion matrices: rows = true class, columns = predicted class).
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::{de, render, Figure, FONT_FAMILY};
use crate::{PlotError, Rgb};

const LABEL_PT: u32 = 12;
const TITLE_PT: u32 = 20;
/// Longest class label drawn, in characters.
const LABEL_CHARS: usize = 14;
/// Labels are drawn up to this many classes.
const MAX_LABELLED: usize = 60;
const TOP: i32 = 40;

/// White (`t = 0`) → dark blue (`t = 1`), linear in RGB; `t` is clamped to `[0, 1]`.
pub fn heat_color(t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    [lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0)]
}

/// Side of one heat-map cell in pixels for `n` classes: `640 / n` clamped to `[2, 48]`.
pub fn heatmap_cell(n: usize) -> u32 {
    (640 / n.max(1) as u32).clamp(2, 48)
}

fn text_w(s: &str, pt: u32) -> i32 {
    (FONT_FAMILY, pt)
        .into_font()
        .box_size(s)
        .map(|(w, _)| w as i32)
        .unwrap_or(s.chars().count() as i32 * pt as i32 * 6 / 10)
}

struct Heatmap<'a> {
    title: &'a str,
    matrix: &'a [Vec<f64>],
    labels: &'a [String],
}

struct Layout {
    rows: usize,
    cols: usize,
    cell: i32,
    left: i32,
    label_w: i32,
    w: i32,
    h: i32,
}

impl Heatmap<'_> {
    fn label(&self, i: usize) -> String {
        self.labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string())
            .chars()
            .take(LABEL_CHARS)
            .collect()
    }

    fn show_labels(&self, n: usize) -> bool {
        n <= MAX_LABELLED
    }

    fn layout(&self) -> Layout {
        let rows = self.matrix.len();
        let cols = self.matrix.iter().map(|r| r.len()).max().unwrap_or(0);
        let n = rows.max(cols);
        let cell = heatmap_cell(n) as i32;
        let label_w = if self.show_labels(n) {
            (0..n)
                .map(|i| text_w(&self.label(i), LABEL_PT))
                .max()
                .unwrap_or(0)
                + 10
        } else {
            10
        };
        let left = 30 + label_w;
        let w = (left + cell * cols as i32 + 20).max(200);
        let h = (TOP + cell * rows as i32 + label_w + 30).max(120);
        Layout {
            rows,
            cols,
            cell,
            left,
            label_w,
            w,
            h,
        }
    }
}

impl Figure for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        let l = self.layout();
        (l.w as u32, l.h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let l = self.layout();
        let max = self
            .matrix
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let integers = self.matrix.iter().flatten().all(|v| v.fract() == 0.0);
        let centred = |pt: u32, col: &'static RGBColor| {
            TextStyle::from((FONT_FAMILY, pt).into_font())
                .color(col)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        for (r, row) in self.matrix.iter().enumerate() {
            for (k, &v) in row.iter().enumerate() {
                let t = if max > 0.0 && v.is_finite() {
                    v / max
                } else {
                    0.0
                };
                let [cr, cg, cb] = heat_color(t);
                let (x, y) = (l.left + k as i32 * l.cell, TOP + r as i32 * l.cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + l.cell, y + l.cell)],
                    RGBColor(cr, cg, cb).filled(),
                ))
                .map_err(de)?;
                let s = if integers {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                };
                if l.cell >= 16 && text_w(&s, LABEL_PT - 2) + 4 <= l.cell {
                    let fg = if t > 0.5 { &WHITE } else { &BLACK };
                    root.draw_text(
                        &s,
                        &centred(LABEL_PT - 2, fg),
                        (x + l.cell / 2, y + l.cell / 2),
                    )
                    .map_err(de)?;
                }
            }
        }
        let (gw, gh) = (l.cell * l.cols as i32, l.cell * l.rows as i32);
        root.draw(&Rectangle::new(
            [(l.left - 1, TOP - 1), (l.left + gw, TOP + gh)],
            BLACK,
        ))
        .map_err(de)?;
        if self.show_labels(l.rows.max(l.cols)) {
            let right = TextStyle::from((FONT_FAMILY, LABEL_PT).into_font())
                .pos(Pos::new(HPos::Right, VPos::Center));
            for r in 0..l.rows {
                root.draw_text(
                    &self.label(r),
                    &right,
                    (l.left - 6, TOP + r as i32 * l.cell + l.cell / 2),
                )
                .map_err(de)?;
            }
            let down = TextStyle::from(
                (FONT_FAMILY, LABEL_PT)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .pos(Pos::new(HPos::Left, VPos::Center));
            for k in 0..l.cols {
                root.draw_text(
                    &self.label(k),
                    &down,
                    (l.left + k as i32 * l.cell + l.cell / 2, TOP + gh + 6),
                )
                .map_err(de)?;
            }
        }
        root.draw_text(self.title, &centred(TITLE_PT, &BLACK), (l.w / 2, TOP / 2))
            .map_err(de)?;
        let up = TextStyle::from(
            (FONT_FAMILY, LABEL_PT)
                .into_font()
                .transform(FontTransform::Rotate270),
        )
        .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw_text("true", &up, (10, TOP + gh / 2))
            .map_err(de)?;
        root.draw_text(
            "predicted",
            &centred(LABEL_PT, &BLACK),
            (l.left + gw / 2, TOP + gh + l.label_w + 15),
        )
        .map_err(de)?;
        Ok(())
    }
}

/// Heat map of a matrix, rows = true class, columns = predicted class, as PNG or SVG (by the
/// extension of `path`). Colours scale linearly from 0 (white) to the matrix maximum (dark blue,
/// [`heat_color`]`(1)`); cells are [`heatmap_cell`] pixels square. Class labels are drawn when
/// there are at most 60 classes, values inside cells when they fit.
pub fn heatmap(
    path: &Path,
    title: &str,
    matrix: &[Vec<f64>],
    labels: &[String],
) -> Result<(), PlotError> {
    if matrix.is_empty() || matrix.iter().all(|r| r.is_empty()) {
        return Err(PlotError::Invalid {
            path: path.to_path_buf(),
            reason: "heat map of an empty matrix".into(),
        });
    }
    render(
        path,
        &Heatmap {
            title,
            matrix,
            labels,
        },
    )
}
