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
from make_resnet_fixture import formula_logits_case, param_count  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "efficientnet_b0.json")


def main():
    torch.set_num_threads(2)
    case = formula_logits_case(torchvision.models.efficientnet_b0(num_classes=10), (2, 3, 32, 32))
    out = {
        "torchvision": torchvision.__version__,
        "param_counts": {
            "efficientnet_b0": param_count(torchvision.models.efficientnet_b0()),
            "efficientnet_b4": param_count(torchvision.models.efficientnet_b4()),
        },
        **case,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT_PATH}: {len(out['keys'])} keys, counts {out['param_counts']}")


if __name__ == "__main__":
    main()
