//! `WordPiece` against Hugging Face's slow `BertTokenizer` on the real bert-base-uncased vocabulary.
//!
//! Fixture: fixtures/tokenizer/wordpiece_ids.json, written by
//! tools/tokenizer/make_wordpiece_fixtures.py (transformers `BertTokenizerLegacy`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use vladapt_tokenizer::{TokenizerError, WordPiece};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vocab_path() -> PathBuf {
    crate_dir().join("assets/bert-base-uncased-vocab.txt")
}

fn fixture() -> Value {
    let path = crate_dir().join("../../fixtures/tokenizer/wordpiece_ids.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("int array")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect()
}

fn cases() -> Vec<Value> {
    fixture()["cases"].as_array().expect("cases").clone()
}

#[test]
fn fixture_has_at_least_200_cases() {
    assert!(cases().len() >= 200, "{} cases", cases().len());
}

#[test]
fn uncased_ids_and_tokens_match_hf_slow() {
    let wp = WordPiece::from_vocab_file(&vocab_path(), true).unwrap();
    assert_eq!(wp.vocab_size(), 30_522);
    let mut bad = Vec::new();
    for case in cases() {
        let text = case["text"].as_str().unwrap();
        let want = ints(&case["ids"]);
        let got = wp.piece_ids(text);
        if got != want {
            bad.push(format!("{text:?}: want {want:?} got {got:?}"));
            continue;
        }
        let tokens: Vec<String> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(wp.tokenize(text), tokens, "{text:?}");
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn cased_ids_match_hf_slow() {
    let wp = WordPiece::from_vocab_file(&vocab_path(), false).unwrap();
    let mut bad = Vec::new();
    for case in cases() {
        let text = case["text"].as_str().unwrap();
        let want = ints(&case["cased_ids"]);
        let got = wp.piece_ids(text);
        if got != want {
            bad.push(format!("{text:?}: want {want:?} got {got:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn encodings_at_query_lengths_20_and_40_match_hf_slow() {
    let wp = WordPiece::bert_base_uncased();
    let mut truncated_seen = 0;
    for case in cases() {
        let text = case["text"].as_str().unwrap();
        for n in [20usize, 40] {
            let want = &case[format!("encode_{n}")];
            let enc = wp.encode(text, n);
            assert_eq!(enc.ids, ints(&want["ids"]), "{text:?} at {n}");
            assert_eq!(enc.attention_mask, ints(&want["mask"]), "{text:?} at {n}");
            let pieces = ints(&case["ids"]).len();
            assert_eq!(enc.truncated, pieces > n - 2, "{text:?} at {n}");
            truncated_seen += enc.truncated as usize;
        }
    }
    assert!(truncated_seen > 0, "the fixture exercises truncation");
}

#[test]
fn bundled_vocab_equals_the_file() {
    let a = WordPiece::bert_base_uncased();
    let b = WordPiece::from_vocab_file(&vocab_path(), true).unwrap();
    assert_eq!(a.vocab_size(), b.vocab_size());
    for id in [0i64, 100, 101, 102, 103, 1996, 30_521] {
        assert_eq!(a.token(id), b.token(id));
    }
    assert_eq!(
        (a.pad_id(), a.unk_id(), a.cls_id(), a.sep_id()),
        (0, 100, 101, 102)
    );
}

#[test]
fn crlf_vocab_gives_the_same_ids() {
    let text = std::fs::read_to_string(vocab_path()).unwrap();
    let crlf = text.replace('\n', "\r\n");
    let a = WordPiece::from_vocab_str(&crlf, true, Path::new("crlf")).unwrap();
    let b = WordPiece::bert_base_uncased();
    let s = "The man in the RED shirt, on the left!";
    assert_eq!(a.encode(s, 20), b.encode(s, 20));
}

#[test]
fn missing_vocab_file_is_named() {
    let dir = std::env::temp_dir().join(format!("wp-missing-{}", std::process::id()));
    let path = dir.join("vocab.txt");
    match WordPiece::from_vocab_file(&path, true) {
        Err(TokenizerError::Read { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn empty_vocab_is_rejected() {
    let err = WordPiece::from_vocab_str("", true, Path::new("empty.txt")).unwrap_err();
    assert!(err.to_string().contains("empty.txt"), "{err}");
}
