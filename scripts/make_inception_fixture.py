#!/usr/bin/env python3
"""Generates tests/fixtures/inception_v3.json, checked by tests/inception_test.ts.

Usage:  python3 scripts/make_inception_fixture.py   (needs torch and torchvision; CPU is enough)

Two twins of models/inception.ts, both torchvision's Inception3(num_classes=1008,
aux_logits=False, init_weights=False):
  * "torchvision": the network as torchvision defines it (fid: false);
  * "fid": with the FID port's pooling, as pytorch-fid's FIDInceptionA/C/E_1/E_2 change it: the
    pool branches of Mixed_5b-d, Mixed_6b-e and Mixed_7b average without counting padding, and
    Mixed_7c's pool branch takes a 3x3 max instead.
Weights come from the formula of scripts/make_resnet_fixture.py (nothing big is committed); the
input is the formula sin(0.37 i) (float32) of shape (2, 3, 80, 80). The JSON holds the state dict's
keys and shapes, and per twin the pooled 2048-wide features and the 1008 logits, computed in
float64 from the float32 weights; "preprocessed" holds the FID twin's features of one grey 8x8
image in [0, 1] (0.5 + 0.5 sin(0.37 i)) through pytorch-fid's input path (RGB repeat, bilinear
resize to 299x299, scale to [-1, 1]).
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models import inception

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_fixture import formula_tensor  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "inception_v3.json")
INPUT_SHAPE = (2, 3, 80, 80)


def pool_excluding_pad(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FidA(inception.InceptionA):
    def _forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), b5, b3, self.branch_pool(pool_excluding_pad(x))]


class FidC(inception.InceptionC):
    def _forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d7 = conv(d7)
        return [self.branch1x1(x), b7, d7, self.branch_pool(pool_excluding_pad(x))]


def fid_e(pool):
    class FidE(inception.InceptionE):
        def _forward(self, x):
            b3 = self.branch3x3_1(x)
            d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            return [
                self.branch1x1(x),
                torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
                torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1),
                self.branch_pool(pool(x)),
            ]

    return FidE


def build(fid):
    blocks = None
    if fid:
        e_max = fid_e(lambda x: F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
        blocks = [inception.BasicConv2d, FidA, inception.InceptionB, FidC, inception.InceptionD, fid_e(pool_excluding_pad),
                  inception.InceptionAux]
        model = inception.Inception3(num_classes=1008, aux_logits=False, init_weights=False, inception_blocks=blocks)
        model.Mixed_7c = e_max(2048)
        return model
    return inception.Inception3(num_classes=1008, aux_logits=False, init_weights=False)


def case(model, keys, x):
    model.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    model.eval().double()
    feats = {}
    model.avgpool.register_forward_hook(lambda _m, _i, out: feats.__setitem__("pool", torch.flatten(out, 1)))
    with torch.no_grad():
        logits = model(x.double())
    return {
        "features": [float(f"{v:.12g}") for v in feats["pool"].reshape(-1).tolist()],
        "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()],
    }


def preprocessed_case(model, keys):
    """pytorch-fid's input path for a grey [0, 1] image: repeated to RGB, resized to 299x299
    (bilinear, align_corners=False), scaled to [-1, 1], then the FID model's pool3 features."""
    n = 8 * 8
    grey = torch.from_numpy((0.5 + 0.5 * np.sin(0.37 * np.arange(n))).astype(np.float32).reshape(1, 1, 8, 8))
    model.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    model.eval().double()
    x = F.interpolate(grey.double().repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear", align_corners=False)
    feats = {}
    model.avgpool.register_forward_hook(lambda _m, _i, out: feats.__setitem__("pool", torch.flatten(out, 1)))
    with torch.no_grad():
        model(2 * x - 1)
    return {"features": [float(f"{v:.12g}") for v in feats["pool"].reshape(-1).tolist()]}


def main():
    torch.set_num_threads(2)
    n = math.prod(INPUT_SHAPE)
    x = torch.from_numpy(np.sin(0.37 * np.arange(n)).astype(np.float32).reshape(INPUT_SHAPE))
    keys = [[name, list(t.shape)] for name, t in build(False).state_dict().items()]
    out = {
        "torchvision": __import__("torchvision").__version__,
        "keys": keys,
        "input_shape": list(INPUT_SHAPE),
        "torchvision_inception3": case(build(False), keys, x),
        "fid": case(build(True), keys, x),
        "preprocessed": preprocessed_case(build(True), keys),
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT_PATH}: {len(keys)} keys")


if __name__ == "__main__":
    main()
