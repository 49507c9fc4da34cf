"""Writes tests/fixtures/optim_torch.json: PyTorch's optimizer updates and lr schedules.

Run with the Debian torch (1.13): /usr/bin/python3 scripts/make_optim_fixture.py
A fixed problem: two parameters (shapes [2, 3] and [4]) and a fixed sequence of three
gradients; for each optimizer config the parameters after each step are recorded. For each
scheduler the lr (and, for OneCycleLR, the momentum) after construction and after each of 30
steps.
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float32)

P0 = [[0.5, -1.25, 2.0], [0.75, -0.3, 1.5]]
P1 = [0.1, -0.2, 3.0, -4.0]
# Large, medium, then tiny gradients so AMSGrad's running maximum matters.
GRADS = [
    ([[0.3, -0.6, 0.9], [-1.2, 0.45, 0.05]], [1.0, -2.0, 0.5, 0.25]),
    ([[-0.1, 0.2, 0.4], [0.3, -0.2, 0.1]], [0.5, 0.25, -0.75, 0.1]),
    ([[0.01, -0.02, 0.005], [0.02, 0.001, -0.03]], [-0.01, 0.02, 0.003, -0.004]),
]

OPTIMIZERS = {
    "sgd_plain": ("SGD", {"lr": 0.1}),
    "sgd_nesterov_wd": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    "sgd_dampening_maximize": ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.02,
                                       "maximize": True}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_wd_amsgrad": ("Adam", {"lr": 0.02, "betas": (0.8, 0.6), "eps": 1e-6, "weight_decay": 0.05,
                                 "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad_maximize": ("AdamW", {"lr": 0.03, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
}

CAMEL = {"weight_decay": "weightDecay"}


def run_optimizer(cls, kwargs):
    p0 = torch.tensor(P0, requires_grad=True)
    p1 = torch.tensor(P1, requires_grad=True)
    opt = getattr(torch.optim, cls)([p0, p1], **kwargs)
    steps = []
    for g0, g1 in GRADS:
        p0.grad = torch.tensor(g0)
        p1.grad = torch.tensor(g1)
        opt.step()
        steps.append([p0.detach().flatten().tolist(), p1.detach().flatten().tolist()])
    opts = {CAMEL.get(k, k): (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    return {"class": cls, "options": opts, "steps": steps}


def lambda_warmup_cosine(base, warmup, total, min_lr):
    def f(t):
        if t < warmup:
            return t / warmup
        p = min(1.0, (t - warmup) / max(1, total - warmup))
        return (min_lr + (base - min_lr) * (1 + math.cos(math.pi * p)) / 2) / base
    return f


SCHEDULERS = {
    "StepLR": ({"stepSize": 7, "gamma": 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    "CosineAnnealingLR": ({"tMax": 10, "etaMin": 0.001},
                          lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "CosineAnnealingWarmRestarts": (
        {"t0": 5, "tMult": 2, "etaMin": 0.001},
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001)),
    "CosineAnnealingWarmRestarts_tMult1": (
        {"t0": 7, "tMult": 1},
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=1)),
    "OneCycleLR": ({"maxLr": 0.5, "totalSteps": 30},
                   lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=30)),
    "OneCycleLR_linear_threePhase": (
        {"maxLr": 0.4, "totalSteps": 30, "pctStart": 0.25, "annealStrategy": "linear", "threePhase": True,
         "divFactor": 10, "finalDivFactor": 100},
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=30, pct_start=0.25,
                                                      anneal_strategy="linear", three_phase=True, div_factor=10,
                                                      final_div_factor=100)),
    "LinearWarmupCosine": ({"warmupSteps": 5, "totalSteps": 25, "minLr": 0.001},
                           lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda_warmup_cosine(0.1, 5, 25, 0.001))),
}


def run_scheduler(make):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = make(opt)
    lrs = [sched.get_last_lr()[0]]
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(30):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    return lrs, momenta


def main():
    out = {
        "torch": torch.__version__,
        "params": [P0, P1],
        "grads": [[g0, g1] for g0, g1 in GRADS],
        "optimizers": {name: run_optimizer(cls, kw) for name, (cls, kw) in OPTIMIZERS.items()},
        "schedulers": {},
    }
    for name, (opts, make) in SCHEDULERS.items():
        lrs, momenta = run_scheduler(make)
        entry = {"options": opts, "lrs": lrs}
        if name.startswith("OneCycleLR"):
            entry["momenta"] = momenta
        out["schedulers"][name] = entry
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "optim_torch.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
