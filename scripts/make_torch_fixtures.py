#!/usr/bin/env python3
"""Generates tests/fixtures/torch_core.json: PyTorch reference values and gradients
for composite meddiff expressions (checked by tests/torch_fixtures_test.ts).

Usage:  python3 scripts/make_torch_fixtures.py      (needs PyTorch, CPU is enough)

Python and PyTorch are only needed to (re)generate the fixture, never to use meddiff.

For every case:
  * inputs are generated as float32 (or int32 indices) from a fixed per-case seed and stored
    exactly (9 significant digits round-trip a float32);
  * the expression is evaluated by PyTorch in float64 on those float32 values; the outputs,
    and the gradients of loss = sum_i (out_i * w_i).sum() for stored random float32 weights
    w_i with respect to every differentiable input, are stored rounded to 9 significant digits;
  * the same computation is also run in float32, and the worst deviation of that float32 run
    from the float64 reference is recorded (meta "torch_f32_dev") to judge test tolerances.

The mapping from case name to meddiff expression lives in tests/torch_fixtures_test.ts;
keep both in sync when adding cases.
"""

import json
import math
import os
import sys
import zlib

import torch
import torch.nn.functional as F

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "torch_core.json")

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

# ---------------------------------------------------------------- input generators


class Inp:
    """Description of one input: how to generate it and whether it is differentiated."""

    def __init__(self, make, grad=None):
        self.make = make  # (generator) -> tensor (float32 or int64)
        self.grad = grad  # None: float inputs get gradients, int inputs do not


def randn(*shape, scale=1.0, grad=None):
    return Inp(lambda g: torch.randn(*shape, generator=g, dtype=torch.float32) * scale, grad)


def uniform(*shape, lo=-1.0, hi=1.0, grad=None):
    return Inp(lambda g: (torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).float(), grad)


def randint(lo, hi, *shape):
    return Inp(lambda g: torch.randint(lo, hi, shape, generator=g, dtype=torch.int64), False)


def ints(values):
    return Inp(lambda g: torch.tensor(values, dtype=torch.int64), False)


def probs(*shape, dim=-1, grad=False):
    """Rows of probabilities (softmax of random logits), as float32."""
    return Inp(lambda g: torch.softmax(torch.randn(*shape, generator=g, dtype=torch.float32) * 2, dim), grad)


def targets_with(lo, hi, shape, ignore, at):
    """Random class indices with `ignore` placed at flat positions `at`."""

    def make(g):
        t = torch.randint(lo, hi, shape, generator=g, dtype=torch.int64)
        flat = t.view(-1)
        for i in at:
            flat[i] = ignore
        return t

    return Inp(make, False)


# ---------------------------------------------------------------- cases

CASES = []


def case(name, inputs, fn):
    CASES.append((name, inputs, fn))


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# ---- elementwise chains with broadcasting

case(
    "elementwise_arith_broadcast",
    dict(a=randn(2, 3, 4), b=randn(3, 1), c=uniform(4, lo=0.5, hi=2.0)),
    lambda a, b, c: [
        (a + b) * c - a / c,
        2.0 - a * b + 0.5,
        (b - c) / (c * 3.0) + b / 2.0,
        1.5 / c - a,
    ],
)

case(
    "elementwise_pow",
    dict(p=uniform(3, 4, lo=0.5, hi=2.0), e=uniform(4, lo=-1.5, hi=2.5), x=randn(3, 4)),
    lambda p, e, x: [
        torch.pow(p, e),
        p ** 2.5 + p ** -1.5,
        x ** 3 + x ** 2,
        torch.pow(2.0, x) + torch.pow(p, 0.5),
        x ** 2 * p ** e,
    ],
)

case(
    "elementwise_transcendental",
    dict(x=randn(4, 5), p=uniform(4, 5, lo=0.2, hi=3.0)),
    lambda x, p: [
        torch.exp(x * 0.5) + torch.log(p) * torch.sqrt(p) - torch.rsqrt(p),
        torch.sin(x) * torch.cos(p) + torch.exp(-x * x),
        torch.log(torch.exp(x) + 1.0),
    ],
)

case(
    "activations_basic",
    dict(x=uniform(5, 7, lo=-4.0, hi=4.0)),
    lambda x: [
        torch.tanh(x),
        torch.sigmoid(x),
        torch.relu(x),
        F.leaky_relu(x, 0.2),
        F.silu(x),
        torch.tanh(x) * 2.0 + torch.sigmoid(x * 3.0) - F.leaky_relu(x, 0.05) * F.silu(x),
    ],
)

case(
    "activations_gelu_softplus",
    dict(x=uniform(5, 7, lo=-5.0, hi=5.0)),
    lambda x: [
        F.gelu(x),
        F.gelu(x, approximate="tanh"),
        F.softplus(x),
        F.softplus(x, beta=2.0, threshold=3.0),
        F.softplus(x * 10.0, beta=0.5, threshold=10.0),
    ],
)

case(
    "clamp_minimum_maximum_where",
    dict(a=randn(3, 4), b=randn(4), c=randn(3, 1)),
    lambda a, b, c: [
        torch.clamp(a, -0.5, 0.7),
        torch.clamp(a, min=0.1) + torch.clamp(b, max=-0.2),
        torch.minimum(a, b) * torch.maximum(a, c),
        torch.where(a > b, a * b, c),
        torch.where(a < c, a, torch.zeros((), dtype=a.dtype)) + torch.where(b >= 0, 1.0, b).to(a.dtype),
    ],
)

# ---- reductions

case(
    "reduce_sum_mean_dims",
    dict(x=randn(2, 3, 4, 5)),
    lambda x: [
        x.sum(),
        x.sum(dim=(0, 2)),
        x.sum(dim=-1, keepdim=True),
        x.mean(dim=(1, 3), keepdim=True),
        x.mean(dim=(-1, 0)),
        (x * x).mean(),
    ],
)

case(
    "reduce_var_std",
    dict(x=randn(3, 4, 5, scale=2.0)),
    lambda x: [
        torch.var(x, dim=1, correction=0),
        torch.var(x, dim=(0, 2), keepdim=True, correction=1),
        torch.std(x, dim=-1, correction=1),
        torch.std(x, dim=(0, 1), keepdim=True, correction=0),
        torch.var(x),
        torch.std(x, unbiased=False),
    ],
)

case(
    "reduce_max_min_values",
    dict(x=randn(3, 4, 5)),
    lambda x: [
        torch.amax(x, dim=1),
        torch.amin(x, dim=(0, 2), keepdim=True),
        torch.amax(x, dim=(-1, -2)),
        x.max(),
        x.min(),
        torch.amin(x, dim=2, keepdim=True) * torch.amax(x, dim=0),
    ],
)

case(
    "reduce_logsumexp",
    dict(x=randn(3, 4, 5)),
    lambda x: [
        torch.logsumexp(x, dim=(1, 2)),
        torch.logsumexp(x * 30.0, dim=-1, keepdim=True),
        torch.logsumexp(x - 100.0, dim=0),
        torch.logsumexp(x, dim=(0, 1, 2)),
    ],
)

case(
    "reduce_argmax_argmin",
    dict(x=randn(4, 5, 6, grad=False)),
    lambda x: [
        torch.argmax(x, dim=1),
        torch.argmin(x, dim=0, keepdim=True),
        torch.argmax(x, dim=-1, keepdim=True),
        torch.argmax(x),
        torch.argmin(x),
    ],
)

case(
    "reduce_long_rows",
    dict(x=uniform(2, 1024, lo=-1.0, hi=3.0)),
    lambda x: [
        x.sum(dim=-1),
        x.mean(),
        torch.var(x, dim=1),
        torch.std(x, unbiased=False),
        torch.logsumexp(x, dim=-1),
    ],
)

case(
    "layer_norm_manual",
    dict(x=randn(3, 4, 8, scale=2.0), gamma=uniform(8, lo=0.5, hi=1.5), beta=randn(8, scale=0.1)),
    lambda x, gamma, beta: [
        (x - x.mean(dim=-1, keepdim=True)) / torch.sqrt(torch.var(x, dim=-1, keepdim=True, correction=0) + 1e-5)
        * gamma
        + beta,
        (x - x.mean(dim=(1, 2), keepdim=True)) * torch.rsqrt(torch.var(x, dim=(1, 2), keepdim=True, correction=0) + 1e-5),
    ],
)

# ---- shape chains

case(
    "view_chain",
    dict(x=randn(2, 3, 4)),
    lambda x: [
        x.reshape(6, 4).transpose(0, 1).unsqueeze(0).expand(3, 4, 6).permute(2, 0, 1) * torch.arange(3.0, dtype=x.dtype).view(1, 3, 1),
        x.permute(2, 0, 1).reshape(4, 6).flatten().view(2, 12)[:, 1:11:3],
        x.flatten(1).unsqueeze(1).squeeze() + x.view(2, 12),
        x.transpose(-1, -2).flatten(0, 1).exp(),
    ],
)

case(
    "slice_narrow_step",
    dict(x=randn(5, 6, 7)),
    lambda x: [
        x[1:5:2],
        x.narrow(2, 1, 4) * 2.0,
        x[:, ::2, -3:],
        x[:, 1:, 1:6:2][:, ::2] * x[:, 0:5, 0:3][:, ::2],
        x.narrow(0, 2, 1).squeeze(0).sum(dim=0),
    ],
)

case(
    "expand_squeeze_unsqueeze",
    dict(x=randn(3, 1, 4), y=randn(5, 1)),
    lambda x, y: [
        (x.expand(2, 3, 5, 4) * y).sum(dim=0),
        x.squeeze(1).unsqueeze(-1) * y.squeeze().view(1, 1, 5),
        x.squeeze() + y.expand(5, 4)[:3],
    ],
)

# ---- matmul

case(
    "matmul_2d",
    dict(a=randn(5, 7), b=randn(7, 3), bias=randn(3)),
    lambda a, b, bias: [a @ b + bias, (a @ b).tanh() @ b.t()],
)

case(
    "matmul_batched_broadcast",
    dict(a=randn(2, 1, 4, 5), b=randn(3, 5, 6), c=randn(5, 2)),
    lambda a, b, c: [a @ b, b @ b.transpose(-1, -2), a @ c],
)

case(
    "matmul_1d",
    dict(v=randn(5), u=randn(4), m=randn(5, 3), n=randn(4, 5), bb=randn(2, 4, 5), bc=randn(2, 4, 3)),
    lambda v, u, m, n, bb, bc: [v @ m, n @ v, v @ v, bb @ v, u @ bc],
)

case(
    "matmul_strided_views",
    dict(a=randn(7, 5), b=randn(3, 7, 4)),
    lambda a, b: [a.t() @ b[1], b.permute(0, 2, 1) @ a, a[::2].t() @ b[:, ::2][0]],
)

case(
    "attention_small",
    dict(q=randn(2, 4, 8), k=randn(2, 5, 8), v=randn(2, 5, 8)),
    lambda q, k, v: [torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8.0), dim=-1) @ v],
)

# ---- joins and indexing

case(
    "cat_stack",
    dict(a=randn(2, 3), b=randn(4, 3), c=randn(2, 5), d=randn(2, 3)),
    lambda a, b, c, d: [
        torch.cat([a, b], 0),
        torch.cat([a, c, a], dim=-1),
        torch.stack([a, d], 1),
        torch.stack([a, d * 2.0, a.exp()], 0),
        torch.stack([a.t(), d.t()], -1),
    ],
)

case(
    "pad_repeat",
    dict(x=randn(2, 3, 4)),
    lambda x: [
        F.pad(x, (1, 2)),
        F.pad(x, (1, 0, 0, 2), value=0.5),
        F.pad(x, (0, 1, 2, 0, 1, 1), value=-1.0),
        x.repeat(2, 1, 3),
        x[0].repeat(2, 1, 2),
    ],
)

case(
    "gather_index_select",
    dict(
        x=randn(4, 5),
        y=randn(3, 4, 2),
        i1=ints([[0, 4, 4], [1, 1, 2], [3, 0, 3], [2, 2, 2]]),
        i0=ints([[3, 0, 1, 3, 2], [0, 0, 1, 1, 3]]),
        sel=ints([3, 0, 3, 1]),
        sel2=ints([2, 0, 2]),
        i2=ints([[[1], [0], [1], [1]], [[0], [0], [1], [0]]]),
    ),
    lambda x, y, i1, i0, sel, sel2, i2: [
        x.gather(1, i1),
        x.gather(0, i0),
        x.index_select(0, sel),
        y.index_select(1, sel2),
        y.index_select(0, sel2[:2]).gather(2, i2),
    ],
)

case(
    "one_hot_mix",
    dict(t=ints([0, 3, 1, 4, 4, 2]), t2=ints([[0, 3, 1], [2, 2, 0]]), x=randn(6, 5), y=randn(4)),
    lambda t, t2, x, y: [
        (F.one_hot(t, 5).to(x.dtype) * x).sum(dim=-1),
        F.one_hot(t2, 4).to(y.dtype) * y,
        F.one_hot(t, -1).to(x.dtype) * 2.0 - 1.0,
    ],
)

# ---- softmax family

case(
    "softmax_middle_dim",
    dict(x=randn(3, 5, 4)),
    lambda x: [
        torch.softmax(x, dim=1),
        torch.log_softmax(x, dim=1),
        torch.softmax(x * 20.0, dim=-1),
        torch.log_softmax(x * 20.0 + 50.0, dim=0),
        torch.softmax(x, dim=1) * torch.log_softmax(x, dim=1),
    ],
)

# ---- losses


def by_reduction(fn):
    return [fn("mean"), fn("sum"), fn("none")]


case(
    "mse_loss",
    dict(a=randn(4, 5), b=randn(4, 5)),
    lambda a, b: by_reduction(lambda r: F.mse_loss(a, b, reduction=r)) + [F.mse_loss(a.tanh(), b * 2.0)],
)

case(
    "cross_entropy_basic",
    dict(logits=randn(6, 5, scale=2.0), t=randint(0, 5, 6)),
    lambda logits, t: by_reduction(lambda r: F.cross_entropy(logits, t, reduction=r)),
)

case(
    "cross_entropy_weight_smoothing_ignore",
    dict(
        logits=randn(7, 5, scale=2.0),
        t=targets_with(0, 5, (7,), -100, [2, 5]),
        t2=ints([0, 2, 1, 2, 4, 3, 2]),
        weight=uniform(5, lo=0.2, hi=2.0, grad=False),
    ),
    lambda logits, t, t2, weight: by_reduction(
        lambda r: F.cross_entropy(logits, t, weight=weight, label_smoothing=0.1, reduction=r)
    )
    + [
        F.cross_entropy(logits, t, weight=weight),
        F.cross_entropy(logits, t, label_smoothing=0.2),
        F.cross_entropy(logits, t2, ignore_index=2),
        F.cross_entropy(logits, t2, weight=weight, ignore_index=2, label_smoothing=0.3, reduction="none"),
    ],
)

case(
    "cross_entropy_prob_targets",
    dict(logits=randn(6, 5, scale=2.0), p=probs(6, 5), weight=uniform(5, lo=0.2, hi=2.0, grad=False)),
    lambda logits, p, weight: by_reduction(lambda r: F.cross_entropy(logits, p, reduction=r))
    + [
        F.cross_entropy(logits, p, weight=weight),
        F.cross_entropy(logits, p, label_smoothing=0.2, reduction="sum"),
        F.cross_entropy(logits, p, weight=weight, label_smoothing=0.1, reduction="none"),
    ],
)

case(
    "cross_entropy_kdim",
    dict(
        logits=randn(2, 4, 3, scale=2.0),
        t=ints([[0, 3, 1], [2, -100, 3]]),
        weight=uniform(4, lo=0.2, hi=2.0, grad=False),
    ),
    lambda logits, t, weight: [
        F.cross_entropy(logits, t),
        F.cross_entropy(logits, t, weight=weight, reduction="none"),
        F.cross_entropy(logits, t, weight=weight, label_smoothing=0.1),
    ],
)

case(
    "nll_loss",
    dict(
        x=randn(6, 4),
        t=targets_with(0, 4, (6,), -100, [1]),
        t2=ints([1, 3, 0, 3, 2, 3]),
        weight=uniform(4, lo=0.2, hi=2.0, grad=False),
    ),
    lambda x, t, t2, weight: by_reduction(lambda r: F.nll_loss(x, t, weight=weight, reduction=r))
    + [F.nll_loss(x, t2, ignore_index=3), F.nll_loss(x, t2), F.nll_loss(torch.log_softmax(x, 1), t2, reduction="sum")],
)

case(
    "bce_with_logits",
    dict(
        z=randn(4, 3, scale=3.0),
        y=uniform(4, 3, lo=0.0, hi=1.0, grad=False),
        w=uniform(3, lo=0.5, hi=1.5, grad=False),
        pw=uniform(3, lo=0.5, hi=3.0, grad=False),
    ),
    lambda z, y, w, pw: by_reduction(lambda r: F.binary_cross_entropy_with_logits(z, y, reduction=r))
    + by_reduction(lambda r: F.binary_cross_entropy_with_logits(z, y, weight=w, pos_weight=pw, reduction=r))
    + [F.binary_cross_entropy_with_logits(z * 30.0, (y > 0.5).to(z.dtype), pos_weight=pw)],
)

# ---- a small model

case(
    "mlp_2layer",
    dict(
        x=randn(8, 6),
        W1=randn(6, 16, scale=0.4),
        b1=randn(16, scale=0.1),
        W2=randn(16, 4, scale=0.3),
        b2=randn(4, scale=0.1),
        y=randint(0, 4, 8),
    ),
    lambda x, W1, b1, W2, b2, y: [F.cross_entropy(F.gelu(x @ W1 + b1) @ W2 + b2, y)],
)

# ---------------------------------------------------------------- evaluation


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def fmt(v):
    """A float rounded to 9 significant digits (exact for float32 values)."""
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {v}")
    r = float(f"{v:.9g}")
    return int(r) if r == int(r) and abs(r) < 1e15 else r


def dtype_name(t):
    if t.dtype in (torch.int64, torch.int32):
        return "int32"
    if t.dtype == torch.bool:
        return "bool"
    return "float32"


def encode(t):
    flat = t.detach().reshape(-1)
    if dtype_name(t) == "float32":
        data = [fmt(v) for v in flat.tolist()]
    else:
        data = [int(v) for v in flat.tolist()]
    return {"shape": list(t.shape), "dtype": dtype_name(t), "data": data}


def evaluate(fn, names, raw, grad_flags, ws, dtype):
    xs = []
    for name in names:
        t = raw[name]
        if t.is_floating_point():
            t = t.to(dtype).requires_grad_(grad_flags[name])
        xs.append(t)
    outs = as_list(fn(*xs))
    loss = None
    for o, w in zip(outs, ws):
        if w is None:
            continue
        term = (o * w.to(dtype)).sum()
        loss = term if loss is None else loss + term
    diff = [x for n, x in zip(names, xs) if grad_flags[n]]
    grads = torch.autograd.grad(loss, diff, allow_unused=True) if diff else []
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(diff, grads)]
    return outs, grads


def max_dev(a, b):
    """Worst |a - b| / (1e-5 + 1e-4 |b|): <= 1 means within the default test tolerance."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (1e-5 + 1e-4 * b.abs())).max()) if b.numel() else 0.0


def build_case(name, inputs, fn):
    g = torch.Generator().manual_seed(seed_of(name))
    names = list(inputs.keys())
    raw = {n: inputs[n].make(g) for n in names}
    for n, t in raw.items():
        if t.is_floating_point():
            assert t.dtype == torch.float32, (name, n)
    grad_flags = {
        n: (inputs[n].grad if inputs[n].grad is not None else raw[n].is_floating_point()) for n in names
    }
    # Shapes of the outputs decide the shapes of the projection weights.
    with torch.no_grad():
        probe = as_list(fn(*[raw[n] for n in names]))
    ws = [
        (torch.rand(o.shape, generator=g, dtype=torch.float32) * 2 - 1) if o.is_floating_point() else None
        for o in probe
    ]
    outs64, grads64 = evaluate(fn, names, raw, grad_flags, ws, torch.float64)
    outs32, grads32 = evaluate(fn, names, raw, grad_flags, ws, torch.float32)
    dev_out = max([max_dev(a, b) for a, b in zip(outs32, outs64) if b.is_floating_point()] + [0.0])
    dev_grad = max([max_dev(a, b) for a, b in zip(grads32, grads64)] + [0.0])
    for a, b in zip(outs32, outs64):
        if not b.is_floating_point():
            assert torch.equal(a, b), f"{name}: float32 and float64 disagree on an integer output"
    diff_names = [n for n in names if grad_flags[n]]
    return {
        "inputs": {n: dict(encode(raw[n]), grad=grad_flags[n]) for n in names},
        "outputs": [encode(o) for o in outs64],
        "weights": [None if w is None else encode(w) for w in ws],
        "grads": {n: encode(gr) for n, gr in zip(diff_names, grads64)},
    }, (dev_out, dev_grad)


def main():
    names = [c[0] for c in CASES]
    assert len(set(names)) == len(names), "duplicate case names"
    cases = {}
    devs = {}
    for name, inputs, fn in CASES:
        cases[name], (d_out, d_grad) = build_case(name, inputs, fn)
        devs[name] = {"out": float(f"{d_out:.3g}"), "grad": float(f"{d_grad:.3g}")}
        print(f"{name:40s} torch f32 deviation (x default tol): out {d_out:8.3g}  grad {d_grad:8.3g}", file=sys.stderr)
    meta = {
        "generator": "scripts/make_torch_fixtures.py",
        "torch": torch.__version__,
        "note": "inputs float32; expected values and gradients computed in float64, 9 significant digits; "
        "gradients are of sum_i (outputs[i] * weights[i]).sum()",
        "torch_f32_dev": devs,
    }
    lines = ["{", f'"meta":{json.dumps(meta, separators=(",", ":"))},', '"cases":{']
    for i, name in enumerate(names):
        sep = "," if i + 1 < len(names) else ""
        lines.append(f"{json.dumps(name)}:{json.dumps(cases[name], separators=(',', ':'))}{sep}")
    lines += ["}", "}"]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write(text)
    print(f"wrote {os.path.normpath(OUT_PATH)}: {len(names)} cases, {len(text)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
