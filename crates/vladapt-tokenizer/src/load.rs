//! Loading a vocabulary: the embedded OpenAI file, a `bpe_simple_vocab_16e6.txt.gz`-style file,
//! HF `vocab.json` + `merges.txt`, or an HF `tokenizer.json`.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde_json::Value;

use crate::bytes::bytes_to_unicode;
use crate::error::TokenizerError;
use crate::tokenizer::ClipTokenizer;

/// The OpenAI CLIP vocabulary file (from the `open-clip-torch` 3.3.0 wheel).
const OPENAI_BPE_GZ: &[u8] = include_bytes!("../assets/bpe_simple_vocab_16e6.txt.gz");
/// Name used in errors for the embedded file.
const OPENAI_BPE_NAME: &str = "<embedded bpe_simple_vocab_16e6.txt.gz>";
/// Number of merges CLIP uses: lines `[1 : 49152 - 256 - 2 + 1]` of the merge file.
pub const CLIP_NUM_MERGES: usize = 49152 - 256 - 2;

/// Which files a tokenizer was loaded from (for logging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// An HF fast-tokenizer file.
    TokenizerJson(PathBuf),
    /// HF slow-tokenizer files.
    VocabMerges {
        /// `vocab.json`.
        vocab: PathBuf,
        /// `merges.txt`.
        merges: PathBuf,
    },
    /// A gzip-compressed CLIP merge list.
    BpeGz(PathBuf),
    /// The OpenAI vocabulary compiled into the binary.
    Embedded,
}

impl fmt::Display for TokenizerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerSource::TokenizerJson(p) => write!(f, "{}", p.display()),
            TokenizerSource::VocabMerges { vocab, merges } => {
                write!(f, "{} + {}", vocab.display(), merges.display())
            }
            TokenizerSource::BpeGz(p) => write!(f, "{}", p.display()),
            TokenizerSource::Embedded => write!(f, "embedded OpenAI bpe_simple_vocab_16e6"),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TokenizerError> {
    std::fs::read(path).map_err(|source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, TokenizerError> {
    String::from_utf8(read_file(path)?)
        .map_err(|e| TokenizerError::malformed(path, format!("not UTF-8 text: {e}")))
}

fn read_json(path: &Path) -> Result<Value, TokenizerError> {
    serde_json::from_str(&read_text(path)?).map_err(|source| TokenizerError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Split a merge line `"a b"` (Python `line.split()`), `line_no` 1-based for errors.
fn parse_merge(
    line: &str,
    line_no: usize,
    path: &Path,
) -> Result<(String, String), TokenizerError> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => Ok((a.to_string(), b.to_string())),
        _ => Err(TokenizerError::malformed(
            path,
            format!("line {line_no}: expected two space-separated symbols, found {line:?}"),
        )),
    }
}

fn json_vocab(
    value: &Value,
    path: &Path,
    what: &str,
) -> Result<HashMap<String, u32>, TokenizerError> {
    let obj = value
        .as_object()
        .ok_or_else(|| TokenizerError::malformed(path, format!("{what} is not a JSON object")))?;
    obj.iter()
        .map(|(k, v)| {
            v.as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .map(|id| (k.clone(), id))
                .ok_or_else(|| {
                    TokenizerError::malformed(
                        path,
                        format!("{what}: id of {k:?} is not a u32: {v}"),
                    )
                })
        })
        .collect()
}

impl ClipTokenizer {
    /// The OpenAI vocabulary embedded in the binary (`bpe_simple_vocab_16e6.txt.gz`).
    pub fn openai() -> Result<Self, TokenizerError> {
        Self::from_bpe_gz_bytes(OPENAI_BPE_GZ, Path::new(OPENAI_BPE_NAME))
    }

    /// Load a gzip-compressed CLIP merge list (`bpe_simple_vocab_16e6.txt.gz` layout).
    pub fn from_bpe_gz(path: &Path) -> Result<Self, TokenizerError> {
        Self::from_bpe_gz_bytes(&read_file(path)?, path)
    }

    /// Load gzip-compressed merge-list bytes; `path` names the source in errors.
    ///
    /// Vocabulary as the reference builds it: 256 byte chars, the same with `</w>`, the joined
    /// merges 1..=48894, then `<|startoftext|>` and `<|endoftext|>`.
    pub fn from_bpe_gz_bytes(gz: &[u8], path: &Path) -> Result<Self, TokenizerError> {
        let mut text = String::new();
        GzDecoder::new(gz).read_to_string(&mut text).map_err(|e| {
            TokenizerError::malformed(path, format!("not gzip-compressed UTF-8 text: {e}"))
        })?;
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < CLIP_NUM_MERGES + 1 {
            return Err(TokenizerError::malformed(
                path,
                format!(
                    "{} lines, but a CLIP merge list needs a header line and {CLIP_NUM_MERGES} merges",
                    lines.len()
                ),
            ));
        }
        let merges = lines[1..=CLIP_NUM_MERGES]
            .iter()
            .enumerate()
            .map(|(i, l)| parse_merge(l, i + 2, path))
            .collect::<Result<Vec<_>, _>>()?;
        let byte_chars: Vec<String> = bytes_to_unicode()
            .iter()
            .map(|(_, c)| c.to_string())
            .collect();
        let vocab = byte_chars
            .iter()
            .cloned()
            .chain(byte_chars.iter().map(|c| format!("{c}</w>")))
            .chain(merges.iter().map(|(a, b)| format!("{a}{b}")))
            .chain(["<|startoftext|>".to_string(), "<|endoftext|>".to_string()]);
        // dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last id.
        let mut encoder = HashMap::with_capacity(49408);
        for (id, tok) in vocab.enumerate() {
            encoder.insert(tok, id as u32);
        }
        Self::from_parts(encoder, merges, path)
    }

    /// Load HF slow-tokenizer files (`vocab.json`, `merges.txt`).
    ///
    /// As `transformers.CLIPTokenizer`: the first line of `merges.txt` (the `#version` header) is
    /// skipped when it starts with `#`, and at most 48894 merges are used.
    pub fn from_vocab_merges(vocab_json: &Path, merges_txt: &Path) -> Result<Self, TokenizerError> {
        let encoder = json_vocab(&read_json(vocab_json)?, vocab_json, "vocabulary")?;
        let text = read_text(merges_txt)?;
        let trimmed = text.trim();
        let mut lines: Vec<(usize, &str)> = trimmed
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect();
        if lines.first().is_some_and(|(_, l)| l.starts_with('#')) {
            lines.remove(0);
        }
        if trimmed.is_empty() {
            lines.clear();
        }
        let merges = lines
            .iter()
            .take(CLIP_NUM_MERGES)
            .map(|&(n, l)| parse_merge(l, n, merges_txt))
            .collect::<Result<Vec<_>, _>>()?;
        let origin = PathBuf::from(format!(
            "{} + {}",
            vocab_json.display(),
            merges_txt.display()
        ));
        Self::from_parts(encoder, merges, &origin)
    }

    /// Load the vocabulary and merges of an HF fast-tokenizer file (`model.vocab`, `model.merges`,
    /// plus `added_tokens` not already in the vocabulary).
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, TokenizerError> {
        let root = read_json(path)?;
        let model = root
            .get("model")
            .ok_or_else(|| TokenizerError::malformed(path, "no \"model\" field"))?;
        if let Some(t) = model.get("type").and_then(Value::as_str) {
            if t != "BPE" {
                return Err(TokenizerError::malformed(
                    path,
                    format!("model.type is {t:?}, expected \"BPE\""),
                ));
            }
        }
        let vocab = model
            .get("vocab")
            .ok_or_else(|| TokenizerError::malformed(path, "no \"model.vocab\" field"))?;
        let mut encoder = json_vocab(vocab, path, "model.vocab")?;
        if let Some(added) = root.get("added_tokens").and_then(Value::as_array) {
            for tok in added {
                let content = tok.get("content").and_then(Value::as_str);
                let id = tok
                    .get("id")
                    .and_then(Value::as_u64)
                    .and_then(|i| u32::try_from(i).ok());
                if let (Some(c), Some(id)) = (content, id) {
                    encoder.entry(c.to_string()).or_insert(id);
                }
            }
        }
        let merges_json = model
            .get("merges")
            .and_then(Value::as_array)
            .ok_or_else(|| TokenizerError::malformed(path, "no \"model.merges\" array"))?;
        let merges = merges_json
            .iter()
            .enumerate()
            .map(|(i, m)| match m {
                Value::String(s) => parse_merge(s, i + 1, path).map_err(|_| {
                    TokenizerError::malformed(
                        path,
                        format!("model.merges[{i}]: expected \"a b\", found {s:?}"),
                    )
                }),
                Value::Array(pair) => match pair.as_slice() {
                    [Value::String(a), Value::String(b)] => Ok((a.clone(), b.clone())),
                    _ => Err(TokenizerError::malformed(
                        path,
                        format!("model.merges[{i}]: expected two strings"),
                    )),
                },
                _ => Err(TokenizerError::malformed(
                    path,
                    format!("model.merges[{i}]: expected a string or a pair"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_parts(encoder, merges, path)
    }

    /// Pick the tokenizer files of a model directory: `tokenizer.json`, else `vocab.json` +
    /// `merges.txt`, else the first `*.txt.gz` (by name), else the embedded OpenAI vocabulary.
    pub fn from_dir(dir: &Path) -> Result<(Self, TokenizerSource), TokenizerError> {
        let entries = std::fs::read_dir(dir).map_err(|source| TokenizerError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let tj = dir.join("tokenizer.json");
        if tj.is_file() {
            return Ok((
                Self::from_tokenizer_json(&tj)?,
                TokenizerSource::TokenizerJson(tj),
            ));
        }
        let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
        if vocab.is_file() && merges.is_file() {
            let tok = Self::from_vocab_merges(&vocab, &merges)?;
            return Ok((tok, TokenizerSource::VocabMerges { vocab, merges }));
        }
        let mut gz: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".txt.gz"))
            })
            .collect();
        gz.sort();
        if let Some(p) = gz.into_iter().next() {
            return Ok((Self::from_bpe_gz(&p)?, TokenizerSource::BpeGz(p)));
        }
        Ok((Self::openai()?, TokenizerSource::Embedded))
    }
}
