#!/usr/bin/env python3
"""Make the `.pth` converter fixtures (fixtures/pth/) with real `torch.save`.

Usage (from the repository root, in a venv with torch and safetensors, e.g. /work/venv-fix):
    python tools/pth/make_pth_fixtures.py

For every good case NAME it writes NAME.pth (torch.save) and NAME.safetensors: the tensors the
converter must produce, written by `safetensors.torch.save_file(..., metadata={"format": "pt"})`
from contiguous clones of the same tensors (so `vladapt convert` must match it byte for byte).
manifest.json lists per case the expected names, the weights key, the other top-level keys and
the skipped non-tensor entries; and per hostile case the error expected (the forbidden global's
name as Python's pickler wrote it).

Fixed seeds; written with torch 2.15. Every file is a few KiB.
"""
import argparse
import collections
import io
import json
import os
import zipfile

import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "fixtures", "pth")
META = {"format": "pt"}


def flat(obj, prefix=""):
    """The converter's naming: nested dicts joined with dots; non-tensor leaves skipped."""
    out, skipped = {}, []
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            name = f"{prefix}.{k}" if prefix else str(k)
            o, s = flat(v, name)
            out.update(o)
            skipped += s
    else:
        skipped.append(prefix)
    return out, skipped


def expected_file(name, tensors):
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, os.path.join(OUT, name + ".safetensors"), metadata=META)


def tiny_net():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, bias=False),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 5),
    )
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
        net[1].num_batches_tracked.fill_(17)
    return net


class Evil:
    """Pickles as a call of os.system: what a malicious checkpoint contains."""

    def __reduce__(self):
        return (os.system, ("echo this should never run",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


class TinyModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


def rewrite_zip(src, dst, edit):
    """Copy a torch zip, passing each record's bytes through edit(name, data) (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


def main():
    ap = argparse.ArgumentParser()
    ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    manifest = {"generator": "tools/pth/make_pth_fixtures.py", "torch": torch.__version__, "good": {}, "hostile": {}}

    def good(name, obj, weights, from_key=None, legacy=False):
        path = os.path.join(OUT, name + ".pth")
        if legacy:
            torch.save(obj, path, _use_new_zipfile_serialization=False)
        else:
            torch.save(obj, path)
        tensors, skipped = flat(weights)
        expected_file(name, tensors)
        # The file must load in PyTorch's own restricted mode (argparse.Namespace needs allowing).
        with torch.serialization.safe_globals([argparse.Namespace]):
            back = torch.load(path, weights_only=True)
        del back
        top = [k for k in obj.keys() if k != from_key] if (from_key and isinstance(obj, dict)) else []
        manifest["good"][name] = {
            "names": list(tensors.keys()),
            "from_key": from_key,
            "other_keys": top,
            "skipped": skipped,
            "format": "legacy" if legacy else "zip",
        }

    # 1. A plain state dict (conv + BN with non-trivial stats + linear).
    sd = tiny_net().state_dict()
    good("state_dict", sd, sd)

    # 2. Nested dicts, int keys, non-tensor leaves.
    nested = {
        "encoder": {"layer": {0: {"w": torch.randn(3, 2)}, 1: {"w": torch.randn(2)}}, "b": torch.randn(4)},
        "head.w": torch.randn(2, 2),
        "step": 7,
        "name": "tiny",
    }
    good("nested", nested, nested)

    # 3. Every supported dtype, a 0-dim scalar and an empty tensor.
    base = torch.randn(3, 5) * 100
    dtypes = {
        "f32": base.float(),
        "f16": base.half(),
        "bf16": base.bfloat16(),
        "f64": base.double(),
        "i64": base.long(),
        "i32": base.int(),
        "i16": base.short(),
        "i8": (base / 4).to(torch.int8),
        "u8": base.abs().to(torch.uint8),
        "bool": base > 0,
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
    }
    good("dtypes", dtypes, dtypes)

    # 4. Strided views and shared storages.
    m = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    h = torch.randn(6, 4).half()
    views = {
        "base": m,
        "transposed": m.t(),
        "slice": m[1:3, 2:5],
        "column": m[:, 1],
        "every_other": m[:, ::2],
        "reshaped_share": m.view(6, 4),
        "expanded": torch.tensor([1.0, 2.0, 3.0]).expand(4, 3),
        "channels_last": torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last),
        "half_t": h.t(),
        "half_row": h[3],
        "permuted": torch.randn(2, 3, 4).permute(2, 0, 1),
    }
    good("views", views, views)

    # 5. A TransVG-shaped training checkpoint: {'model', 'optimizer', 'lr_scheduler', 'epoch', 'args'}.
    model = collections.OrderedDict()
    model["backbone.0.body.conv1.weight"] = torch.randn(4, 3, 7, 7)
    for s in ("weight", "bias", "running_mean", "running_var"):
        model[f"backbone.0.body.bn1.{s}"] = torch.rand(4) + 0.5
    model["transformer.encoder.layers.0.self_attn.in_proj_weight"] = torch.randn(24, 8)
    model["transformer.encoder.layers.0.self_attn.in_proj_bias"] = torch.randn(24)
    model["input_proj.weight"] = torch.randn(8, 4, 1, 1)
    model["textmodel.bert.embeddings.word_embeddings.weight"] = torch.randn(10, 8)
    model["vl_transformer.layers.0.linear1.weight"] = torch.randn(16, 8)
    model["reg_token.weight"] = torch.randn(1, 8)
    model["bbox_embed.layers.2.weight"] = torch.randn(4, 8)
    params = [torch.nn.Parameter(model["reg_token.weight"].clone()), torch.nn.Parameter(model["bbox_embed.layers.2.weight"].clone())]
    opt = torch.optim.AdamW(params, lr=1e-4)
    sum((p * p).sum() for p in params).backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 60)
    ns = argparse.Namespace(lr=1e-4, lr_bert=1e-5, max_query_len=20, dataset="unc", detr_model="./saved_models/detr-r50-unc.pth")
    ck = {"model": model, "optimizer": opt.state_dict(), "lr_scheduler": sched.state_dict(), "epoch": 89, "args": ns}
    good("transvg", ck, model, from_key="model")

    # 6. The legacy (PyTorch < 1.6) format, with a shared storage and fp16.
    lm = torch.randn(3, 4)
    legacy = {"w": lm, "w_t": lm.t(), "h": torch.randn(5).half(), "n": torch.tensor(3)}
    good("legacy", legacy, legacy, legacy=True)

    # 7. Hostile files.
    def hostile(name, obj, expect):
        torch.save(obj, os.path.join(OUT, name + ".pth"))
        manifest["hostile"][name] = expect

    hostile("evil_system", {"w": torch.ones(2), "payload": Evil()}, {"forbidden_global": f"{os.system.__module__}.system"})
    hostile("evil_eval", {"payload": EvilEval()}, {"forbidden_global": "builtins.eval"})
    hostile("full_model", TinyModule(), {"forbidden_global": f"{TinyModule.__module__}.TinyModule"})
    # A view declaring 2^20 x 2^20 elements over a one-element storage (4 TiB if materialised).
    hostile("huge_view", {"w": torch.zeros(1).expand(2**20, 2**20)}, {"tensor_error": "w"})

    src = os.path.join(OUT, "state_dict.pth")

    def cut_pickle(name, data):
        return data[: len(data) // 2] if name.endswith("/data.pkl") else data

    rewrite_zip(src, os.path.join(OUT, "truncated_pickle.pth"), cut_pickle)
    manifest["hostile"]["truncated_pickle"] = {"pickle_error": "truncated"}

    def short_storage(name, data):
        return data[:-4] if name.endswith("/data/0") else data

    rewrite_zip(src, os.path.join(OUT, "short_storage.pth"), short_storage)
    manifest["hostile"]["short_storage"] = {"storage_error": "0"}

    def drop_storage(name, data):
        return None if name.endswith("/data/1") else data

    rewrite_zip(src, os.path.join(OUT, "missing_storage.pth"), drop_storage)
    manifest["hostile"]["missing_storage"] = {"storage_error": "1"}

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
