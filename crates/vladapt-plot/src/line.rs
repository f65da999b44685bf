//! Line plots: one or more `(x, y)` series with markers, grid, axis labels, title and legend.
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::{de, render, Figure, FONT_FAMILY};
use crate::{PlotError, PALETTE};

/// Width of a line plot in pixels.
pub const LINE_PLOT_W: u32 = 800;
/// Height of a line plot in pixels.
pub const LINE_PLOT_H: u32 = 500;
/// Height of the title band above the chart.
const TITLE_H: u32 = 40;
/// Space left of the chart for the y tick labels and the y axis label.
const Y_LABEL_W: u32 = 75;
/// Space below the chart for the x tick labels and the x axis label.
const X_LABEL_H: u32 = 50;
/// Margins of the chart inside its area (top, right).
const MARGIN_TOP: u32 = 5;
const MARGIN_RIGHT: u32 = 20;

/// The data rectangle of a line plot in pixels, `[left, top, right, bottom]` (inclusive): the
/// x range maps linearly onto `left..=right`, the (padded) y range onto `bottom..=top`.
pub const LINE_PLOT_PLOT_AREA: [u32; 4] = [
    Y_LABEL_W,
    TITLE_H + MARGIN_TOP,
    LINE_PLOT_W - MARGIN_RIGHT - 1,
    LINE_PLOT_H - X_LABEL_H - 1,
];

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

struct LinePlot<'a> {
    title: &'a str,
    series: &'a [(String, Vec<(f64, f64)>)],
    x_label: &'a str,
    y_label: &'a str,
}

impl LinePlot<'_> {
    fn finite(&self, i: usize) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series[i]
            .1
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    /// x range (exact) and y range (padded by 5 % each side) of all finite points.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let all = || (0..self.series.len()).flat_map(|i| self.finite(i));
        let x = range(all().map(|p| p.0));
        let (y0, y1) = range(all().map(|p| p.1));
        let pad = (y1 - y0) * 0.05;
        (x, (y0 - pad, y1 + pad))
    }
}

impl Figure for LinePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (LINE_PLOT_W, LINE_PLOT_H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let (title_area, rest) = root.split_vertically(TITLE_H);
        title_area
            .draw_text(
                self.title,
                &TextStyle::from((FONT_FAMILY, 22).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Center)),
                ((LINE_PLOT_W / 2) as i32, (TITLE_H / 2) as i32),
            )
            .map_err(de)?;
        let mut chart = ChartBuilder::on(&rest)
            .margin_top(MARGIN_TOP)
            .margin_right(MARGIN_RIGHT)
            .x_label_area_size(X_LABEL_H)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_labels(7)
            .y_labels(7)
            .label_style((FONT_FAMILY, 13))
            .axis_desc_style((FONT_FAMILY, 15))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK)
            .draw()
            .map_err(de)?;
        // Frame the data rectangle (the mesh draws only the left and bottom axes).
        chart
            .plotting_area()
            .draw(&Rectangle::new([(x0, y0), (x1, y1)], BLACK))
            .map_err(de)?;
        for (i, (name, _)) in self.series.iter().enumerate() {
            let [r, g, b] = PALETTE[i % PALETTE.len()];
            let col = RGBColor(r, g, b);
            chart
                .draw_series(LineSeries::new(self.finite(i), col.stroke_width(2)))
                .map_err(de)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2))
                });
            chart
                .draw_series(self.finite(i).map(|p| Circle::new(p, 3, col.filled())))
                .map_err(de)?;
        }
        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT_FAMILY, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Line plot of one or more `(x, y)` series with markers, grid, tick labels, axis labels, a
/// title and a legend, as an 800×500 PNG or SVG (by the extension of `path`). Non-finite points
/// are skipped; the y range is padded by 5 % of its span on each side.
pub fn line_plot(
    path: &Path,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x_label: &str,
    y_label: &str,
) -> Result<(), PlotError> {
    render(
        path,
        &LinePlot {
            title,
            series,
            x_label,
            y_label,
        },
    )
}
