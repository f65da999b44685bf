//! HTML entity unescaping as done by the reference pipeline.
//!
//! Two flavours are needed:
//! * [`python_unescape`]: Python's `html.unescape` (run twice by CLIP's `basic_clean`);
//! * [`ftfy_unescape`]: ftfy's `unescape_html` fixer (run inside `ftfy.fix_text`).
//!
//! Named references are looked up in `htmlize::ENTITIES`, the WHATWG HTML5 table — the same
//! 2231 names and values as Python's `html.entities.html5`, legacy names without `;` included
//! (checked against `fixtures/tokenizer/html_unescape.json`). What is Python-specific stays
//! here: the reference regex (names of at most 32 characters), the longest-prefix rule for
//! names without `;`, the replacement rules for numeric references (C1 → cp1252, surrogates
//! and out-of-range → U+FFFD, non-characters removed), and ftfy's upper-case variants
//! (`&NTILDE;` → `Ñ`), derived from the table the way ftfy builds them.

use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::ftfy::cp1252_c1;

/// The HTML5 value of `&name` (`name` may end in `;`).
fn entity(name: &str) -> Option<&'static str> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(b'&');
    key.extend_from_slice(name.as_bytes());
    htmlize::ENTITIES
        .get(key.as_slice())
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// ftfy's `HTML_ENTITIES[text]` for a complete reference `text` = `&name;`: the HTML5 value,
/// or — for an all-caps name whose lower-case form is an HTML5 name, when Python's
/// `html.unescape` leaves the all-caps reference unchanged — the upper-cased value.
fn ftfy_entity(text: &str) -> Option<String> {
    let name = text.strip_prefix('&')?;
    if let Some(v) = entity(name) {
        return Some(v.to_string());
    }
    let lower = name.to_lowercase();
    if lower.to_uppercase() != name || python_unescape(text) != text {
        return None;
    }
    entity(&lower).map(str::to_uppercase)
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
    if let Some(v) = entity(body) {
        return v.to_string();
    }
    // Longest prefix (at least 2 chars, shorter than the whole) that is an entity.
    let bounds: Vec<usize> = body.char_indices().map(|(i, _)| i).collect();
    for x in (2..bounds.len()).rev() {
        let (head, tail) = body.split_at(bounds[x]);
        if let Some(v) = entity(head) {
            return format!("{v}{tail}");
        }
    }
    format!("&{body}")
}

/// Python's `html.unescape`.
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
            if let Some(v) = ftfy_entity(text) {
                v
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

    fn fixture() -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/tokenizer/html_unescape.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is valid JSON")
    }

    fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
        v.as_array()
            .expect("case list")
            .iter()
            .map(|c| {
                let s = |i: usize| c[i].as_str().expect("string").to_string();
                (s(0), s(1))
            })
            .collect()
    }

    /// Fail listing the first cases where `f(input)` differs from the reference output.
    fn assert_matches(cases: &[(String, String)], min: usize, f: fn(&str) -> String) {
        assert!(cases.len() > min, "{} cases", cases.len());
        let bad: Vec<_> = cases
            .iter()
            .filter(|(i, want)| f(i) != *want)
            .map(|(i, want)| format!("{i:?}: got {:?}, want {want:?}", f(i)))
            .collect();
        assert!(
            bad.is_empty(),
            "{} mismatches: {:?}",
            bad.len(),
            &bad[..bad.len().min(10)]
        );
    }

    /// Every HTML5 name (2231) and the numeric edge cases, against CPython's `html.unescape`.
    #[test]
    fn python_unescape_matches_cpython() {
        assert_matches(&pairs(&fixture()["html_unescape"]), 2231, python_unescape);
    }

    /// Every key of ftfy's `HTML_ENTITIES` (3501, upper-case variants included) and refused
    /// forms, against ftfy's `unescape_html`.
    #[test]
    fn ftfy_unescape_matches_ftfy() {
        assert_matches(
            &pairs(&fixture()["ftfy_unescape_html"]),
            3501,
            ftfy_unescape,
        );
    }
}
