//! Image sheets: a grid of images, each with outlined boxes and a few lines of coloured text
//! underneath (grounding predictions: true box, predicted box, expression, IoU).
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::output::{de, render, Figure, FONT_FAMILY};
use crate::{PlotError, Rgb};

/// Padding around each image of a sheet, in pixels.
pub const SHEET_PAD: u32 = 4;
const TEXT_PT: u32 = 12;
const LINE_H: u32 = 15;

/// An axis-aligned box outlined on a sheet image.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetBox {
    /// `[x1, y1, x2, y2]` in pixels of the cell image (clamped to it, rounded).
    pub xyxy: [f64; 4],
    /// Outline colour.
    pub color: Rgb,
    /// Outline thickness in pixels, drawn inwards from the edge.
    pub thickness: u32,
}

/// One cell of a sheet.
#[derive(Debug, Clone)]
pub struct SheetCell {
    /// The image.
    pub image: image::RgbImage,
    /// Boxes drawn over it, in order.
    pub boxes: Vec<SheetBox>,
    /// Text lines underneath, each with its colour.
    pub lines: Vec<(String, Rgb)>,
}

struct Sheet<'a> {
    cells: &'a [SheetCell],
}

impl Sheet<'_> {
    /// (image width, image height, text height, columns, rows).
    fn grid(&self) -> (u32, u32, u32, u32, u32) {
        let w = self
            .cells
            .iter()
            .map(|c| c.image.width())
            .max()
            .unwrap_or(1);
        let h = self
            .cells
            .iter()
            .map(|c| c.image.height())
            .max()
            .unwrap_or(1);
        let lines = self.cells.iter().map(|c| c.lines.len()).max().unwrap_or(0) as u32;
        let text_h = if lines > 0 { lines * LINE_H + 4 } else { 0 };
        let n = self.cells.len() as u32;
        let cols = (n as f64).sqrt().ceil().max(1.0) as u32;
        (w, h, text_h, cols, n.div_ceil(cols))
    }
}

impl Figure for Sheet<'_> {
    fn size(&self) -> (u32, u32) {
        let (w, h, text_h, cols, rows) = self.grid();
        (
            cols * (w + 2 * SHEET_PAD),
            rows * (h + text_h + 2 * SHEET_PAD),
        )
    }

    fn svg_ok(&self) -> bool {
        false
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h, text_h, cols, _) = self.grid();
        for (i, c) in self.cells.iter().enumerate() {
            let i = i as u32;
            let ox = ((i % cols) * (w + 2 * SHEET_PAD) + SHEET_PAD) as i32;
            let oy = ((i / cols) * (h + text_h + 2 * SHEET_PAD) + SHEET_PAD) as i32;
            let (iw, ih) = c.image.dimensions();
            let bitmap: BitMapElement<'_, (i32, i32)> =
                BitMapElement::with_owned_buffer((ox, oy), (iw, ih), c.image.as_raw().clone())
                    .ok_or("image buffer of the wrong size")?;
            root.draw(&bitmap).map_err(de)?;
            for b in &c.boxes {
                let [r, g, bl] = b.color;
                let clamp =
                    |v: f64, hi: u32| v.round().clamp(0.0, hi.saturating_sub(1) as f64) as i32;
                let (x1, y1) = (clamp(b.xyxy[0], iw), clamp(b.xyxy[1], ih));
                let (x2, y2) = (clamp(b.xyxy[2], iw), clamp(b.xyxy[3], ih));
                for d in 0..b.thickness as i32 {
                    if x2 - x1 < 2 * d || y2 - y1 < 2 * d {
                        break;
                    }
                    root.draw(&Rectangle::new(
                        [(ox + x1 + d, oy + y1 + d), (ox + x2 - d, oy + y2 - d)],
                        RGBColor(r, g, bl),
                    ))
                    .map_err(de)?;
                }
            }
            for (k, (text, [r, g, b])) in c.lines.iter().enumerate() {
                let col = RGBColor(*r, *g, *b);
                let style = TextStyle::from((FONT_FAMILY, TEXT_PT).into_font()).color(&col);
                root.draw_text(
                    text,
                    &style,
                    (ox, oy + h as i32 + 2 + (k as u32 * LINE_H) as i32),
                )
                .map_err(de)?;
            }
        }
        Ok(())
    }
}

/// A PNG grid of images with outlined boxes and text lines under each image (about
/// ⌈√n⌉ columns). Only PNG: an SVG would hold one rectangle per pixel.
pub fn image_sheet(path: &Path, cells: &[SheetCell]) -> Result<(), PlotError> {
    if cells.is_empty() {
        return Err(PlotError::Invalid {
            path: path.to_path_buf(),
            reason: "an image sheet needs at least one image".into(),
        });
    }
    render(path, &Sheet { cells })
}
