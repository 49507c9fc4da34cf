#!/usr/bin/env python3
"""Reference SSIM / PSNR values for metrics/image_quality.ts (tests/image_quality_test.ts).

Usage:  python3 scripts/make_image_quality_fixture.py   (NumPy + SciPy)

SSIM as MONAI's SSIMMetric: a normalised Gaussian window (size 11 or the largest odd size that
fits the axis, sigma 1.5) built as the FULL outer product (not separably, unlike the TypeScript),
applied with scipy.ndimage.correlate and cropped to the valid region; C1 = (0.01 R)^2,
C2 = (0.03 R)^2; the map's mean. Inputs are formulas (nothing big is committed):
a[i] = 0.5 + 0.4 sin(0.37 i), b[i] = clip(a[i] + 0.15 sin(1.9 i + 0.3), 0, 1), row-major over the shape.
"""
import json
import os

import numpy as np
from scipy import ndimage

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "image_quality.json")


def inputs(shape):
    i = np.arange(np.prod(shape), dtype=np.float64)
    a = (0.5 + 0.4 * np.sin(0.37 * i)).astype(np.float32).astype(np.float64)
    b = np.clip(a + 0.15 * np.sin(1.9 * i + 0.3), 0, 1).astype(np.float32).astype(np.float64)
    return a.reshape(shape), b.reshape(shape)


def window(shape, size=11, sigma=1.5):
    ws = []
    for s in shape:
        k = min(size, s if s % 2 == 1 else s - 1)
        c = (k - 1) / 2
        g = np.exp(-((np.arange(k) - c) ** 2) / (2 * sigma ** 2))
        ws.append(g / g.sum())
    w = ws[0]
    for g in ws[1:]:
        w = np.multiply.outer(w, g)
    return w


def ssim(a, b, r=1.0):
    w = window(a.shape)
    half = [k // 2 for k in w.shape]
    valid = tuple(slice(h, s - (k - 1 - h)) for h, s, k in zip(half, a.shape, w.shape))
    f = lambda x: ndimage.correlate(x, w, mode="constant")[valid]
    mx, my = f(a), f(b)
    vx, vy, cov = f(a * a) - mx * mx, f(b * b) - my * my, f(a * b) - mx * my
    c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
    return float((((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())


def main():
    cases = []
    for shape in [(12, 10, 14), (6, 16, 9), (20, 24)]:
        a, b = inputs(shape)
        mse = ((a - b) ** 2).mean()
        cases.append({"shape": list(shape), "ssim": ssim(a, b), "ssim_self": ssim(a, a),
                      "psnr": float(10 * np.log10(1.0 / mse))})
    with open(OUT, "w") as f:
        json.dump({"cases": cases}, f, indent=1)
    print(cases)


if __name__ == "__main__":
    main()
