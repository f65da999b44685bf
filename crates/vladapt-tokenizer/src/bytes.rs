//! GPT-2 / CLIP reversible byte ↔ printable-character map (`bytes_to_unicode`).

/// The 256 (byte, char) pairs in the reference order.
///
/// The order matters: the first 256 vocabulary ids are these chars in this order
/// (printable Latin-1 bytes first, then the others mapped to U+0100 onwards).
pub(crate) fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut out = Vec::with_capacity(256);
    for b in 0u32..256 {
        if printable(b) {
            out.push((b as u8, char::from_u32(b).unwrap_or('\u{0}')));
        }
    }
    let mut n = 0u32;
    for b in 0u32..256 {
        if !printable(b) {
            out.push((b as u8, char::from_u32(256 + n).unwrap_or('\u{0}')));
            n += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_matches_reference_layout() {
        let m = bytes_to_unicode();
        assert_eq!(m.len(), 256);
        // First entry: '!' (0x21); 94 ASCII printables, then 12 + 82 Latin-1 ones = 188.
        assert_eq!(m[0], (b'!', '!'));
        assert_eq!(m[187], (0xFF, 'ÿ'));
        // Byte 0 is the first non-printable: U+0100; space (0x20) is the 33rd: U+0120 'Ġ'.
        assert_eq!(m[188], (0x00, '\u{100}'));
        assert!(m.contains(&(b' ', 'Ġ')));
        assert_eq!(m[255], (0xAD, '\u{143}'));
    }
}
