"""Writes tests/fixtures/schedulers.json: float64 references for samplers/ (schedules, timestep
lists, DDPM and DDIM steps).

An independent plain-NumPy transcription of the formulas of diffusers' DDPMScheduler and
DDIMScheduler (diffusers itself is not needed), with two deliberate differences:
  * the previous timestep is looked up in the timestep list (diffusers' DDPM does this; its DDIM
    uses t - T // n, which agrees for `leading` and `trailing` — asserted below — and differs for
    `linspace`, where the list is not evenly spaced);
  * `trailing` keeps exactly n timesteps: np.arange(T, 0, -T/n) sometimes yields n + 1 values
    (the last ~0, i.e. timestep -1) through float rounding; the first n are kept.

Run: /usr/bin/python3 scripts/make_scheduler_fixtures.py   (NumPy only)
"""
import json
import math
import os

import numpy as np

T = 1000
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "schedulers.json")


def betas_for(schedule, n=T, beta_start=1e-4, beta_end=0.02):
    if schedule == "linear":
        return np.linspace(beta_start, beta_end, n, dtype=np.float64)
    if schedule == "scaled_linear":
        return np.linspace(beta_start**0.5, beta_end**0.5, n, dtype=np.float64) ** 2
    if schedule == "squaredcos_cap_v2":
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)], dtype=np.float64)
    raise ValueError(schedule)


def timesteps_for(spacing, n, offset=0, t_train=T):
    if spacing == "linspace":
        ts = np.linspace(0, t_train - 1, n).round()[::-1].copy().astype(np.int64)
    elif spacing == "leading":
        ratio = t_train // n
        ts = (np.arange(0, n) * ratio).round()[::-1].copy().astype(np.int64) + offset
    elif spacing == "trailing":
        ratio = t_train / n
        ts = (np.round(np.arange(t_train, 0, -ratio)).astype(np.int64) - 1)[:n]
    else:
        raise ValueError(spacing)
    return ts


def prev_of(ts, t):
    i = int(np.nonzero(ts == t)[0][0])
    return int(ts[i + 1]) if i + 1 < len(ts) else -1


def split_prediction(pred_type, model_output, sample, a_t):
    b_t = 1 - a_t
    if pred_type == "epsilon":
        x0 = (sample - b_t**0.5 * model_output) / a_t**0.5
        eps = model_output
    elif pred_type == "sample":
        x0 = model_output
        eps = (sample - a_t**0.5 * x0) / b_t**0.5
    elif pred_type == "v_prediction":
        x0 = a_t**0.5 * sample - b_t**0.5 * model_output
        eps = a_t**0.5 * model_output + b_t**0.5 * sample
    else:
        raise ValueError(pred_type)
    return x0, eps


def ddim_step(cfg, ts, model_output, t, sample, eta, noise):
    ac = np.cumprod(1 - betas_for(cfg["betaSchedule"]))
    prev = prev_of(ts, t)
    if cfg["timestepSpacing"] != "linspace":
        assert prev == t - T // len(ts) or (prev == -1 and t - T // len(ts) < 0)
    final = 1.0 if cfg["setAlphaToOne"] else ac[0]
    a_t = ac[t]
    a_prev = ac[prev] if prev >= 0 else final
    b_t = 1 - a_t
    x0, eps = split_prediction(cfg["predictionType"], model_output, sample, a_t)
    if cfg["clipSample"]:
        x0 = np.clip(x0, -cfg["clipSampleRange"], cfg["clipSampleRange"])
    variance = (1 - a_prev) / b_t * (1 - a_t / a_prev)
    std = eta * variance**0.5
    direction = (1 - a_prev - std**2) ** 0.5 * eps
    prev_sample = a_prev**0.5 * x0 + direction
    if eta > 0:
        prev_sample = prev_sample + std * noise
    return prev_sample, x0


def ddpm_step(cfg, ts, model_output, t, sample, noise):
    ac = np.cumprod(1 - betas_for(cfg["betaSchedule"]))
    prev = prev_of(ts, t)
    a_t = ac[t]
    a_prev = ac[prev] if prev >= 0 else 1.0
    b_t, b_prev = 1 - a_t, 1 - a_prev
    cur_alpha = a_t / a_prev
    cur_beta = 1 - cur_alpha
    x0, _ = split_prediction(cfg["predictionType"], model_output, sample, a_t)
    if cfg["clipSample"]:
        x0 = np.clip(x0, -cfg["clipSampleRange"], cfg["clipSampleRange"])
    mean = (a_prev**0.5 * cur_beta / b_t) * x0 + (cur_alpha**0.5 * b_prev / b_t) * sample
    if t > 0:
        var = max((1 - a_prev) / (1 - a_t) * cur_beta, 1e-20)
        vt = cfg["varianceType"]
        if vt == "fixed_small":
            std = var**0.5
        elif vt == "fixed_small_log":
            std = math.exp(0.5 * math.log(var))
        elif vt == "fixed_large":
            std = cur_beta**0.5
        else:
            raise ValueError(vt)
        mean = mean + std * noise
    return mean, x0


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def main():
    rng = np.random.default_rng(6)
    out = {"T": T, "schedules": {}, "timesteps": [], "steps": []}
    for name, kw in [
        ("linear", {}),
        ("scaled_linear_sd", {"beta_start": 0.00085, "beta_end": 0.012}),
        ("squaredcos_cap_v2", {}),
    ]:
        b = betas_for(name.replace("_sd", ""), **kw)
        ac = np.cumprod(1 - b)
        prev = np.concatenate([[1.0], ac[:-1]])
        entry = {"alphas_cumprod": ac.tolist()}
        if name in ("linear", "squaredcos_cap_v2"):
            entry["posterior_variance"] = (b * (1 - prev) / (1 - ac)).tolist()
        out["schedules"][name] = entry

    for t_train in (1000, 50):
        for n in (1, 3, 7, 10, 48, 50, 61, 96, 250, 1000):
            if n > t_train:
                continue
            for spacing in ("leading", "trailing", "linspace"):
                for offset in ((0, 1) if spacing == "leading" else (0,)):
                    ts = timesteps_for(spacing, n, offset, t_train)
                    if offset and ts.max() >= t_train:
                        continue
                    out["timesteps"].append(
                        {"T": t_train, "n": n, "spacing": spacing, "stepsOffset": offset, "timesteps": ts.tolist()}
                    )

    shape = [2, 3]
    size = 6
    cases = []
    for pred in ("epsilon", "v_prediction", "sample"):
        for clip in (False, True):
            for spacing, n, ti in (("leading", 10, 1), ("trailing", 10, 9), ("linspace", 7, 3), ("leading", 10, 9)):
                for eta in (0.0, 0.7):
                    for alpha_one in (True, False):
                        if alpha_one is False and ti != 9 and spacing != "leading":
                            continue
                        cases.append(("ddim", pred, clip, spacing, n, ti, eta, alpha_one, None))
            for vt in ("fixed_small", "fixed_small_log", "fixed_large"):
                for n, ti in ((1000, 500), (20, 4), (20, 19)):
                    cases.append(("ddpm", pred, clip, "leading", n, ti, None, None, vt))
    for k, (kind, pred, clip, spacing, n, ti, eta, alpha_one, vt) in enumerate(cases):
        schedule = ("linear", "squaredcos_cap_v2", "scaled_linear")[k % 3]
        cfg = {
            "betaSchedule": schedule,
            "predictionType": pred,
            "clipSample": clip,
            "clipSampleRange": 1.5 if k % 2 else 1.0,
            "timestepSpacing": spacing,
        }
        if kind == "ddim":
            cfg["setAlphaToOne"] = alpha_one
        else:
            cfg["varianceType"] = vt
        ts = timesteps_for(spacing, n)
        t = int(ts[ti])
        sample = f32(rng.uniform(-2.5, 2.5, size))
        model_output = f32(rng.normal(0, 1, size))
        noise = f32(rng.normal(0, 1, size))
        if kind == "ddim":
            prev_sample, x0 = ddim_step(cfg, ts, model_output, t, sample, eta, noise)
        else:
            prev_sample, x0 = ddpm_step(cfg, ts, model_output, t, sample, noise)
        case = {
            "scheduler": kind,
            "config": cfg,
            "numInferenceSteps": n,
            "t": t,
            "shape": shape,
            "sample": sample.tolist(),
            "modelOutput": model_output.tolist(),
            "noise": noise.tolist(),
            "prevSample": prev_sample.tolist(),
            "predOriginalSample": x0.tolist(),
        }
        if kind == "ddim":
            case["eta"] = eta
        out["steps"].append(case)

    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {OUT}: {len(out['timesteps'])} timestep lists, {len(out['steps'])} step cases")


if __name__ == "__main__":
    main()
