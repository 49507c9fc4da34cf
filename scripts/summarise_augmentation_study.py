"""Summarises an augmentation study's classifier runs (their eval-test/metrics.json): per-seed values with 95 %
bootstrap intervals, mean ± sd per arm, and paired differences against the real-only arm.

    python3 scripts/summarise_augmentation_study.py <runs folder> <arm>=<description> ... > summary.txt

The first arm is the baseline the paired differences are taken against. Runs are found as
<runs folder>/study-<arm>-s<seed>-<timestamp> (the newest per arm and seed); seeds 0, 1, 2.
"""
import glob
import json
import os
import statistics as st
import sys

KEYS = ["accuracy", "macro_f1", "auroc"]


def main(root, specs):
    arms = [s.split("=", 1) for s in specs]
    rows, lines = {}, []
    for arm, desc in arms:
        vals, per = {k: [] for k in KEYS}, []
        for seed in [0, 1, 2]:
            runs = sorted(glob.glob(f"{root}/study-{arm}-s{seed}-*"))
            path = os.path.join(runs[-1], "eval-test", "metrics.json") if runs else None
            if not path or not os.path.exists(path):
                continue
            m = json.load(open(path))["metrics"]
            per.append((seed, {k: m[k] for k in KEYS}))
            for k in KEYS:
                vals[k].append(m[k]["value"])
        if not per:
            continue
        rows[arm] = vals
        for seed, m in per:
            lines.append(f"{arm} s{seed} " + " | ".join(
                f"{k} {m[k]['value']:.3f} ({m[k]['lower']:.3f}–{m[k]['upper']:.3f})" for k in KEYS))
        fmt = lambda v: f"{st.mean(v):.3f} ± {st.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
        lines.append(f"| {desc} | {len(per)} | " + " | ".join(
            f"{fmt(vals[k])} ({', '.join(f'{x:.3f}' for x in vals[k])})" for k in KEYS) + " |")
    base = arms[0][0]
    if base in rows:
        for arm, _ in arms[1:]:
            if arm not in rows:
                continue
            for k in KEYS:
                a, b = rows[base][k], rows[arm][k]
                diffs = [b[i] - a[i] for i in range(min(len(a), len(b)))]
                lines.append(f"paired diff {arm}-{base} {k}: " + ", ".join(f"{d:+.3f}" for d in diffs)
                             + (f"; mean {st.mean(diffs):+.3f}" if diffs else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
