"""PyTorch peer of bench/resnet_bench.ts: one full ResNet-18 training step (small-input
stem: 3x3 stride-1 conv, no max-pool), input 64x3x28x28, 10 classes, AdamW: forward,
cross-entropy, backward, optimizer step; then the training-mode forward + loss alone. On the CPU
with 2 threads, or on CUDA in fp32 (TF32 off). torchvision is not needed: the network is written
out with torch.nn as torchvision's resnet18 builds it.

Run: /usr/bin/python3 bench/resnet18_torch.py [--reps 5] [--stem small|imagenet] [--device cpu|cuda]
[--batch 64]
(--stem imagenet: torchvision's 7x7 stride-2 stem and max-pool, 16x fewer FLOPs at 28x28)"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from _torch_timing import add_device_arg, describe, figure, label, row, setup, time_ms


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10, small_input=True):
        super().__init__()
        # small-input stem: 3x3 stride 1, no max-pool; otherwise torchvision's 7x7 stride 2 + max-pool
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False) if small_input else nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.pool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(64)
        widths, layers, inp = [64, 128, 256, 512], [], 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(inp, w, stride), BasicBlock(w, w, 1)))
            inp = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--stem", choices=["small", "imagenet"], default="small")
    ap.add_argument("--batch", type=int, default=64)
    add_device_arg(ap)
    args = ap.parse_args()
    dev, sync = setup(args.device)
    torch.manual_seed(0)
    N, C, HW, K = args.batch, 3, 28, 10
    net = ResNet18(K, small_input=args.stem == "small").train().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(N, C, HW, HW).to(dev)
    y = torch.randint(0, K, (N,)).to(dev)

    def step():
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def forward():
        return F.cross_entropy(net(x), y).item()

    times = time_ms(step, args.reps, sync)
    fwd = time_ms(forward, args.reps, sync)
    if args.stem == "small":
        figure(args.device, f"ResNet-18 train step (batch {N})", min(times))
        figure(args.device, f"ResNet-18 forward + loss (batch {N})", min(fwd))
    n_params = sum(p.numel() for p in net.parameters())
    print(f"{describe(args.device)}, {n_params} parameters")
    print(row(f"{label(args.device)} ResNet-18 ({args.stem} stem) train step (batch {N}, {HW}x{HW})", times))
    print(row(f"{label(args.device)} ResNet-18 forward + loss (training mode)", fwd))


if __name__ == "__main__":
    main()
