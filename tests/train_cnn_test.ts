/**
 * End to end: a small CNN learns a toy image task with AdamW.
 *
 * Task: 16×16 single-channel images holding one bright bar, 5 pixels long, at a random
 * position, in Gaussian noise (σ = 0.25); the class is the bar's orientation (horizontal,
 * vertical, diagonal ↘, diagonal ↙). 384 training and 128 held-out images from a seeded JS
 * generator.
 *
 * Net: conv 3×3 (1→8) → batchNorm → relu → maxPool 2 → conv 3×3 (8→16) → relu → global
 * average pool → linear (16→4), PyTorch's default initialisation, built from `Parameter`s and
 * the functional ops. Training: AdamW (lr 0.01, weight decay 1e-4), batch 32, 120 steps
 * (10 epochs), seed 0. Required: mean cross-entropy of the last epoch < 0.3, and held-out
 * accuracy ≥ 95 % in eval mode (batch norm with its running statistics).
 */
import {
  AdamW,
  adaptiveAvgPool2d,
  argmax,
  batchNorm,
  conv2d,
  crossEntropy,
  manualSeed,
  maxPool2d,
  noGrad,
  ones,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../mod.ts";
import { kaimingUniform_, uniform_ } from "../core/nn/init.ts";
import { Linear } from "../core/nn/linear.ts";
import { Module, Parameter } from "../core/nn/module.ts";
import { assert } from "./_asserts.ts";
import { gpuTest, rng, withFixedKernels } from "./_util.ts";

const HW = 16, CLASSES = 4, TRAIN = 384, TEST = 128, BATCH = 32, EPOCHS = 10;
const MAX_LOSS = 0.3, MIN_ACCURACY = 0.95;

/** `n` images with their labels (bar orientation), deterministic in `seed`. */
function makeBars(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const dirs = [[0, 1], [1, 0], [1, 1], [1, -1]]; // (dy, dx) per class
  const x = new Float32Array(n * HW * HW);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const img = x.subarray(i * HW * HW, (i + 1) * HW * HW);
    for (let p = 0; p < img.length; p++) img[p] = 0.25 * gauss();
    const c = Math.floor(r() * CLASSES);
    y[i] = c;
    const [dy, dx] = dirs[c];
    // A start point that keeps all 5 pixels inside the image.
    const y0 = 2 + Math.floor(r() * (HW - 4 - 4 * Math.max(dy, 0)));
    const x0 = (dx < 0 ? 6 : 2) + Math.floor(r() * (HW - 8));
    for (let k = 0; k < 5; k++) img[(y0 + k * dy) * HW + x0 + k * dx] += 1.5;
  }
  return { x, y };
}

/** A conv weight and bias initialised as PyTorch's Conv2d does. */
function convParams(out: number, inp: number, k: number): [Parameter, Parameter] {
  const w = new Parameter(zeros([out, inp, k, k]));
  kaimingUniform_(w, { a: Math.sqrt(5) });
  const b = new Parameter(zeros([out]));
  const bound = 1 / Math.sqrt(inp * k * k);
  uniform_(b, -bound, bound);
  return [w, b];
}

class SmallCnn extends Module {
  conv1Weight: Parameter;
  conv1Bias: Parameter;
  bnWeight: Parameter = new Parameter(ones([8]));
  bnBias: Parameter = new Parameter(zeros([8]));
  runningMean: Tensor;
  runningVar: Tensor;
  conv2Weight: Parameter;
  conv2Bias: Parameter;
  fc: Linear = new Linear(16, CLASSES);

  constructor() {
    super();
    [this.conv1Weight, this.conv1Bias] = convParams(8, 1, 3);
    [this.conv2Weight, this.conv2Bias] = convParams(16, 8, 3);
    this.runningMean = this.registerBuffer("runningMean", zeros([8]));
    this.runningVar = this.registerBuffer("runningVar", ones([8]));
  }

  override forward(x: Tensor): Tensor {
    let h = conv2d(x, this.conv1Weight, this.conv1Bias, { padding: 1 });
    h = batchNorm(h, this.runningMean, this.runningVar, this.bnWeight, this.bnBias, { training: this.training });
    h = maxPool2d(h.relu(), { kernelSize: 2 });
    h = conv2d(h, this.conv2Weight, this.conv2Bias, { padding: 1 }).relu();
    return this.fc.call(adaptiveAvgPool2d(h, 1).flatten(1));
  }
}

gpuTest("train: a small CNN learns bar orientation (loss < 0.3, held-out accuracy ≥ 95 %)", async () => {
  await withFixedKernels(trainAndEvaluate); // the same figures on every run
});

async function trainAndEvaluate(): Promise<void> {
  manualSeed(0);
  const train = makeBars(TRAIN, 1), test = makeBars(TEST, 2);
  const net = new SmallCnn();
  const opt = new AdamW(net.parameters(), { lr: 0.01, weightDecay: 1e-4 });
  const order = rng(3);
  const epochLoss: number[] = [];
  const t0 = performance.now();
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    // Seeded shuffle (Fisher–Yates).
    const idx = Array.from({ length: TRAIN }, (_, i) => i);
    for (let i = TRAIN - 1; i > 0; i--) {
      const j = Math.floor(order() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const losses: Tensor[] = [];
    for (let b = 0; b < TRAIN / BATCH; b++) {
      const pick = idx.slice(b * BATCH, (b + 1) * BATCH);
      const xb = new Float32Array(BATCH * HW * HW);
      pick.forEach((s, i) => xb.set(train.x.subarray(s * HW * HW, (s + 1) * HW * HW), i * HW * HW));
      const yb = Int32Array.from(pick, (s) => train.y[s]);
      losses.push(scope(() => {
        const loss = crossEntropy(net.call(tensor(xb, [BATCH, 1, HW, HW])), tensor(yb, [BATCH], { dtype: "int32" }));
        loss.backward();
        opt.step();
        opt.zeroGrad();
        return loss.detach();
      }));
    }
    // One readback per epoch (no per-step synchronisation).
    const values = await Promise.all(losses.map((l) => l.item()));
    for (const l of losses) l.dispose();
    epochLoss.push(values.reduce((a, v) => a + v, 0) / values.length);
  }
  const trainMs = performance.now() - t0;

  net.eval();
  const predicted = await scope(() => noGrad(() => argmax(net.call(tensor(test.x, [TEST, 1, HW, HW])), 1)).toArray());
  const accuracy = predicted.filter((p, i) => p === test.y[i]).length / TEST;
  const last = epochLoss[EPOCHS - 1];
  const summary = `epoch losses ${epochLoss.map((l) => l.toFixed(3)).join(" ")}; held-out accuracy ${
    (accuracy * 100).toFixed(1)
  } %; training took ${(trainMs / 1000).toFixed(1)} s`;
  console.log(summary);
  assert(last < MAX_LOSS, `last-epoch loss ${last} is not below ${MAX_LOSS} (${summary})`);
  assert(accuracy >= MIN_ACCURACY, `held-out accuracy ${accuracy} is below ${MIN_ACCURACY} (${summary})`);
  net.dispose();
  opt.dispose();
}
