"""Reference values for the generation metrics (metrics/frechet.ts, kid.ts, manifold.ts).

Computed with NumPy/SciPy the way the reference implementations do: the Fréchet distance as
pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of the covariance product), the
unbiased polynomial MMD² as in Bińkowski et al. / torch-fidelity, and precision/recall,
density/coverage as clovaai/generative-evaluation-prdc (Euclidean distances, k-th neighbour
radii with the point itself excluded, strict comparisons).

Run: python3 scripts/make_generation_metrics_fixtures.py  (writes tests/fixtures/generation_metrics.json)
"""
import json
import pathlib

import numpy as np
from scipy import linalg


def frechet(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd2(x, y):
    d = x.shape[1]
    k = lambda p, q: (p @ q.T / d + 1) ** 3
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.sum() / (m * n))


def pairwise(a, b):
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0))


def radii(x, k):
    d = pairwise(x, x)
    return np.partition(d, k, axis=-1)[:, k]  # index 0 is the point itself


def prdc(real, fake, k):
    rr, fr = radii(real, k), radii(fake, k)
    d = pairwise(real, fake)
    precision = (d < rr[:, None]).any(axis=0).mean()
    recall = (d < fr[None, :]).any(axis=1).mean()
    density = (1.0 / k) * (d < rr[:, None]).sum(axis=0).mean()
    coverage = (d.min(axis=1) < rr).mean()
    return dict(precision=float(precision), recall=float(recall), density=float(density), coverage=float(coverage))


rng = np.random.default_rng(1234)
real = rng.normal(size=(60, 8))
fake = rng.normal(size=(50, 8)) * 1.3 + 0.4
few = rng.normal(size=(5, 8))  # fewer vectors than features: a singular covariance
out = {
    "real": real.tolist(),
    "fake": fake.tolist(),
    "few": few.tolist(),
    "frechet": frechet(real, fake),
    "frechet_few": frechet(few, fake),
    "mmd2": mmd2(real, fake),
    "mmd2_same_set_halves": mmd2(real[:30], real[30:]),
    "k3": prdc(real, fake, 3),
    "k5": prdc(real, fake, 5),
}
path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "generation_metrics.json"
path.write_text(json.dumps(out, indent=None) + "\n")
print(path, {k: v for k, v in out.items() if k not in ("real", "fake", "few")})
