#!/usr/bin/env python3
"""PyTorch reference for `vladapt bench`: CLIP embedding throughput on CPU.

  bench_embed_torch.py [--model DIR] [--save DIR [--save-only]] [--iters N] [--warmup N] [--threads 2]

Without --model it builds a random CLIP of ViT-B/32 size (transformers CLIPConfig: text 512/12L/8H,
vision 768/12L/12H, patch 32, image 224, projection 512) from a fixed seed. --save DIR writes that
checkpoint in Hugging Face layout (config.json, model.safetensors, preprocessor_config.json and the
CLIP tokenizer files) so the Rust side can bench the very same weights.

Measures, with torch.set_num_threads(threads) and inference_mode:
  images: batch 32 of 3x224x224 random pixels (N(0,1)), get_image_features;
  texts:  batch 64 of zero-padded 77-token prompts "a photo of a {word}.", get_text_features;
warm-up iterations first, then `iters` timed iterations of each. Peak RSS from /proc/self/status VmHWM.
Prints ONE JSON line: {"images_per_s": .., "texts_per_s": .., "peak_rss_mb": ..}
Run it with the fixture venv's python (tools/fixtures/make_fixtures.py creates it).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
TINY_HF = REPO / "fixtures" / "models" / "tiny-hf"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
WORDS = ["cat", "dog", "car", "tree", "boat", "plane", "flower", "pizza", "house", "river", "bird", "horse",
         "chair", "guitar", "mountain", "bridge"]



def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB: VmHWM from /proc/self/status (Linux).

    getrusage's ru_maxrss is not used when VmHWM is available: Linux carries the pre-exec high-water
    mark of the forked parent over into ru_maxrss, so a child of a large process (e.g. `vladapt bench`
    after loading its model) would report the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux

def vitb32_config():
    from transformers import CLIPConfig

    text = dict(vocab_size=49408, hidden_size=512, num_hidden_layers=12, num_attention_heads=8,
                intermediate_size=2048, max_position_embeddings=77, hidden_act="quick_gelu",
                eos_token_id=49407, bos_token_id=49406, pad_token_id=49407, projection_dim=512)
    vision = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                  image_size=224, patch_size=32, hidden_act="quick_gelu", projection_dim=512)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=512,
                      logit_scale_init_value=4.605170185988092)


def random_vitb32(seed: int = 0):
    from transformers import CLIPModel

    torch.manual_seed(seed)
    return CLIPModel(vitb32_config()).eval()


def save_hf(model, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (TINY_HF / name).exists():
            shutil.copy(TINY_HF / name, out / name)
    pp = {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": 224},
          "resample": 3, "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
          "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
          "do_convert_rgb": True}
    (out / "preprocessor_config.json").write_text(json.dumps(pp, indent=2) + "\n")


def prompt_ids(n: int) -> torch.Tensor:
    import open_clip

    return open_clip.tokenize([f"a photo of a {WORDS[i % len(WORDS)]}." for i in range(n)], context_length=77)


def throughput(fn, batch: int, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return batch * iters / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="HF CLIP checkpoint dir (default: random ViT-B/32)")
    ap.add_argument("--save", type=Path, help="write the random ViT-B/32 checkpoint (HF layout) here")
    ap.add_argument("--save-only", action="store_true", help="with --save: exit after saving")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--text-batch", type=int, default=64)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    if a.model is not None:
        from transformers import CLIPModel

        model = CLIPModel.from_pretrained(str(a.model)).eval()
    else:
        model = random_vitb32(a.seed)
    if a.save is not None:
        save_hf(model, a.save)
        print(f"saved checkpoint to {a.save}", file=sys.stderr)
        if a.save_only:
            return 0
    size = model.config.vision_config.image_size
    g = torch.Generator().manual_seed(a.seed)
    pix = torch.randn(a.image_batch, 3, size, size, generator=g)
    ids = prompt_ids(a.text_batch)
    with torch.inference_mode():
        ips = throughput(lambda: model.get_image_features(pixel_values=pix), a.image_batch, a.warmup, a.iters)
        tps = throughput(lambda: model.get_text_features(input_ids=ids), a.text_batch, a.warmup, a.iters)
    rss = peak_rss_mb()
    print(json.dumps({"images_per_s": round(ips, 3), "texts_per_s": round(tps, 3), "peak_rss_mb": round(rss, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
