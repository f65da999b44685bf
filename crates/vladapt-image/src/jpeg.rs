//! JPEG decoding with libjpeg-turbo — the library Pillow links — through the TurboJPEG 3 API
//! (`turbojpeg-sys`, built from its bundled source), with Pillow's decoder settings: accurate
//! integer IDCT (`JDCT_ISLOW`, TurboJPEG's default) and fancy (smooth) chroma upsampling
//! (`do_fancy_upsampling = TRUE`, TurboJPEG's default). The result is bit-identical to
//! `PIL.Image.open(p).convert("RGB")` (checked on `fixtures/image/jpeg/`).
//!
//! Colour handling follows Pillow:
//! - 1 component → mode `L`, replicated to RGB;
//! - 3 components → libjpeg's own YCbCr/RGB decision, converted to RGB by libjpeg;
//! - 4 components (CMYK, or YCCK converted to CMYK by libjpeg) → mode `CMYK` with Pillow's
//!   rawmode `CMYK;I` ("assume adobe conventions": every channel inverted), then Pillow's
//!   `cmyk2rgb`.
//!
//! Errors follow Pillow too: a fatal libjpeg error or a file that ends before the image does
//! (libjpeg's "Premature end of JPEG file" warning; Pillow raises "image file is truncated") is
//! refused; other libjpeg warnings (e.g. extraneous bytes before a marker) are not, as in Pillow.
use image::RgbImage;
use turbojpeg_sys as tj;

use crate::error::{ImageError, ImageLimits};

/// Most progressive scans accepted: a hostile progressive JPEG can otherwise make libjpeg run
/// one pass over the coefficient buffer per (tiny) scan. Real encoders write ≤ ~20 scans.
const MAX_SCANS: i32 = 1000;

/// A TurboJPEG decompressor handle, destroyed on drop.
struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed exactly once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    fn new() -> Option<Self> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as CInt) };
        (!h.is_null()).then_some(Self(h))
    }

    fn message(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by the handle.
        let s = unsafe { std::ffi::CStr::from_ptr(tj::tj3GetErrorStr(self.0)) };
        s.to_string_lossy().trim().to_string()
    }

    fn is_warning(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { tj::tj3GetErrorCode(self.0) == tj::TJERR_TJERR_WARNING as CInt }
    }

    fn get(&self, param: tj::TJPARAM) -> CInt {
        // SAFETY: valid handle; unknown parameters return -1.
        unsafe { tj::tj3Get(self.0, param as CInt) }
    }

    fn set(&self, param: tj::TJPARAM, value: CInt) -> Result<(), String> {
        // SAFETY: valid handle.
        if unsafe { tj::tj3Set(self.0, param as CInt, value) } != 0 {
            return Err(self.message());
        }
        Ok(())
    }
}

type CInt = std::os::raw::c_int;

/// Image size and colour space read from the JPEG header.
pub(crate) struct JpegHeader {
    pub width: u32,
    pub height: u32,
    colorspace: CInt,
}

fn read_header(h: &Handle, bytes: &[u8]) -> Result<JpegHeader, String> {
    // SAFETY: pointer/length of a live slice.
    let rc = unsafe { tj::tj3DecompressHeader(h.0, bytes.as_ptr(), bytes.len() as _) };
    if rc != 0 {
        return Err(h.message());
    }
    let width = h.get(tj::TJPARAM_TJPARAM_JPEGWIDTH);
    let height = h.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT);
    if width <= 0 || height <= 0 {
        return Err(format!("image has zero size {width}x{height}"));
    }
    Ok(JpegHeader {
        width: width as u32,
        height: height as u32,
        colorspace: h.get(tj::TJPARAM_TJPARAM_COLORSPACE),
    })
}

/// Decode a JPEG to RGB8 as `PIL.Image.open(..).convert("RGB")` does (no EXIF rotation, as
/// Pillow's `open` does not apply it). `check` is called with the header's size before any
/// pixel buffer is allocated.
pub(crate) fn decode_jpeg(
    bytes: &[u8],
    name: &str,
    limits: &ImageLimits,
    check: impl Fn(u64, u64) -> Result<(), ImageError>,
) -> Result<RgbImage, ImageError> {
    let err = |reason: String| ImageError::Decode {
        name: name.to_string(),
        reason,
    };
    let h = Handle::new().ok_or_else(|| err("cannot initialise libjpeg-turbo".into()))?;
    let head = read_header(&h, bytes).map_err(&err)?;
    check(u64::from(head.width), u64::from(head.height))?;
    // libjpeg's own budget for its work buffers (progressive coefficient arrays are
    // 2 bytes × components per pixel), in MiB; generous next to the pixel budget.
    let max_mib = (limits.max_pixels.saturating_mul(8) >> 20).clamp(64, i32::MAX as u64);
    h.set(tj::TJPARAM_TJPARAM_MAXMEMORY, max_mib as CInt)
        .map_err(&err)?;
    h.set(tj::TJPARAM_TJPARAM_SCANLIMIT, MAX_SCANS)
        .map_err(&err)?;
    let cmyk = head.colorspace == tj::TJCS_TJCS_CMYK as CInt
        || head.colorspace == tj::TJCS_TJCS_YCCK as CInt;
    let (format, channels) = if cmyk {
        (tj::TJPF_TJPF_CMYK, 4usize)
    } else {
        (tj::TJPF_TJPF_RGB, 3usize)
    };
    let (w, hgt) = (head.width as usize, head.height as usize);
    let len = w
        .checked_mul(hgt)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| err(format!("image size {w}x{hgt} overflows")))?;
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` holds width × height × channels bytes, the size TurboJPEG writes for a
    // pitch of 0 (= width × channels) and this pixel format; the header was read above.
    let rc = unsafe {
        tj::tj3Decompress8(
            h.0,
            bytes.as_ptr(),
            bytes.len() as _,
            buf.as_mut_ptr(),
            0,
            format as CInt,
        )
    };
    if rc != 0 {
        let msg = h.message();
        // Pillow refuses fatal errors and files that end early; other warnings pass.
        if !(h.is_warning() && is_tolerated_warning(&msg)) {
            return Err(err(msg));
        }
    }
    let rgb = if cmyk {
        cmyk_inverted_to_rgb(&buf)
    } else {
        buf
    };
    RgbImage::from_raw(head.width, head.height, rgb)
        .ok_or_else(|| err("decoded buffer has the wrong size".into()))
}

/// libjpeg warnings (`JWRN_*` of `jerror.h`) after which Pillow still returns the image.
/// TurboJPEG keeps reporting "warning" once one was seen even if a fatal error follows, so the
/// message decides: anything else — "Premature end of JPEG file" (Pillow: "image file is
/// truncated") or a fatal error such as "two SOF markers" (Pillow: "broken data stream") — is
/// refused.
fn is_tolerated_warning(msg: &str) -> bool {
    const TOLERATED: &[&str] = &[
        "Corrupt JPEG data",
        "Warning:",
        "Inconsistent progression sequence",
        "Invalid SOS parameters for sequential JPEG",
        "Unknown Adobe color transform code",
        "Application transferred too many scanlines",
    ];
    TOLERATED.iter().any(|p| msg.starts_with(p))
}

/// Pillow's `CMYK;I` unpacking (each channel inverted) followed by its `cmyk2rgb`:
/// `nk = 255 - k; out = clip8(nk - muldiv255(c, nk))`, with
/// `muldiv255(a, b) = ((t >> 8) + t) >> 8` where `t = a·b + 128`.
fn cmyk_inverted_to_rgb(raw: &[u8]) -> Vec<u8> {
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    for p in raw.chunks_exact(4) {
        let [c, m, y, k] = [255 - p[0], 255 - p[1], 255 - p[2], 255 - p[3]].map(i32::from);
        let nk = 255 - k;
        for v in [c, m, y] {
            out.push((nk - muldiv255(v, nk)).clamp(0, 255) as u8);
        }
    }
    out
}
