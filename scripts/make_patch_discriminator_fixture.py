#!/usr/bin/env python3
"""Generates tests/fixtures/patch_discriminator.json and tests/fixtures/patch_discriminator.safetensors, checked by
tests/patch_discriminator_test.ts.

Usage:  /usr/bin/python3 scripts/make_patch_discriminator_fixture.py      (needs PyTorch; CPU is enough)

The PyTorch twin of models/patch_discriminator.ts: MONAI's PatchDiscriminator (Pix2PixHD's PatchGAN, as MAISI trains
its VAE against it), written from MONAI's structure with plain torch.nn (MONAI cannot be installed here), keeping its
state-dict names: "initial_conv" = Convolution(conv + adn[LeakyReLU 0.2]), stride 2, bias; "0".."L-1" =
Convolution(conv without bias + adn[norm, LeakyReLU 0.2]), stride 2 except the last (1), channels doubling;
"final_conv" = a bare convolution with bias; padding (k - 1) // 2 throughout. Two cases: 3-D with instance norm
(MAISI's: spatial_dims 3, channels 4, 2 layers, input (2, 1, 16, 16, 16)) and 2-D with batch norm (MONAI's default,
in training mode, so the batch statistics and the running-statistics update are checked). Every parameter random.
Each case: the state dict (before the forward), "input.x", "input.grad_weights" R, and, in float64 from the float32
weights, "expected.out", the gradients of sum(out * R) with respect to the input and every parameter, and (2-D) the
running statistics after the forward.
"""

import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402

CASES = {
    "d3": dict(spatial_dims=3, channels=4, in_channels=1, num_layers_d=2, norm="instance", shape=[2, 1, 16, 16, 16]),
    "d2": dict(spatial_dims=2, channels=3, in_channels=2, num_layers_d=3, norm="batch", shape=[3, 2, 32, 32]),
}


class Adn(nn.Module):
    def __init__(self, norm):
        super().__init__()
        if norm is not None:
            self.N = norm
        self.A = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.A(self.N(x) if hasattr(self, "N") else x)


class Convolution(nn.Module):
    def __init__(self, conv, adn):
        super().__init__()
        self.conv = conv
        if adn is not None:
            self.adn = adn

    def forward(self, x):
        y = self.conv(x)
        return self.adn(y) if hasattr(self, "adn") else y


class PatchDiscriminator(nn.Sequential):
    def __init__(self, spatial_dims, channels, in_channels, num_layers_d, norm, out_channels=1, kernel_size=4):
        super().__init__()
        conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
        if norm == "batch":
            make_norm = nn.BatchNorm3d if spatial_dims == 3 else nn.BatchNorm2d
        else:
            make_norm = nn.InstanceNorm3d if spatial_dims == 3 else nn.InstanceNorm2d
        pad = (kernel_size - 1) // 2
        self.add_module("initial_conv", Convolution(conv(in_channels, channels, kernel_size, 2, pad), Adn(None)))
        width = channels
        for layer in range(num_layers_d):
            stride = 1 if layer == num_layers_d - 1 else 2
            self.add_module(str(layer), Convolution(conv(width, width * 2, kernel_size, stride, pad, bias=False),
                                                    Adn(make_norm(width * 2))))
            width *= 2
        self.add_module("final_conv", Convolution(conv(width, out_channels, kernel_size, 1, pad), None))


def randomise_parameters(net):
    with torch.no_grad():
        for name, p in net.named_parameters():
            std = 1 / math.sqrt(p[0].numel()) if p.dim() >= 2 else 0.3
            p.copy_(torch.randn_like(p) * std + (1.0 if name.endswith("N.weight") else 0.0))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tensors, meta = {}, {"torch": torch.__version__, "cases": {}}
    for case, spec in CASES.items():
        cfg = {k: v for k, v in spec.items() if k != "shape"}
        net = PatchDiscriminator(**cfg)
        randomise_parameters(net)
        net.train()
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        keys = [[k, list(v.shape)] for k, v in state.items()]
        x = torch.randn(*spec["shape"])
        n64 = net.double()
        x64 = x.double().requires_grad_(True)
        y = n64(x64)
        r = torch.randn(*y.shape)
        (y * r.double()).sum().backward()
        for k, v in state.items():
            tensors[f"{case}.{k}"] = v
        tensors.update({f"{case}.input.x": x, f"{case}.input.grad_weights": r,
                        f"{case}.expected.out": y.detach().float(), f"{case}.grad.input.x": x64.grad.float()})
        for name, p in n64.named_parameters():
            tensors[f"{case}.grad.{name}"] = p.grad.float()
        for name, b in n64.named_buffers():
            if "running" in name:
                tensors[f"{case}.after.{name}"] = b.float()
        meta["cases"][case] = {"config": cfg, "keys": keys, "out_shape": list(y.shape)}
        print(f"{case}: {len(keys)} keys, output {list(y.shape)}, |max| {y.abs().max().item():.4f}")
    write_safetensors(os.path.join(OUT, "patch_discriminator.safetensors"), tensors,
                      {"format": "pt", "torch": torch.__version__})
    with open(os.path.join(OUT, "patch_discriminator.json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
