#!/usr/bin/env python3
"""Write fixtures/tokenizer/html_unescape.json: reference outputs of Python's `html.unescape`
and ftfy's `unescape_html` fixer, for the tokenizer's HTML unescaping tests.

* `python`: every name of `html.entities.html5` as `&name`, plus hand-picked edge cases
  (no-semicolon prefixes, unknown names, 33-character names, numeric references at every
  boundary Python special-cases), each with `html.unescape(input)`.
* `ftfy`: every key of `ftfy.chardata.HTML_ENTITIES` (HTML5 names with `;` and ftfy's
  upper-case variants) plus upper-cased names ftfy refuses, each with
  `ftfy.fixes.unescape_html(input)`.

Deterministic (no randomness). Needs ftfy (`pip install ftfy`):
    python tools/tokenizer/make_html_unescape_fixture.py
"""
import html
import html.entities as he
import json
import pathlib
import sys

import ftfy
import ftfy.chardata as cd
import ftfy.fixes as fx

edge = [
    "a &amp; b", "&amp", "&ampfoo", "&amp;amp;", "&AMP", "&AMP;", "&notit;", "&notin;", "&not",
    "&nosuch;", "&nosuch", "&eacute;t&eacute", "&;", "&", "&&amp;", "& amp;", "&#;", "&#", "&#x;",
    "&#xg;", "&#65", "&#65;", "&#x41", "&#X41;", "&#0;", "&#x0;", "&#1;x", "&#8;", "&#9;", "&#10;",
    "&#11;", "&#12;", "&#13;", "&#14;", "&#31;", "&#32;", "&#127;", "&#128;", "&#129;", "&#141;",
    "&#150;", "&#159;", "&#160;", "&#xD7FF;", "&#xD800;", "&#xDFFF;", "&#xE000;", "&#xFDD0;",
    "&#xFDEF;", "&#xFDF0;", "&#xFFFE;", "&#xFFFF;", "&#x1FFFE;", "&#x10FFFF;", "&#x110000;",
    "&#99999999999999999999;", "&#0000065;", "&#x000041;", "&" + "a" * 32 + ";", "&" + "a" * 33 + ";",
    "&lt" + "x" * 40, "&hearts;&spades;", "&NotNestedGreaterGreater;", "&acE;", "&fjlig;",
    "&lt;&gt;&quot;&apos;", "&copy2026", "&copy;2026", "&frac12;&frac12", "&times&divide;",
]
python = [[f"&{k}", html.unescape(f"&{k}")] for k in sorted(he.html5)]
python += [[s, html.unescape(s)] for s in edge]

ftfy_inputs = sorted(cd.HTML_ENTITIES)
# Upper-cased names ftfy does not decode (their upper form is itself an entity or a prefix
# match, or the name is not all lower case).
refused = sorted(
    "&" + n.upper() for n in he.html5
    if n.endswith(";") and ("&" + n.upper()) not in cd.HTML_ENTITIES
)
ftfy_inputs += refused[:200]
ftfy_inputs += ["&amp x", "&#x41;", "&#65;", "&#0;", "&#128;", "&#xD800;", "&#1;", "&#x110000;",
                "&amp;amp;", "&NTILDE;", "&Ntilde;", "&ntilde;", "&NOSUCH;", "&amp"]
ftfy_cases = [[s, fx.unescape_html(s)] for s in ftfy_inputs]

out = pathlib.Path(__file__).resolve().parents[2] / "fixtures/tokenizer/html_unescape.json"
doc = {
    "generator": "tools/tokenizer/make_html_unescape_fixture.py",
    "python": sys.version.split()[0],
    "ftfy": ftfy.__version__,
    "html_unescape": python,
    "ftfy_unescape_html": ftfy_cases,
}
with open(out, "w", encoding="utf-8") as f:
    f.write("{\n")
    keys = list(doc)
    for i, k in enumerate(keys):
        v = doc[k]
        if isinstance(v, list):
            f.write(f' "{k}": [\n')
            f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in v))
            f.write("\n ]")
        else:
            f.write(f' "{k}": {json.dumps(v)}')
        f.write(",\n" if i + 1 < len(keys) else "\n")
    f.write("}\n")
print(out, len(python), len(ftfy_cases))
