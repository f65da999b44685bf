#!/usr/bin/env python3
"""Golden set for JPEG decoding: small JPEGs written by Pillow in every layout a dataset holds,
and what ``PIL.Image.open(p).convert("RGB")`` makes of each (the decode every CLIP reference
pipeline — OpenAI CLIP, open_clip, Dassl/CoOp — runs), stored losslessly as PNG.

Usage:
    /work/venv-fix/bin/python tools/image/make_jpeg_goldens.py

Writes into fixtures/image/jpeg/:
  <case>.jpg        the input
  <case>.rgb.png    PIL's Image.open(<case>.jpg).convert("RGB"), when PIL decodes it
  manifest.json     one entry per case: file, expected PNG or the error PIL raised, size,
                    and the Pillow / libjpeg-turbo versions used

Deterministic: fixed seeds, fixed encoder settings.
"""
import io
import json
import os

import numpy as np
import PIL
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures", "image", "jpeg")


def photo(w, h, seed):
    """Photo-like content: smooth colour gradients, texture noise and hard colour edges, so that
    chroma upsampling and IDCT rounding differences show up."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 4.0 + y / 7.0)
    g = 40 + 180 * x / max(w - 1, 1)
    b = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2, 230.0, 30.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 18, (h, w, 3))
    # A saturated red/blue checker patch: the worst case for 4:2:0 chroma.
    cy, cx = h // 4, w // 4
    checker = ((x // 2 + y // 2) % 2 == 0) & (x < cx) & (y < cy)
    img[checker] = [250, 10, 10]
    img[(~checker) & (x < cx) & (y < cy)] = [10, 10, 250]
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8))


def save(img, name, **kw):
    path = os.path.join(OUT, name + ".jpg")
    img.save(path, "JPEG", **kw)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    cases = []
    base = photo(61, 45, 1)
    big = photo(97, 66, 2)

    def add(name, path=None):
        cases.append((name, path or os.path.join(OUT, name + ".jpg")))

    for q in (75, 95):
        for sub, tag in ((0, "444"), (1, "422"), (2, "420")):
            save(base, f"q{q}_{tag}", quality=q, subsampling=sub)
            add(f"q{q}_{tag}")
    save(big, "progressive_420", quality=85, subsampling=2, progressive=True)
    add("progressive_420")
    save(big, "progressive_444_optimize", quality=90, subsampling=0, progressive=True, optimize=True)
    add("progressive_444_optimize")
    save(big, "restart_blocks_420", quality=85, subsampling=2, restart_marker_blocks=3)
    add("restart_blocks_420")
    save(big, "restart_rows_422", quality=85, subsampling=1, restart_marker_rows=1)
    add("restart_rows_422")
    save(big.convert("L"), "grayscale", quality=90)
    add("grayscale")
    save(big.convert("L"), "grayscale_progressive", quality=80, progressive=True)
    add("grayscale_progressive")
    save(big.convert("CMYK"), "cmyk", quality=90)
    add("cmyk")
    cmyk = np.asarray(big.convert("CMYK")).copy()
    cmyk[..., 3] = np.linspace(0, 200, cmyk.shape[1], dtype=np.uint8)[None, :]
    save(Image.fromarray(cmyk, "CMYK"), "cmyk_black_ramp", quality=90)
    add("cmyk_black_ramp")
    # Odd sizes: partial MCUs at the right and bottom edges in every subsampling.
    for (w, h) in ((1, 1), (3, 17), (33, 9), (17, 130)):
        for sub, tag in ((0, "444"), (2, "420")):
            save(photo(w, h, w * 1000 + h), f"odd_{w}x{h}_{tag}", quality=90, subsampling=sub)
            add(f"odd_{w}x{h}_{tag}")
    # EXIF orientation 6 ("rotate 90 CW to display"): Image.open + convert("RGB") ignores it.
    exif = Image.Exif()
    exif[0x0112] = 6
    save(base, "exif_orientation_6", quality=90, exif=exif.tobytes())
    add("exif_orientation_6")

    # Damaged files, made from the 4:2:0 photo.
    good = open(os.path.join(OUT, "q95_420.jpg"), "rb").read()
    damaged = {
        "truncated_half": good[: len(good) // 2],
        "truncated_header": good[:40],
        "no_eoi": good[:-2],
        "garbage_in_scan": good[: len(good) // 2] + bytes([0xFF, 0xC0]) + good[len(good) // 2 + 2 :],
        "extraneous_before_eoi": good[:-2] + b"\x00\x11\x22" + good[-2:],
    }
    for name, data in damaged.items():
        with open(os.path.join(OUT, name + ".jpg"), "wb") as f:
            f.write(data)
        add(name)

    manifest = {
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "cases": [],
    }
    for name, path in cases:
        entry = {"file": os.path.basename(path)}
        try:
            with Image.open(path) as im:
                entry["pil_mode"] = im.mode
                rgb = im.convert("RGB")
            rgb.save(os.path.join(OUT, name + ".rgb.png"), "PNG")
            entry["expected"] = name + ".rgb.png"
            entry["size"] = list(rgb.size)
        except Exception as e:  # PIL refused the file: we must refuse it too.
            entry["error"] = f"{type(e).__name__}: {e}"
        manifest["cases"].append(entry)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(cases)} cases, {total} bytes in {OUT}")
    for c in manifest["cases"]:
        print(c["file"], c.get("error", "ok"))


if __name__ == "__main__":
    main()
