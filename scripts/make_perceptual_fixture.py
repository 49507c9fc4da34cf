#!/usr/bin/env python3
"""Generates tests/fixtures/perceptual.json, checked by tests/perceptual_test.ts: the 2.5-D
perceptual loss of MONAI's PerceptualLoss(spatial_dims=3, is_fake_3d=True) with a torchvision-
style ResNet feature network (MONAI's `network_type="resnet50"` path: 1-channel slices repeated
to 3, ImageNet z-score, the last stage's output, LPIPS's channel normalisation, squared distance
summed over channels and averaged over positions), written out here from its definition.

Usage:  python3 scripts/make_perceptual_fixture.py     (needs PyTorch and numpy; CPU is enough)

The network is torchvision's ResNet layout (7x7 stride-2 stem, max-pool, BasicBlocks [2, 2, 2, 2])
at base width 16, in float64, with the formula weights of scripts/make_resnet_fixture.py (both
sides compute them from the state-dict keys). The volumes (1, 1, 32, 36, 40) come from a formula
too (float64 sines rounded to float32), so nothing large is stored. The JSON holds:
  * "keys": the network's state-dict keys and shapes;
  * "loss": the loss with every slice used (fake_3d_ratio 1);
  * "per_slice": per axis (2, 3, 4), each slice's loss in slice order (b-major), so a test can
    check a random selection: the loss is the sum over axes of the mean over the picked slices;
  * "grad_sum", "grad_sq_sum", "grad_at": the gradient of "loss" with respect to the input
    volume: its sum, its sum of squares, and [flat index, value] at fixed positions.
"""

import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_resnet_fixture import formula_tensor, resnet_stage  # noqa: E402

OUT_PATH = os.path.join(HERE, "..", "tests", "fixtures", "perceptual.json")
SHAPE = (1, 1, 32, 36, 40)
WIDTH = 16
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class ResNetFeatures(nn.Module):
    """torchvision.models.ResNet(BasicBlock, [2, 2, 2, 2]) at base width `width`, no fc."""

    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = resnet_stage(width, width, 2)
        self.layer2 = resnet_stage(width, 2 * width, 2, 2)
        self.layer3 = resnet_stage(2 * width, 4 * width, 2, 2)
        self.layer4 = resnet_stage(4 * width, 8 * width, 2, 2)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def volume(phase):
    """(1, 1, 32, 36, 40): 0.5 + 0.5 sin(...) in float64, rounded once to float32."""
    b, c, d, h, w = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in SHAPE], indexing="ij")
    v = 0.5 + 0.5 * np.sin(0.37 * d + 0.23 * h + 0.11 * w + phase) * np.cos(0.05 * (d - h + w) + 0.3 * phase)
    return torch.from_numpy(v.astype(np.float32).astype(np.float64))


def slices(x, axis):
    rest = [a for a in (2, 3, 4) if a != axis]
    s = x.permute(0, axis, 1, *rest)
    return s.reshape(-1, x.shape[1], x.shape[rest[0]], x.shape[rest[1]])


def per_slice_losses(net, a, b):
    def feats(s):
        s = s.repeat(1, 3, 1, 1)
        mean = torch.tensor(MEAN, dtype=s.dtype).view(1, 3, 1, 1)
        std = torch.tensor(STD, dtype=s.dtype).view(1, 3, 1, 1)
        f = net((s - mean) / std)
        return f / (torch.sqrt((f**2).sum(1, keepdim=True)) + 1e-10)

    return ((feats(a) - feats(b)) ** 2).sum(1).mean((1, 2))


def main():
    net = ResNetFeatures(WIDTH)
    keys = [[name, list(t.shape)] for name, t in net.state_dict().items()]
    net.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    net = net.double().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = volume(0.0).requires_grad_(True)
    y = volume(1.0)
    per_axis = [per_slice_losses(net, slices(x, axis), slices(y, axis).detach()) for axis in (2, 3, 4)]
    loss = sum(p.mean() for p in per_axis)
    loss.backward()
    g = x.grad.reshape(-1)
    n = g.numel()
    picks = sorted({(i * 7919 + 13) % n for i in range(40)} | {0, n - 1})
    out = {
        "shape": list(SHAPE),
        "width": WIDTH,
        "keys": keys,
        "loss": float(loss),
        "per_slice": [[float(v) for v in p.detach().tolist()] for p in per_axis],
        "grad_sum": float(g.sum()),
        "grad_sq_sum": float((g**2).sum()),
        "grad_at": [[i, float(g[i])] for i in picks],
    }
    assert math.isfinite(out["loss"]) and out["grad_sq_sum"] > 0
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT_PATH}: loss {out['loss']:.6g}")


if __name__ == "__main__":
    main()
