#!/usr/bin/env python3
"""Generates tests/fixtures/resnet18_small.json, checked by tests/resnet_test.ts and
tests/nn_layers_test.ts.

Usage:  python3 scripts/make_resnet_fixture.py      (needs PyTorch and numpy; CPU is enough)

ResNet-18 has 11.2 M parameters (45 MB as float32), too big to commit. So the weights are not
stored: both sides compute them from a formula that gives bit-identical float32 values in
Python (numpy) and TypeScript (tests/resnet_test.ts, `formulaStateDict`):

  seed = FNV-1a 32-bit hash of the state-dict key (UTF-8)
  h_i  = lowbias32((i + seed) mod 2^32)       (x ^= x>>16; x *= 0x7feb352d; x ^= x>>15;
                                               x *= 0x846ca68b; x ^= x>>16, all uint32)
  v_i  = ((h_i >> 8) - 2^23) / 2^23           (exact in float32, in [-1, 1))
  value, computed in float64 and rounded once to float32:
    *.running_mean          0.1 v
    *.running_var           1 + 0.4 v          (positive: eval mode is meaningful)
    *.num_batches_tracked   7 (int64)
    *.weight, ndim 4        v * sqrt(6 / fan_in)   (fan_in = prod(shape[1:]))
    *.weight, ndim 2        v / sqrt(fan_in)
    *.weight, ndim 1        1 + 0.2 v
    *.bias                  0.1 v
    *class_token, *pos_embedding   0.1 v   (ViT; used by make_vit_fixture.py)
    *relative_position_bias_table  0.5 v   (Swin; used by make_swin_fixture.py)

The model is torchvision's ResNet-18 (BasicBlock, v1.5 layout, torchvision's parameter names)
with the small-input stem of meddiff's `resnet18({ smallInput: true })` — a 3x3 stride-1
conv1 and no max-pool — and 10 classes, written out here with torch.nn because torchvision is
not installed; when torchvision is installed the script checks that torchvision's resnet18 with
that stem has the same keys and gives the same logits. The JSON holds:
  * "keys": [[name, shape], ...] of the state dict, in PyTorch's order;
  * "input": a fixed (2, 3, 28, 28) float32 input (torch.randn, seed 0);
  * "logits": the eval-mode output (2, 10), computed in float64 from the float32 weights;
  * "features": the shapes of the layer1..layer4 outputs;
  * "state_keys": state-dict key lists of a few torch.nn modules (layer tests);
  * "mha": a small nn.MultiheadAttention case (float64) with masks (layer tests).
"""

import json
import math
import os

import numpy as np
import torch
from torch import nn

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resnet18_small.json")


def fnv1a(name):
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def unit(name, n):
    """n float32-exact values in [-1, 1) from the key's hash (see the module docstring)."""
    x = (np.arange(n, dtype=np.uint64) + np.uint64(fnv1a(name))) & np.uint64(0xFFFFFFFF)
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return ((x >> np.uint32(8)).astype(np.float64) - 2.0**23) / 2.0**23


def formula_tensor(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    if name.endswith("num_batches_tracked"):
        return torch.tensor(7, dtype=torch.int64)
    v = unit(name, n)
    if name.endswith("running_mean"):
        val = 0.1 * v
    elif name.endswith("running_var"):
        val = 1.0 + 0.4 * v
    elif name.endswith("weight") and len(shape) in (4, 5):
        val = v * math.sqrt(6.0 / int(np.prod(shape[1:])))
    elif name.endswith("weight") and len(shape) == 2:
        val = v / math.sqrt(shape[1])
    elif name.endswith("weight"):
        val = 1.0 + 0.2 * v
    elif name.endswith("bias") or name.endswith(("class_token", "pos_embedding")):
        val = 0.1 * v
    elif name.endswith("relative_position_bias_table"):
        val = 0.5 * v
    else:
        raise ValueError(f"no formula for {name}")
    return torch.from_numpy(val.astype(np.float32).reshape(shape))


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def formula_logits_case(model, input_shape):
    """Loads formula weights into `model`, runs it in eval mode in float64 on a seeded input and
    returns the fixture fields: keys, input, logits (with shapes)."""
    keys = [[name, list(t.shape)] for name, t in model.state_dict().items()]
    model.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(*input_shape)
    with torch.no_grad():
        logits = model.double()(x.double())
    return {
        "keys": keys,
        "input_shape": list(x.shape),
        "input": [float(f"{v:.9g}") for v in x.reshape(-1).tolist()],
        "logits_shape": list(logits.shape),
        "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()],
    }


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


def resnet_stage(inplanes, planes, blocks, stride=1):
    """torchvision's ResNet._make_layer for BasicBlock: a 1x1 downsample when the shape changes."""
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNetSmall(nn.Module):
    """torchvision.models.ResNet(BasicBlock, [2, 2, 2, 2]) with a 3x3 stride-1 stem, no max-pool."""

    def __init__(self, layers=(2, 2, 2, 2), num_classes=10):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        layer = resnet_stage(self.inplanes, planes, blocks, stride)
        self.inplanes = planes
        return layer

    def features(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(x)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        return [f1, f2, f3, f4]

    def forward(self, x):
        f4 = self.features(x)[-1]
        return self.fc(torch.flatten(self.avgpool(f4), 1))


def mha_case():
    """nn.MultiheadAttention(8, 2) in float64, seq-first, with a bool attn_mask and a key padding mask."""
    torch.manual_seed(1)
    E, H, L, S, N = 8, 2, 3, 4, 2
    mha = nn.MultiheadAttention(E, H).double().eval()
    with torch.no_grad():
        for p in mha.parameters():  # round to float32 so both sides use the same values
            p.copy_(torch.randn_like(p).float().double() * 0.5)
    q = torch.randn(L, N, E).float().double()
    k = torch.randn(S, N, E).float().double()
    v = torch.randn(S, N, E).float().double()
    attn_mask = torch.tensor([[False, True, False, False], [False, False, True, False], [True, False, False, False]])
    kpm = torch.tensor([[False, False, False, True], [False, True, False, False]])
    with torch.no_grad():
        out, w = mha(q, k, v, attn_mask=attn_mask, key_padding_mask=kpm)
        out_nomask, w_nomask = mha(q, k, v, average_attn_weights=False)

    def flat(t):
        return [float(f"{x:.9g}") for x in t.reshape(-1).tolist()]

    return {
        "state": {n: {"shape": list(p.shape), "data": flat(p)} for n, p in mha.state_dict().items()},
        "q": flat(q),
        "k": flat(k),
        "v": flat(v),
        "attn_mask": attn_mask.reshape(-1).tolist(),
        "key_padding_mask": kpm.reshape(-1).tolist(),
        "out": flat(out),
        "weights": flat(w),
        "out_nomask": flat(out_nomask),
        "weights_nomask": flat(w_nomask),
        "dims": {"E": E, "H": H, "L": L, "S": S, "N": N},
    }


def state_keys():
    return {
        "conv2d": list(nn.Conv2d(3, 4, 3).state_dict().keys()),
        "conv2d_nobias": list(nn.Conv2d(3, 4, 3, bias=False).state_dict().keys()),
        "batchnorm2d": list(nn.BatchNorm2d(4).state_dict().keys()),
        "batchnorm2d_noaffine_notrack": list(nn.BatchNorm2d(4, affine=False, track_running_stats=False).state_dict()),
        "groupnorm": list(nn.GroupNorm(2, 4).state_dict().keys()),
        "layernorm": list(nn.LayerNorm(4).state_dict().keys()),
        "mha": list(nn.MultiheadAttention(8, 2).state_dict().keys()),
        "mha_kdim": list(nn.MultiheadAttention(8, 2, kdim=4, vdim=6).state_dict().keys()),
        "mha_nobias": list(nn.MultiheadAttention(8, 2, bias=False).state_dict().keys()),
        "sequential": list(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Linear(4, 2)).state_dict()),
    }


def check_against_torchvision(keys, x64, logits):
    """With torchvision installed: its resnet18 with the same small stem has the same state-dict
    keys and, with the same formula weights, the same logits. Returns its version (or None)."""
    try:
        import torchvision
    except ImportError:
        print("torchvision not installed: skipping the cross-check")
        return None
    tv = torchvision.models.resnet18(num_classes=10)
    tv.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    tv.maxpool = nn.Identity()
    tv_keys = [[name, list(t.shape)] for name, t in tv.state_dict().items()]
    assert tv_keys == keys, "state-dict keys differ from torchvision's"
    tv.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    tv = tv.double().eval()
    with torch.no_grad():
        tv_logits = tv(x64)
    assert torch.allclose(tv_logits, logits, rtol=0, atol=1e-9), "logits differ from torchvision's"
    print(f"cross-checked against torchvision {torchvision.__version__}")
    return torchvision.__version__


def main():
    torch.set_num_threads(1)
    model = ResNetSmall()
    sd = model.state_dict()
    keys = [[name, list(t.shape)] for name, t in sd.items()]
    model.load_state_dict({name: formula_tensor(name, shape) for name, shape in keys})
    model.eval()

    torch.manual_seed(0)
    x = torch.randn(2, 3, 28, 28)
    m64 = model.double()
    with torch.no_grad():
        logits = m64(x.double())
        feats = m64.features(x.double())

    tv_version = check_against_torchvision(keys, x.double(), logits)

    out = {
        "keys": keys,
        "torchvision_checked": tv_version,
        "input": [float(f"{v:.9g}") for v in x.reshape(-1).tolist()],
        "input_shape": list(x.shape),
        "logits": [float(f"{v:.12g}") for v in logits.reshape(-1).tolist()],
        "logits_shape": list(logits.shape),
        "features": [list(f.shape) for f in feats],
        "state_keys": state_keys(),
        "mha": mha_case(),
        "torch": torch.__version__,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {OUT_PATH}: {len(keys)} keys, logits {logits.tolist()}")


if __name__ == "__main__":
    main()
