"""PyTorch CPU peer of bench/sampling_bench.ts: 50 DDIM steps (eta 0, v-prediction,
squaredcos_cap_v2 betas, "leading" spacing) of the DDPM U-Net twin (scripts/make_unet_fixture.py,
"bench" config, 3,941,315 parameters) at batch 64 of 3x28x28, under torch.no_grad(), without
and with classifier-free guidance (scale 3, one batched pass of 2x64). 2 threads.

Run: /usr/bin/python3 bench/sampling_torch.py [--reps 2] [--batch 64] [--steps 50]"""
import argparse
import math
import os
import sys

import torch

from _torch_timing import row, time_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_unet_fixture import BENCH, UNet  # noqa: E402


def alphas_cumprod(T=1000):
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    betas = [min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    N, C, HW, K = args.batch, 3, 28, BENCH["num_classes"]
    net = UNet(**BENCH).eval()
    ac = alphas_cumprod()
    ratio = 1000 // args.steps
    timesteps = [i * ratio for i in range(args.steps)][::-1]
    labels = torch.arange(N, dtype=torch.int32) % K
    null = torch.full((N,), K, dtype=torch.int32)

    def sample(scale):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(N, C, HW, HW, generator=g)
        with torch.no_grad():
            for t in timesteps:
                tt = torch.full((N,), t, dtype=torch.int32)
                if scale is None:
                    v = net(x, tt, labels)
                else:
                    both = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
                    cond, unc = both[:N], both[N:]
                    v = unc + scale * (cond - unc)
                a, ap_ = ac[t], (ac[t - ratio] if t - ratio >= 0 else torch.tensor(1.0))
                x0 = a.sqrt() * x - (1 - a).sqrt() * v
                eps = a.sqrt() * v + (1 - a).sqrt() * x
                x = ap_.sqrt() * x0 + (1 - ap_).sqrt() * eps
        return x

    plain = time_ms(lambda: sample(None), args.reps)
    guided = time_ms(lambda: sample(3.0), max(1, args.reps - 1))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in net.parameters())} parameters")
    print(row(f"PyTorch CPU {args.steps} DDIM steps, U-Net, batch {N}", plain))
    print(row(f"PyTorch CPU {args.steps} DDIM steps with guidance 3 (2x{N} per pass)", guided))


if __name__ == "__main__":
    main()
