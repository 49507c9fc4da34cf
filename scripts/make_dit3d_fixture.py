#!/usr/bin/env python3
"""Generates tests/fixtures/dit3d.json and tests/fixtures/dit3d_tiny.safetensors, checked by
tests/dit3d_test.ts.

Usage:  /usr/bin/python3 scripts/make_dit3d_fixture.py      (needs PyTorch; CPU is enough)

The PyTorch twin of models/dit3d.ts, built from the DiT twin of scripts/make_dit_fixture.py
(embedders, blocks, final layer, parameter names) with what 3-D needs:
  * `x_embedder.proj`: Conv3d, kernel = stride = the (pd, ph, pw) patch; tokens in (d, h, w) order;
  * `pos_embed`: 3-D sin-cos, a third of the width per axis (d, then h, then w);
  * window attention in the blocks of WINDOW_BLOCKS, written here independently of the
    TypeScript code: the (gd, gh, gw) token grid zero-padded at the end of each axis to a multiple
    of the window, cut into windows, softmax attention inside each window with padded tokens
    masked out as keys, windows put back and the padding cropped;
  * unpatchify (B, T, pd*ph*pw*c) -> (B, c, D, H, W);
  * the MLPs' GELU exact (DiT-3D's and the MRI seed's; DiT's own twin uses the tanh form).
Tiny config: input (4, 4, 6), patch (2, 1, 2) -> grid (2, 4, 3), 2 channels, hidden 24, depth 2,
2 heads, 2 classes, window (2, 3, 2) (padding on h and w) in block 1. Every parameter random
(pos_embed keeps its sin-cos values). The safetensors file holds the state dict, "input.x"
(2, 2, 4, 4, 6), "input.t", "input.labels" (the second the null class 2), "input.grad_weights"
R, and, in float64 from the float32 weights, "expected.out" and the gradients of sum(out * R)
with respect to the input and to the parameters listed in dit3d.json's "grad_params".
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_dit_fixture import (  # noqa: E402
    Attention,
    DiTBlock,
    FinalLayer,
    LabelEmbedder,
    TimestepEmbedder,
    randomise_parameters,
    sincos_1d,
)
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402

TINY = dict(input_size=[4, 4, 6], patch_size=[2, 1, 2], in_channels=2, hidden_size=24, depth=2, num_heads=2,
            mlp_ratio=4.0, num_classes=2, window_size=[2, 3, 2], window_blocks=[1])
GRAD_PARAMS = [
    "x_embedder.proj.weight",
    "blocks.0.attn.qkv.weight",
    "blocks.1.attn.qkv.weight",
    "blocks.1.attn.proj.bias",
    "blocks.1.mlp.fc2.weight",
    "final_layer.linear.weight",
    "y_embedder.embedding_table.weight",
]


def sincos_3d(embed_dim, grid):
    gd, gh, gw = grid
    d, h, w = np.meshgrid(np.arange(gd), np.arange(gh), np.arange(gw), indexing="ij")
    return np.concatenate([sincos_1d(embed_dim // 3, a.reshape(-1).astype(np.float64)) for a in (d, h, w)], axis=1)


class WindowAttention(Attention):
    def __init__(self, dim, num_heads, grid, window):
        super().__init__(dim, num_heads)
        self.grid, self.window = grid, window

    def forward(self, x):
        B, N, C = x.shape
        (gd, gh, gw), (wd, wh, ww) = self.grid, self.window
        pads = [(-s) % w for s, w in zip(self.grid, self.window)]
        g = F.pad(x.reshape(B, gd, gh, gw, C), (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        real = F.pad(torch.ones(1, gd, gh, gw, 1, dtype=torch.bool), (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        nd, nh, nw = (gd + pads[0]) // wd, (gh + pads[1]) // wh, (gw + pads[2]) // ww

        def windows(t):
            t = t.reshape(t.shape[0], nd, wd, nh, wh, nw, ww, t.shape[-1]).permute(0, 1, 3, 5, 2, 4, 6, 7)
            return t.reshape(t.shape[0], nd * nh * nw, wd * wh * ww, t.shape[-1])

        xw, keep = windows(g), windows(real)[..., 0]  # (B, nW, L, C), (1, nW, L)
        L = wd * wh * ww
        qkv = self.qkv(xw).reshape(B, -1, L, 3, self.num_heads, self.head_dim).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)  # (B, nW, H, L, hd)
        s = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1)
        s = s.masked_fill(~keep[:, :, None, None, :], float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(2, 3).reshape(B, -1, L, C)
        o = self.proj(o).reshape(B, nd, nh, nw, wd, wh, ww, C).permute(0, 1, 4, 2, 5, 3, 6, 7)
        o = o.reshape(B, nd * wd, nh * wh, nw * ww, C)[:, :gd, :gh, :gw]
        return o.reshape(B, N, C)


class DiT3D(nn.Module):
    def __init__(self, input_size, patch_size, in_channels, hidden_size, depth, num_heads, mlp_ratio, num_classes,
                 window_size, window_blocks):
        super().__init__()
        self.out_channels, self.patch_size, self.num_classes = in_channels, patch_size, num_classes
        self.grid = [s // p for s, p in zip(input_size, patch_size)]
        self.x_embedder = nn.Module()
        self.x_embedder.proj = nn.Conv3d(in_channels, hidden_size, patch_size, stride=patch_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size)
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_3d(hidden_size, self.grid)).float().unsqueeze(0),
                                      requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        for block in self.blocks:
            block.mlp.act = nn.GELU()  # exact, as DiT-3D's and the MRI seed's MLPs
        for i in window_blocks:
            self.blocks[i].attn = WindowAttention(hidden_size, num_heads, self.grid, window_size)
        self.final_layer = FinalLayer(hidden_size, 1, math.prod(patch_size) * in_channels)

    def unpatchify(self, x):
        (gd, gh, gw), (pd, ph, pw), c = self.grid, self.patch_size, self.out_channels
        x = x.reshape(x.shape[0], gd, gh, gw, pd, ph, pw, c)
        x = torch.einsum("ndhwpqrc->ncdphqwr", x)
        return x.reshape(x.shape[0], c, gd * pd, gh * ph, gw * pw)

    def forward(self, x, t, y):
        h = self.x_embedder.proj(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder(t, x.dtype) + self.y_embedder(y)
        for block in self.blocks:
            h = block(h, c)
        return self.unpatchify(self.final_layer(h, c))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = DiT3D(**TINY)
    randomise_parameters(net)
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    x = torch.randn(2, 2, 4, 4, 6)
    t = torch.tensor([17, 901], dtype=torch.int32)
    labels = torch.tensor([1, 2], dtype=torch.int32)
    r = torch.randn(2, 2, 4, 4, 6)
    n64 = net.double()
    x64 = x.double().requires_grad_(True)
    y = n64(x64, t, labels)
    (y * r.double()).sum().backward()
    params = dict(n64.named_parameters())
    tensors = dict(state)
    tensors.update({"input.x": x, "input.t": t, "input.labels": labels, "input.grad_weights": r,
                    "expected.out": y.detach().float(), "grad.input.x": x64.grad.float()})
    for name in GRAD_PARAMS:
        tensors[f"grad.{name}"] = params[name].grad.float()
    write_safetensors(os.path.join(OUT, "dit3d_tiny.safetensors"), tensors, {"format": "pt", "torch": torch.__version__})
    with open(os.path.join(OUT, "dit3d.json"), "w") as f:
        json.dump({"torch": torch.__version__, "tiny": {"config": TINY, "keys": keys}, "grad_params": GRAD_PARAMS}, f,
                  separators=(",", ":"))
    print(f"{len(keys)} keys, output |max| {y.abs().max().item():.4f}")


if __name__ == "__main__":
    main()
