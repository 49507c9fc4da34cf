"""PyTorch CPU peer of the DiffMIC-v2 denoiser benchmark: the PyTorch twin of models/diffmic.ts
(`DiffMicDenoiser` from scripts/make_diffmic_fixture.py) in the RetinaMNIST configuration:
5 classes, 6x6 label map (6 crops per image), feature dim 512, 1000 timesteps (1001 embedding rows),
images 3x28x28, crops 3x8x8, two ResNet-18 encoders (small-input stem, base width 64, [2, 2, 2, 2]),
guidance on (the denoiser sees [prior map, noisy map], 10 channels), batch 32. 2 threads.

  * training step: forward in training mode, diffusion focal loss (alpha 10, gamma 1) against a
    fixed noise target, backward, Adam step;
  * 10-step DDIM label inference: 10 eval-mode forwards under no_grad (the encoders run at every
    step, as upstream's sampler does) and the DDIM update (eta 0, diffusers' DDIMScheduler
    defaults: linear betas 1e-4..0.02, "leading" timesteps 900, 800, ..., 0, x0 clipped to +-1,
    alpha-bar 1 after the last step) on the (B, C, K, K) map;
  * the same inference with the image feature (both encoders, norms and the cond_weight fusion)
    computed once per batch: in eval mode it does not depend on the timestep, so only the label
    path (lin1..lin4) runs at each step.

Run: /usr/bin/python3 bench/diffmic_torch.py [--reps 5] [--batch 32]"""
import argparse
import os
import sys

import torch

from _torch_timing import row, time_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_diffmic_fixture import DiffMicDenoiser, diffusion_focal_loss  # noqa: E402

RETINA = dict(numClasses=5, numK=6, featureDim=512, timesteps=1000, inChannels=3, cropChannels=3,
              encoder=dict(arch="resnet18", smallInput=True, baseWidth=64, layers=[2, 2, 2, 2]), guidance=True)
IMAGE, CROP, DDIM_STEPS = 28, 8, 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    o = RETINA
    B, C, K, T = args.batch, o["numClasses"], o["numK"], o["timesteps"]
    net = DiffMicDenoiser(o["numClasses"], o["numK"], o["featureDim"], o["timesteps"], o["inChannels"],
                          o["cropChannels"], o["encoder"], o["guidance"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(B, o["inChannels"], IMAGE, IMAGE)
    crops = torch.randn(B * K, o["cropChannels"], CROP, CROP)
    prior_map = torch.rand(B, C, K, K)
    noisy = torch.randn(B, C, K, K)
    eps = torch.randn(B, C, K, K)
    t = torch.randint(0, T, (B * K * K,), dtype=torch.int32)
    prior = torch.randn(B, C)
    labels = torch.randint(0, C, (B,), dtype=torch.int32)

    def step():
        net.train()
        loss = diffusion_focal_loss(net(x, torch.cat([prior_map, noisy], 1), t, crops), eps, prior, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float32)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0).double()
    stride = T // DDIM_STEPS
    timesteps = [i * stride for i in reversed(range(DDIM_STEPS))]  # 900, 800, ..., 0

    def infer(feature_once=False):
        net.eval()
        y = torch.rand(B, C, K, K)
        with torch.no_grad():
            xw = net.image_feature(x, crops) if feature_once else None
            for ts in timesteps:
                yin, tt = torch.cat([prior_map, y], 1), torch.full((B * K * K,), ts, dtype=torch.int32)
                e = net.denoise(yin, tt, xw) if feature_once else net(x, yin, tt, crops)
                a_t = alphas_cumprod[ts].item()
                a_prev = alphas_cumprod[ts - stride].item() if ts - stride >= 0 else 1.0
                x0 = ((y - (1 - a_t) ** 0.5 * e) / a_t**0.5).clamp(-1, 1)
                y = a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * e
        return y.sum().item()

    train = time_ms(step, args.reps)
    inference = time_ms(infer, args.reps)
    inference_once = time_ms(lambda: infer(feature_once=True), args.reps)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n_params} parameters")
    print(row(f"PyTorch CPU DiffMIC denoiser train step (batch {B}, {IMAGE}x{IMAGE}, {K}x{K} map)", train))
    print(row(f"PyTorch CPU DiffMIC {DDIM_STEPS}-step DDIM label inference (batch {B})", inference))
    print(row(f"PyTorch CPU DiffMIC {DDIM_STEPS}-step DDIM label inference, image feature once (batch {B})",
              inference_once))


if __name__ == "__main__":
    main()
