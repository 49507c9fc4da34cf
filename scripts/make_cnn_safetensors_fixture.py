#!/usr/bin/env python3
"""Generates tests/fixtures/cnn.safetensors, checked by tests/cnn_safetensors_test.ts.

Usage:  /usr/bin/python3 scripts/make_cnn_safetensors_fixture.py   (needs PyTorch; CPU is enough)

A small CNN, initialised by PyTorch with seed 0 and with its BatchNorm running statistics
moved away from (0, 1) by a few training-mode passes, so eval mode is meaningful:

    nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2), nn.GroupNorm(4, 16), nn.SiLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )

The file holds the state dict under its PyTorch keys (F32, `num_batches_tracked` as I64),
plus `input.x` (2, 3, 12, 12) and `expected.logits` (2, 5): the eval-mode output, computed in
float64 and stored as float32. The safetensors format is written by hand (struct + json).
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402


def build():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2),
        nn.GroupNorm(4, 16),
        nn.SiLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )


def main():
    torch.manual_seed(0)
    model = build()
    model.train()
    with torch.no_grad():
        for _ in range(3):  # move the running statistics
            model(torch.randn(4, 3, 12, 12) * 2 + 0.5)
    model.eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        logits = model.double()(x.double()).float()
    model.float()
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    tensors["input.x"] = x
    tensors["expected.logits"] = logits
    write_safetensors(os.path.join(OUT, "cnn.safetensors"), tensors, {"format": "pt", "torch": torch.__version__})
    print("wrote cnn.safetensors:", ", ".join(tensors))


if __name__ == "__main__":
    main()
