"""PIL bilinear goldens for `vladapt_image::resize_bilinear` (TransVG resizes PIL images with
`Image.BILINEAR`): ``fixtures/image/bilinear_<src>_<w>x<h>.npy`` (uint8 H×W×3).

Each resize is built from two single-axis ``img.resize(..., Image.BILINEAR)`` calls, horizontal
first (the pass order of Pillow <= 12 and of Pillow 13 for these sizes), so the bytes do not
depend on the Pillow version. Run directly; touches nothing else.
"""

from pathlib import Path

import numpy as np
from PIL import Image

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "image"

CASES = [
    ("in_rgb_37x23.png", 64, 40),    # upscale both axes
    ("in_rgb_37x23.png", 20, 13),    # downscale (antialiased: support widened)
    ("in_rgb_97x131.png", 47, 64),   # long side → 64 keeping the aspect ratio (TransVG-style)
    ("in_rgb_97x131.png", 128, 100),  # mixed: wider, shorter
]


def resize_classic(img, w, h):
    sw, sh = img.size
    if w != sw:
        img = img.resize((w, sh), Image.BILINEAR)
    if h != sh:
        img = img.resize((w, h), Image.BILINEAR)
    return img


def main():
    for src, w, h in CASES:
        img = Image.open(FIX / src).convert("RGB")
        out = np.asarray(resize_classic(img, w, h), dtype=np.uint8)
        stem = src.removeprefix("in_").removesuffix(".png")
        np.save(FIX / f"bilinear_{stem}_{w}x{h}.npy", np.ascontiguousarray(out))


if __name__ == "__main__":
    main()
