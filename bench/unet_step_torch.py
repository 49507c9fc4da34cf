"""PyTorch peer of bench/unet_bench.ts: one DDPM U-Net training step with the same network
(the PyTorch twin of models/unet.ts from scripts/make_unet_fixture.py, its "bench" config:
base 32 channels, multipliers 1/2/4, 2 residual blocks per level, attention at 7x7, one head,
5 classes, 3,941,315 parameters), input 64x3x28x28, int timesteps and class labels, AdamW:
forward, MSE against a fixed noise target, backward, optimizer step. On the CPU with 2 threads,
or on CUDA in fp32 (TF32 off).

Run: /usr/bin/python3 bench/unet_step_torch.py [--reps 5] [--batch 64] [--device cpu|cuda]"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

from _torch_timing import add_device_arg, describe, figure, label, row, setup, time_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_unet_fixture import BENCH, UNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    add_device_arg(ap)
    args = ap.parse_args()
    dev, sync = setup(args.device)
    torch.manual_seed(0)
    N, C, HW = args.batch, 3, 28
    net = UNet(**BENCH).train().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randn(N, C, HW, HW).to(dev)
    eps = torch.randn(N, C, HW, HW).to(dev)
    t = torch.randint(0, 1000, (N,), dtype=torch.int32).to(dev)
    labels = torch.randint(0, BENCH["num_classes"], (N,), dtype=torch.int32).to(dev)

    def step():
        loss = F.mse_loss(net(x, t, labels), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def forward():
        return F.mse_loss(net(x, t, labels), eps).item()

    times = time_ms(step, args.reps, sync)
    fwd = time_ms(forward, args.reps, sync)
    figure(args.device, f"U-Net train step (batch {N})", min(times))
    figure(args.device, f"U-Net forward + loss (batch {N})", min(fwd))
    n_params = sum(p.numel() for p in net.parameters())
    print(f"{describe(args.device)}, {n_params} parameters")
    print(row(f"{label(args.device)} U-Net train step (batch {N}, {HW}x{HW})", times))
    print(row(f"{label(args.device)} U-Net forward + loss (training mode)", fwd))


if __name__ == "__main__":
    main()
