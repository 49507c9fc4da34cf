#!/usr/bin/env python3
"""Generates tests/fixtures/vit_small.json, checked by tests/vit_test.ts.

Usage:  python3 scripts/make_vit_fixture.py   (needs torch and torchvision; CPU is enough)

A small torchvision.models.VisionTransformer (32x32 input, 8x8 patches, 2 layers, 4 heads,
width 32, MLP 64, 10 classes) with the formula weights of scripts/make_resnet_fixture.py. The
JSON holds the state-dict keys and shapes, parameter counts of ViT-S/16 and ViT-B/16 at 224²
with 1000 classes, a fixed (2, 3, 32, 32) input and the eval-mode logits in float64.
"""

import json
import os
import sys

import torch
from torchvision.models.vision_transformer import VisionTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_fixture import formula_logits_case, param_count  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "vit_small.json")


def main():
    torch.set_num_threads(2)
    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64,
                              num_classes=10)
    out = {
        "param_counts": {
            "vit_s_16": param_count(VisionTransformer(224, 16, 12, 6, 384, 1536)),
            "vit_b_16": param_count(VisionTransformer(224, 16, 12, 12, 768, 3072)),
        },
        **formula_logits_case(model, (2, 3, 32, 32)),
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT_PATH}: {len(out['keys'])} keys, counts {out['param_counts']}")


if __name__ == "__main__":
    main()
