"""PyTorch fixtures for meddiff's convolutions: tests/fixtures/conv.json.

Each case holds float32 inputs (x, weight, optional bias, the output weighting w), the forward
output and the gradients of (out * w).sum() with respect to every input, as float64 values
rounded to 9 significant digits. Run with Debian's torch: /usr/bin/python3 scripts/make_conv_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

CASES = [
    # name, op, x shape, weight shape, bias, kwargs
    ("conv1d_s2_d2_g2", "conv1d", [2, 4, 13], [6, 2, 3], True, dict(stride=2, padding=2, dilation=2, groups=2)),
    ("conv1d_same", "conv1d", [1, 3, 9], [4, 3, 4], False, dict(padding="same")),
    ("conv2d_s2_pad", "conv2d", [2, 3, 9, 8], [4, 3, 3, 3], True, dict(stride=2, padding=(1, 2))),
    ("conv2d_g2_d2", "conv2d", [2, 4, 9, 9], [6, 2, 3, 2], True, dict(dilation=(2, 1), groups=2, padding=1)),
    ("conv2d_depthwise_same", "conv2d", [2, 4, 7, 6], [8, 1, 3, 3], True, dict(groups=4, padding="same")),
    ("conv2d_1x1_valid", "conv2d", [1, 5, 5, 4], [3, 5, 1, 1], False, dict(padding="valid")),
    ("conv3d_s2", "conv3d", [1, 2, 5, 6, 5], [3, 2, 3, 3, 2], True, dict(stride=(1, 2, 2), padding=1)),
    ("conv3d_g2_d2", "conv3d", [1, 4, 6, 5, 5], [4, 2, 2, 2, 2], False, dict(groups=2, dilation=2)),
    ("convT2d_s2_op", "conv_transpose2d", [2, 4, 4, 3], [4, 3, 3, 3], True,
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("convT2d_d2", "conv_transpose2d", [1, 3, 5, 4], [3, 2, 3, 2], False, dict(dilation=2, padding=(1, 0))),
    ("convT3d_s2_op", "conv_transpose3d", [1, 2, 3, 3, 2], [2, 3, 2, 3, 3], True,
     dict(stride=(2, 2, 1), padding=(0, 1, 1), output_padding=(1, 1, 0))),
    ("convT3d_g2", "conv_transpose3d", [1, 4, 2, 3, 3], [4, 1, 3, 2, 2], True, dict(groups=2, stride=2, dilation=(1, 2, 1))),
]

CAMEL = {"output_padding": "outputPadding"}


def r9(t):
    return [float(f"{v:.9g}") for v in t.detach().double().flatten().tolist()]


def main():
    out = []
    for i, (name, op, xs, ws, has_bias, kw) in enumerate(CASES):
        g = torch.Generator().manual_seed(1000 + i)
        x = torch.randn(xs, generator=g).requires_grad_()
        w = (torch.randn(ws, generator=g) * 0.5).requires_grad_()
        oc = ws[0] if op.startswith("conv") and "transpose" not in op else ws[1] * kw.get("groups", 1)
        b = torch.randn([oc], generator=g).requires_grad_() if has_bias else None
        y = getattr(F, op)(x, w, b, **kw)
        wt = torch.randn(y.shape, generator=g)
        inputs = [x, w] + ([b] if has_bias else [])
        grads = torch.autograd.grad((y * wt).sum(), inputs)
        out.append({
            "name": name,
            "op": op,
            "opts": {CAMEL.get(k, k): (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()},
            "x": {"shape": xs, "data": r9(x)},
            "weight": {"shape": ws, "data": r9(w)},
            "bias": {"shape": [oc], "data": r9(b)} if has_bias else None,
            "w": r9(wt),
            "out": {"shape": list(y.shape), "data": r9(y)},
            "grads": {"x": r9(grads[0]), "weight": r9(grads[1]), **({"bias": r9(grads[2])} if has_bias else {})},
        })
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "conv.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "cases": out}, f, separators=(",", ":"))
    print(f"wrote {len(out)} cases, {os.path.getsize(path)} bytes to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
