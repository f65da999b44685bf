//! BERT WordPiece tokenizer: ids identical to Hugging Face `BertTokenizer`.
//!
//! The pipeline is the one of `transformers.models.bert.tokenization_bert` (and of the original
//! Google BERT `tokenization.py`, which TransVG/MMCA vendor):
//!
//! 1. **Basic tokenizer** — drop NUL, U+FFFD and every character whose Unicode category starts
//!    with `C` (except `\t`, `\n`, `\r`); map whitespace (`\t\n\r`, space, category `Zs`) to a
//!    space; surround CJK ideographs with spaces; NFC-normalise; split on whitespace; per word,
//!    lower-case and strip accents (NFD, drop category `Mn`) when `lowercase` is set; split every
//!    punctuation character (ASCII symbols and category `P*`) into its own word.
//! 2. **WordPiece** — per word, greedy longest-match-first against the vocabulary, continuation
//!    pieces prefixed with `##`; a word longer than 100 characters, or one that cannot be covered,
//!    becomes `[UNK]`.
//! 3. **Encoding** — `[CLS] pieces [SEP]`, the pieces cut to `max_len - 2` when too long (as
//!    BERT's `truncation=True` and TransVG's `convert_examples_to_features` do), then padded with
//!    `[PAD]` to `max_len`; the attention mask is 1 on real tokens and 0 on padding.
//!
//! The special-token strings (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`) written literally in
//! the text are kept whole and map to their own ids, as Hugging Face does.
//!
//! Known differences from the Python reference: character categories come from the Unicode
//! version of the `unicode-properties` crate, Python's `unicodedata` may be older, so a code point
//! assigned only in a newer Unicode version (category `Cn`, hence removed, in the older table) can
//! tokenize differently.
//!
//! ```
//! let wp = vladapt_tokenizer::WordPiece::bert_base_uncased();
//! let enc = wp.encode("The man on the LEFT.", 8);
//! // [CLS] the man on the left . [SEP]
//! assert_eq!(enc.ids, vec![101, 1996, 2158, 2006, 1996, 2187, 1012, 102]);
//! assert_eq!(enc.attention_mask, vec![1; 8]);
//! assert!(!enc.truncated);
//! ```

use std::collections::HashMap;
use std::path::Path;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::TokenizerError;

/// Words longer than this many characters become `[UNK]` (BERT's `max_input_chars_per_word`).
pub const MAX_INPUT_CHARS_PER_WORD: usize = 100;

/// The bert-base-uncased vocabulary (30,522 lines, Apache-2.0, from Google's BERT release).
const BERT_BASE_UNCASED_VOCAB: &str = include_str!("../assets/bert-base-uncased-vocab.txt");

/// Special tokens kept whole when they appear literally in the text (Hugging Face's
/// `all_special_tokens` for BERT).
const SPECIAL_TOKENS: [&str; 5] = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"];

/// The result of [`WordPiece::encode`]: exactly `max_len` ids and mask entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// `[CLS] pieces [SEP] [PAD]…`, length `max_len`.
    pub ids: Vec<i64>,
    /// 1 for `[CLS]`, the pieces and `[SEP]`; 0 for padding. Length `max_len`.
    pub attention_mask: Vec<i64>,
    /// True when pieces were dropped to fit `max_len`.
    pub truncated: bool,
}

impl Encoding {
    /// Number of real (unpadded) tokens, `[CLS]` and `[SEP]` included.
    pub fn len_unpadded(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m != 0).count()
    }
}

/// A BERT WordPiece tokenizer built from a `vocab.txt` (one token per line, id = line number).
///
/// Thread-safe and immutable once built.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, i64>,
    /// Id → token, for [`WordPiece::token`].
    tokens: Vec<String>,
    lowercase: bool,
    unk: i64,
    cls: i64,
    sep: i64,
    pad: i64,
}

impl WordPiece {
    /// The bert-base-uncased tokenizer, from the vocabulary compiled into the crate.
    pub fn bert_base_uncased() -> Self {
        Self::from_vocab_str(
            BERT_BASE_UNCASED_VOCAB,
            true,
            Path::new("<bert-base-uncased>"),
        )
        .expect("the bundled bert-base-uncased vocabulary is valid")
    }

    /// Load a `vocab.txt`. `lowercase` is `do_lower_case` (true for the `-uncased` models; it also
    /// turns accent stripping on, as Hugging Face's default `strip_accents=None` does).
    pub fn from_vocab_file(path: &Path, lowercase: bool) -> Result<Self, TokenizerError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_vocab_str(&text, lowercase, path)
    }

    /// Build from the text of a `vocab.txt`; `origin` names it in errors.
    ///
    /// Line `i` (0-based, `\n` or `\r\n` endings) is token id `i`; a repeated token keeps its
    /// last line, as Hugging Face's `load_vocab` does. `[UNK]`, `[CLS]`, `[SEP]` and `[PAD]` must be
    /// present.
    pub fn from_vocab_str(
        text: &str,
        lowercase: bool,
        origin: &Path,
    ) -> Result<Self, TokenizerError> {
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last() == Some(&"") {
            lines.pop();
        }
        if lines.is_empty() {
            return Err(TokenizerError::malformed(origin, "empty vocabulary"));
        }
        if lines.len() > i32::MAX as usize {
            return Err(TokenizerError::malformed(origin, "vocabulary too large"));
        }
        let mut vocab = HashMap::with_capacity(lines.len());
        let mut tokens = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let token = line.strip_suffix('\r').unwrap_or(line);
            vocab.insert(token.to_string(), i as i64);
            tokens.push(token.to_string());
        }
        let id = |name: &str| {
            vocab.get(name).copied().ok_or_else(|| {
                TokenizerError::malformed(
                    origin,
                    format!("special token {name} missing from the vocabulary"),
                )
            })
        };
        let (unk, cls, sep, pad) = (id("[UNK]")?, id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);
        Ok(Self {
            vocab,
            tokens,
            lowercase,
            unk,
            cls,
            sep,
            pad,
        })
    }

    /// Vocabulary size (number of lines of `vocab.txt`).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the text is lower-cased and accent-stripped.
    pub fn lowercase(&self) -> bool {
        self.lowercase
    }

    /// Id of `[PAD]` (0 in the BERT vocabularies).
    pub fn pad_id(&self) -> i64 {
        self.pad
    }

    /// Id of `[CLS]`.
    pub fn cls_id(&self) -> i64 {
        self.cls
    }

    /// Id of `[SEP]`.
    pub fn sep_id(&self) -> i64 {
        self.sep
    }

    /// Id of `[UNK]`.
    pub fn unk_id(&self) -> i64 {
        self.unk
    }

    /// Id of a vocabulary token, if present.
    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.vocab.get(token).copied()
    }

    /// The token string of an id, if in range.
    pub fn token(&self, id: i64) -> Option<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .map(String::as_str)
    }

    /// WordPiece tokens of `text` (no `[CLS]`/`[SEP]`, no truncation): Hugging Face's
    /// `BertTokenizer.tokenize`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        self.piece_ids(text)
            .into_iter()
            .map(|id| self.tokens[id as usize].clone())
            .collect()
    }

    /// Ids of the WordPiece tokens of `text`, without `[CLS]`/`[SEP]`.
    pub fn piece_ids(&self, text: &str) -> Vec<i64> {
        let mut ids = Vec::new();
        for (chunk, special) in split_special(text) {
            if special {
                // A special token missing from the vocabulary is [UNK], as in Hugging Face.
                ids.push(self.vocab.get(chunk).copied().unwrap_or(self.unk));
                continue;
            }
            for word in basic_tokenize(chunk, self.lowercase) {
                self.wordpiece(&word, &mut ids);
            }
        }
        ids
    }

    /// `[CLS] pieces [SEP]` padded with `[PAD]` to `max_len`, pieces truncated to `max_len - 2`.
    ///
    /// `max_len` below 2 is raised to 2 (`[CLS] [SEP]`): BERT cannot encode less.
    pub fn encode(&self, text: &str, max_len: usize) -> Encoding {
        let max_len = max_len.max(2);
        let mut pieces = self.piece_ids(text);
        let truncated = pieces.len() > max_len - 2;
        pieces.truncate(max_len - 2);
        let mut ids = Vec::with_capacity(max_len);
        ids.push(self.cls);
        ids.extend_from_slice(&pieces);
        ids.push(self.sep);
        let real = ids.len();
        ids.resize(max_len, self.pad);
        let mut attention_mask = vec![1; real];
        attention_mask.resize(max_len, 0);
        Encoding {
            ids,
            attention_mask,
            truncated,
        }
    }

    /// Greedy longest-match-first WordPiece of one basic-tokenized word, appended to `out`.
    fn wordpiece(&self, word: &str, out: &mut Vec<i64>) {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > MAX_INPUT_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let first = out.len();
        let mut start = 0;
        let mut candidate = String::with_capacity(word.len() + 2);
        while start < chars.len() {
            let byte_start = chars[start].0;
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let byte_end = chars.get(end).map_or(word.len(), |&(b, _)| b);
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[byte_start..byte_end]);
                if let Some(&id) = self.vocab.get(candidate.as_str()) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(first);
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
    }
}

/// Split `text` around literal special tokens: `(chunk, is_special)` pairs in order.
///
/// Hugging Face's added-token trie takes the earliest match, the longest at that position; the
/// BERT special tokens cannot overlap, so a left-to-right scan is the same.
fn split_special(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let (mut plain_start, mut i) = (0, 0);
    while let Some(off) = text[i..].find('[') {
        i += off;
        match SPECIAL_TOKENS.iter().find(|t| text[i..].starts_with(**t)) {
            Some(tok) => {
                if plain_start < i {
                    out.push((&text[plain_start..i], false));
                }
                out.push((&text[i..i + tok.len()], true));
                i += tok.len();
                plain_start = i;
            }
            // '[' is one byte, so i + 1 is a character boundary.
            None => i += 1,
        }
    }
    if plain_start < text.len() {
        out.push((&text[plain_start..], false));
    }
    out
}

/// BERT's `_is_whitespace`: `\t`, `\n`, `\r`, space and category `Zs`.
fn is_bert_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r') || c.general_category() == GeneralCategory::SpaceSeparator
}

/// BERT's `_is_control`: category `C*` except `\t`, `\n`, `\r`.
fn is_bert_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    c.general_category_group() == GeneralCategoryGroup::Other
}

/// BERT's `_is_punctuation`: every non-alphanumeric ASCII symbol, and category `P*`.
fn is_bert_punctuation(c: char) -> bool {
    let cp = c as u32;
    (33..=47).contains(&cp)
        || (58..=64).contains(&cp)
        || (91..=96).contains(&cp)
        || (123..=126).contains(&cp)
        || c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// BERT's `_is_chinese_char`: the CJK Unified Ideographs blocks (not Hangul, kana, …).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

/// BERT's `BasicTokenizer.tokenize` (with `tokenize_chinese_chars=True`, `strip_accents=None`).
fn basic_tokenize(text: &str, lowercase: bool) -> Vec<String> {
    // _clean_text + _tokenize_chinese_chars.
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{FFFD}' || is_bert_control(c) {
            continue;
        }
        if is_bert_whitespace(c) {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let normalized: String = cleaned.nfc().collect();
    let mut out = Vec::new();
    for word in normalized
        .split(char::is_whitespace)
        .filter(|w| !w.is_empty())
    {
        let word = if lowercase {
            word.to_lowercase()
                .nfd()
                .filter(|c| c.general_category() != GeneralCategory::NonspacingMark)
                .collect::<String>()
        } else {
            word.to_string()
        };
        // _run_split_on_punc, then the final whitespace split.
        let mut current = String::new();
        for c in word.chars() {
            if is_bert_punctuation(c) {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                out.push(c.to_string());
            } else if c.is_whitespace() {
                // Lower-casing / NFD never create whitespace, but the final split would honour it.
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPiece {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##want\n##ed\nwa\n,\nrunning\n##ing\nrun\n##un\n";
        WordPiece::from_vocab_str(vocab, true, Path::new("tiny")).unwrap()
    }

    #[test]
    fn greedy_longest_match_as_in_the_bert_paper_example() {
        // Google BERT's tokenization_test.py: "unwanted running" → un ##want ##ed runn ##ing.
        let wp = tiny();
        assert_eq!(
            wp.tokenize("UNwanted, running"),
            ["un", "##want", "##ed", ",", "running"]
        );
        // "wanted" cannot start with a whole-word piece → the whole word is [UNK].
        assert_eq!(wp.tokenize("wanted"), ["[UNK]"]);
        assert_eq!(wp.tokenize(""), Vec::<String>::new());
    }

    #[test]
    fn encode_pads_and_truncates() {
        let wp = tiny();
        let e = wp.encode("un run", 6);
        assert_eq!(e.ids, vec![2, 5, 12, 3, 0, 0]);
        assert_eq!(e.attention_mask, vec![1, 1, 1, 1, 0, 0]);
        assert!(!e.truncated);
        let e = wp.encode("un run run", 4);
        assert_eq!(e.ids, vec![2, 5, 12, 3]);
        assert!(e.truncated);
        let e = wp.encode("", 1);
        assert_eq!(e.ids, vec![2, 3]);
    }

    #[test]
    fn long_words_are_unknown() {
        let wp = tiny();
        let word = "un".repeat(50);
        assert_eq!(wp.tokenize(&word).len(), 50);
        let word = "un".repeat(50) + "u";
        assert_eq!(wp.tokenize(&word), ["[UNK]"]);
    }

    #[test]
    fn special_tokens_in_text_stay_whole() {
        let chunks = split_special("a[CLS]b[x[SEP]");
        assert_eq!(
            chunks,
            vec![
                ("a", false),
                ("[CLS]", true),
                ("b[x", false),
                ("[SEP]", true)
            ]
        );
    }

    #[test]
    fn missing_special_token_is_named() {
        let err = WordPiece::from_vocab_str("[PAD]\n[UNK]\n[SEP]\n", true, Path::new("v.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[CLS]") && err.contains("v.txt"), "{err}");
    }
}
