#!/usr/bin/env python3
"""Generates tests/fixtures/unet_keys.json and tests/fixtures/unet_tiny.safetensors, checked by
tests/unet_test.ts.

Usage:  /usr/bin/python3 scripts/make_unet_fixture.py      (needs PyTorch; CPU is enough)

This file is the PyTorch twin of models/unet.ts: the same network with the same module tree,
so the state-dict keys, shapes and order are identical and weights move both ways through
safetensors. Its layout and names are those of diffusers' UNet2DModel (ResnetBlock2D,
Attention, Downsample2D, Upsample2D, DownBlock2D / AttnDownBlock2D, UpBlock2D / AttnUpBlock2D,
UNetMidBlock2D, Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0), TimestepEmbedding),
written out with torch.nn because diffusers is not installed. Where it departs from diffusers
(models/unet.ts documents the same):
  * GroupNorm group counts are capped per layer: the largest divisor of the channels that is
    <= num_groups (`norm_groups`); diffusers requires divisibility and then agrees;
  * the class embedding has num_classes + 1 rows; row num_classes is the null class (CFG);
  * each upsampler resamples (nearest) to the size of the skip connection it meets next: 2x
    for even sizes, and 4 -> 7 after an odd 7 -> 4 downsampling;
  * the sinusoid's frequencies are computed in float64 and rounded once to float32, and the
    arguments t * freq are formed in float32 (diffusers: torch.exp in float32, <= 1 ulp apart).

Outputs:
  * unet_keys.json:
      "bench":  the config of bench/unet_bench.ts (base 32, mults [1, 2, 4], 2 res blocks,
                attention at 7x7, 28x28x3, 5 classes): parameter count and [[key, shape], ...]
                in PyTorch's state-dict order;
      "large":  a 64x64 config (base 16, mults [1, 2, 2, 4], attention at 16x16, head dim 8,
                2 classes, 1 channel): count and keys;
      "tiny":   the config of unet_tiny.safetensors, its count and keys.
  * unet_tiny.safetensors: the tiny network's state dict (F32; PyTorch's default init with the
    GroupNorm affines perturbed so they matter), plus "input.x" (3, 2, 7, 7) F32, "input.t"
    (3,) I32, "input.labels" (3,) I32 (the last one is the null class) and "expected.out"
    (3, 3, 7, 7) F32: the eval-mode output computed in float64 from the float32 weights, and
    "expected.out_null" for the same input with every label the null class.
    The tiny config: in 2, out 3, base 8, mults [1, 2, 2], 1 res block, attention at 4x4
    (level 1 of 7 -> 4 -> 2) and in the mid block, head dim 4, num_groups 6 (so the cap gives
    4, 6 and 4 groups at 8, 24 and 16 channels), 3 classes, dropout 0.1 (inactive in eval).
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
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402


def norm_groups(channels, max_groups):
    for g in range(min(max_groups, channels), 1, -1):
        if channels % g == 0:
            return g
    return 1


def timestep_embedding(t, dim, flip_sin_to_cos=True, shift=0, max_period=10000, dtype=torch.float32):
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / (half - shift)).astype(np.float32)
    args = (t.float()[:, None] * torch.from_numpy(freqs).to(t.device)[None, :]).to(dtype)  # formed in float32
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels):
        super().__init__()
        self.num_channels = num_channels

    def forward(self, t, dtype):
        return timestep_embedding(t, self.num_channels, True, 0, dtype=dtype)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, in_ch, out_ch, temb_ch, groups, eps, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(norm_groups(in_ch, groups), in_ch, eps=eps)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_ch, out_ch)
        self.norm2 = nn.GroupNorm(norm_groups(out_ch, groups), out_ch, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.nonlinearity = nn.SiLU()
        self.conv_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x, temb):
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        h = h + self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        h = self.conv2(self.dropout(self.nonlinearity(self.norm2(h))))
        sc = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        return sc + h


class Attention(nn.Module):
    def __init__(self, channels, heads, groups, eps):
        super().__init__()
        self.heads = heads
        self.group_norm = nn.GroupNorm(norm_groups(channels, groups), channels, eps=eps)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])

    def forward(self, x):
        B, C, H, W = x.shape
        nh, hd = self.heads, C // self.heads
        h = self.group_norm(x).view(B, C, H * W).transpose(1, 2)

        def split(t):
            return t.view(B, H * W, nh, hd).transpose(1, 2)

        q, k, v = split(self.to_q(h)), split(self.to_k(h)), split(self.to_v(h))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        o = (w @ v).transpose(1, 2).reshape(B, H * W, C)
        o = self.to_out[1](self.to_out[0](o))
        return o.transpose(1, 2).reshape(B, C, H, W) + x


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class DownBlock2D(nn.Module):
    def __init__(self, in_ch, out_ch, temb_ch, num_layers, attention, downsample, heads_of, rargs):
        super().__init__()
        resnets, attentions = [], []
        for i in range(num_layers):
            resnets.append(ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb_ch, *rargs))
            if attention:
                attentions.append(Attention(out_ch, heads_of(out_ch), rargs[0], rargs[1]))
        self.attentions = nn.ModuleList(attentions) if attention else None
        self.resnets = nn.ModuleList(resnets)
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch)]) if downsample else None

    def forward(self, x, temb):
        skips = []
        for i, r in enumerate(self.resnets):
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpBlock2D(nn.Module):
    def __init__(self, prev_ch, out_ch, skip_chs, temb_ch, attention, upsample, heads_of, rargs):
        super().__init__()
        resnets, attentions = [], []
        for i, s in enumerate(skip_chs):
            resnets.append(ResnetBlock2D((prev_ch if i == 0 else out_ch) + s, out_ch, temb_ch, *rargs))
            if attention:
                attentions.append(Attention(out_ch, heads_of(out_ch), rargs[0], rargs[1]))
        self.attentions = nn.ModuleList(attentions) if attention else None
        self.resnets = nn.ModuleList(resnets)
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)]) if upsample else None

    def forward(self, x, skips, temb, size):
        for i, r in enumerate(self.resnets):
            x = r(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, size)
        return x


class UNetMidBlock2D(nn.Module):
    def __init__(self, ch, temb_ch, attention, heads_of, rargs):
        super().__init__()
        self.attentions = nn.ModuleList([Attention(ch, heads_of(ch), rargs[0], rargs[1])]) if attention else None
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, temb_ch, *rargs), ResnetBlock2D(ch, ch, temb_ch, *rargs)])

    def forward(self, x, temb):
        x = self.resnets[0](x, temb)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x, temb)


class UNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=None, base_channels=64, channel_mults=(1, 2, 4), num_res_blocks=2,
                 attention_resolutions=(), num_heads=None, head_dim=None, mid_attention=True, dropout=0.0,
                 num_classes=0, image_size=28, num_groups=32, norm_eps=1e-5):
        super().__init__()
        out_channels = out_channels or in_channels
        ch = [base_channels * m for m in channel_mults]
        L, temb = len(ch), 4 * base_channels
        sizes = [image_size]
        for _ in range(1, L):
            sizes.append(-(-sizes[-1] // 2))
        assert all(r in sizes for r in attention_resolutions), (attention_resolutions, sizes)

        def heads_of(c):
            return c // head_dim if head_dim is not None else (num_heads or 1)

        rargs = (num_groups, norm_eps, dropout)
        self.num_classes = num_classes
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0])
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.class_embedding = nn.Embedding(num_classes + 1, temb) if num_classes > 0 else None
        skip_ch = [ch[0]]
        down = []
        for i in range(L):
            last = i == L - 1
            down.append(DownBlock2D(ch[0] if i == 0 else ch[i - 1], ch[i], temb, num_res_blocks,
                                    sizes[i] in attention_resolutions, not last, heads_of, rargs))
            skip_ch += [ch[i]] * num_res_blocks + ([] if last else [ch[i]])
        self.down_blocks = nn.ModuleList(down)
        self.mid_block = UNetMidBlock2D(ch[-1], temb, mid_attention, heads_of, rargs)
        up, prev = [], ch[-1]
        for j in range(L):
            level = L - 1 - j
            skips = [skip_ch.pop() for _ in range(num_res_blocks + 1)]
            up.append(UpBlock2D(prev, ch[level], skips, temb, sizes[level] in attention_resolutions, level > 0,
                                heads_of, rargs))
            prev = ch[level]
        self.up_blocks = nn.ModuleList(up)
        self.conv_norm_out = nn.GroupNorm(norm_groups(ch[0], num_groups), ch[0], eps=norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], out_channels, 3, padding=1)

    def forward(self, x, t, class_labels=None):
        B = x.shape[0]
        t = t.expand(B) if t.numel() == 1 else t
        emb = self.time_embedding(self.time_proj(t, x.dtype))
        if self.class_embedding is not None:
            if class_labels is None:
                class_labels = torch.full((B,), self.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_embedding(class_labels.long())
        h = self.conv_in(x)
        skips = [h]
        for block in self.down_blocks:
            h, s = block(h, emb)
            skips += s
        h = self.mid_block(h, emb)
        for block in self.up_blocks:
            n = len(block.resnets)
            nxt = skips[-1 - n] if len(skips) > n else None
            size = tuple(nxt.shape[2:]) if block.upsamplers is not None else None
            h = block(h, skips, emb, size)
        assert not skips
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))


BENCH = dict(in_channels=3, base_channels=32, channel_mults=(1, 2, 4), num_res_blocks=2, attention_resolutions=(7,),
             num_classes=5, image_size=28)
LARGE = dict(in_channels=1, base_channels=16, channel_mults=(1, 2, 2, 4), num_res_blocks=2, attention_resolutions=(16,),
             head_dim=8, num_classes=2, image_size=64)
TINY = dict(in_channels=2, out_channels=3, base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=1,
            attention_resolutions=(4,), head_dim=4, num_groups=6, num_classes=3, dropout=0.1, image_size=7)


def describe(cfg):
    torch.manual_seed(0)
    net = UNet(**cfg)
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    return net, {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                 "num_parameters": sum(p.numel() for p in net.parameters()), "keys": keys}


def main():
    torch.set_num_threads(1)
    out = {"torch": torch.__version__}
    for name, cfg in [("bench", BENCH), ("large", LARGE)]:
        _, out[name] = describe(cfg)
    net, out["tiny"] = describe(TINY)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.GroupNorm):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
    net.eval()
    x = torch.randn(3, 2, 7, 7)
    t = torch.tensor([0, 137, 999], dtype=torch.int32)
    labels = torch.tensor([2, 0, 3], dtype=torch.int32)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        n64 = net.double()
        y = n64(x.double(), t, labels).float()
        y_null = n64(x.double(), t).float()
    tensors = dict(state)
    tensors.update({"input.x": x, "input.t": t, "input.labels": labels, "expected.out": y, "expected.out_null": y_null})
    write_safetensors(os.path.join(OUT, "unet_tiny.safetensors"), tensors, {"format": "pt", "torch": torch.__version__})
    with open(os.path.join(OUT, "unet_keys.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    for name in ("bench", "large", "tiny"):
        print(f"{name}: {out[name]['num_parameters']} parameters, {len(out[name]['keys'])} keys")
    print(f"tiny output |max| {y.abs().max().item():.4f}")


if __name__ == "__main__":
    main()
