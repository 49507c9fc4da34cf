#!/usr/bin/env python3
"""Generates tests/fixtures/vae3d.json and tests/fixtures/vae3d_tiny.safetensors, checked by
tests/vae3d_test.ts.

Usage:  /usr/bin/python3 scripts/make_vae3d_fixture.py      (needs PyTorch; CPU is enough)

A PyTorch twin of models/vae3d.ts written from MONAI's AutoencoderKlMaisi (MONAI is not
installable here): its module tree gives MONAI's state-dict names, e.g.
encoder.blocks.0.conv.conv.weight (MaisiConvolution > Convolution > Conv3d),
encoder.blocks.1.conv1.conv.conv.weight, encoder.blocks.3.nin_shortcut.conv.conv.weight,
encoder.blocks.2.conv.conv.conv.weight (MaisiDownsample > MaisiConvolution > ...),
encoder.blocks.4.weight (the tail GroupNorm), quant_conv_mu.conv.weight (a plain Convolution).
Forward as MONAI: residual blocks norm1 > SiLU > conv1 > norm2 > SiLU > conv2 plus a 1x1x1
shortcut when the width changes; downsample = zero pad (0,1,0,1,0,1) then conv k3 s2; upsample =
trilinear x2 (align_corners False) then conv k3; GroupNorm then conv_out with no activation;
log-variance clamped to [-30, 20].

Tiny config: 1 -> 1 channel, latent 4, widths [8, 16], one residual block per level, 4 groups,
eps 1e-6, every parameter random. The file holds the state dict, "input.x" (2, 1, 8, 8, 12),
"input.r" and "input.r_mu" (weights of the loss), and, in float64 from the float32 weights:
"expected.mu", "expected.log_var", "expected.recon" (= decode(mu)) and the gradients of
loss = sum(decode(mu) * r) + sum(mu * r_mu) with respect to the input and the parameters of
vae3d.json's "grad_params".
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402

TINY = dict(in_channels=1, out_channels=1, latent_channels=4, num_channels=[8, 16], num_res_blocks=[1, 1],
            norm_num_groups=4, norm_eps=1e-6)
GRAD_PARAMS = [
    "encoder.blocks.0.conv.conv.weight",
    "encoder.blocks.3.nin_shortcut.conv.conv.weight",
    "encoder.blocks.4.weight",
    "quant_conv_mu.conv.bias",
    "post_quant_conv.conv.weight",
    "decoder.blocks.2.conv.conv.conv.weight",
    "decoder.blocks.3.norm2.bias",
    "decoder.blocks.5.conv.conv.bias",
]


class Convolution(nn.Sequential):  # MONAI's Convolution with conv_only=True
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.add_module("conv", nn.Conv3d(cin, cout, k, stride=stride, padding=padding))


class MaisiConvolution(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = Convolution(cin, cout, k, stride, padding)

    def forward(self, x):
        return self.conv(x)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = MaisiConvolution(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = MaisiConvolution(cout, cout, 3, padding=1)
        self.nin_shortcut = MaisiConvolution(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return self.nin_shortcut(x) + h


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = MaisiConvolution(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = MaisiConvolution(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="trilinear", align_corners=False))


class Stack(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def encoder(c):
    ch, g, eps = c["num_channels"], c["norm_num_groups"], c["norm_eps"]
    blocks, width = [MaisiConvolution(c["in_channels"], ch[0], 3, padding=1)], ch[0]
    for level, out in enumerate(ch):
        for _ in range(c["num_res_blocks"][level]):
            blocks.append(ResBlock(width, out, g, eps))
            width = out
        if level < len(ch) - 1:
            blocks.append(Downsample(width))
    blocks += [nn.GroupNorm(g, width, eps=eps), MaisiConvolution(width, c["latent_channels"], 3, padding=1)]
    return Stack(blocks)


def decoder(c):
    ch, counts, g, eps = c["num_channels"][::-1], c["num_res_blocks"][::-1], c["norm_num_groups"], c["norm_eps"]
    blocks, width = [MaisiConvolution(c["latent_channels"], ch[0], 3, padding=1)], ch[0]
    for level, out in enumerate(ch):
        for _ in range(counts[level]):
            blocks.append(ResBlock(width, out, g, eps))
            width = out
        if level < len(ch) - 1:
            blocks.append(Upsample(width))
    blocks += [nn.GroupNorm(g, width, eps=eps), MaisiConvolution(width, c["out_channels"], 3, padding=1)]
    return Stack(blocks)


class VAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        latent = c["latent_channels"]
        self.encoder, self.decoder = encoder(c), decoder(c)
        self.quant_conv_mu = Convolution(latent, latent, 1)
        self.quant_conv_log_sigma = Convolution(latent, latent, 1)
        self.post_quant_conv = Convolution(latent, latent, 1)

    def encode(self, x):
        h = self.encoder(x)
        return self.quant_conv_mu(h), torch.clamp(self.quant_conv_log_sigma(h), -30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = VAE(TINY)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias") or p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.dim() == 1 and name.endswith("weight") else 0.0))
            else:
                p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    x = torch.randn(2, 1, 8, 8, 12)
    r = torch.randn(2, 1, 8, 8, 12)
    r_mu = torch.randn(2, 4, 4, 4, 6)
    n64 = net.double()
    x64 = x.double().requires_grad_(True)
    mu, log_var = n64.encode(x64)
    recon = n64.decode(mu)
    ((recon * r.double()).sum() + (mu * r_mu.double()).sum()).backward()
    params = dict(n64.named_parameters())
    tensors = dict(state)
    tensors.update({"input.x": x, "input.r": r, "input.r_mu": r_mu, "expected.mu": mu.detach().float(),
                    "expected.log_var": log_var.detach().float(), "expected.recon": recon.detach().float(),
                    "grad.input.x": x64.grad.float()})
    for name in GRAD_PARAMS:
        tensors[f"grad.{name}"] = params[name].grad.float()
    write_safetensors(os.path.join(OUT, "vae3d_tiny.safetensors"), tensors, {"format": "pt", "torch": torch.__version__})
    with open(os.path.join(OUT, "vae3d.json"), "w") as f:
        json.dump({"torch": torch.__version__, "tiny": {"config": TINY, "keys": keys}, "grad_params": GRAD_PARAMS}, f,
                  separators=(",", ":"))
    print(f"{len(keys)} keys; recon |max| {recon.abs().max().item():.3f}, mu |max| {mu.abs().max().item():.3f}")


if __name__ == "__main__":
    main()
