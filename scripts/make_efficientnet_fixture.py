#!/usr/bin/env python3
"""Generates tests/fixtures/efficientnet_b0.json, checked by tests/efficientnet_test.ts.

Usage:  python3 scripts/make_efficientnet_fixture.py   (needs torch and torchvision, e.g. Debian's
        python3-torch and python3-torchvision; CPU is enough)

The model is torchvision.models.efficientnet_b0(num_classes=10). Its weights come from the
formula of scripts/make_resnet_fixture.py (`formula_tensor`: an integer hash of each state-dict
key), so nothing big is committed. The JSON holds:
  * "keys": [[name, shape], ...] of the state dict, in PyTorch's order;
  * "param_counts": trainable parameters of efficientnet_b0 and efficientnet_b4 at 1000 classes;
  * "input": a fixed (2, 3, 32, 32) float32 input (torch.randn, seed 0);
  * "logits": the eval-mode output (2, 10), computed in float64 from the float32 weights.
"""

import json
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_fixture import formula_tensor  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "efficientnet_b0.json")


def count(model):
    return sum(p.numel() for p in model.parameters())


def main():
    torch.set_num_threads(2)
    model = torchvision.models.efficientnet_b0(num_classes=10)
    keys = [[name, list(t.shape)] for name, t in model.state_dict().items()]
    model.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model.double()(x.double())
    out = {
        "torchvision": torchvision.__version__,
        "keys": keys,
        "param_counts": {
            "efficientnet_b0": count(torchvision.models.efficientnet_b0()),
            "efficientnet_b4": count(torchvision.models.efficientnet_b4()),
        },
        "input_shape": list(x.shape),
        "input": [float(f"{v:.9g}") for v in x.reshape(-1).tolist()],
        "logits_shape": list(logits.shape),
        "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()],
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT_PATH}: {len(keys)} keys, counts {out['param_counts']}")


if __name__ == "__main__":
    main()
