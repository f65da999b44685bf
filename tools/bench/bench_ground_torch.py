"""PyTorch reference for `vladapt bench ground`: TransVG forward throughput at S² (default 640²).

The model is the TransVG-structured reference of tools/fixtures/build_grounding.py (torchvision
Bottleneck + FrozenBatchNorm2d trunk, DETR sine positions + nn.MultiheadAttention post-norm
encoder, transformers BertModel, [REG] fusion, MLP head) at the requested preset's sizes, with
random weights, eval mode, torch.no_grad(), float32 on the CPU.

Prints ONE JSON line: {"images_per_s": .., "peak_rss_mb": ..}
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import build_grounding as ref  # noqa: E402

PRESETS = {
    "transvg-r50": [3, 4, 6, 3],
    "transvg-r101": [3, 4, 23, 3],
}


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="transvg-r50", choices=sorted(PRESETS))
    ap.add_argument("--image-size", type=int, default=640)
    ap.add_argument("--max-query-len", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = {
        "resnet": {"layers": PRESETS[a.preset], "stem_width": 64, "base_planes": 64},
        "detr": {"d_model": 256, "heads": 8, "ffn": 2048, "layers": 6},
        "bert": {"vocab_size": 30522, "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072,
                 "max_position": 512, "type_vocab": 2},
        "fusion": {"d_model": 256, "heads": 8, "ffn": 2048, "layers": 6},
        "max_query_len": a.max_query_len,
        "image_size": a.image_size,
    }
    ref.bert_config = lambda vocab, max_position=512: __import__("transformers").BertConfig(  # bert-base sizes
        vocab_size=vocab, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=max_position, type_vocab_size=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = ref.TransVG(cfg).eval()
    b, s, l = a.batch, a.image_size, a.max_query_len
    img = torch.randn(b, 3, s, s)
    mask = torch.zeros(b, s, s, dtype=torch.bool)
    ids = torch.randint(1000, 30000, (b, l))
    tmask = torch.ones(b, l, dtype=torch.int64)
    with torch.no_grad():
        for _ in range(a.warmup):
            model(img, mask, ids, tmask)
        t0 = time.perf_counter()
        for _ in range(a.iters):
            model(img, mask, ids, tmask)
        dt = time.perf_counter() - t0
    print(json.dumps({"images_per_s": round(b * a.iters / dt, 4), "peak_rss_mb": round(peak_rss_mb(), 1)}))


if __name__ == "__main__":
    main()
