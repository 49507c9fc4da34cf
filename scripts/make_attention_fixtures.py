#!/usr/bin/env python3
"""Generates tests/fixtures/attention.json: PyTorch reference values and gradients for
scaled dot-product attention and the Swin window helpers (checked by
tests/attention_fixtures_test.ts).

Usage:  python3 scripts/make_attention_fixtures.py      (needs PyTorch, CPU is enough)

torch 1.13 has no F.scaled_dot_product_attention, so attention is written out as PyTorch's
math reference, softmax(q @ k^T * scale + mask) @ v, in float64 (bool masks become -inf
where False; causal keeps key j <= query i, top-left aligned). Window partition/reverse and
the shifted-window mask follow the Swin / Video Swin reference code.

For every case: float32 inputs from a fixed per-case seed (stored exactly, 9 significant
digits), float64 evaluation, outputs, random projection weights w_i and the gradients of
sum_i (out_i * w_i).sum() (torch.autograd.grad) for every differentiable input.
The mapping from case name to meddiff expression lives in tests/attention_fixtures_test.ts.
"""

import json
import math
import os
import zlib

import torch
import torch.nn.functional as F

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "attention.json")

torch.set_num_threads(1)

CASES = []


def case(name, inputs, fn):
    """inputs: name -> (shape, kind, requires_grad) with kind 'float' or 'bool'."""
    CASES.append((name, inputs, fn))


def x(*shape, grad=True):
    return (shape, "float", grad)


def boolmask(*shape):
    return (shape, "bool", False)


def enc_float(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def sdpa(q, k, v, mask=None, causal=False, scale=None):
    """PyTorch 2.x's math reference of scaled_dot_product_attention."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ k.transpose(-2, -1) * scale
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    return torch.softmax(s, dim=-1) @ v


# Swin Transformer's helpers (microsoft/Swin-Transformer, Video-Swin-Transformer).
def window_partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws[0], ws[0], W // ws[1], ws[1], C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws[0], ws[1], C)


def window_partition3d(x, ws):
    B, D, H, W, C = x.shape
    x = x.view(B, D // ws[0], ws[0], H // ws[1], ws[1], W // ws[2], ws[2], C)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).contiguous().view(-1, ws[0], ws[1], ws[2], C)


def window_reverse(windows, ws, H, W):
    B = int(windows.shape[0] / (H * W / ws[0] / ws[1]))
    x = windows.view(B, H // ws[0], W // ws[1], ws[0], ws[1], -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


def pad_to(x, ws):
    """Zero-pads the spatial dims of channels-last x at their end to multiples of ws."""
    pads = [0, 0]
    for s, w in reversed(list(zip(x.shape[1:-1], ws))):
        pads += [0, (w - s % w) % w]
    return F.pad(x, pads)


def swin_mask(sizes, ws, shift):
    """Swin's attention-mask construction (region ids through slices), on padded sizes."""
    padded = [math.ceil(s / w) * w for s, w in zip(sizes, ws)]
    img = torch.zeros(1, *padded, 1)
    cnt = 0
    slices = [(slice(0, -w), slice(-w, -s), slice(-s, None)) for w, s in zip(ws, shift)]
    if len(sizes) == 2:
        for h in slices[0]:
            for w in slices[1]:
                img[:, h, w, :] = cnt
                cnt += 1
        mw = window_partition(img, ws)
    else:
        for d in slices[0]:
            for h in slices[1]:
                for w in slices[2]:
                    img[:, d, h, w, :] = cnt
                    cnt += 1
        mw = window_partition3d(img, ws)
    mw = mw.reshape(mw.shape[0], -1)
    m = mw.unsqueeze(1) - mw.unsqueeze(2)
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


def run_case(name, inputs, fn):
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    stored, tensors = {}, {}
    for key, (shape, kind, grad) in inputs.items():
        if kind == "bool":
            v = torch.rand(*shape, generator=g) < 0.7
            v[..., 0] = True  # no fully masked row: torch 1.13's softmax would give NaN there
            stored[key] = {"shape": list(shape), "dtype": "bool", "data": [int(b) for b in v.reshape(-1).tolist()]}
            tensors[key] = v
            continue
        v = (torch.rand(*shape, generator=g, dtype=torch.float32) * 4 - 2).float()
        stored[key] = {"shape": list(shape), "data": enc_float(v), "grad": grad}
        tensors[key] = v.double().requires_grad_(grad)
    outs = fn(**tensors)
    enc_outs, weights, loss = [], [], 0
    for o in outs:
        w = torch.rand(*o.shape, generator=g, dtype=torch.float32) * 2 - 1
        enc_outs.append({"shape": list(o.shape), "data": enc_float(o)})
        weights.append({"shape": list(o.shape), "data": enc_float(w)})
        if o.requires_grad:
            loss = loss + (o * w.double()).sum()
    diff = [k for k, t in tensors.items() if t.requires_grad]
    grads = torch.autograd.grad(loss, [tensors[k] for k in diff]) if diff else []
    return {
        "inputs": stored,
        "outputs": enc_outs,
        "weights": weights,
        "grads": {k: {"shape": list(gr.shape), "data": enc_float(gr)} for k, gr in zip(diff, grads)},
    }


# ---------------------------------------------------------------- attention

case("sdpa_plain", dict(q=x(2, 2, 5, 8), k=x(2, 2, 7, 8), v=x(2, 2, 7, 6)), lambda q, k, v: [sdpa(q, k, v)])
case("sdpa_float_mask", dict(q=x(2, 2, 5, 4), k=x(2, 2, 7, 4), v=x(2, 2, 7, 4), m=x(5, 7, grad=False)),
     lambda q, k, v, m: [sdpa(q, k, v, mask=m)])
case("sdpa_bool_mask", dict(q=x(2, 2, 5, 4), k=x(2, 2, 7, 4), v=x(2, 2, 7, 3), m=boolmask(2, 1, 5, 7)),
     lambda q, k, v, m: [sdpa(q, k, v, mask=m)])
case("sdpa_causal", dict(q=x(1, 2, 9, 4), k=x(1, 2, 9, 4), v=x(1, 2, 9, 4)),
     lambda q, k, v: [sdpa(q, k, v, causal=True)])
case("sdpa_causal_rect", dict(q=x(2, 4, 4), k=x(2, 6, 4), v=x(2, 6, 3)), lambda q, k, v: [sdpa(q, k, v, causal=True)])
case("sdpa_scale", dict(q=x(2, 6, 4), k=x(2, 6, 4), v=x(2, 6, 4)), lambda q, k, v: [sdpa(q, k, v, scale=0.5)])
case("sdpa_broadcast", dict(q=x(2, 3, 4, 8), k=x(1, 3, 6, 8), v=x(3, 6, 8)), lambda q, k, v: [sdpa(q, k, v)])
case("sdpa_odd_tokens", dict(q=x(1, 1, 1, 4), k=x(1, 1, 17, 4), v=x(1, 1, 17, 4)), lambda q, k, v: [sdpa(q, k, v)])
case("sdpa_bias_grad", dict(q=x(2, 3, 4), k=x(2, 5, 4), v=x(2, 5, 4), b=x(3, 5)),
     lambda q, k, v, b: [sdpa(q, k, v, mask=b)])

# ---------------------------------------------------------------- windows

case("window_partition2d_pad", dict(x=x(2, 5, 7, 3)), lambda x: [window_partition(pad_to(x, (3, 3)), (3, 3))])
case("window_partition3d_pad", dict(x=x(1, 3, 5, 4, 2)),
     lambda x: [window_partition3d(pad_to(x, (2, 2, 2)), (2, 2, 2))])
case("window_reverse2d", dict(w=x(8, 2, 3, 2)), lambda w: [window_reverse(w, (2, 3), 4, 6)])
case("roll", dict(x=x(2, 5, 4, 3)), lambda x: [torch.roll(x, (-2, 1), (1, 2)), torch.roll(x, (3, -7, 1), (1, 2, 3))])
case("swin_mask2d", {}, lambda: [swin_mask((8, 8), (4, 4), (2, 2))])
case("swin_mask3d", {}, lambda: [swin_mask((4, 4, 4), (2, 2, 2), (1, 1, 1))])


def swin_block_attention(x):
    """Shifted window self-attention of one head without projections, as in a Swin block."""
    ws, s = (4, 4), 2
    B, H, W, C = x.shape
    shifted = torch.roll(x, (-s, -s), (1, 2))
    win = window_partition(shifted, ws).view(B, -1, 1, ws[0] * ws[1], C)  # (B, nW, heads, N, C)
    mask = swin_mask((H, W), ws, (s, s)).unsqueeze(1)  # (nW, 1, N, N)
    att = sdpa(win, win, win, mask=mask.double())
    back = window_reverse(att.reshape(-1, ws[0], ws[1], C), ws, H, W)
    return [torch.roll(back, (s, s), (1, 2))]


case("swin_shifted_window_attention", dict(x=x(1, 8, 8, 4)), swin_block_attention)


def main():
    out = {name: run_case(name, inputs, fn) for name, inputs, fn in CASES}
    with open(OUT_PATH, "w") as f:
        json.dump({"generator": "scripts/make_attention_fixtures.py", "torch": torch.__version__, "cases": out}, f)
    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes, {len(out)} cases)")


if __name__ == "__main__":
    main()
