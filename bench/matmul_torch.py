"""PyTorch peer of bench/matmul_bench.ts: n×n · n×n float32 products at 256…2048; on the CPU with
2 threads, or on CUDA in fp32 (TF32 off). Each timed region runs the same number of products as
the meddiff bench (`matmulBatch` in bench/_common.ts: 32 at 256², 4 at 512², one from 1024²) and
then waits for the device; figures are per product.
Run: /usr/bin/python3 bench/matmul_torch.py [--device cpu|cuda] [--sizes 256,512,1024,2048] [--reps 5]"""
import argparse

import torch

from _torch_timing import add_device_arg, describe, figure, label, setup, time_ms


def batch(n):
    """Products per timed region, as bench/_common.ts's matmulBatch."""
    return max(1, min(32, int(2**30 / (2 * n**3) + 0.5)))


def main():
    ap = argparse.ArgumentParser()
    add_device_arg(ap)
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    dev, sync = setup(args.device)
    torch.manual_seed(0)
    print(describe(args.device))
    print(f"| n | {label(args.device)} ms per product | GFLOP/s |")
    print("|---|---|---|")
    for n in map(int, args.sizes.split(",")):
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
        k = batch(n)

        def run():
            for _ in range(k):
                torch.mm(a, b)

        ms = min(time_ms(run, args.reps, sync)) / k
        figure(args.device, f"matmul {n}² (per product)", ms)
        print(f"| {n} | {ms:.3f} | {2 * n**3 / ms / 1e6:.1f} |")


if __name__ == "__main__":
    main()
