#!/usr/bin/env python3
"""Generates tests/fixtures/diffmic_denoiser.json and tests/fixtures/diffmic_denoiser_{a,b}.safetensors,
checked by tests/diffmic_denoiser_test.ts.

Usage:  /usr/bin/python3 scripts/make_diffmic_fixture.py      (needs PyTorch; CPU is enough)

This file is the PyTorch twin of `DiffMicDenoiser` (models/diffmic.ts), written from the spec of
DiffMIC-v2's conditional denoiser ("ConditionalModel" in scott-yjyang/DiffMICv2, model.py), with
the same module tree, so state-dict keys, shapes and order are identical:

  encoder_x     image encoder: `encoder_x.backbone` = a torchvision-style ResNet without fc
                (conv1, bn1, layer1..layer4, BasicBlock for resnet18/34, Bottleneck for resnet50,
                stage widths baseWidth*(1, 2, 4, 8); smallInput: 3x3 stride-1 stem, no max-pool),
                then global average pool, flatten, `encoder_x.g` = Linear(8*baseWidth*expansion, f)
  norm          BatchNorm1d(f) on encoder_x's output
  encoder_x_l   the same architecture with cropChannels inputs, on the (B*K, cropCh, s, s) crops
  norm_l        BatchNorm1d(f)
  lin1          ConditionalConv2d(2C if guidance else C, f): lin = Conv2d 1x1 (bias),
                embed = Embedding(T+1, f); out = lin(y) * embed(t) laid out as (B, f, K, K)
                (t has B*K*K entries, batch-major, cell i*K + j)
  unetnorm1..3  BatchNorm2d(f);  lin2, lin3 = ConditionalConv2d(f, f);  lin4 = Conv2d(f, C, 1)
  cond_weight   Parameter (1, f, K+1)

  forward(x, y, t, crops):
    fl = norm_l(encoder_x_l(crops)).reshape(B, K, f).permute(0, 2, 1)       (B, f, K)
    fg = norm(encoder_x(x))                                                  (B, f)
    xw = (cat([fg[:, :, None], fl], -1) * softmax(cond_weight, 2)).sum(-1)   (B, f)
    y = softplus(unetnorm1(lin1(y, t))) * xw[:, :, None, None]
    y = softplus(unetnorm2(lin2(y, t)));  y = softplus(unetnorm3(lin3(y, t)))
    return lin4(y)                                                           (B, C, K, K)

Where the spec departs from the upstream repository (the twin follows the spec): upstream's global
encoder is an EfficientSAM ViT (`SamEncoder`, 1x1 conv head) and its ResNet encoder keeps the
backbone children under `f` (a Sequential, so keys are `f.0.weight`, ...) rather than `backbone`;
upstream feeds single-channel crops expanded to 3 channels; `cond_weight` is hard-coded (1, f, 7).

The loss is DiffMIC-v2's "diffusion focal loss": p = softmax(prior)[label],
w = 1 + alpha*(1 - p)**gamma, loss = mean(w[:, None, None, None] * (eps_pred - eps)**2).

Two cases, each with its own safetensors file (keys unprefixed = the state dict; the rest prefixed):
  a: C=3, K=3, f=8, T=10, images 3x8x8, crops 3x4x4, resnet18 smallInput, baseWidth 4,
     layers [1,1,1,1], guidance on, B=4.
  b: C=2, K=2, f=6, T=7, images 3x12x12, crops 1x8x8, resnet50 (Bottleneck) with the standard
     7x7 stride-2 stem and max-pool, baseWidth 1, layers [1,1,1,1], guidance off, B=3.
B is 4 and 3 rather than 2: with 2 samples a training-mode BatchNorm1d (`norm`) gives +-1 whatever
its input, so the gradients into encoder_x would be ~eps-sized noise and test nothing.

Weights: PyTorch's default init (embeddings uniform(0, 1) as upstream, cond_weight randn) with
batch-norm affines perturbed (weight 1 + 0.2 randn, bias 0.1 randn) and running stats set to
random values (mean 0.2 randn, var uniform(0.5, 1.5)), num_batches_tracked 3; all stored as F32
(num_batches_tracked I64). Each file also holds
  input.x (B, inCh, H, W) F32, input.y (B, Cin, K, K) F32, input.t (B*K*K,) I32 in [0, T],
  input.crops (B*K, cropCh, s, s) F32, input.prior (B, C) F32, input.labels (B,) I32,
  input.eps (B, C, K, K) F32,
  expected.out_eval   eval-mode output (running stats as stored),
  expected.out_train  training-mode output (batch statistics), from the stored state,
  expected.loss       () focal loss of out_train against input.eps (alpha 10, gamma 1),
  grad.<param>        d loss / d param in training mode: every parameter outside the two ResNet
                      backbones, plus the REPRESENTATIVE backbone ones (all is too big to commit),
  after.<bn buffer>   running_mean / running_var after that one training forward (momentum 0.1):
                      every batch norm outside the backbones, and (case a) the AFTER_BACKBONE ones.
All expectations are computed in float64 from the float32 values and stored as float32.
The unprefixed entries of each file are the state dict in PyTorch's order (keys, shapes, order).
diffmic_denoiser.json holds each case's options (the TypeScript names), batch and sizes, parameter
count, number of state-dict keys, and the loss as a float64 number.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_fixture import OUT, write_safetensors  # noqa: E402

REPRESENTATIVE = [
    "lin1.lin.weight", "lin1.lin.bias", "lin1.embed.weight", "lin2.embed.weight", "lin4.weight", "cond_weight",
    "unetnorm1.weight", "norm.weight", "encoder_x.g.weight", "encoder_x.backbone.conv1.weight",
    "encoder_x_l.backbone.layer4.0.conv2.weight", "norm_l.bias",
]

# Backbone batch norms whose running stats are stored (the others are left out to keep the file small).
AFTER_BACKBONE = ["encoder_x.backbone.bn1.", "encoder_x.backbone.layer4.0.downsample.1.",
                  "encoder_x_l.backbone.layer1.0.bn2.", "encoder_x_l.backbone.layer4.0.bn2."]


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


class Bottleneck(nn.Module):
    """torchvision's v1.5 Bottleneck (stride on the 3x3 conv), groups 1, width = planes."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


ARCHS = {"resnet18": (BasicBlock, (2, 2, 2, 2)), "resnet34": (BasicBlock, (3, 4, 6, 3)),
         "resnet50": (Bottleneck, (3, 4, 6, 3))}


class ResNetBackbone(nn.Module):
    """torchvision.models.ResNet without fc (and with an optional small-input stem)."""

    def __init__(self, arch, in_channels, small_input, base_width=64, layers=None):
        super().__init__()
        block, default_layers = ARCHS[arch]
        layers = layers or default_layers
        w = base_width
        self.inplanes = w
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, w, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, w, layers[0])
        self.layer2 = self._make_layer(block, 2 * w, layers[1], 2)
        self.layer3 = self._make_layer(block, 4 * w, layers[2], 2)
        self.layer4 = self._make_layer(block, 8 * w, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.out_features = 8 * w * block.expansion
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class ResNetEncoder(nn.Module):
    def __init__(self, feature_dim, in_channels, arch, small_input, base_width=64, layers=None):
        super().__init__()
        self.backbone = ResNetBackbone(arch, in_channels, small_input, base_width, layers)
        self.g = nn.Linear(self.backbone.out_features, feature_dim)

    def forward(self, x):
        return self.g(self.backbone(x))


class ConditionalConv2d(nn.Module):
    def __init__(self, num_in, num_out, n_steps):
        super().__init__()
        self.num_out = num_out
        self.lin = nn.Conv2d(num_in, num_out, kernel_size=1, stride=1)
        self.embed = nn.Embedding(n_steps, num_out)
        self.embed.weight.data.uniform_()

    def forward(self, x, t):
        out = self.lin(x)
        bz, dim, h, w = out.shape
        gamma = self.embed(t.long()).reshape(bz, h * w, dim).permute(0, 2, 1).reshape(bz, dim, h, w)
        return gamma * out


class DiffMicDenoiser(nn.Module):
    def __init__(self, num_classes, num_k, feature_dim, timesteps, in_channels, crop_channels, encoder,
                 guidance=True):
        super().__init__()
        C, K, f = num_classes, num_k, feature_dim
        enc = dict(arch=encoder["arch"], small_input=encoder["smallInput"],
                   base_width=encoder.get("baseWidth", 64), layers=encoder.get("layers"))
        self.num_k = K
        self.encoder_x = ResNetEncoder(f, in_channels, **enc)
        self.norm = nn.BatchNorm1d(f)
        self.encoder_x_l = ResNetEncoder(f, crop_channels, **enc)
        self.norm_l = nn.BatchNorm1d(f)
        self.lin1 = ConditionalConv2d(2 * C if guidance else C, f, timesteps + 1)
        self.unetnorm1 = nn.BatchNorm2d(f)
        self.lin2 = ConditionalConv2d(f, f, timesteps + 1)
        self.unetnorm2 = nn.BatchNorm2d(f)
        self.lin3 = ConditionalConv2d(f, f, timesteps + 1)
        self.unetnorm3 = nn.BatchNorm2d(f)
        self.lin4 = nn.Conv2d(f, C, kernel_size=1, stride=1)
        self.cond_weight = nn.Parameter(torch.randn(1, f, K + 1))

    def image_feature(self, x, crops):
        """The fused image feature xw (B, f); independent of the timestep."""
        B, K = x.shape[0], self.num_k
        fl = self.norm_l(self.encoder_x_l(crops))
        fl = fl.reshape(B, K, fl.shape[1]).permute(0, 2, 1)
        fg = self.norm(self.encoder_x(x))
        feats = torch.cat([fg.unsqueeze(-1), fl], dim=-1)
        return torch.sum(feats * torch.softmax(self.cond_weight, dim=2), dim=-1)

    def forward(self, x, y, t, crops):
        return self.denoise(y, t, self.image_feature(x, crops))

    def denoise(self, y, t, xw):
        """The label path, given the fused image feature."""
        y = F.softplus(self.unetnorm1(self.lin1(y, t)))
        y = xw[:, :, None, None] * y
        y = F.softplus(self.unetnorm2(self.lin2(y, t)))
        y = F.softplus(self.unetnorm3(self.lin3(y, t)))
        return self.lin4(y)


def diffusion_focal_loss(eps_pred, eps, prior, labels, alpha=10.0, gamma=1.0):
    p = torch.softmax(prior, dim=1).gather(1, labels.long()[:, None])[:, 0]
    w = 1 + alpha * (1 - p) ** gamma
    return (w[:, None, None, None] * (eps_pred - eps).square()).mean()


CASES = {
    "a": dict(options=dict(numClasses=3, numK=3, featureDim=8, timesteps=10, inChannels=3, cropChannels=3,
                           encoder=dict(arch="resnet18", smallInput=True, baseWidth=4, layers=[1, 1, 1, 1]),
                           guidance=True),
              batch=4, image=8, crop=4, seed=0),
    "b": dict(options=dict(numClasses=2, numK=2, featureDim=6, timesteps=7, inChannels=3, cropChannels=1,
                           encoder=dict(arch="resnet50", smallInput=False, baseWidth=1, layers=[1, 1, 1, 1]),
                           guidance=False),
              batch=3, image=12, crop=8, seed=1),
}


def make_net(o):
    return DiffMicDenoiser(o["numClasses"], o["numK"], o["featureDim"], o["timesteps"], o["inChannels"],
                           o["cropChannels"], o["encoder"], o["guidance"])


def build_case(name, spec):
    torch.manual_seed(spec["seed"])
    o = spec["options"]
    net = make_net(o)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.2 * torch.randn_like(m.running_mean))
                m.running_var.copy_(0.5 + torch.rand_like(m.running_var))
                m.num_batches_tracked.fill_(3)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    keys = [[k, list(v.shape)] for k, v in state.items()]

    B, C, K, T = spec["batch"], o["numClasses"], o["numK"], o["timesteps"]
    cin = 2 * C if o["guidance"] else C
    x = torch.randn(B, o["inChannels"], spec["image"], spec["image"])
    y = torch.randn(B, cin, K, K)
    t = torch.randint(0, T + 1, (B * K * K,), dtype=torch.int32)
    crops = torch.randn(B * K, o["cropChannels"], spec["crop"], spec["crop"])
    prior = 2 * torch.randn(B, C)
    labels = torch.randint(0, C, (B,), dtype=torch.int32)
    eps = torch.randn(B, C, K, K)

    net64 = net.double()
    net64.eval()
    with torch.no_grad():
        out_eval = net64(x.double(), y.double(), t, crops.double())
    net64.train()
    out_train = net64(x.double(), y.double(), t, crops.double())
    loss = diffusion_focal_loss(out_train, eps.double(), prior.double(), labels)
    loss.backward()

    tensors = dict(state)
    tensors.update({"input.x": x, "input.y": y, "input.t": t, "input.crops": crops, "input.prior": prior,
                    "input.labels": labels, "input.eps": eps, "expected.out_eval": out_eval.float(),
                    "expected.out_train": out_train.detach().float(), "expected.loss": loss.detach().float()})
    grads = {}
    for pname, p in net64.named_parameters():
        assert p.grad is not None, pname
        if ".backbone." not in pname or pname in REPRESENTATIVE:
            grads[pname] = p.grad
    assert all(r in grads for r in REPRESENTATIVE)
    tensors.update({f"grad.{k}": g.float() for k, g in grads.items()})
    after = {k: v for k, v in net64.state_dict().items() if k.endswith(("running_mean", "running_var"))
             and (".backbone." not in k or (name == "a" and any(k.startswith(b) for b in AFTER_BACKBONE)))}
    tensors.update({f"after.{k}": v.float() for k, v in after.items()})
    path = os.path.join(OUT, f"diffmic_denoiser_{name}.safetensors")
    write_safetensors(path, tensors, {"format": "pt", "torch": torch.__version__})
    n_params = sum(p.numel() for p in net.parameters())
    print(f"case {name}: {n_params} parameters, {len(keys)} keys, {len(grads)} gradients, "
          f"loss {loss.item():.6f}, |out_train| {out_train.abs().max().item():.3f}, "
          f"|out_eval| {out_eval.abs().max().item():.3f}, {os.path.getsize(path)} bytes")
    return {"options": o, "batch": B, "image_size": spec["image"], "crop_size": spec["crop"],
            "num_parameters": n_params, "num_keys": len(keys), "loss": loss.item()}


def main():
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "alpha": 10, "gamma": 1}
    for name, spec in CASES.items():
        out[name] = build_case(name, spec)
    with open(os.path.join(OUT, "diffmic_denoiser.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
