#!/usr/bin/env python3
"""Make the CLIP tokenizer reference fixtures for crates/vladapt-tokenizer.

Usage (from the repository root):
    python3 tools/tokenizer/make_tokenizer_fixtures.py

It creates /work/venv-tok (override with VENV=...) with ftfy, regex, numpy and transformers<5,
downloads the `open-clip-torch` wheel with `pip download --no-deps`, and then re-runs itself
inside the venv to write:

* fixtures/tokenizer/reference_ids.json: for every test string, the ids of open_clip's
  `SimpleTokenizer` (context 77, truncation with EOT last), the untruncated BPE ids, open_clip's
  `decode` of those, and whether HF's slow `CLIPTokenizer` (with ftfy) gives the same BPE ids;
  `split_classes`: which alternative of the split regex matches each code point; and
  `special_literal_cases`: strings holding the literal `<|startoftext|>`/`<|endoftext|>`,
  with HF slow `CLIPTokenizer` ids (OpenAI CLIP semantics; open_clip 3.x spells them differently).
* crates/vladapt-tokenizer/assets/bpe_simple_vocab_16e6.txt.gz, copied from the wheel.

open_clip's tokenizer.py imports torch at the top; it is loaded from the wheel with a small
numpy-backed stub `torch` module (only zeros/tensor/long are used on the path exercised).
Check with `--check-hf DIR`: load DIR (written by `ClipTokenizer::save_hf`) with
transformers.CLIPTokenizer and compare its ids to the fixture.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV = os.environ.get("VENV", "/work/venv-tok")
OUT_JSON = os.path.join(REPO, "fixtures", "tokenizer", "reference_ids.json")
ASSET = os.path.join(REPO, "crates", "vladapt-tokenizer", "assets", "bpe_simple_vocab_16e6.txt.gz")
CTX = 77


def bootstrap():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "ftfy", "regex", "numpy", "transformers<5"])
    os.execv(py, [py, os.path.abspath(__file__), "--in-venv"] + sys.argv[1:])


def load_open_clip_tokenizer(workdir):
    subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "open-clip-torch", "-d", workdir])
    wheel = [f for f in os.listdir(workdir) if f.startswith("open_clip_torch") and f.endswith(".whl")][0]
    with zipfile.ZipFile(os.path.join(workdir, wheel)) as z:
        z.extract("open_clip/tokenizer.py", workdir)
        z.extract("open_clip/bpe_simple_vocab_16e6.txt.gz", workdir)
    import numpy as np

    torch = types.ModuleType("torch")
    torch.LongTensor = torch.Tensor = np.ndarray
    torch.long = np.int64
    torch.zeros = lambda *shape, dtype=None: np.zeros(shape, dtype=np.int64)
    torch.tensor = lambda x: np.asarray(x, dtype=np.int64)
    sys.modules["torch"] = torch
    spec = importlib.util.spec_from_file_location("oc_tokenizer", os.path.join(workdir, "open_clip", "tokenizer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, wheel, os.path.join(workdir, "open_clip", "bpe_simple_vocab_16e6.txt.gz")


CLASSNAMES = [
    # ImageNet
    "tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark", "electric ray",
    "stingray", "rooster", "hen", "ostrich", "brambling", "goldfinch", "house finch", "junco",
    "American robin", "bulbul", "jay", "magpie", "chickadee", "American dipper", "kite (bird of prey)",
    "bald eagle", "vulture", "great grey owl", "fire salamander", "smooth newt", "newt",
    "spotted salamander", "axolotl", "American bullfrog", "tree frog", "tailed frog",
    "loggerhead sea turtle", "leatherback sea turtle", "mud turtle", "terrapin", "box turtle",
    "banded gecko", "green iguana", "Carolina anole", "desert grassland whiptail lizard", "agama",
    "frilled-necked lizard", "Alligator lizard", "Gila monster", "European green lizard",
    "chameleon", "Komodo dragon", "Nile crocodile", "American alligator", "triceratops",
    "Christmas stocking", "cowboy hat", "crossword", "pirate ship", "toilet paper", "hot dog",
    "jack-o'-lantern", "carousel", "yo-yo", "Band-Aid", "loupe magnifying glass", "toy poodle",
    # Caltech101 / OxfordPets / Flowers102 / Food101 / Aircraft / DTD / EuroSAT / UCF101 / SUN397 / Cars
    "Faces_easy", "Leopards", "Motorbikes", "accordion", "airplanes", "yin_yang", "windsor_chair",
    "Abyssinian", "american_pit_bull_terrier", "Bengal", "Egyptian_Mau", "Maine_Coon",
    "staffordshire_bull_terrier", "wheaten_terrier", "pink primrose", "hard-leaved pocket orchid",
    "canterbury bells", "sweet pea", "english marigold", "tiger lily", "moon orchid",
    "bird of paradise", "monkshood", "globe thistle", "snapdragon", "colt's foot", "king protea",
    "apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beignets", "bibimbap",
    "breakfast_burrito", "creme_brulee", "eggs_benedict", "pho", "takoyaki", "tiramisu",
    "707-320", "727-200", "737-200", "A300B4", "A310", "ATR-42", "BAE 146-200", "Cessna 172",
    "DC-10", "F-16A/B", "Falcon 2000", "Il-76", "MD-11", "Tu-134", "Yak-42",
    "banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "zigzagged",
    "Annual Crop Land", "Forest", "Herbaceous Vegetation Land", "Highway or Road",
    "Industrial Buildings", "Pasture Land", "Permanent Crop Land", "Residential Buildings",
    "River", "Sea or Lake", "Apply_Eye_Makeup", "Apply_Lipstick", "Archery", "Baby_Crawling",
    "Balance_Beam", "Band_Marching", "Blowing_Candles", "Handstand_Pushups", "YoYo",
    "abbey", "airplane_cabin", "airport_terminal", "alley", "amphitheater", "amusement_arcade",
    "apartment_building/outdoor", "bus_interior", "shoe_shop", "ice_cream_parlor",
    "2012 Tesla Model S", "2012 BMW M3 coupe", "1993 Geo Metro Convertible",
    "2007 Chevrolet Express Cargo Van", "2012 Rolls-Royce Phantom Drophead Coupe Convertible",
    "AM General Hummer SUV 2000", "Acura TL Type-S 2008", "smart fortwo Convertible 2012",
]

TEMPLATES = [
    "a photo of a {}.", "a photo of a {}, a type of pet.", "a photo of a {}, a type of flower.",
    "a photo of {}, a type of food.", "a photo of a {}, a type of aircraft.", "{} texture.",
    "a centered satellite photo of {}.", "a photo of a person doing {}.", "a photo of a {}, a type of car.",
]

HAND = [
    "", " ", "   ", "\t", "\n", "\r\n", " \t \n \r ", "\u00a0", "\u3000", "\u2003\u2009",
    "a photo of a dog.", "A Photo Of A DOG.", "A PHOTO OF A CAT!!!", "hello world", "Hello, World!",
    "The quick brown fox jumps over the lazy dog.", "It's a beautiful day, isn't it?",
    "I'm sure they'll've done it; you'd've too. We're here, they've gone.",
    "IT'S LOUD, WE'RE LOUD, THEY'LL BE LOUD, I'D SAY, I'M LOUD, YOU'VE SEEN",
    "don't can't won't shouldn't", "'s 't 're 've 'm 'll 'd", "''s '''t", "rock'n'roll",
    "O'Neil's dog", "dogs' toys", "\"quoted\"", "'single'", "a-b_c.d,e;f:g!h?i", "(parens) [brackets] {braces}",
    "...", "!!!???", "#hashtag @user $100 50% 3^2 a&b a*b ~tilde `tick`", "path/to/file.txt",
    "https://example.com/a?b=c&d=e#frag", "user@example.com", "C++ and C# and F#", "->  => <= >= != ==",
    "1234567890", "3.14159", "1,000,000", "2nd 3rd 4th 21st", "12:30pm", "-42", "+1 (555) 123-4567",
    "0.5x", "v1.2.3", "1e-5", "⅓ ½ ¼", "²³¹", "١٢٣", "一二三", "Ⅳ Ⅻ", "①②③",
    "café", "naïve résumé", "Crème Brûlée", "über straße", "ÆØÅ æøå", "Łódź", "São Paulo",
    "Ελληνικά ΣΟΦΟΣ σοφός", "ΟΔΥΣΣΕΥΣ", "Русский язык", "Україна", "İstanbul ıi", "ǅemal",
    "Ǆ ǅ ǆ Ǳ ǲ ǳ", "e\u0301", "a\u0308o\u0308u\u0308", "\u1100\u1161\u11a8", "ﬁnancial ﬂow ﬀ ﬃ ﬄ ﬅ ﬆ",
    "Ĳsselmeer ĳs", "ŉ", "日本語のテキスト", "東京タワー", "中文字符测试", "你好，世界！", "한국어 텍스트",
    "ｶﾀｶﾅ ﾊﾟﾋﾞ", "ＡＢＣ　ｄｅｆ　１２３！", "ｆｕｌｌ－ｗｉｄｔｈ（ｔｅｘｔ）", "￥１００", "￠￡￢",
    "مرحبا بالعالم", "العربية ١٢٣", "עברית", "हिन्दी भाषा", "ภาษาไทย", "Tiếng Việt", "ქართული",
    "😀", "😀😃😄", "I ❤️ NY", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇫🇷", "✔ done", "★☆", "♪♫", "→←↑↓", "∑∫√∞",
    "©®™", "€$£¥", "°C", "±×÷", "§¶†‡", "«guillemets»", "„German“ quotes", "‚single‘",
    "\u201ccurly\u201d \u2018quotes\u2019", "it\u2019s", "\u201f\u201b\u02bc", "don\u2019t stop",
    "em\u2014dash en\u2013dash", "ellipsis\u2026", "bullet \u2022 point", "\u2032prime\u2033",
    "&amp;", "&lt;b&gt;", "Tom &amp; Jerry", "&amp;amp;", "&amp;amp;amp;amp;", "&quot;hi&quot;",
    "&#39;apos&#39;", "&apos;x&apos;", "&#65;&#66;&#67;", "&#x41;&#x42;", "&#X4a;", "&#8217;",
    "&#8220;x&#8221;", "&#150; &#151;", "&#128;", "&#0;", "&#1;a", "&#13;b", "&#x110000;",
    "&#xD800;", "&#65", "&amp", "&ampx", "&copy; 2024", "&copy 2024", "&eacute;t&eacute;",
    "&Eacute;COLE", "&NTILDE;", "&nbsp;x&nbsp;", "&hellip;", "&mdash;&ndash;", "&euro;5",
    "&trade;", "&deg;F", "&frac12;", "&times;", "&alpha;&beta;&Omega;", "&larr;&rarr;",
    "&nosuchentity;", "& alone", "a & b", "&;", "&#;", "&#x;", "<b>bold</b> &amp; more",
    "x < y &amp; z", "line one &amp;\n<p>line two &amp;</p>", "1 < 2", "a<b>c",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "AT&amp;T", "&amp;lt;", "&amp;#65;",
    "tab\tseparated\tvalues", "line1\nline2\nline3", "crlf\r\nline", "cr\ronly",
    "para\u2028sep\u2029end", "nel\u0085x", "form\x0cfeed", "vt\x0bx", "nul\x00char",
    "bell\x07 esc\x1b x", "\x1b[31mred\x1b[0m text", "\x1b[1;32mbold green\x1b[0m",
    "zero\u200bwidth", "zwj\u200dzwnj\u200c", "bom\ufeffx", "\ufeffleading bom",
    "soft\u00adhyphen", "\u2060word joiner", "c1 \x93quoted\x94", "\x80 euro", "\x81\x8d\x8f\x90\x9d",
    "\x96dash\x97", "inter\u206aact", "obj\ufffc", "x\u00a0y\u00a0z", "thin\u2009space",
    "many     spaces    here", "   leading and trailing   ", "\n\n\nnewlines\n\n",
    "ſ long s", "'ſ", "K kelvin Å angstrom", "\u0345iota", "ﬀ'S", "ß ẞ", "Σ final ΣΑΣ",
    "DŽ", "ǈ", "ȺȾ", "İ", "ﬁ'Ll",
    "a" * 5, "a" * 100, "ab" * 40, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b",
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "xyzzy qwfp jklm", "zzzzzzzzzz", "ThisIsCamelCase", "snake_case_name", "kebab-case-name",
    "word " * 80, " ".join(str(i) for i in range(100)),
    "The " + "very " * 70 + "long sentence.",
    "A photo of " + ", ".join(["a dog", "a cat", "a bird", "a fish"] * 12) + ".",
    "émoji 😀 mix 中文 and العربية with 123 &amp; \u201cquotes\u201d",
    "x" * 300, "🙂" * 40, "中" * 90, "!" * 100, "1" * 90,
    "Mixed\tWhitespace \n and\u3000ideographic",
]


def build_strings():
    strings = list(HAND)
    for i, name in enumerate(CLASSNAMES):
        t = TEMPLATES[i % len(TEMPLATES)]
        strings.append(t.format(name.replace("_", " ")))
        if i % 4 == 0:
            strings.append(name)
    seen, out = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


SPECIAL_LITERAL = [
    "<|startoftext|>", "<|endoftext|>", "a photo <|endoftext|> of a dog",
    "<|startoftext|>hello<|endoftext|>", "<|endoftext|><|endoftext|>",
]


def split_classes():
    """Run-length table of which alternative of the CLIP split regex (IGNORECASE, as in open_clip)
    matches each single code point: L (letters), N (digit), O (other), - (none), or ? for code
    points unassigned in this Python's unicodedata (the regex module's tables may be newer)."""
    import unicodedata

    import regex

    pat = regex.compile(r"""(?P<L>[\p{L}]+)|(?P<N>[\p{N}])|(?P<O>[^\s\p{L}\p{N}]+)""", regex.IGNORECASE)
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        m = pat.match(chr(cp))
        k = m.lastgroup if m else "-"
        if unicodedata.category(chr(cp)) == "Cn":
            k = "?"
        if runs and runs[-1][2] == k and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, k])
    return runs


def check_hf(dirname):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(dirname)
    with open(OUT_JSON) as f:
        fx = json.load(f)
    bad = 0
    for c in fx["cases"]:
        ids = tok(c["text"])["input_ids"][1:-1]
        if ids != c["encode"] and c["hf_slow_agrees"]:
            bad += 1
            print("MISMATCH", repr(c["text"]), ids[:10], c["encode"][:10])
    n_agree = sum(c["hf_slow_agrees"] for c in fx["cases"])
    print(f"HF CLIPTokenizer from {dirname}: {n_agree - bad}/{n_agree} cases where HF agrees with open_clip match")
    for c in fx["special_literal_cases"]:
        ids = tok(c["text"])["input_ids"][1:-1]
        print("special", repr(c["text"]), "OK" if ids == c["encode"] else f"MISMATCH {ids}")
    return bad == 0


def main():
    args = [a for a in sys.argv[1:] if a != "--in-venv"]
    if "--in-venv" not in sys.argv:
        bootstrap()
        return
    if args and args[0] == "--check-hf":
        sys.exit(0 if check_hf(args[1]) else 1)

    import ftfy
    import regex
    import transformers
    from transformers import CLIPTokenizer

    work = tempfile.mkdtemp(prefix="tokfix-")
    oc, wheel, bpe = load_open_clip_tokenizer(work)
    os.makedirs(os.path.dirname(ASSET), exist_ok=True)
    shutil.copyfile(bpe, ASSET)
    sot, eot = oc._tokenizer.sot_token_id, oc._tokenizer.eot_token_id
    assert (sot, eot) == (49406, 49407), (sot, eot)

    # HF slow tokenizer (with ftfy installed it applies ftfy.fix_text) from the same vocabulary.
    hf_dir = os.path.join(work, "hf")
    os.makedirs(hf_dir)
    enc = oc._tokenizer.encoder
    vocab = {("<|startoftext|>" if k == "<start_of_text>" else "<|endoftext|>" if k == "<end_of_text>" else k): v for k, v in enc.items()}
    with open(os.path.join(hf_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    merges = sorted(oc._tokenizer.bpe_ranks.items(), key=lambda kv: kv[1])
    with open(os.path.join(hf_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for (a, b), _ in merges))
    hf = CLIPTokenizer(os.path.join(hf_dir, "vocab.json"), os.path.join(hf_dir, "merges.txt"))
    assert hf.fix_text is not None, "HF CLIPTokenizer did not pick up ftfy"

    cases = []
    for s in build_strings():
        bpe_ids = oc._tokenizer.encode(s)
        ids = oc.tokenize([s], context_length=CTX)[0].tolist()
        hf_ids = hf(s)["input_ids"][1:-1]
        cases.append({
            "text": s,
            "ids": ids,
            "encode": bpe_ids,
            "decoded": oc._tokenizer.decode(bpe_ids),
            "hf_slow_agrees": hf_ids == bpe_ids,
        })
    special = [{"text": s, "encode": hf(s)["input_ids"][1:-1]} for s in SPECIAL_LITERAL]
    out = {
        "generator": "tools/tokenizer/make_tokenizer_fixtures.py",
        "reference": f"open_clip tokenizer.py from {wheel} (SimpleTokenizer, clean='lower')",
        "versions": {"unicodedata": __import__("unicodedata").unidata_version, "ftfy": ftfy.__version__, "regex": regex.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
        "context_length": CTX,
        "sot": sot,
        "eot": eot,
        "cases": cases,
        "special_literal_cases": special,
        "split_classes": split_classes(),
    }
    os.makedirs(os.path.dirname(OUT_JSON), exist_ok=True)
    with open(OUT_JSON, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    n_dis = sum(not c["hf_slow_agrees"] for c in cases)
    n_long = sum(len(c["encode"]) + 2 > CTX for c in cases)
    print(f"wrote {len(cases)} cases ({n_long} truncated, HF slow disagrees on {n_dis}) to {OUT_JSON}")
    for c in cases:
        if not c["hf_slow_agrees"]:
            print("  HF differs:", repr(c["text"])[:80])
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
