//! Dimension sniffing straight from file headers, so oversized images are refused before any
//! decoder allocates (a PNG whose IHDR claims 30000×30000 fails without reading pixel data).

/// Width and height announced by the header of a PNG, GIF, BMP, WebP or JPEG file, if the
/// format is recognised and the header is long enough to hold them.
pub(crate) fn sniff_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        if b.get(12..16)? != b"IHDR" {
            return None;
        }
        return Some((be32(b, 16)? as u64, be32(b, 20)? as u64));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some((le16(b, 6)? as u64, le16(b, 8)? as u64));
    }
    if b.starts_with(b"BM") {
        return bmp(b);
    }
    if b.starts_with(b"RIFF") && b.get(8..12)? == b"WEBP" {
        return webp(b);
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        return jpeg(b);
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn bmp(b: &[u8]) -> Option<(u64, u64)> {
    let dib = le32(b, 14)?;
    if dib == 12 {
        // BITMAPCOREHEADER: 16-bit unsigned sizes.
        Some((le16(b, 18)? as u64, le16(b, 20)? as u64))
    } else {
        // BITMAPINFOHEADER and later: signed 32-bit, negative height = top-down.
        let w = le32(b, 18)? as i32;
        let h = le32(b, 22)? as i32;
        Some((w.unsigned_abs() as u64, h.unsigned_abs() as u64))
    }
}

fn webp(b: &[u8]) -> Option<(u64, u64)> {
    match b.get(12..16)? {
        b"VP8 " => {
            // Frame tag (3 bytes) then start code 9d 01 2a, then 14-bit sizes.
            if b.get(23..26)? != [0x9d, 0x01, 0x2a] {
                return None;
            }
            Some((
                (le16(b, 26)? & 0x3fff) as u64,
                (le16(b, 28)? & 0x3fff) as u64,
            ))
        }
        b"VP8L" => {
            if *b.get(20)? != 0x2f {
                return None;
            }
            let bits = le32(b, 21)?;
            Some((
                ((bits & 0x3fff) + 1) as u64,
                (((bits >> 14) & 0x3fff) + 1) as u64,
            ))
        }
        b"VP8X" => Some((le24(b, 24)? as u64 + 1, le24(b, 27)? as u64 + 1)),
        _ => None,
    }
}

fn jpeg(b: &[u8]) -> Option<(u64, u64)> {
    let mut pos = 2usize;
    loop {
        if *b.get(pos)? != 0xFF {
            return None;
        }
        // Skip fill bytes.
        while *b.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *b.get(pos)?;
        pos += 1;
        match marker {
            // Standalone markers without a length field.
            0x01 | 0xD0..=0xD8 => continue,
            // Start of scan or end of image before any frame header: give up.
            0xDA | 0xD9 => return None,
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                let h = be16(b, pos + 3)?;
                let w = be16(b, pos + 5)?;
                return Some((w as u64, h as u64));
            }
            _ => {
                let len = be16(b, pos)? as usize;
                if len < 2 {
                    return None;
                }
                pos += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_ihdr_sizes() {
        let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        b.extend_from_slice(&30000u32.to_be_bytes());
        b.extend_from_slice(&20000u32.to_be_bytes());
        assert_eq!(sniff_dimensions(&b), Some((30000, 20000)));
        assert_eq!(sniff_dimensions(&b[..20]), None);
    }

    #[test]
    fn gif_and_bmp_sizes() {
        let gif = b"GIF89a\x39\x30\x10\x00";
        assert_eq!(sniff_dimensions(gif), Some((12345, 16)));
        let mut bmp = vec![b'B', b'M'];
        bmp.resize(14, 0);
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&7u32.to_le_bytes());
        bmp.extend_from_slice(&(-9i32).to_le_bytes());
        assert_eq!(sniff_dimensions(&bmp), Some((7, 9)));
    }

    #[test]
    fn jpeg_sof_after_app_segment() {
        // SOI, APP0 with 4 payload bytes, SOF0 (len 17) height 300 width 500.
        let b = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x06, 1, 2, 3, 4, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0x2C, 0x01, 0xF4, 0x03,
        ];
        assert_eq!(sniff_dimensions(&b), Some((500, 300)));
        assert_eq!(sniff_dimensions(&b[..12]), None);
    }
}
