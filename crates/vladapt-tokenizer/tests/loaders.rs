//! Loading from HF files, `.txt.gz`, model directories; `save_hf` round trip; malformed input.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use vladapt_tokenizer::{ClipTokenizer, TokenizerError, TokenizerSource};

/// `bytes_to_unicode` written out from its Python definition (independent of the crate's copy).
fn byte_chars() -> Vec<char> {
    let mut bs: Vec<u32> = (0x21..=0x7E)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    cs.into_iter()
        .map(|c| char::from_u32(c).expect("valid char"))
        .collect()
}

/// A 518-entry vocabulary: 512 byte tokens, 4 merges, 2 special tokens.
fn tiny_vocab() -> (Value, Vec<(&'static str, &'static str)>) {
    let mut vocab = serde_json::Map::new();
    let chars = byte_chars();
    for (i, c) in chars.iter().enumerate() {
        vocab.insert(c.to_string(), json!(i));
        vocab.insert(format!("{c}</w>"), json!(i + 256));
    }
    let merges = vec![("d", "o"), ("do", "g</w>"), ("c", "a"), ("ca", "t</w>")];
    for (i, (a, b)) in merges.iter().enumerate() {
        vocab.insert(format!("{a}{b}"), json!(512 + i));
    }
    vocab.insert("<|startoftext|>".into(), json!(516));
    vocab.insert("<|endoftext|>".into(), json!(517));
    (Value::Object(vocab), merges)
}

fn write_tiny_hf(dir: &Path) {
    let (vocab, merges) = tiny_vocab();
    common::write(&dir.join("vocab.json"), &vocab.to_string());
    let text: String = merges.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    common::write(&dir.join("merges.txt"), &format!("#version: 0.2\n{text}"));
}

/// Hand-computed: "dog" → dog</w> (513), "cat" → cat</w> (515), "dogs" → do (512) g (70) s</w> (338).
fn check_tiny(tok: &ClipTokenizer) {
    assert_eq!(tok.vocab_size(), 518);
    assert_eq!((tok.sot_id(), tok.eot_id()), (516, 517));
    assert_eq!(tok.encode("Dog  CAT dogs"), vec![513, 515, 512, 70, 338]);
    assert_eq!(tok.tokenize("dog", 5), vec![516, 513, 517, 0, 0]);
    assert_eq!(tok.decode(&[513, 515, 512, 70, 338]), "dog cat dogs ");
}

#[test]
fn tiny_vocab_merges_hand_computed() {
    let dir = common::scratch("tiny-hf");
    write_tiny_hf(&dir);
    let tok = ClipTokenizer::from_vocab_merges(&dir.join("vocab.json"), &dir.join("merges.txt"))
        .expect("loads");
    check_tiny(&tok);
}

#[test]
fn tiny_tokenizer_json_both_merge_formats() {
    let dir = common::scratch("tiny-tj");
    let (vocab, merges) = tiny_vocab();
    let as_strings: Vec<Value> = merges
        .iter()
        .map(|(a, b)| json!(format!("{a} {b}")))
        .collect();
    let as_pairs: Vec<Value> = merges.iter().map(|(a, b)| json!([a, b])).collect();
    for (name, m) in [("strings", as_strings), ("pairs", as_pairs)] {
        let path = dir.join(format!("tokenizer-{name}.json"));
        let tj = json!({"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": m,
                        "end_of_word_suffix": "</w>"}});
        common::write(&path, &tj.to_string());
        check_tiny(&ClipTokenizer::from_tokenizer_json(&path).expect("loads"));
    }
}

#[test]
fn bpe_gz_file_matches_fixture() {
    let path = common::crate_dir().join("assets/bpe_simple_vocab_16e6.txt.gz");
    let tok = ClipTokenizer::from_bpe_gz(&path).expect("loads");
    let bad = common::mismatches(&tok, &common::cases());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn save_hf_round_trip_and_tokenizer_json() {
    let dir = common::scratch("save-hf");
    let openai = ClipTokenizer::openai().expect("embedded");
    openai.save_hf(&dir).expect("save_hf");
    for f in [
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let merges = std::fs::read_to_string(dir.join("merges.txt")).expect("merges.txt");
    let lines: Vec<&str> = merges.trim_end().split('\n').collect();
    assert_eq!(lines[0], "#version: 0.2");
    assert_eq!(lines.len(), 1 + 48894);
    assert_eq!(lines[1], "i n"); // first merge of bpe_simple_vocab_16e6.txt
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("tokenizer_config.json")).expect("config"),
    )
    .expect("json");
    assert_eq!(config["bos_token"], "<|startoftext|>");
    assert_eq!(config["eos_token"], "<|endoftext|>");
    assert_eq!(config["tokenizer_class"], "CLIPTokenizer");

    let cases = common::cases();
    let reloaded =
        ClipTokenizer::from_vocab_merges(&dir.join("vocab.json"), &dir.join("merges.txt"))
            .expect("reload");
    assert_eq!(reloaded.vocab_size(), 49408);
    assert_eq!((reloaded.sot_id(), reloaded.eot_id()), (49406, 49407));
    let bad = common::mismatches(&reloaded, &cases);
    assert!(bad.is_empty(), "vocab.json+merges.txt: {}", bad.join("\n"));

    // An HF fast-tokenizer file built from the saved vocabulary and merges.
    let vocab: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json")).expect("vocab"))
            .expect("json");
    let tj = json!({"model": {"type": "BPE", "vocab": vocab, "merges": lines[1..].to_vec()},
                    "added_tokens": [{"id": 49406, "content": "<|startoftext|>"}]});
    let tj_dir = common::scratch("save-hf-tj");
    common::write(&tj_dir.join("tokenizer.json"), &tj.to_string());
    let (from_tj, source) = ClipTokenizer::from_dir(&tj_dir).expect("from_dir");
    assert_eq!(
        source,
        TokenizerSource::TokenizerJson(tj_dir.join("tokenizer.json"))
    );
    let bad = common::mismatches(&from_tj, &cases);
    assert!(bad.is_empty(), "tokenizer.json: {}", bad.join("\n"));
}

#[test]
fn from_dir_picks_files_in_order() {
    let dir = common::scratch("from-dir");
    let (_, src) = ClipTokenizer::from_dir(&dir).expect("empty dir falls back");
    assert_eq!(src, TokenizerSource::Embedded);

    std::fs::copy(
        common::crate_dir().join("assets/bpe_simple_vocab_16e6.txt.gz"),
        dir.join("vocab.txt.gz"),
    )
    .expect("copy gz");
    let (_, src) = ClipTokenizer::from_dir(&dir).expect("gz");
    assert_eq!(src, TokenizerSource::BpeGz(dir.join("vocab.txt.gz")));

    write_tiny_hf(&dir);
    let (tok, src) = ClipTokenizer::from_dir(&dir).expect("hf files");
    assert_eq!(
        src,
        TokenizerSource::VocabMerges {
            vocab: dir.join("vocab.json"),
            merges: dir.join("merges.txt")
        }
    );
    check_tiny(&tok);

    let missing = dir.join("no-such-dir");
    let err = ClipTokenizer::from_dir(&missing).expect_err("missing dir");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

fn assert_names(err: TokenizerError, name: &str, what: &str) {
    let msg = err.to_string();
    assert!(msg.contains(name), "error does not name {name}: {msg}");
    assert!(msg.contains(what), "error does not say {what:?}: {msg}");
}

#[test]
fn malformed_files_give_errors_naming_the_file() {
    let dir = common::scratch("malformed");
    write_tiny_hf(&dir);
    let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));

    let bad_json = dir.join("bad-vocab.json");
    common::write(&bad_json, "{\"a\": 1,");
    assert!(matches!(
        ClipTokenizer::from_vocab_merges(&bad_json, &merges),
        Err(TokenizerError::Json { .. })
    ));
    assert_names(
        ClipTokenizer::from_vocab_merges(&bad_json, &merges).unwrap_err(),
        "bad-vocab.json",
        "JSON",
    );

    let bad_ids = dir.join("bad-ids.json");
    common::write(&bad_ids, "{\"a\": -1}");
    assert_names(
        ClipTokenizer::from_vocab_merges(&bad_ids, &merges).unwrap_err(),
        "bad-ids.json",
        "\"a\"",
    );

    let three = dir.join("three.txt");
    common::write(&three, "#version: 0.2\nd o\na b c\n");
    assert_names(
        ClipTokenizer::from_vocab_merges(&vocab, &three).unwrap_err(),
        "three.txt",
        "line 3",
    );

    let unknown = dir.join("unknown.txt");
    common::write(&unknown, "#version: 0.2\nd o\nzz q\n");
    assert_names(
        ClipTokenizer::from_vocab_merges(&vocab, &unknown).unwrap_err(),
        "unknown.txt",
        "\"zz\"",
    );

    let no_special = dir.join("no-special.json");
    let (mut v, _) = tiny_vocab();
    v.as_object_mut().expect("object").remove("<|endoftext|>");
    common::write(&no_special, &v.to_string());
    assert_names(
        ClipTokenizer::from_vocab_merges(&no_special, &merges).unwrap_err(),
        "no-special.json",
        "end-of-text",
    );

    let missing = dir.join("missing.json");
    assert!(matches!(
        ClipTokenizer::from_vocab_merges(&missing, &merges),
        Err(TokenizerError::Read { .. })
    ));
    assert_names(
        ClipTokenizer::from_vocab_merges(&missing, &merges).unwrap_err(),
        "missing.json",
        "cannot read",
    );

    let no_model = dir.join("no-model.json");
    common::write(&no_model, "{\"version\": \"1.0\"}");
    assert_names(
        ClipTokenizer::from_tokenizer_json(&no_model).unwrap_err(),
        "no-model.json",
        "model",
    );
    let wordpiece = dir.join("wordpiece.json");
    common::write(
        &wordpiece,
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}",
    );
    assert_names(
        ClipTokenizer::from_tokenizer_json(&wordpiece).unwrap_err(),
        "wordpiece.json",
        "BPE",
    );
    let bad_merge = dir.join("bad-merge.json");
    common::write(
        &bad_merge,
        &json!({"model": {"vocab": tiny_vocab().0, "merges": [["d"]]}}).to_string(),
    );
    assert_names(
        ClipTokenizer::from_tokenizer_json(&bad_merge).unwrap_err(),
        "bad-merge.json",
        "merges[0]",
    );

    let not_gz = dir.join("not-gz.txt.gz");
    common::write(&not_gz, "i n\nt h\n");
    assert_names(
        ClipTokenizer::from_bpe_gz(&not_gz).unwrap_err(),
        "not-gz.txt.gz",
        "gzip",
    );
    let short_gz = dir.join("short.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, b"header\ni n\nt h\n").expect("gz write");
    std::fs::write(&short_gz, enc.finish().expect("gz finish")).expect("write gz");
    assert_names(
        ClipTokenizer::from_bpe_gz(&short_gz).unwrap_err(),
        "short.txt.gz",
        "48894",
    );

    // A broken tokenizer.json in a model directory is reported, not silently skipped.
    let model_dir = common::scratch("malformed-dir");
    common::write(&model_dir.join("tokenizer.json"), "not json");
    assert_names(
        ClipTokenizer::from_dir(&model_dir).unwrap_err(),
        "tokenizer.json",
        "JSON",
    );
}
