#!/usr/bin/env python3
"""PyTorch reference for `vladapt bench`: one official-style training step per method, fp32 on CPU.

  bench_train_torch.py --method {coop,cocoop,clip_adapter,maple,mma} --model DIR
                       [--classes N] [--batch B] [--steps S] [--warmup W] [--threads 2] [--shots K]

The step is what the official trainers (CoOp, MaPLe, MMA repositories) do per iteration:
the frozen CLIP encoders are recomputed every step (CLIP-Adapter recomputes the frozen text
features too, as the original does), the text encoder runs on all class prompts every step
(CoCoOp: B x C prompts), cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4, lr 0.002).
Method settings (ViT-B defaults of the official configs, adapted to the model's widths):
  coop: n_ctx 16 generic, random init N(0, 0.02^2), class token at the end
  cocoop: n_ctx 4 init "a photo of a", meta-net vis_dim -> vis_dim//16 -> ctx_dim
  clip_adapter: embed -> embed/4 -> embed bias-free, ratio 0.2, template "a photo of a {}."
  maple: n_ctx 2 init "a photo of a", depth min(9, text layers)
  mma: adapter start 5 (1-based), dim 32, alpha 0.001, with the gradient-scale ops
Inputs: random N(0,1) pixels at the model's image size, class names "class0", "class1", ...
The forward code is the same reference code that generated fixtures/methods (tools/fixtures/methods_ref.py).
Epoch: an epoch of shots x classes images (drop_last, as Dassl) is steps_per_epoch = max(1, n // batch)
steps; the official trainers recompute the frozen encoders every step, so epoch_s = steps_per_epoch x step
(data loading and augmentation are not counted).
step_ms is the median of the timed steps.
Prints ONE JSON line: {"step_ms": .., "epoch_s": .., "steps_per_epoch": .., "peak_rss_mb": ..}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

from common import token_embeds, tokenize  # noqa: E402
from methods_ref import FORWARD  # noqa: E402

from bench_embed_torch import peak_rss_mb  # noqa: E402  (same folder)



def init_params(method, model, n_cls, g):
    tc, vc = model.config.text_config, model.config.vision_config
    dt, dv, de = tc.hidden_size, vc.hidden_size, model.config.projection_dim

    def n(shape, std):
        return torch.randn(*shape, generator=g) * std

    def lin(out_f, in_f, bias=True):  # PyTorch default Linear init
        bound = 1.0 / in_f ** 0.5
        w = (torch.rand(out_f, in_f, generator=g) * 2 - 1) * bound
        b = (torch.rand(out_f, generator=g) * 2 - 1) * bound if bias else None
        return w, b

    def init_ctx(text, k):
        with torch.no_grad():
            return token_embeds(model, tokenize([text]))[0, 1:1 + k].clone()

    P, cfg = {}, {}
    if method == "coop":
        cfg = {"n_ctx": 16, "class_token_position": "end"}
        P["coop.ctx"] = n((16, dt), 0.02)
    elif method == "cocoop":
        cfg = {"n_ctx": 4, "ctx_init": "a photo of a"}
        P["cocoop.ctx"] = init_ctx("a photo of a", 4)
        h = de // 16
        P["cocoop.meta_net.linear1.weight"], P["cocoop.meta_net.linear1.bias"] = lin(h, de)
        P["cocoop.meta_net.linear2.weight"], P["cocoop.meta_net.linear2.bias"] = lin(dt, h)
    elif method == "clip_adapter":
        cfg = {"ratio": 0.2, "template": "a photo of a {}."}
        P["clip_adapter.visual.fc1.weight"], _ = lin(de // 4, de, bias=False)
        P["clip_adapter.visual.fc2.weight"], _ = lin(de, de // 4, bias=False)
    elif method == "maple":
        depth = min(9, tc.num_hidden_layers)
        cfg = {"n_ctx": 2, "ctx_init": "a photo of a", "prompt_depth": depth}
        P["maple.ctx"] = init_ctx("a photo of a", 2)
        P["maple.proj.weight"], P["maple.proj.bias"] = lin(dv, dt)
        for i in range(depth - 1):
            P[f"maple.text_prompts.{i}"] = n((2, dt), 0.02)
            P[f"maple.coupling.{i}.weight"], P[f"maple.coupling.{i}.bias"] = lin(dv, dt)
    elif method == "mma":
        start = min(5, tc.num_hidden_layers)  # 1-based
        blocks = list(range(start - 1, tc.num_hidden_layers))
        dim = 32
        cfg = {"alpha": 0.001, "adapter_blocks": blocks, "template": "a photo of a {}."}
        for l in blocks:
            for name, (o, i) in {"text.down": (dim, dt), "text.up": (dt, dim), "vision.down": (dim, dv),
                                 "vision.up": (dv, dim), "shared": (dim, dim)}.items():
                P[f"mma.{name}.{l}.weight"] = n((o, i), (2.0 / o) ** 0.5)  # kaiming normal, fan_out
                P[f"mma.{name}.{l}.bias"] = torch.zeros(o)
    else:
        raise SystemExit(f"unknown method {method}")
    return {k: v.float().requires_grad_(True) for k, v in P.items()}, cfg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=["coop", "cocoop", "clip_adapter", "maple", "mma"])
    ap.add_argument("--model", required=True, type=Path, help="HF CLIP checkpoint dir")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shots", type=int, default=16, help="images per class of the epoch measurement")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed)

    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(str(a.model)).float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    P, cfg = init_params(a.method, model, a.classes, g)
    opt = torch.optim.SGD(list(P.values()), lr=0.002, momentum=0.9, weight_decay=5e-4)
    classnames = [f"class{i}" for i in range(a.classes)]
    size = model.config.vision_config.image_size
    pix = torch.randn(a.batch, 3, size, size, generator=g)
    labels = torch.randint(0, a.classes, (a.batch,), generator=g)
    fwd = FORWARD[a.method]

    def step():
        logits = fwd(model, P, pix, classnames, cfg)
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000.0)
    ms = statistics.median(times)  # median, as `vladapt bench train`
    rss = peak_rss_mb()
    n = a.shots * a.classes
    steps_per_epoch = n // a.batch if n >= a.batch else 1
    print(json.dumps({"step_ms": round(ms, 2), "step_ms_all": [round(t, 1) for t in times], "epoch_s": round(steps_per_epoch * ms / 1000.0, 3),
                      "steps_per_epoch": steps_per_epoch, "peak_rss_mb": round(rss, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
