#!/usr/bin/env python3
"""Generates tests/fixtures/swin_small.json, checked by tests/swin_test.ts.

Usage:  python3 scripts/make_swin_fixture.py   (needs torch and torchvision >= 0.14; CPU is enough)

torchvision's Swin Transformer (v1) with the formula weights of scripts/make_resnet_fixture.py
(`relative_position_bias_table` = 0.5 v; the `relative_position_index` buffers keep their own
values). The JSON holds:
  * "swin_t" / "swin_b": [[name, shape], ...] of the state dicts of torchvision's swin_t and
    swin_b (1000 classes) and their parameter counts, so the presets are checked without
    running them;
  * "cases": eval-mode logits (float64) of fixed inputs (torch.randn, seed 0) through small
    models chosen to exercise padding to the window, shifted windows with the attention mask,
    a shift switched off in one dim only (the padded size equals the window), odd sizes at the
    patch merging and a greyscale stem (torchvision's stem is RGB: its conv is replaced);
  * "relative_position_index": torchvision's buffer for a 4x4 and a 3x5 window;
  * "grads": for the first case, d loss / d parameter of a few parameters, loss = mean(logits²)
    in float64, eval mode.
"""

import json
import os
import sys

import torch
from torch import nn
from torchvision.models import swin_b, swin_t
from torchvision.models.swin_transformer import ShiftedWindowAttention, SwinTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_fixture import formula_tensor, param_count  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "swin_small.json")

GRAD_KEYS = [
    "features.0.0.weight",
    "features.1.1.attn.relative_position_bias_table",
    "features.1.1.attn.qkv.bias",
    "features.2.reduction.weight",
    "features.2.norm.weight",
    "features.3.1.norm1.weight",
    "head.weight",
]


def keys_of(model):
    return [[name, list(t.shape)] for name, t in model.state_dict().items()]


def load_formula(model):
    """Formula weights for every float entry; index buffers keep their values."""
    sd = model.state_dict()
    model.load_state_dict(
        {
            name: t if name.endswith("relative_position_index") else formula_tensor(name, list(t.shape))
            for name, t in sd.items()
        }
    )


def flat(t, digits=12):
    return [float(f"{v:.{digits}g}") for v in t.reshape(-1).tolist()]


def make_model(c):
    model = SwinTransformer(
        patch_size=[c["patch"], c["patch"]],
        embed_dim=c["embed"],
        depths=c["depths"],
        num_heads=c["heads"],
        window_size=[c["window"], c["window"]],
        stochastic_depth_prob=0.0,
        num_classes=c["classes"],
    )
    if c["in_channels"] != 3:
        model.features[0][0] = nn.Conv2d(c["in_channels"], c["embed"], kernel_size=c["patch"], stride=c["patch"])
    load_formula(model)
    return model.double().eval()


def case(c, input_shape, grads=False):
    model = make_model(c)
    torch.manual_seed(0)
    x = torch.randn(*input_shape).double()
    x = x.float().double()  # float32-exact, as the fixture stores it
    if grads:
        logits = model(x)
        logits.square().mean().backward()
        named = dict(model.named_parameters())
        g = {k: {"shape": list(named[k].shape), "values": flat(named[k].grad, 10)} for k in GRAD_KEYS}
        logits = logits.detach()
    else:
        with torch.no_grad():
            logits = model(x)
        g = None
    out = {
        "config": c,
        "keys": keys_of(model),
        "input_shape": list(x.shape),
        "input": flat(x, 9),
        "logits_shape": list(logits.shape),
        "logits": flat(logits),
    }
    if g is not None:
        out["grads"] = g
    return out


def main():
    torch.set_num_threads(2)
    small = {"patch": 4, "embed": 24, "depths": [2, 2], "heads": [2, 4], "window": 4, "classes": 5, "in_channels": 3}
    grey = {"patch": 4, "embed": 16, "depths": [2, 2, 2], "heads": [1, 2, 4], "window": 7, "classes": 3,
            "in_channels": 1}
    cases = {
        # 36 px: 9x9 tokens padded to 12x12 (shift 2 with the mask), merged 9 -> 5 (odd), 5x5 padded to 8x8.
        "small_36": case(small, (2, 3, 36, 36), grads=True),
        # 12x20: 3x5 padded to 4x8: the H shift is off (padded H = window), the W shift stays on.
        "small_12x20": case(small, (1, 3, 12, 20)),
        # MedMNIST size, window 7: 7x7 (no shift), 4x4 and 2x2 padded up to the 7x7 window.
        "grey_28": case(grey, (2, 1, 28, 28)),
    }
    t, b = swin_t(), swin_b()
    out = {
        "swin_t": {"keys": keys_of(t), "param_count": param_count(t)},
        "swin_b": {"keys": keys_of(b), "param_count": param_count(b)},
        "cases": cases,
        "relative_position_index": {
            f"{h}x{w}": ShiftedWindowAttention(8, [h, w], [0, 0], 2).relative_position_index.tolist()
            for h, w in [(4, 4), (3, 5)]
        },
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(
        f"wrote {OUT_PATH}: swin_t {out['swin_t']['param_count']} params, swin_b {out['swin_b']['param_count']}, "
        f"cases {list(cases)}"
    )


if __name__ == "__main__":
    main()
