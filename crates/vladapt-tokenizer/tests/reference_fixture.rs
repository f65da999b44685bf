//! The embedded OpenAI tokenizer against open_clip reference ids
//! (fixtures/tokenizer/reference_ids.json, made by tools/tokenizer/make_tokenizer_fixtures.py).

mod common;

use vladapt_tokenizer::ClipTokenizer;

#[test]
fn layout_matches_spec() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    assert_eq!(tok.vocab_size(), 49408);
    assert_eq!(tok.sot_id(), 49406);
    assert_eq!(tok.eot_id(), 49407);
    let fx = common::fixture();
    assert_eq!(fx["sot"], 49406);
    assert_eq!(fx["eot"], 49407);
}

#[test]
fn every_fixture_string_gives_reference_ids() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    let cases = common::cases();
    assert!(cases.len() >= 250, "only {} cases", cases.len());
    let bad = common::mismatches(&tok, &cases);
    assert!(
        bad.is_empty(),
        "{} of {} mismatch:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn encode_without_special_tokens_matches() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    for c in common::cases() {
        assert_eq!(tok.encode(&c.text), c.encode, "{:?}", c.text);
    }
}

#[test]
fn decode_matches_reference() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    for c in common::cases() {
        assert_eq!(tok.decode(&c.encode), c.decoded, "{:?}", c.text);
    }
}

#[test]
fn literal_special_tokens_follow_openai_clip() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    for (text, want) in common::special_literal_cases() {
        assert_eq!(tok.encode(&text), want, "{text:?}");
    }
}

#[test]
fn truncation_keeps_eot_last() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    let long: Vec<_> = common::cases()
        .into_iter()
        .filter(|c| c.encode.len() + 2 > 77)
        .collect();
    assert!(long.len() >= 3, "fixture needs long strings");
    for c in &long {
        let ids = tok.tokenize(&c.text, 77);
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[0], 49406);
        assert_eq!(&ids[1..76], &c.encode[..75], "{:?}", c.text);
        assert_eq!(ids[76], 49407);
        // Shorter contexts: still SOT first, EOT last, prefix of the BPE ids in between.
        for ctx in [1usize, 2, 5, 16] {
            let ids = tok.tokenize(&c.text, ctx);
            assert_eq!(ids.len(), ctx);
            assert_eq!(ids[ctx - 1], 49407);
            if ctx >= 2 {
                assert_eq!(ids[0], 49406);
                assert_eq!(&ids[1..ctx - 1], &c.encode[..ctx - 2]);
            }
        }
    }
    assert!(tok.tokenize("a dog", 0).is_empty());
    for c in common::cases() {
        assert_eq!(
            tok.fits(&c.text, 77),
            c.encode.len() + 2 <= 77,
            "{:?}",
            c.text
        );
    }
}

#[test]
fn shared_between_threads_gives_reference_ids() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClipTokenizer>();
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    let cases = common::cases();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (tok, cases) = (&tok, &cases);
            s.spawn(move || {
                // Each thread walks the cases from a different start, so the shared cache is
                // filled and read concurrently.
                for i in 0..cases.len() {
                    let c = &cases[(i + t * 97) % cases.len()];
                    assert_eq!(tok.tokenize(&c.text, 77), c.ids, "{:?}", c.text);
                }
            });
        }
    });
}

#[test]
fn short_text_is_zero_padded_and_batch_agrees() {
    let tok = ClipTokenizer::openai().expect("embedded vocab loads");
    let cases = common::cases();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let batch = tok.tokenize_batch(&texts, 77);
    for (c, got) in cases.iter().zip(&batch) {
        assert_eq!(got, &c.ids);
        if c.encode.len() + 2 <= 77 {
            let n = c.encode.len() + 2;
            assert_eq!(got[n - 1], 49407);
            assert!(got[n..].iter().all(|&x| x == 0));
        }
    }
    // Empty and whitespace-only strings: just SOT, EOT.
    assert_eq!(&tok.tokenize("", 77)[..3], &[49406, 49407, 0]);
    assert_eq!(&tok.tokenize(" \t\n ", 77)[..3], &[49406, 49407, 0]);
}
