//! HTML entity unescaping as done by the reference pipeline.
//!
//! Two flavours are needed:
//! * [`python_unescape`]: Python's `html.unescape` (run twice by CLIP's `basic_clean`);
//! * [`ftfy_unescape`]: ftfy's `unescape_html` fixer (run inside `ftfy.fix_text`).
//!
//! Numeric references (`&#65;`, `&#x41;`, with or without `;`) are handled exactly, including
//! Python's replacement rules for invalid code points. Named references cover a documented
//! subset of the HTML5 table: the HTML 4.01 names plus `apos`, every legacy name that may
//! appear without `;`, and ftfy's upper-case variants (see `html_entities.rs`). Other HTML5
//! names (e.g. `&hearts;`) are left as they are, where Python would decode them.

use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::ftfy::cp1252_c1;
use crate::html_entities::{FTFY_ENTITIES, HTML5_ENTITIES};

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| table[i].1)
}

fn charref_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)")
            .expect("static regex is valid")
    })
}

fn ftfy_entity_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("static regex is valid"))
}

/// Parse digits with saturation (Python ints are unbounded; anything past U+10FFFF is treated alike).
fn parse_saturating(digits: &str, radix: u32) -> u64 {
    digits.chars().fold(0u64, |acc, c| {
        let d = u64::from(c.to_digit(radix).unwrap_or(0));
        acc.saturating_mul(u64::from(radix)).saturating_add(d)
    })
}

fn is_invalid_codepoint(n: u64) -> bool {
    (0x1..=0x8).contains(&n)
        || n == 0xB
        || (0xE..=0x1F).contains(&n)
        || (0x7F..=0x9F).contains(&n)
        || (0xFDD0..=0xFDEF).contains(&n)
        || (n <= 0x10FFFF && (n & 0xFFFE) == 0xFFFE)
}

fn numeric_charref(body: &str) -> String {
    // body starts with '#'
    let rest = body[1..].trim_end_matches(';');
    let num = if rest.starts_with(['x', 'X']) {
        parse_saturating(&rest[1..], 16)
    } else {
        parse_saturating(rest, 10)
    };
    if num == 0 {
        return "\u{FFFD}".into();
    }
    if num == 0x0D {
        return "\r".into();
    }
    if (0x80..=0x9F).contains(&num) {
        return cp1252_c1(num as u32).to_string();
    }
    if (0xD800..=0xDFFF).contains(&num) || num > 0x10FFFF {
        return "\u{FFFD}".into();
    }
    if is_invalid_codepoint(num) {
        return String::new();
    }
    char::from_u32(num as u32)
        .map(String::from)
        .unwrap_or_else(|| "\u{FFFD}".into())
}

fn named_charref(body: &str) -> String {
    if let Some(v) = lookup(HTML5_ENTITIES, body) {
        return v.to_string();
    }
    // Longest prefix (at least 2 chars, shorter than the whole) that is an entity.
    let bounds: Vec<usize> = body.char_indices().map(|(i, _)| i).collect();
    for x in (2..bounds.len()).rev() {
        let (head, tail) = body.split_at(bounds[x]);
        if let Some(v) = lookup(HTML5_ENTITIES, head) {
            return format!("{v}{tail}");
        }
    }
    format!("&{body}")
}

/// Python's `html.unescape` (for the entity subset documented in this module).
pub(crate) fn python_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    charref_re()
        .replace_all(s, |caps: &Captures| {
            let body = caps.get(1).map_or("", |m| m.as_str());
            if body.starts_with('#') {
                numeric_charref(body)
            } else {
                named_charref(body)
            }
        })
        .into_owned()
}

/// ftfy's `unescape_html` fixer: only complete `&...;` references are decoded.
pub(crate) fn ftfy_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    ftfy_entity_re()
        .replace_all(s, |caps: &Captures| {
            let text = caps.get(0).map_or("", |m| m.as_str());
            if let Some(v) = lookup(FTFY_ENTITIES, text) {
                v.to_string()
            } else if text.starts_with("&#") {
                let unescaped = python_unescape(text);
                if unescaped.contains(';') {
                    text.to_string()
                } else {
                    unescaped
                }
            } else {
                text.to_string()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_unescape_hand_checked() {
        // Values checked by hand against CPython 3.11 `html.unescape`.
        assert_eq!(python_unescape("a &amp; b"), "a & b");
        assert_eq!(python_unescape("&amp"), "&");
        assert_eq!(python_unescape("&ampfoo"), "&foo");
        assert_eq!(python_unescape("&#65;&#x42;&#X43"), "ABC");
        assert_eq!(python_unescape("&#0;"), "\u{FFFD}");
        assert_eq!(python_unescape("&#150;"), "\u{2013}");
        assert_eq!(python_unescape("&#1;x"), "x");
        assert_eq!(python_unescape("&#99999999999999999999;"), "\u{FFFD}");
        assert_eq!(python_unescape("&nosuch;"), "&nosuch;");
        assert_eq!(python_unescape("&eacute;t&eacute"), "été");
    }

    #[test]
    fn ftfy_unescape_needs_semicolon() {
        assert_eq!(ftfy_unescape("&amp;amp;"), "&amp;");
        assert_eq!(ftfy_unescape("&amp x"), "&amp x");
        assert_eq!(ftfy_unescape("&NTILDE;"), "Ñ");
        assert_eq!(ftfy_unescape("&#x41;"), "A");
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(HTML5_ENTITIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(FTFY_ENTITIES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
