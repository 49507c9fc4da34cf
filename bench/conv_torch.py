"""PyTorch peer of bench/conv_bench.ts: conv2d at batch 64, 64→64 channels, 28×28, 3×3,
padding 1, forward and forward+backward; on the CPU with 2 threads, or on CUDA in fp32.
Run: /usr/bin/python3 bench/conv_torch.py [--device cpu|cuda] [--batch 64] [--reps 5]"""
import argparse

import torch
import torch.nn.functional as F

from _torch_timing import add_device_arg, describe, figure, label, setup, time_ms

ap = argparse.ArgumentParser()
add_device_arg(ap)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
dev, sync = setup(args.device)
N, C, O, HW, K = args.batch, 64, 64, 28, 3
FLOPS = 2 * N * O * HW * HW * C * K * K
x = torch.randn(N, C, HW, HW, device=dev, requires_grad=True)
w = (torch.randn(O, C, K, K, device=dev) * 0.05).requires_grad_()
b = torch.randn(O, device=dev, requires_grad=True)


def fwd():
    with torch.no_grad():
        F.conv2d(x, w, b, padding=1)


def fwd_bwd():
    y = F.conv2d(x, w, b, padding=1)
    y.backward(y)
    x.grad = w.grad = b.grad = None


ms_f, ms_fb = min(time_ms(fwd, args.reps, sync)), min(time_ms(fwd_bwd, args.reps, sync))
figure(args.device, f"conv2d forward (batch {N})", ms_f)
figure(args.device, f"conv2d forward+backward (batch {N})", ms_fb)
print(describe(args.device))
print(f"| {label(args.device)} forward | {ms_f:.1f} | {FLOPS / ms_f / 1e6:.1f} |")
print(f"| {label(args.device)} forward+backward | {ms_fb:.1f} | {3 * FLOPS / ms_fb / 1e6:.1f} |")
