#!/usr/bin/env python3
"""Generates tests/fixtures/resnet3d.json, checked by tests/resnet3d_test.ts.

Usage:  /usr/bin/python3 scripts/make_resnet3d_fixture.py   (needs PyTorch; CPU is enough)

The twin of models/resnet.ts with spatialDims 3: torchvision's ResNet-18 layout (BasicBlock,
[2, 2, 2, 2], v1.5 shortcuts) with every conv, batch norm and pool 3-D, the small-input stem
(3x3x3 stride 1, no max-pool), base width 8, 1 input channel, 2 classes. Weights come from the
formula of scripts/make_resnet_fixture.py (5-D conv weights scaled by their fan-in as the 4-D
ones); the input is sin(0.37 i) of shape (2, 1, 8, 8, 8). The JSON holds the state dict's keys
and shapes and the eval-mode logits, in float64 from the float32 weights.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_fixture import formula_tensor  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resnet3d.json")
SHAPE = (2, 1, 8, 8, 8)


class Block(nn.Module):
    def __init__(self, i, o, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv3d(i, o, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(o)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv3d(o, o, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(o)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet3d(nn.Module):
    def __init__(self, w=8, classes=2):
        super().__init__()
        self.conv1 = nn.Conv3d(1, w, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(w)
        self.relu = nn.ReLU()
        self.inplanes = w
        self.layer1 = self._layer(w, 1)
        self.layer2 = self._layer(2 * w, 2)
        self.layer3 = self._layer(4 * w, 2)
        self.layer4 = self._layer(8 * w, 2)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(8 * w, classes)

    def _layer(self, planes, stride):
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(nn.Conv3d(self.inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes))
        blocks = [Block(self.inplanes, planes, stride, down), Block(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def main():
    torch.set_num_threads(2)
    net = ResNet3d()
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    net.load_state_dict({k: formula_tensor(k, s) for k, s in keys})
    net.eval().double()
    n = math.prod(SHAPE)
    x = torch.from_numpy(np.sin(0.37 * np.arange(n)).astype(np.float32).reshape(SHAPE)).double()
    with torch.no_grad():
        logits = net(x)
    with open(OUT, "w") as f:
        json.dump({"keys": keys, "input_shape": list(SHAPE), "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()]}, f)
    print(f"{len(keys)} keys, logits {logits.tolist()}")


if __name__ == "__main__":
    main()
