//! A small RGB raster with the drawing primitives the plots need.
use std::path::Path;

use image::{Rgb, RgbImage};

use super::font::{glyph, text_width, GLYPH_H, GLYPH_W};
use crate::error::DataError;

/// RGB colour.
pub type Color = [u8; 3];

/// Drawing surface.
pub struct Canvas {
    /// The pixels.
    pub img: RgbImage,
}

impl Canvas {
    /// A white canvas.
    pub fn new(w: u32, h: u32) -> Self {
        Canvas {
            img: RgbImage::from_pixel(w, h, Rgb([255, 255, 255])),
        }
    }

    /// Set one pixel; out-of-range coordinates are ignored.
    pub fn put(&mut self, x: i64, y: i64, c: Color) {
        if x >= 0 && y >= 0 && (x as u32) < self.img.width() && (y as u32) < self.img.height() {
            self.img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }

    /// Filled rectangle.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Color) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// Rectangle outline.
    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Color) {
        self.line(x, y, x + w, y, c, 1);
        self.line(x, y + h, x + w, y + h, c, 1);
        self.line(x, y, x, y + h, c, 1);
        self.line(x + w, y, x + w, y + h, c, 1);
    }

    /// Line of `width` pixels (Bresenham with a square brush).
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Color, width: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let half = (width - 1) / 2;
        loop {
            self.fill_rect(x - half, y - half, width, width, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Filled disc.
    pub fn disc(&mut self, cx: i64, cy: i64, r: i64, c: Color) {
        for y in -r..=r {
            for x in -r..=r {
                if x * x + y * y <= r * r {
                    self.put(cx + x, cy + y, c);
                }
            }
        }
    }

    /// Text with its top-left corner at (x, y).
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: u32, c: Color) {
        let sc = scale as i64;
        for (i, ch) in s.chars().enumerate() {
            let rows = glyph(ch);
            let ox = x + i as i64 * (GLYPH_W as i64 + 1) * sc;
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..GLYPH_W as i64 {
                    if bits & (1 << (GLYPH_W as i64 - 1 - rx)) != 0 {
                        self.fill_rect(ox + rx * sc, y + ry as i64 * sc, sc, sc, c);
                    }
                }
            }
        }
    }

    /// Text centred horizontally on `cx`.
    pub fn text_centered(&mut self, cx: i64, y: i64, s: &str, scale: u32, c: Color) {
        self.text(cx - text_width(s, scale) as i64 / 2, y, s, scale, c);
    }

    /// Text rotated 90° counter-clockwise (reads bottom to top), centred vertically on `cy`,
    /// with its left edge at `x`.
    pub fn text_vertical(&mut self, x: i64, cy: i64, s: &str, scale: u32, c: Color) {
        let sc = scale as i64;
        let w = text_width(s, scale) as i64;
        let bottom = cy + w / 2;
        for (i, ch) in s.chars().enumerate() {
            let rows = glyph(ch);
            let oy = bottom - i as i64 * (GLYPH_W as i64 + 1) * sc;
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..GLYPH_W as i64 {
                    if bits & (1 << (GLYPH_W as i64 - 1 - rx)) != 0 {
                        self.fill_rect(x + ry as i64 * sc, oy - (rx + 1) * sc, sc, sc, c);
                    }
                }
            }
        }
    }

    /// Height of one text line at `scale`.
    pub fn line_height(scale: u32) -> i64 {
        (GLYPH_H * scale) as i64
    }

    /// Save as PNG (parent folders are created).
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| DataError::io("cannot create", parent, e))?;
        }
        self.img
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| DataError::io("cannot write", path, std::io::Error::other(e.to_string())))
    }
}
