//! The CLIP byte-level BPE model: vocabulary, merges, encode / tokenize / decode.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use regex::Regex;

use crate::bytes::bytes_to_unicode;
use crate::clean::clean_text;
use crate::error::TokenizerError;

/// Names accepted for the start-of-text token (OpenAI / HF spelling first, then open_clip's).
const SOT_NAMES: [&str; 2] = ["<|startoftext|>", "<start_of_text>"];
/// Names accepted for the end-of-text token.
const EOT_NAMES: [&str; 2] = ["<|endoftext|>", "<end_of_text>"];
/// The BPE cache is not grown past this many distinct words.
const CACHE_LIMIT: usize = 100_000;

/// CLIP tokenizer (OpenAI CLIP / open_clip `SimpleTokenizer` algorithm).
///
/// Thread-safe: `encode` takes `&self` and shares a word cache behind a lock.
#[derive(Debug)]
pub struct ClipTokenizer {
    pub(crate) encoder: HashMap<String, u32>,
    pub(crate) decoder: HashMap<u32, String>,
    /// Merges in rank order (kept for `save_hf`).
    pub(crate) merges: Vec<(String, String)>,
    /// (left id, right id) → (rank, merged id).
    ranks: HashMap<(u32, u32), (u32, u32)>,
    byte_ids: [u32; 256],
    byte_end_ids: [u32; 256],
    byte_decoder: HashMap<char, u8>,
    pub(crate) sot: (String, u32),
    pub(crate) eot: (String, u32),
    pat: Regex,
    cache: RwLock<HashMap<String, Vec<u32>>>,
}

/// The CLIP split regex.
///
/// Python's `regex` module with `IGNORECASE` matches U+0345 (COMBINING GREEK YPOGEGRAMMENI, which
/// case-folds to a letter) with none of the alternatives, so it is dropped; Rust's `(?i)` would put
/// it among the letters. Hence case-insensitivity only on the literal alternatives and U+0345
/// removed from the "other" class (checked for every code point against the fixture).
fn split_pattern(sot: &str, eot: &str) -> String {
    format!(
        r"(?i:{}|{}|'s|'t|'re|'ve|'m|'ll|'d)|(?P<L>\p{{L}}+)|(?P<N>\p{{N}})|(?P<O>[^\s\p{{L}}\p{{N}}\x{{345}}]+)",
        regex::escape(sot),
        regex::escape(eot)
    )
}

impl ClipTokenizer {
    /// Build from a vocabulary and a ranked merge list; `origin` names the file(s) in errors.
    pub(crate) fn from_parts(
        encoder: HashMap<String, u32>,
        merges: Vec<(String, String)>,
        origin: &Path,
    ) -> Result<Self, TokenizerError> {
        let byte_map = bytes_to_unicode();
        let mut byte_ids = [0u32; 256];
        let mut byte_end_ids = [0u32; 256];
        let mut byte_decoder = HashMap::with_capacity(256);
        for &(b, c) in &byte_map {
            let plain = c.to_string();
            let end = format!("{c}</w>");
            byte_ids[b as usize] = *encoder.get(&plain).ok_or_else(|| {
                TokenizerError::malformed(
                    origin,
                    format!("byte token {plain:?} missing from the vocabulary"),
                )
            })?;
            byte_end_ids[b as usize] = *encoder.get(&end).ok_or_else(|| {
                TokenizerError::malformed(
                    origin,
                    format!("byte token {end:?} missing from the vocabulary"),
                )
            })?;
            byte_decoder.insert(c, b);
        }
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            let id = |tok: &str| {
                encoder.get(tok).copied().ok_or_else(|| {
                    TokenizerError::malformed(
                        origin,
                        format!(
                            "merge {} ({a} {b}): token {tok:?} is not in the vocabulary",
                            rank + 1
                        ),
                    )
                })
            };
            let (ia, ib, im) = (id(a)?, id(b)?, id(&format!("{a}{b}"))?);
            // Python's dict(zip(merges, range(...))) keeps the last rank of a repeated merge.
            ranks.insert((ia, ib), (rank as u32, im));
        }
        let find = |names: [&str; 2], what: &str| {
            names
                .iter()
                .find_map(|n| encoder.get(*n).map(|&id| (n.to_string(), id)))
                .ok_or_else(|| {
                    TokenizerError::malformed(
                        origin,
                        format!(
                            "{what} token ({}) missing from the vocabulary",
                            names.join(" or ")
                        ),
                    )
                })
        };
        let sot = find(SOT_NAMES, "start-of-text")?;
        let eot = find(EOT_NAMES, "end-of-text")?;
        let pattern = split_pattern(&sot.0, &eot.0);
        let pat = Regex::new(&pattern).map_err(|e| {
            TokenizerError::malformed(
                origin,
                format!("special tokens give an invalid split pattern: {e}"),
            )
        })?;
        let decoder = encoder.iter().map(|(k, &v)| (v, k.clone())).collect();
        Ok(ClipTokenizer {
            encoder,
            decoder,
            merges,
            ranks,
            byte_ids,
            byte_end_ids,
            byte_decoder,
            sot,
            eot,
            pat,
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// Id of `<|startoftext|>` (49406 for the OpenAI vocabulary).
    pub fn sot_id(&self) -> u32 {
        self.sot.1
    }

    /// Id of `<|endoftext|>` (49407 for the OpenAI vocabulary).
    pub fn eot_id(&self) -> u32 {
        self.eot.1
    }

    /// Number of entries in the vocabulary (49408 for the OpenAI vocabulary).
    pub fn vocab_size(&self) -> usize {
        self.encoder.len()
    }

    /// Id of a vocabulary entry (byte-level string form, e.g. `"dog</w>"`), if present.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.encoder.get(token).copied()
    }

    /// Vocabulary entry of an id, if present.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.decoder.get(&id).map(String::as_str)
    }

    /// BPE of one pre-token (its UTF-8 bytes), without the cache.
    fn bpe_uncached(&self, token: &str) -> Vec<u32> {
        let bytes = token.as_bytes();
        let Some((&last, init)) = bytes.split_last() else {
            return Vec::new();
        };
        let mut word: Vec<u32> = init.iter().map(|&b| self.byte_ids[b as usize]).collect();
        word.push(self.byte_end_ids[last as usize]);
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|w| {
                    self.ranks
                        .get(&(w[0], w[1]))
                        .map(|&(r, m)| (r, w[0], w[1], m))
                })
                .min_by_key(|&(r, ..)| r);
            let Some((_, first, second, merged)) = best else {
                break;
            };
            let mut next = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(word[i]);
                    i += 1;
                }
            }
            word = next;
        }
        word
    }

    fn bpe(&self, token: &str, out: &mut Vec<u32>) {
        if let Ok(cache) = self.cache.read() {
            if let Some(ids) = cache.get(token) {
                out.extend_from_slice(ids);
                return;
            }
        }
        let ids = self.bpe_uncached(token);
        out.extend_from_slice(&ids);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() < CACHE_LIMIT {
                cache.insert(token.to_string(), ids);
            }
        }
    }

    /// BPE ids of `text` after the reference clean-up; no start/end tokens.
    ///
    /// The literal strings `<|startoftext|>` / `<|endoftext|>` in the text become their special ids,
    /// as in OpenAI CLIP.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean_text(text);
        let mut ids = Vec::new();
        for m in self.pat.find_iter(&cleaned) {
            let tok = m.as_str();
            if tok == self.sot.0 {
                ids.push(self.sot.1);
            } else if tok == self.eot.0 {
                ids.push(self.eot.1);
            } else {
                self.bpe(tok, &mut ids);
            }
        }
        ids
    }

    /// `[SOT, ids.., EOT, 0, 0, ..]` of length `context_length`.
    ///
    /// Too long a sequence is cut to `context_length` and its last id set to EOT (open_clip);
    /// OpenAI CLIP would raise instead. `context_length == 0` gives an empty vector.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Vec<u32> {
        if context_length == 0 {
            return Vec::new();
        }
        let mut ids = Vec::with_capacity(context_length);
        ids.push(self.sot.1);
        ids.extend(self.encode(text));
        ids.push(self.eot.1);
        if ids.len() > context_length {
            ids.truncate(context_length);
            ids[context_length - 1] = self.eot.1;
        }
        ids.resize(context_length, 0);
        ids
    }

    /// True when `text` fits in `context_length` without truncation (SOT and EOT included).
    pub fn fits(&self, text: &str, context_length: usize) -> bool {
        self.encode(text).len() + 2 <= context_length
    }

    /// [`tokenize`](Self::tokenize) for each text.
    pub fn tokenize_batch(&self, texts: &[&str], context_length: usize) -> Vec<Vec<u32>> {
        texts
            .iter()
            .map(|t| self.tokenize(t, context_length))
            .collect()
    }

    /// Text of `ids`: `</w>` becomes a space, invalid UTF-8 becomes U+FFFD; unknown ids are skipped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for id in ids {
            let Some(tok) = self.decoder.get(id) else {
                continue;
            };
            for c in tok.chars() {
                match self.byte_decoder.get(&c) {
                    Some(&b) => bytes.push(b),
                    None => {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).replace("</w>", " ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code point is matched by the same alternative as in Python's `regex` module
    /// (run-length table `split_classes` of fixtures/tokenizer/reference_ids.json), for every code
    /// point assigned in the reference Python's Unicode tables.
    #[test]
    fn split_classes_match_python_regex() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tokenizer/reference_ids.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture readable");
        let fx: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
        let runs = fx["split_classes"].as_array().expect("split_classes");
        let re = Regex::new(&split_pattern("<|startoftext|>", "<|endoftext|>")).expect("pattern");
        let mut bad = Vec::new();
        let mut checked = 0usize;
        for run in runs {
            let lo = run[0].as_u64().expect("start") as u32;
            let hi = run[1].as_u64().expect("end") as u32;
            let want = run[2].as_str().expect("kind");
            if want == "?" {
                // Unassigned in the reference Python's Unicode tables: not comparable.
                continue;
            }
            for cp in lo..=hi {
                let Some(c) = char::from_u32(cp) else {
                    continue;
                };
                let s = c.to_string();
                let got = match re.captures(&s) {
                    Some(caps) if caps.name("L").is_some() => "L",
                    Some(caps) if caps.name("N").is_some() => "N",
                    Some(caps) if caps.name("O").is_some() => "O",
                    Some(_) => "special",
                    None => "-",
                };
                checked += 1;
                if got != want && bad.len() < 40 {
                    bad.push(format!("U+{cp:04X}: python {want}, rust {got}"));
                }
            }
        }
        assert!(checked > 280_000, "only {checked} code points checked");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
