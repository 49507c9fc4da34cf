#!/usr/bin/env python3
"""Exports torchvision's ResNet-18 with the small-input stem and random weights to safetensors,
with the logits PyTorch computes, checked by tests/torchvision_resnet18_test.ts.

Usage:  python3 scripts/make_torchvision_resnet18.py   (needs torch and torchvision, e.g. Debian's
        python3-torch and python3-torchvision; CPU is enough)

The model is torchvision.models.resnet18(num_classes=10) with conv1 replaced by a 3x3 stride-1
conv and maxpool by nn.Identity (meddiff's `resnet18({ smallInput: true, numClasses: 10 })`),
random weights from torch.manual_seed(0) (running statistics randomised too, so eval mode means
something). Writes:
  * .cache/fixtures/resnet18_tv_small.safetensors (45 MB: too big to commit, hence under the
    git-ignored .cache/; the test skips with this command when it is absent);
  * tests/fixtures/resnet18_tv_small.json: the input (2, 3, 28, 28), the eval-mode logits (float64
    forward from the float32 weights) and the safetensors file's SHA-256.
"""

import hashlib
import json
import os
import sys

import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_safetensors_fixture import write_safetensors  # noqa: E402

ROOT = os.path.join(HERE, "..")
WEIGHTS = os.path.join(ROOT, ".cache", "fixtures", "resnet18_tv_small.safetensors")
JSON_PATH = os.path.join(ROOT, "tests", "fixtures", "resnet18_tv_small.json")


def main():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn_like(buf) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand_like(buf) + 0.5)
    model.eval()
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        logits = model.double()(x.double())
    state = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(WEIGHTS), exist_ok=True)
    write_safetensors(WEIGHTS, state, {"format": "pt", "source": f"torchvision {torchvision.__version__}"})
    digest = hashlib.sha256(open(WEIGHTS, "rb").read()).hexdigest()
    out = {
        "torchvision": torchvision.__version__,
        "sha256": digest,
        "input_shape": list(x.shape),
        "input": [float(f"{v:.9g}") for v in x.reshape(-1).tolist()],
        "logits_shape": list(logits.shape),
        "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()],
    }
    with open(JSON_PATH, "w") as f:
        json.dump(out, f)
    print(f"wrote {WEIGHTS} ({os.path.getsize(WEIGHTS)} bytes) and {JSON_PATH}")


if __name__ == "__main__":
    main()
