"""PyTorch CPU peer of bench/conv_bench.ts: conv2d at batch 64, 64→64 channels, 28×28, 3×3,
padding 1, forward and forward+backward, 2 threads. Run: /usr/bin/python3 bench/conv_torch.py"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
N, C, O, HW, K = 64, 64, 64, 28, 3
FLOPS = 2 * N * O * HW * HW * C * K * K
x = torch.randn(N, C, HW, HW, requires_grad=True)
w = (torch.randn(O, C, K, K) * 0.05).requires_grad_()
b = torch.randn(O, requires_grad=True)


def best(fn, reps=5):
    fn()
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t * 1e3


def fwd():
    with torch.no_grad():
        F.conv2d(x, w, b, padding=1)


def fwd_bwd():
    y = F.conv2d(x, w, b, padding=1)
    y.backward(y)
    x.grad = w.grad = b.grad = None


ms_f, ms_fb = best(fwd), best(fwd_bwd)
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
print(f"| PyTorch CPU forward | {ms_f:.1f} | {FLOPS / ms_f / 1e6:.1f} |")
print(f"| PyTorch CPU forward+backward | {ms_fb:.1f} | {3 * FLOPS / ms_fb / 1e6:.1f} |")
