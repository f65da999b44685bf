//! Plots through [`plotters`]: line plots, heat maps and image sheets with boxes, written as PNG
//! (bitmap backend, saved with the `image` crate) or SVG (chosen by the file extension). Text is
//! drawn with a DejaVu Sans subset embedded in the binary (`fonts/`, Bitstream Vera licence) —
//! no system font lookup, so a plot looks the same on every machine.
//!
//! Plotting is presentation, not data: it sits beside the data crates (it depends on none of
//! them) and is used by `vladapt::protocols`, `vladapt::pretrain` and `vladapt::train`.
mod error;
mod heatmap;
mod line;
mod output;
mod sheet;

pub use error::PlotError;
pub use heatmap::{heat_color, heatmap, heatmap_cell};
pub use line::{line_plot, LINE_PLOT_H, LINE_PLOT_PLOT_AREA, LINE_PLOT_W};
pub use output::{write_png_and_svg, FONT_FAMILY};
pub use sheet::{image_sheet, SheetBox, SheetCell, SHEET_PAD};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// The colours given to successive series (matplotlib's `tab10`).
pub const PALETTE: &[Rgb] = &[
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
