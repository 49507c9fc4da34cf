"""PyTorch CPU peer of bench/unet_bench.ts: one DDPM U-Net training step with the same network
(the PyTorch twin of models/unet.ts from scripts/make_unet_fixture.py, its "bench" config:
base 32 channels, multipliers 1/2/4, 2 residual blocks per level, attention at 7x7, one head,
5 classes, 3,941,315 parameters), input 64x3x28x28, int timesteps and class labels, AdamW:
forward, MSE against a fixed noise target, backward, optimizer step. 2 threads.

Run: /usr/bin/python3 bench/unet_step_torch.py [--reps 5] [--batch 64]"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

from _torch_timing import row, time_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_unet_fixture import BENCH, UNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    N, C, HW = args.batch, 3, 28
    net = UNet(**BENCH).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randn(N, C, HW, HW)
    eps = torch.randn(N, C, HW, HW)
    t = torch.randint(0, 1000, (N,), dtype=torch.int32)
    labels = torch.randint(0, BENCH["num_classes"], (N,), dtype=torch.int32)

    def step():
        loss = F.mse_loss(net(x, t, labels), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def forward():
        return F.mse_loss(net(x, t, labels), eps).item()

    times = time_ms(step, args.reps)
    fwd = time_ms(forward, args.reps)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n_params} parameters")
    print(row(f"PyTorch CPU U-Net train step (batch {N}, {HW}x{HW})", times))
    print(row("PyTorch CPU U-Net forward + loss (training mode)", fwd))


if __name__ == "__main__":
    main()
