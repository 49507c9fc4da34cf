#!/usr/bin/env python3
"""Generates tests/fixtures/nn_norm_pool.json: PyTorch reference values and gradients for
normalisation, pooling and interpolation (checked by tests/nn_fixtures_test.ts).

Usage:  python3 scripts/make_nn_fixtures.py      (needs PyTorch, CPU is enough)

For every case:
  * inputs are generated as float32 from a fixed per-case seed and stored exactly
    (9 significant digits round-trip a float32);
  * the expression is evaluated by PyTorch in float64 on those values, except interpolation,
    which runs in float32 because PyTorch computes source indices in the input's precision
    (float32 index maths is what meddiff and a float32 PyTorch model use);
  * outputs, and gradients of sum_i (out_i * w_i).sum() for stored random float32 weights w_i
    (torch.autograd.grad) with respect to every differentiable input, are stored rounded to
    9 significant digits. Integer outputs (pool indices) get no weight.

The mapping from case name to meddiff expression lives in tests/nn_fixtures_test.ts.
"""

import json
import os
import zlib

import torch
import torch.nn.functional as F

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "nn_norm_pool.json")

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

CASES = []


def case(name, inputs, fn, dtype=torch.float64):
    """inputs: name -> (shape, lo, hi, requires_grad)."""
    CASES.append((name, inputs, fn, dtype))


def x(*shape, lo=-2.0, hi=2.0, grad=True):
    return (shape, lo, hi, grad)


def enc_float(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def run_case(name, inputs, fn, dtype):
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    stored, tensors = {}, {}
    for key, (shape, lo, hi, grad) in inputs.items():
        v = (torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).float()
        stored[key] = {"shape": list(shape), "data": enc_float(v), "grad": grad}
        tensors[key] = v.to(dtype).requires_grad_(grad)
    outs = fn(**tensors)
    enc_outs, weights, loss = [], [], 0
    for o in outs:
        if o.dtype in (torch.int64, torch.int32):
            enc_outs.append({"shape": list(o.shape), "dtype": "int32", "data": o.reshape(-1).tolist()})
            weights.append(None)
            continue
        w = torch.rand(*o.shape, generator=g, dtype=torch.float32) * 2 - 1
        enc_outs.append({"shape": list(o.shape), "dtype": "float32", "data": enc_float(o)})
        weights.append({"shape": list(o.shape), "data": enc_float(w)})
        if o.requires_grad:
            loss = loss + (o * w.to(dtype)).sum()
    diff = [k for k, t in tensors.items() if t.requires_grad]
    grads = torch.autograd.grad(loss, [tensors[k] for k in diff])
    return {
        "inputs": stored,
        "outputs": enc_outs,
        "weights": weights,
        "grads": {k: {"shape": list(gr.shape), "data": enc_float(gr)} for k, gr in zip(diff, grads)},
    }


# ---------------------------------------------------------------- normalisation


def bn_train(x, rm, rv, w=None, b=None, momentum=0.1, eps=1e-5):
    rm, rv = rm.detach().clone(), rv.detach().clone()
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=eps)
    return [y, rm, rv]


case("batch_norm_train_4d", dict(x=x(2, 3, 4, 4), rm=x(3, grad=False), rv=x(3, lo=0.5, hi=2, grad=False),
                                 w=x(3), b=x(3)), lambda x, rm, rv, w, b: bn_train(x, rm, rv, w, b, momentum=0.2))
case("batch_norm_train_2d", dict(x=x(8, 5), rm=x(5, grad=False), rv=x(5, lo=0.5, hi=2, grad=False)),
     lambda x, rm, rv: bn_train(x, rm, rv))
case("batch_norm_train_5d", dict(x=x(2, 2, 3, 3, 2, lo=-1, hi=3), w=x(2), b=x(2)),
     lambda x, w, b: [F.batch_norm(x, None, None, w, b, training=True, eps=1e-3)])
case("batch_norm_eval_3d", dict(x=x(4, 3, 6), rm=x(3, grad=False), rv=x(3, lo=0.5, hi=2, grad=False), w=x(3), b=x(3)),
     lambda x, rm, rv, w, b: [F.batch_norm(x, rm, rv, w, b, training=False)])
case("group_norm_4d", dict(x=x(2, 6, 4, 3), w=x(6), b=x(6)), lambda x, w, b: [F.group_norm(x, 3, w, b)])
case("group_norm_1group_no_affine", dict(x=x(2, 4, 5)), lambda x: [F.group_norm(x, 1, eps=1e-4)])
case("instance_norm_4d", dict(x=x(2, 3, 4, 4), w=x(3), b=x(3)),
     lambda x, w, b: [F.instance_norm(x, weight=w, bias=b)])
case("layer_norm_last", dict(x=x(3, 4, 6, lo=-1, hi=4), w=x(6), b=x(6)), lambda x, w, b: [F.layer_norm(x, [6], w, b)])
case("layer_norm_two_dims", dict(x=x(3, 4, 6), w=x(4, 6), b=x(4, 6)),
     lambda x, w, b: [F.layer_norm(x, [4, 6], w, b, eps=1e-3)])

# ---------------------------------------------------------------- pooling

case("max_pool2d", dict(x=x(2, 2, 9, 8)), lambda x: [
    *F.max_pool2d(x, 3, 2, 1, return_indices=True),
    F.max_pool2d(x, 2, 2, ceil_mode=True),
    F.max_pool2d(x, 3, 1, 1, dilation=2),
    F.max_pool2d(x, (3, 2), (2, 3), (1, 1), dilation=(1, 2), ceil_mode=True),
])
case("max_pool1d_3d", dict(a=x(2, 3, 11), b=x(1, 2, 5, 4, 5)), lambda a, b: [
    F.max_pool1d(a, 3, 2, 1, ceil_mode=True),
    F.max_pool1d(a, 2, 1, dilation=3),
    F.max_pool3d(b, 2, 2, 1),
    F.max_pool3d(b, (3, 2, 2), (1, 2, 2), ceil_mode=True),
])
case("avg_pool2d", dict(x=x(2, 2, 9, 8)), lambda x: [
    F.avg_pool2d(x, 3, 2, 1),
    F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True),
    F.avg_pool2d(x, (2, 3), (1, 2), divisor_override=4),
])
case("avg_pool1d_3d", dict(a=x(2, 3, 11), b=x(1, 2, 5, 4, 5)), lambda a, b: [
    F.avg_pool1d(a, 4, 3, 2, ceil_mode=True),
    F.avg_pool3d(b, 2, 2, 1, count_include_pad=False),
    F.avg_pool3d(b, (3, 2, 2), (2, 1, 2), (1, 0, 1)),
])
case("adaptive_pools", dict(a=x(2, 3, 11), b=x(2, 2, 9, 7), c=x(1, 2, 5, 6, 7)), lambda a, b, c: [
    F.adaptive_avg_pool1d(a, 4),
    F.adaptive_avg_pool2d(b, (4, 3)),
    F.adaptive_avg_pool2d(b, (12, 5)),
    F.adaptive_avg_pool3d(c, (2, 4, 3)),
    *F.adaptive_max_pool2d(b, (4, 3), return_indices=True),
])

# ---------------------------------------------------------------- interpolation (float32)

f32 = torch.float32
case("interp_nearest", dict(a=x(2, 2, 7), b=x(1, 2, 5, 6), c=x(1, 1, 3, 4, 5)), lambda a, b, c: [
    F.interpolate(a, size=12),
    F.interpolate(a, size=3),
    F.interpolate(b, size=(3, 7)),
    F.interpolate(b, scale_factor=(1.5, 0.7)),
    F.interpolate(c, size=(5, 3, 7)),
], f32)
case("interp_linear", dict(a=x(2, 2, 7)), lambda a: [
    F.interpolate(a, size=12, mode="linear"),
    F.interpolate(a, size=12, mode="linear", align_corners=True),
    F.interpolate(a, size=4, mode="linear"),
    F.interpolate(a, size=4, mode="linear", align_corners=True),
    F.interpolate(a, scale_factor=1.7, mode="linear"),
], f32)
case("interp_bilinear", dict(b=x(1, 2, 5, 6)), lambda b: [
    F.interpolate(b, size=(9, 4), mode="bilinear"),
    F.interpolate(b, size=(9, 4), mode="bilinear", align_corners=True),
    F.interpolate(b, scale_factor=2, mode="bilinear"),
    F.interpolate(b, scale_factor=(0.6, 1.3), mode="bilinear"),
    F.interpolate(b, scale_factor=(0.6, 1.3), mode="bilinear", recompute_scale_factor=True),
], f32)
case("interp_trilinear", dict(c=x(1, 1, 3, 4, 5)), lambda c: [
    F.interpolate(c, size=(5, 3, 7), mode="trilinear"),
    F.interpolate(c, size=(5, 3, 7), mode="trilinear", align_corners=True),
    F.interpolate(c, scale_factor=(2, 1.5, 0.5), mode="trilinear"),
], f32)


def main():
    cases = {name: run_case(name, inputs, fn, dtype) for name, inputs, fn, dtype in CASES}
    meta = {"torch": torch.__version__, "generator": "scripts/make_nn_fixtures.py"}
    with open(OUT_PATH, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"))
    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
