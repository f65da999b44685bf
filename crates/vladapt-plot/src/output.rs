//! Rendering a figure to a PNG or SVG file (by extension), atomically (temp file + rename).
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;

/// The family name the embedded font is registered under; every text style uses it.
pub const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans reduced to Latin, Greek and common signs by `tools/subset_plot_font.sh`.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-plot.ttf");

/// Register the embedded font with plotters once per process.
fn ensure_font() -> Result<(), String> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font does not parse".into())
    }
}

/// Something drawable on any plotters backend at a fixed pixel size.
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw onto `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
    /// Whether an SVG of this figure is sensible (an image sheet is not: one rect per pixel).
    fn svg_ok(&self) -> bool {
        true
    }
}

/// Backend error → message.
pub(crate) fn de<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format, PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => Ok(Format::Png),
        "svg" => Ok(Format::Svg),
        _ => Err(PlotError::Format {
            path: path.to_path_buf(),
            ext,
        }),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let io = |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Draw `fig` and write it to `path` as PNG or SVG according to the extension.
pub(crate) fn render(path: &Path, fig: &impl Figure) -> Result<(), PlotError> {
    let format = format_of(path)?;
    let draw_err = |reason| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    };
    ensure_font().map_err(draw_err)?;
    let (w, h) = fig.size();
    match format {
        Format::Png => {
            let mut buf = vec![255u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(|e| draw_err(de(e)))?;
                fig.draw(&root).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(de(e)))?;
            }
            let img = image::RgbImage::from_raw(w, h, buf)
                .ok_or_else(|| draw_err("pixel buffer of the wrong size".into()))?;
            let mut png = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| draw_err(format!("PNG encoding: {e}")))?;
            write_atomic(path, &png)
        }
        Format::Svg => {
            if !fig.svg_ok() {
                return Err(PlotError::Format {
                    path: path.to_path_buf(),
                    ext: "svg (image sheets are written as PNG only)".into(),
                });
            }
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(|e| draw_err(de(e)))?;
                fig.draw(&root).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(de(e)))?;
            }
            write_atomic(path, svg.as_bytes())
        }
    }
}

/// Call `plot` for `png` and for the same name with the `.svg` extension, so each plot exists
/// as a bitmap and as a vector drawing. Returns the first error.
pub fn write_png_and_svg(
    png: &Path,
    plot: impl Fn(&Path) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    plot(png)?;
    plot(&png.with_extension("svg"))
}
