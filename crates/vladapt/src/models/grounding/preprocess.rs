//! Grounding test-time preprocessing (spec §3.3 val/test): long side → canvas keeping the aspect
//! ratio (bilinear), ImageNet mean/std, centre pad onto the square canvas with a pixel mask; boxes
//! into and out of the padded frame.
use crate::{Result, VladaptError};
use vladapt_data::grounding::{cxcywh_to_xyxy, xyxy_to_cxcywh, BoxXyxy};
use vladapt_image::RgbImage;

/// ImageNet mean.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Python's `round` (half to even), as TransVG's transforms use it.
fn py_round(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// Where an image sits on the padded canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Original size `(w, h)`.
    pub original: (u32, u32),
    /// Resized size `(w, h)`.
    pub resized: (u32, u32),
    /// Resize ratio `canvas / max(w, h)`.
    pub ratio: f64,
    /// Left / top offsets of the pasted image.
    pub offset: (u32, u32),
    /// Canvas side.
    pub canvas: u32,
}

impl Letterbox {
    /// The layout of a `w × h` image on a `canvas²` canvas: `ratio = canvas / max(w, h)`,
    /// sizes `round(side · ratio)`, offsets `round((canvas − side) / 2 − 0.1)` (TransVG's
    /// `NormalizeAndPad` without translation).
    pub fn new(w: u32, h: u32, canvas: u32) -> Result<Self> {
        if w == 0 || h == 0 || canvas == 0 {
            return Err(VladaptError::argument(
                "image",
                format!("cannot letterbox a {w}×{h} image onto {canvas}²"),
            ));
        }
        let ratio = canvas as f64 / w.max(h) as f64;
        let rw = (py_round(w as f64 * ratio) as u32).clamp(1, canvas);
        let rh = (py_round(h as f64 * ratio) as u32).clamp(1, canvas);
        let off = |side: u32| py_round((canvas - side) as f64 / 2.0 - 0.1).max(0.0) as u32;
        Ok(Self {
            original: (w, h),
            resized: (rw, rh),
            ratio,
            offset: (off(rw), off(rh)),
            canvas,
        })
    }

    /// A pixel box (original image, corners) → normalised `(cx, cy, w, h)` on the canvas.
    pub fn box_to_canvas(&self, b: BoxXyxy) -> [f32; 4] {
        let r = self.ratio as f32;
        let (l, t) = (self.offset.0 as f32, self.offset.1 as f32);
        let c = self.canvas as f32;
        let x = [b[0] * r + l, b[1] * r + t, b[2] * r + l, b[3] * r + t];
        xyxy_to_cxcywh(x).map(|v| v / c)
    }

    /// A normalised canvas box `(cx, cy, w, h)` → original-image pixels (corners), clamped to
    /// the image.
    pub fn box_from_canvas(&self, b: [f32; 4]) -> BoxXyxy {
        let c = self.canvas as f32;
        let [x1, y1, x2, y2] = cxcywh_to_xyxy(b).map(|v| v * c);
        let r = self.ratio as f32;
        let (l, t) = (self.offset.0 as f32, self.offset.1 as f32);
        let (w, h) = (self.original.0 as f32, self.original.1 as f32);
        [
            ((x1 - l) / r).clamp(0.0, w),
            ((y1 - t) / r).clamp(0.0, h),
            ((x2 - l) / r).clamp(0.0, w),
            ((y2 - t) / r).clamp(0.0, h),
        ]
    }
}

/// A preprocessed image: CHW canvas values, pixel mask (true = padding) and the layout.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `3 · canvas²` normalised values (0 on padding: the mean colour).
    pub pixels: Vec<f32>,
    /// `canvas²` flags, true = padding.
    pub mask: Vec<bool>,
    /// Layout for mapping boxes back.
    pub letterbox: Letterbox,
}

/// Resize (PIL-exact bilinear, as TransVG's `F.resize`), normalise and centre-pad `img` onto `canvas²`.
pub fn prepare(img: &RgbImage, canvas: u32) -> Result<Prepared> {
    let lb = Letterbox::new(img.width(), img.height(), canvas)?;
    let (rw, rh) = lb.resized;
    // PIL `Image.BILINEAR` (antialiased triangle), bit-exact, as torchvision's `F.resize` on the
    // PIL image does; a same-size resize is an exact copy.
    let resized = vladapt_image::resize_bilinear(img, rw, rh);
    let chw = vladapt_image::to_chw_normalised(&resized, &IMAGENET_MEAN, &IMAGENET_STD);
    let c = canvas as usize;
    let (l, t) = (lb.offset.0 as usize, lb.offset.1 as usize);
    let (rw, rh) = (rw as usize, rh as usize);
    let mut pixels = vec![0f32; 3 * c * c];
    let mut mask = vec![true; c * c];
    for ch in 0..3 {
        for y in 0..rh {
            let src = &chw[(ch * rh + y) * rw..(ch * rh + y + 1) * rw];
            let dst = (ch * c + t + y) * c + l;
            pixels[dst..dst + rw].copy_from_slice(src);
        }
    }
    for y in 0..rh {
        mask[(t + y) * c + l..(t + y) * c + l + rw].fill(false);
    }
    Ok(Prepared {
        pixels,
        mask,
        letterbox: lb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_matches_transvg_arithmetic() {
        // 640×480 → ratio 1, 80 px top padding: round((640 − 480)/2 − 0.1) = 80.
        let lb = Letterbox::new(640, 480, 640).unwrap();
        assert_eq!((lb.resized, lb.offset), ((640, 480), (0, 80)));
        // 1000×500 → 640×320, top round(160 − 0.1) = 160.
        let lb = Letterbox::new(1000, 500, 640).unwrap();
        assert_eq!((lb.resized, lb.offset), ((640, 320), (0, 160)));
        // Odd padding 641−… : 300×101 on 64 → ratio 64/300, h = round(21.5466…) = 22, top round(20.9) = 21.
        let lb = Letterbox::new(300, 101, 64).unwrap();
        assert_eq!((lb.resized, lb.offset), ((64, 22), (0, 21)));
        assert!(Letterbox::new(0, 5, 640).is_err());
    }

    #[test]
    fn boxes_round_trip_through_the_canvas() {
        let lb = Letterbox::new(1000, 500, 640).unwrap();
        let b = [100.0, 50.0, 300.0, 450.0];
        let n = lb.box_to_canvas(b);
        // x1 = 64, x2 = 192 → cx = 128/640 = 0.2, w = 0.2; y1 = 32 + 160, y2 = 288 + 160 → cy = 0.5, h = 0.4.
        for (a, e) in n.iter().zip([0.2, 0.5, 0.2, 0.4]) {
            assert!((a - e).abs() < 1e-6, "{n:?}");
        }
        let back = lb.box_from_canvas(n);
        for (a, e) in back.iter().zip(b) {
            assert!((a - e).abs() < 1e-3, "{back:?}");
        }
    }

    #[test]
    fn one_pixel_image_fills_the_canvas() {
        let img = RgbImage::from_pixel(
            1,
            1,
            vladapt_image::RgbImage::new(1, 1)
                .get_pixel(0, 0)
                .to_owned(),
        );
        let p = prepare(&img, 64).unwrap();
        assert!(p.mask.iter().all(|m| !m));
        // black pixel → (0 − mean) / std on every position of channel 0.
        assert!((p.pixels[0] + 0.485 / 0.229).abs() < 1e-5);
    }
}
