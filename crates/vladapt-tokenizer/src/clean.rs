//! Text clean-up before splitting: CLIP's `whitespace_clean(basic_clean(text)).lower()`.

use crate::ftfy::fix_text;
use crate::html::python_unescape;

/// Python's `str.isspace` (Unicode White_Space plus the information separators U+001C..U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// The reference pre-processing: `ftfy.fix_text`, `html.unescape` twice, strip, collapse
/// whitespace runs to one space, lowercase.
pub fn clean_text(text: &str) -> String {
    let fixed = fix_text(text);
    let unescaped = python_unescape(&python_unescape(&fixed));
    let collapsed = unescaped
        .split(is_py_space)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    collapsed.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_cleaning() {
        assert_eq!(
            clean_text("  A  photo\tof a\n\nDOG.  "),
            "a photo of a dog."
        );
        assert_eq!(clean_text("Tom &amp; Jerry"), "tom & jerry");
        assert_eq!(clean_text("&amp;lt;b&amp;gt; <i>"), "<b> <i>");
        assert_eq!(clean_text(""), "");
        assert_eq!(clean_text(" \t\n "), "");
    }
}
