#!/usr/bin/env python3
"""Generates tests/fixtures/dit.json and tests/fixtures/dit_tiny.safetensors, checked by
tests/dit_test.ts.

Usage:  /usr/bin/python3 scripts/make_dit_fixture.py      (needs PyTorch; CPU is enough)

This file is the PyTorch twin of models/dit.ts: the Diffusion Transformer of Peebles & Xie with
the module tree and parameter names of facebookresearch/DiT's models.py (PatchEmbed `proj`,
TimestepEmbedder `mlp`, LabelEmbedder `embedding_table`, DiTBlock `norm1`/`attn.qkv`/
`attn.proj`/`norm2`/`mlp.fc1`/`mlp.fc2`/`adaLN_modulation`, FinalLayer `norm_final`/`linear`/
`adaLN_modulation`, and the fixed `pos_embed` parameter), written out with torch.nn because timm
is not installed. Where it departs from the reference (models/dit.ts documents the same):
  * the label table always has num_classes + 1 rows (the reference: when class dropout > 0,
    which its default 0.1 is); label dropout is not done inside the model;
  * learn_sigma is a switch here as there, but models/dit.ts defaults it to false;
  * the timestep sinusoid's frequencies are computed in float64 and rounded once to float32,
    and the arguments t * freq are formed in float32 (the reference: torch.exp in float32,
    <= 1 ulp apart).

Outputs:
  * dit.json:
      "param_counts": parameters (pos_embed included, as model.parameters() counts it) of
                DiT-S/2, S/4, S/8, B/2, B/4, B/8 on 32x32x4 inputs with 1000 classes, with
                learn_sigma true (the reference's default: "learn_sigma") and false ("eps");
      "tiny":   the config of dit_tiny.safetensors, its parameter count and [[key, shape], ...]
                in PyTorch's state-dict order.
  * dit_tiny.safetensors: the tiny network's state dict (F32) with EVERY parameter randomised
    (the adaLN-Zero and output layers too, which start at zero; pos_embed keeps its sin-cos
    values), plus "input.x" (3, 2, 8, 8) F32, "input.t" (3,) I32, "input.labels" (3,) I32 (the
    last one the null class 3), "input.grad_weights" (3, 2, 8, 8) F32 = R, and, computed in
    float64 from the float32 weights: "expected.out" (3, 2, 8, 8), "expected.out_null" (every
    label the null class), and the gradients of loss = sum(out * R) with respect to the input
    ("grad.input.x") and to a few parameters ("grad.<parameter name>").
    The tiny config: input 8, patch 2, 2 channels, hidden 32, depth 2, 4 heads, MLP ratio 4,
    3 classes, learn_sigma false.
"""

import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def sincos_1d(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(embed_dim, grid_size):
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid_size, grid_size])
    return np.concatenate([sincos_1d(embed_dim // 2, grid[0]), sincos_1d(embed_dim // 2, grid[1])], axis=1)


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, in_channels, hidden_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size, frequency_embedding_size=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(),
                                 nn.Linear(hidden_size, hidden_size))
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t, dim, dtype, max_period=10000):
        half = dim // 2
        freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half).astype(np.float32)
        args = (t.float()[:, None] * torch.from_numpy(freqs)[None]).to(dtype)  # formed in float32
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t, dtype):
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size, dtype))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, hidden_size):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, hidden_size)
        self.num_classes = num_classes

    def forward(self, labels):
        return self.embedding_table(labels.long())


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        w = torch.softmax((q * self.head_dim ** -0.5) @ k.transpose(-2, -1), dim=-1)
        return self.proj((w @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, input_size=32, patch_size=2, in_channels=4, hidden_size=384, depth=12, num_heads=6,
                 mlp_ratio=4.0, num_classes=1000, learn_sigma=False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch_size = patch_size
        self.num_classes = num_classes
        self.x_embedder = PatchEmbed(patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size)
        grid = input_size // patch_size
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, hidden_size), requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)
        self.initialize_weights(grid)

    def initialize_weights(self, grid):
        def basic_init(module):
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.constant_(module.bias, 0)
        self.apply(basic_init)
        self.pos_embed.data.copy_(torch.from_numpy(sincos_2d(self.pos_embed.shape[-1], grid)).float().unsqueeze(0))
        w = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)

    def unpatchify(self, x):
        c, p = self.out_channels, self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        assert h * w == x.shape[1]
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y=None):
        B = x.shape[0]
        if y is None:
            y = torch.full((B,), self.num_classes, dtype=torch.long)
        h = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t, x.dtype) + self.y_embedder(y)
        for block in self.blocks:
            h = block(h, c)
        return self.unpatchify(self.final_layer(h, c))


PRESETS = {
    "DiT-S/2": dict(depth=12, hidden_size=384, patch_size=2, num_heads=6),
    "DiT-S/4": dict(depth=12, hidden_size=384, patch_size=4, num_heads=6),
    "DiT-S/8": dict(depth=12, hidden_size=384, patch_size=8, num_heads=6),
    "DiT-B/2": dict(depth=12, hidden_size=768, patch_size=2, num_heads=12),
    "DiT-B/4": dict(depth=12, hidden_size=768, patch_size=4, num_heads=12),
    "DiT-B/8": dict(depth=12, hidden_size=768, patch_size=8, num_heads=12),
}
TINY = dict(input_size=8, patch_size=2, in_channels=2, hidden_size=32, depth=2, num_heads=4, mlp_ratio=4.0,
            num_classes=3, learn_sigma=False)
GRAD_PARAMS = [
    "x_embedder.proj.weight",
    "t_embedder.mlp.0.weight",
    "y_embedder.embedding_table.weight",
    "blocks.0.attn.qkv.weight",
    "blocks.0.mlp.fc1.bias",
    "blocks.1.adaLN_modulation.1.weight",
    "final_layer.adaLN_modulation.1.bias",
    "final_layer.linear.weight",
]


def randomise_parameters(net):
    """Zero-started layers make a blind test: every trained parameter gets random values (the global
    generator; pos_embed keeps its sin-cos values), N(0, 1/fan_in) for matrices, N(0, 0.04) for vectors."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name == "pos_embed":
                continue
            std = 1 / math.sqrt(p[0].numel()) if p.dim() >= 2 else 0.2
            p.copy_(torch.randn_like(p) * std)


def param_count(net):
    return sum(p.numel() for p in net.parameters())


def main():
    torch.set_num_threads(1)
    counts = {"learn_sigma": {}, "eps": {}}
    for name, preset in PRESETS.items():
        for key, sigma in [("learn_sigma", True), ("eps", False)]:
            counts[key][name] = param_count(DiT(input_size=32, in_channels=4, num_classes=1000, learn_sigma=sigma,
                                                **preset))

    torch.manual_seed(0)
    net = DiT(**TINY)
    randomise_parameters(net)
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    x = torch.randn(3, 2, 8, 8)
    t = torch.tensor([0, 137, 999], dtype=torch.int32)
    labels = torch.tensor([2, 0, 3], dtype=torch.int32)
    r = torch.randn(3, 2, 8, 8)
    n64 = net.double()
    with torch.no_grad():
        y_null = n64(x.double(), t).float()
    x64 = x.double().requires_grad_(True)
    y = n64(x64, t, labels)
    (y * r.double()).sum().backward()
    params = dict(n64.named_parameters())
    tensors = dict(state)
    tensors.update({
        "input.x": x,
        "input.t": t,
        "input.labels": labels,
        "input.grad_weights": r,
        "expected.out": y.detach().float(),
        "expected.out_null": y_null,
        "grad.input.x": x64.grad.float(),
    })
    for name in GRAD_PARAMS:
        tensors[f"grad.{name}"] = params[name].grad.float()
    write_safetensors(os.path.join(OUT, "dit_tiny.safetensors"), tensors, {"format": "pt", "torch": torch.__version__})
    out = {
        "torch": torch.__version__,
        "param_counts": counts,
        "tiny": {"config": TINY, "num_parameters": param_count(net), "keys": keys},
        "grad_params": GRAD_PARAMS,
    }
    with open(os.path.join(OUT, "dit.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"param counts: {json.dumps(counts)}")
    print(f"tiny: {out['tiny']['num_parameters']} parameters, {len(keys)} keys, output |max| "
          f"{y.abs().max().item():.4f}")


if __name__ == "__main__":
    main()
