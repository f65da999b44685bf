"""PyTorch reference for `vladapt bench train --task grounding`: one training step of TransVG
with MMCA at the `transvg-r50` (or -r101) shape on the CPU.

The model is the **official MMCA code** (`models_mmca_vector_based`, copied with attribution in
tools/fixtures/build_mmca.py) on a torchvision-Bottleneck ResNet with the official
FrozenBatchNorm2d and a transformers BertModel of bert-base size; `--method transvg` uses the
plain TransVG reference of tools/fixtures/build_grounding.py. Random weights, float32, dropout 0
(the Rust model has none). One step = forward, official `trans_vg_loss` (L1 + GIoU), backward,
`clip_grad_norm_(…, 0.1)`, AdamW(weight_decay 1e-4) with train.py's parameter groups
(rest 1e-4; visu_cnn, visu_tra, text 1e-5).

Prints ONE JSON line: {"step_ms": median, "peak_rss_mb": .., "loss": ..}
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import build_mmca as mm  # noqa: E402

PRESETS = {"transvg-r50": [3, 4, 6, 3], "transvg-r101": [3, 4, 23, 3]}
MMCA_LIKE = {"official", "fixed", "mmca", "mmca-official", "mmca-fixed"}


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def mmca_model(layers, max_query_len):
    a = mm.Args()
    a.resnet_layers, a.stem_width, a.base_planes = layers, 64, 64
    a.hidden_dim, a.nheads, a.dim_feedforward, a.enc_layers = 256, 8, 2048, 6
    a.dec_layers, a.pre_norm, a.dropout, a.detr_enc_num = 0, False, 0.0, 6
    a.num_queries, a.lr_visu_cnn, a.lr_visu_tra, a.lr_bert = 1, 1e-5, 1e-5, 1e-5
    a.bert_vocab, a.bert_hidden, a.bert_enc_num = 30522, 768, 12
    a.bert_heads, a.bert_intermediate, a.bert_max_position = 12, 3072, 512
    a.vl_hidden_dim, a.vl_nheads, a.vl_dim_feedforward, a.vl_enc_layers, a.vl_dropout = 256, 8, 2048, 6, 0.0
    a.dilation, a.imsize, a.max_query_len = False, 640, max_query_len
    model = mm.TransVG(a)

    def forward(img, mask, ids, tmask):
        return model(mm.NestedTensor(img, mask), mm.NestedTensor(ids, tmask))

    return model, forward


def transvg_model(layers, max_query_len):
    import build_grounding as ref

    ref.bert_config = lambda vocab, max_position=512: __import__("transformers").BertConfig(
        vocab_size=vocab, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cfg = {
        "resnet": {"layers": layers, "stem_width": 64, "base_planes": 64},
        "detr": {"d_model": 256, "heads": 8, "ffn": 2048, "layers": 6},
        "bert": {"vocab_size": 30522, "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072,
                 "max_position": 512, "type_vocab": 2},
        "fusion": {"d_model": 256, "heads": 8, "ffn": 2048, "layers": 6},
        "max_query_len": max_query_len,
        "image_size": 640,
    }
    model = ref.TransVG(cfg)
    # train.py's frozen parts: the stem and layer1.
    for n, p in model.named_parameters():
        if n.startswith("visumodel.backbone.0.body.") and not any(k in n for k in ("layer2", "layer3", "layer4")):
            p.requires_grad_(False)

    def forward(img, mask, ids, tmask):
        return model(img, mask, ids, tmask)[2]

    return model, forward


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="transvg-r50", choices=sorted(PRESETS))
    ap.add_argument("--method", default="official")
    ap.add_argument("--max-query-len", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers = PRESETS[a.preset]
    if a.method in MMCA_LIKE:
        model, forward = mmca_model(layers, a.max_query_len)
    elif a.method == "transvg":
        model, forward = transvg_model(layers, a.max_query_len)
    else:
        sys.exit(f"bench_train_ground_torch.py: no reference for method {a.method!r} "
                 f"(known: transvg, {', '.join(sorted(MMCA_LIKE))})")
    model.train()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    visu_cnn = [p for n, p in named if "visumodel" in n and "backbone" in n]
    visu_tra = [p for n, p in named if "visumodel" in n and "backbone" not in n]
    text = [p for n, p in named if "textmodel" in n]
    rest = [p for n, p in named if "visumodel" not in n and "textmodel" not in n]
    opt = torch.optim.AdamW([
        {"params": rest, "lr": 1e-4}, {"params": visu_cnn, "lr": 1e-5},
        {"params": visu_tra, "lr": 1e-5}, {"params": text, "lr": 1e-5},
    ], lr=1e-4, weight_decay=1e-4)
    b, s, l = a.batch, 640, a.max_query_len
    img = torch.randn(b, 3, s, s)
    mask = torch.zeros(b, s, s, dtype=torch.bool)
    ids = torch.randint(1000, 30000, (b, l))
    tmask = torch.ones(b, l, dtype=torch.int64)
    target = torch.tensor([[0.4 + 0.05 * i, 0.5, 0.3, 0.25] for i in range(b)])
    times = []
    loss = None
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        boxes = forward(img, mask, ids, tmask)
        losses = mm.trans_vg_loss(boxes, target)
        loss = losses["loss_bbox"] + losses["loss_giou"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    print(json.dumps({"step_ms": round(statistics.median(times), 3), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "loss": float(loss.detach())}))


if __name__ == "__main__":
    main()
