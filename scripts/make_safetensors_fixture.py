#!/usr/bin/env python3
"""Generates the safetensors fixtures checked by tests/safetensors_test.ts.

Usage:  python3 scripts/make_safetensors_fixture.py      (needs PyTorch; CPU is enough)

The safetensors format is written by hand (struct + json), so the `safetensors` package is
not needed: an 8-byte little-endian header length N, N bytes of JSON header padded with
spaces to a multiple of 8, then the raw little-endian data (offsets relative to its start).

  * tests/fixtures/mlp.safetensors: the state dict of
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    initialised by PyTorch with seed 0 (keys 0.weight, 0.bias, 2.weight, 2.bias, F32).
  * tests/fixtures/mlp_io.safetensors: a fixed input "x" (5, 4) and the model's output "y"
    (5, 3), plus one tensor of each other dtype with its expected values:
        "half" (F16) / "half_f32" (F32, the same values),
        "bf16" (BF16) / "bf16_f32",
        "long" (I64) / "long_i32" (I32),
        "mask" (BOOL),
    and __metadata__ {"format": "pt", "torch": <version>}.
"""

import json
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.bool: "BOOL",
}


def raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian on every machine PyTorch runs on


def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    chunks = []
    pos = 0
    for name, t in tensors.items():
        data = raw_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(data)]}
        chunks.append(data)
        pos += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = model(x)
    write_safetensors(os.path.join(OUT, "mlp.safetensors"), dict(model.state_dict()))

    # Values exactly representable in half / bfloat16, with sub-normals, infinities and signs.
    half = torch.tensor([[0.5, -1.25, 65504.0], [6.103515625e-05, 5.960464477539063e-08, -0.0]], dtype=torch.float16)
    bf16 = torch.tensor([1.0, -2.5, 3.0e38, 1.0e-38, float("inf")], dtype=torch.bfloat16)
    long = torch.tensor([[0, -1], [2147483647, -2147483648], [7, 42]], dtype=torch.int64)
    mask = torch.tensor([True, False, True, True])
    io = {
        "x": x,
        "y": y,
        "half": half,
        "half_f32": half.float(),
        "mask": mask,
        "bf16": bf16,
        "bf16_f32": bf16.float(),
        "long": long,
        "long_i32": long.int(),
    }
    write_safetensors(os.path.join(OUT, "mlp_io.safetensors"), io, {"format": "pt", "torch": torch.__version__})


if __name__ == "__main__":
    main()
