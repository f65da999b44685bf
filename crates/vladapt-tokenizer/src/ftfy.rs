//! The parts of `ftfy.fix_text` (ftfy 6.3, default `TextFixerConfig`) that matter for
//! normal text.
//!
//! Implemented, in ftfy's order and repeated per line until nothing changes:
//! `unescape_html` (only while no line so far contained `<`, as ftfy's `"auto"` mode),
//! `fix_c1_controls` (C1 controls read as Windows-1252), `fix_latin_ligatures`,
//! `fix_character_width` (full-width/half-width forms and U+3000), `uncurl_quotes`,
//! `fix_line_breaks`, `remove_terminal_escapes`, `remove_control_chars`, NFC normalisation.
//!
//! Not implemented: mojibake repair (`fix_encoding`: re-decoding text such as `"cafÃ©"` that
//! was UTF-8 read as Latin-1 / Windows-125x / MacRoman, `restore_byte_a0`,
//! `replace_lossy_sequences`, `decode_inconsistent_utf8`). Text that ftfy would
//! consider mojibake therefore may tokenize differently; ordinary text is unaffected.
//! ftfy's extra splitting of lines longer than 1,000,000 code points is not reproduced.
//! `fix_surrogates` has no equivalent because a Rust `str` cannot hold surrogates.

use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::html::ftfy_unescape;

/// Windows-1252 reading of a C1 code point (0x80..=0x9F); the five undefined bytes stay as they are
/// (ftfy's "sloppy-windows-1252", also Python's `html._invalid_charrefs`).
pub(crate) fn cp1252_c1(b: u32) -> char {
    const TABLE: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let cp = if (0x80..=0x9F).contains(&b) {
        TABLE[(b - 0x80) as usize]
    } else {
        b
    };
    char::from_u32(cp).unwrap_or('\u{FFFD}')
}

fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

fn is_removed_control(c: char) -> bool {
    let u = c as u32;
    u <= 0x08
        || u == 0x0B
        || (0x0E..=0x1F).contains(&u)
        || u == 0x7F
        || (0x206A..=0x206F).contains(&u)
        || u == 0xFEFF
        || (0xFFF9..=0xFFFC).contains(&u)
}

fn ansi_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\x1b\[(?:\d|;)*[a-zA-Z]").expect("static regex is valid"))
}

/// One pass of the character-level fixers, in ftfy's order.
fn fix_chars_once(text: &str) -> String {
    // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if ('\u{80}'..='\u{9F}').contains(&c) {
            cp1252_c1(c as u32)
        } else {
            c
        };
        if let Some(l) = ligature(c) {
            s.extend(l.chars().map(uncurl));
            continue;
        }
        let u = c as u32;
        if u == 0x3000 {
            s.push(' ');
        } else if (0xFF01..=0xFFEF).contains(&u) {
            s.extend(std::iter::once(c).nfkc().map(uncurl));
        } else {
            s.push(uncurl(c));
        }
    }
    // fix_line_breaks
    let s = s
        .replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
    // remove_terminal_escapes
    let s = ansi_re().replace_all(&s, "");
    // remove_control_chars, then NFC
    s.chars()
        .filter(|&c| !is_removed_control(c))
        .collect::<String>()
        .nfc()
        .collect()
}

fn uncurl(c: char) -> char {
    match c {
        '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
        '\u{201C}'..='\u{201F}' => '"',
        _ => c,
    }
}

fn fix_segment(segment: &str, unescape_html: bool) -> String {
    let mut text = segment.to_string();
    loop {
        let orig = text.clone();
        if unescape_html {
            text = ftfy_unescape(&text);
        }
        text = fix_chars_once(&text);
        if text == orig {
            return text;
        }
    }
}

/// `ftfy.fix_text(text)` with default settings (see the module docs for what is covered).
pub fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape_html = true;
    for segment in text.split_inclusive('\n') {
        if unescape_html && segment.contains('<') {
            unescape_html = false;
        }
        out.push_str(&fix_segment(segment, unescape_html));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_fixes() {
        assert_eq!(
            fix_text("\u{201C}quoted\u{201D} it\u{2019}s"),
            "\"quoted\" it's"
        );
        assert_eq!(fix_text("\u{FB01}ne"), "fine");
        assert_eq!(fix_text("\u{FF21}\u{FF42}\u{FF13}\u{3000}x"), "Ab3 x");
        assert_eq!(fix_text("a\r\nb\rc"), "a\nb\nc");
        assert_eq!(fix_text("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(fix_text("e\u{301}"), "\u{e9}");
        assert_eq!(fix_text("\u{93}hi\u{94}"), "\"hi\"");
        assert_eq!(fix_text("a\u{0}b\u{FEFF}c"), "abc");
        assert_eq!(fix_text("&amp;amp;lt; <b>"), "&amp;amp;lt; <b>");
        assert_eq!(fix_text("&amp;amp;lt;"), "<");
        assert_eq!(fix_text(""), "");
    }
}
