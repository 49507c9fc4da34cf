"""PyTorch CPU peer of bench/quantile_bench.ts: diffusers' dynamic thresholding of a batch of
64x3x28x28 predicted x0 (torch.quantile of |x0| per sample at 0.995, clamp, divide) and
torch.quantile of 4 rows of 262,144 at 0.995. 2 threads.

Run: /usr/bin/python3 bench/quantile_torch.py [--reps 10]"""
import argparse

import torch

from _torch_timing import row, time_ms


def threshold(x0, ratio=0.995, max_value=1.0):
    flat = x0.reshape(x0.shape[0], -1)
    s = torch.quantile(flat.abs(), ratio, dim=1).clamp(min=1, max=max_value).unsqueeze(1)
    return (torch.clamp(flat, -s, s) / s).reshape(x0.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    images = torch.randn(64, 3, 28, 28) * 1.5
    volumes = torch.randn(4, 64 * 64 * 64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(row("PyTorch CPU dynamic thresholding 64x3x28x28", time_ms(lambda: threshold(images), args.reps)))
    print(row("PyTorch CPU quantile 4 x 262144", time_ms(lambda: torch.quantile(volumes, 0.995, dim=1), args.reps)))


if __name__ == "__main__":
    main()
