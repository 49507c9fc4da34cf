# Summarises the study runs in /tmp/study2/runs (their eval-test/metrics.json) into summary.txt: per-seed values with 95 % bootstrap intervals, mean ± sd per arm, paired differences against the real-only arm.
import json, glob, os, statistics as st
arms = [("real", "55 real, 20 epochs (60 steps)"), ("syn05", "55 real + 28 synthetic (ratio 0.5), 12 epochs"), ("syn1", "55 real + 55 synthetic (ratio 1), 10 epochs"), ("syn2", "55 real + 110 synthetic (ratio 2), 6 epochs"), ("cas", "120 synthetic only (CAS), 9 epochs"), ("syn1e20", "55 real + 55 synthetic, 20 epochs (120 steps)")]
keys = ["accuracy", "macro_f1", "auroc"]
rows = {}
lines = []
for arm, desc in arms:
    vals = {k: [] for k in keys}; per = []
    for s in [0, 1, 2]:
        runs = sorted(glob.glob(f"/tmp/study2/runs/study-{arm}-s{s}-*"))
        if not runs: continue
        m = os.path.join(runs[-1], "eval-test", "metrics.json")
        if not os.path.exists(m): continue
        d = json.load(open(m))["metrics"]
        per.append((s, {k: d[k] for k in keys}))
        for k in keys: vals[k].append(d[k]["value"])
    if not per: continue
    rows[arm] = vals
    for s, d in per:
        lines.append(f"{arm} s{s} " + " | ".join(f"{k} {d[k]['value']:.3f} ({d[k]['lower']:.3f}–{d[k]['upper']:.3f})" for k in keys))
    n = len(per)
    def fmt(v): return f"{st.mean(v):.3f} ± {st.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
    lines.append(f"| {desc} | {n} | " + " | ".join(f"{fmt(vals[k])} ({', '.join(f'{x:.3f}' for x in vals[k])})" for k in keys) + " |")
if "real" in rows:
    for arm in ["syn05", "syn1", "syn2", "cas", "syn1e20"]:
        if arm in rows:
            for k in keys:
                a, b = rows["real"][k], rows[arm][k]
                m = min(len(a), len(b))
                diffs = [b[i] - a[i] for i in range(m)]
                lines.append(f"paired diff {arm}-real {k}: " + ", ".join(f"{d:+.3f}" for d in diffs) + (f"; mean {st.mean(diffs):+.3f}" if diffs else ""))
print("\n".join(lines))
