/**
 * DiffMIC-v2's pieces against hand-computed cases and float64 references: the guided prior map,
 * the tiled label map and its cell order, the focal weight and loss, per-cell noising, DDIM
 * label denoising with an oracle ε (recovers the label map), the per-cell ConditionalConv2d, and
 * the DCG's gated attention and forward contract (with its pooled trunk features).
 */
import { noGrad } from "../core/autograd.ts";
import { tensor } from "../core/ops/creation.ts";
import { narrow } from "../core/ops/view.ts";
import { Generator, manualSeed } from "../core/ops/random.ts";
import { roiSelect } from "../core/ops/roi.ts";
import { scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import { Dcg } from "../models/dcg.ts";
import type { ResNet } from "../models/resnet.ts";
import { ConditionalConv2d } from "../models/diffmic.ts";
import { DDIMScheduler } from "../samplers/ddim.ts";
import {
  cellsToMap,
  diffusionFocalLoss,
  focalWeights,
  guidedPriorMap,
  labelMap,
  mapToCells,
  noiseLabelMap,
  sampleLabelMap,
} from "../samplers/label_diffusion.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, gradCheck } from "./_util.ts";

gpuTest("guidedPriorMap: (1 − d)·global + d·local with d = |i − j|/(K − 1); gradients", async () => {
  const m = guidedPriorMap(tensor([[1, 2]]), tensor([[3, 6]]), 3);
  assertEquals(m.shape, [1, 2, 3, 3]);
  // class 0: 1 + 2d, class 1: 2 + 4d; d = [[0, .5, 1], [.5, 0, .5], [1, .5, 0]]
  assertEquals(await m.toArray(), [1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 4, 6, 4, 2, 4, 6, 4, 2]);
  const single = guidedPriorMap(tensor([[5]]), tensor([[7]]), 1);
  assertEquals(await single.toArray(), [5]); // K = 1: the global prediction only
  await gradCheck(
    "guidedPriorMap",
    [{ shape: [2, 3] }, { shape: [2, 3] }],
    (g, l) => guidedPriorMap(g, l, 4),
    (g, l) => {
      const out = new Float64Array(2 * 3 * 16);
      for (let b = 0; b < 2; b++) {
        for (let c = 0; c < 3; c++) {
          for (let i = 0; i < 4; i++) {
            for (let j = 0; j < 4; j++) {
              const d = Math.abs(i - j) / 3;
              out[((b * 3 + c) * 4 + i) * 4 + j] = (1 - d) * g[b * 3 + c] + d * l[b * 3 + c];
            }
          }
        }
      }
      return out;
    },
  );
  assertThrows(() => guidedPriorMap(tensor([[1, 2]]), tensor([[1, 2, 3]]), 3), RangeError, "yGlobal and yLocal");
  assertThrows(() => guidedPriorMap(tensor([[1]]), tensor([[1]]), 0), RangeError, "K must be");
});

gpuTest("labelMap tiles the one-hot label; mapToCells / cellsToMap use row-major cells per image", async () => {
  const y = labelMap(tensor(new Int32Array([2, 0])), 3, 2);
  assertEquals(y.shape, [2, 3, 2, 2]);
  assertEquals(await y.toArray(), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const vals = Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const map = tensor(vals, [2, 3, 2, 2]);
  const cells = mapToCells(map);
  assertEquals(cells.shape, [8, 3]);
  // Row b·4 + i·2 + j holds map[b, :, i, j].
  const c = await cells.toArray();
  assertEquals(c.slice(0, 3), [0, 4, 8]);
  assertEquals(c.slice(3 * 5, 3 * 6), [12 + 1, 12 + 5, 12 + 9]); // image 1, cell (0, 1)
  assertEquals(await cellsToMap(cells, 2, 2).toArray(), vals);
});

gpuTest("focal weight 1 + α(1 − p_y)^γ by hand; the loss and its gradient against float64", async () => {
  const logits = tensor([[0, 0], [Math.log(3), 0]]); // p = (.5, .5) and (.75, .25)
  const labels = tensor(new Int32Array([0, 1]));
  assertClose(await focalWeights(logits, labels).toArray(), [1 + 10 * 0.5, 1 + 10 * 0.75]);
  assertClose(await focalWeights(logits, labels, { alpha: 2, gamma: 2 }).toArray(), [1 + 2 * 0.25, 1 + 2 * 0.5625]);
  const w = [6, 8.5];
  const eps = Array.from({ length: 2 * 2 * 2 * 2 }, (_, i) => Math.sin(i + 1));
  await gradCheck(
    "diffusionFocalLoss",
    [{ shape: [2, 2, 2, 2] }],
    (p) => diffusionFocalLoss(p, tensor(eps, [2, 2, 2, 2]), logits, labels),
    (p) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) s += w[Math.floor(i / 8)] * (p[i] - Math.fround(eps[i])) ** 2;
      return [s / p.length];
    },
  );
});

gpuTest("noiseLabelMap noises every cell at its own timestep: y_t = √ᾱ_t·y0 + √(1 − ᾱ_t)·ε", async () => {
  const scheduler = new DDIMScheduler({ numTrainTimesteps: 1000 });
  const y0 = labelMap(tensor(new Int32Array([1, 0, 2])), 3, 4);
  const { noisy, noise, timesteps } = noiseLabelMap(scheduler, y0, new Generator(5));
  const [yt, e, t, x0] = await Promise.all([noisy.toArray(), noise.toArray(), timesteps.toArray(), y0.toArray()]);
  assertEquals(timesteps.shape, [3 * 16]);
  assertEquals(new Set(t).size > 20, true, "cells draw their own timesteps");
  const expected = yt.map((_, idx) => {
    const b = Math.floor(idx / 48), cell = idx % 16;
    const ab = scheduler.alphasCumprod[t[b * 16 + cell]];
    return Math.sqrt(ab) * x0[idx] + Math.sqrt(1 - ab) * e[idx];
  });
  assertClose(yt, expected, { atol: 1e-5 });
});

gpuTest("DDIM label denoising with an oracle ε recovers the label map exactly (both start noises)", async () => {
  const scheduler = new DDIMScheduler({ numTrainTimesteps: 1000 });
  const C = 4, K = 3, labels = new Int32Array([3, 0, 1, 2, 2]);
  await scope(async () => {
    const y0 = labelMap(tensor(labels), C, K);
    const prior = guidedPriorMap(
      tensor([[0.1, 0.2, 0.3, 0.4]]).expand([5, 4]),
      tensor([[1, 0, 0, 0]]).expand([5, 4]),
      K,
    );
    const ab = scheduler.alphasCumprod;
    // The true noise of y_t (the channels after the prior) for the clean map y0 at timestep `step`.
    const oracle = (yIn: Tensor, step: number) =>
      narrow(yIn, 1, C, C).sub(y0.mul(Math.sqrt(ab[step]))).div(Math.sqrt(1 - ab[step]));
    for (const start of ["uniform", "gaussian"] as const) {
      scheduler.setTimesteps(10);
      const ts = Array.from(scheduler.timesteps);
      let i = 0;
      const r = sampleLabelMap(
        (yIn, t) => {
          assertEquals(t.shape, [5 * K * K]);
          return oracle(yIn, ts[i++]);
        },
        scheduler,
        prior,
        { steps: 10, start, generator: new Generator(3), trajectory: true },
      );
      assertEquals(i, 10);
      assertClose(await r.map.toArray(), await y0.toArray(), { atol: 1e-4, msg: start });
      const probs = await r.trajectory!.at(-1)!.toArray();
      assertEquals(r.trajectory!.length, 11);
      for (let b = 0; b < 5; b++) {
        const row = probs.slice(b * C, b * C + C);
        assertEquals(row.indexOf(Math.max(...row)), labels[b]);
      }
      const logits = await r.logits.toArray();
      for (let b = 0; b < 5; b++) {
        assertClose(
          logits.slice(b * C, b * C + C),
          [0, 1, 2, 3].map((c) => +(c === labels[b])),
        );
      }
    }
  });
});

gpuTest("DDIM label denoising with an oracle x₀ (diffusion.prediction: sample) returns the label map", async () => {
  const scheduler = new DDIMScheduler({ numTrainTimesteps: 1000, predictionType: "sample" });
  const C = 3, K = 2, labels = new Int32Array([2, 0, 1]);
  await scope(async () => {
    const y0 = labelMap(tensor(labels), C, K);
    const prior = guidedPriorMap(tensor([[0.5, 0.2, 0.3]]).expand([3, 3]), tensor([[0, 1, 0]]).expand([3, 3]), K);
    let calls = 0;
    const r = sampleLabelMap(
      (yIn) => {
        calls++;
        assertEquals(yIn.shape, [3, 2 * C, K, K]); // [prior, y_t]
        return y0.clone(); // the model's output is read as x̂₀
      },
      scheduler,
      prior,
      { steps: 5, start: "uniform", generator: new Generator(1) },
    );
    assertEquals(calls, 5);
    // η = 0 and x̂₀ = y0 at every step: the last step (ᾱ_prev = 1) returns x̂₀ itself.
    assertClose(await r.map.toArray(), await y0.toArray(), { atol: 1e-6 });
  });
});

gpuTest("ConditionalConv2d scales a 1×1 conv by each cell's timestep embedding (by hand)", async () => {
  const m = new ConditionalConv2d(1, 2, 3);
  m.loadStateDict({
    "lin.weight": tensor([2, -1], [2, 1, 1, 1]),
    "lin.bias": tensor([1, 0.5]),
    "embed.weight": tensor([[1, 10], [2, 20], [3, 30]]),
  });
  const x = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
  const t = tensor(new Int32Array([0, 1, 2, 0])); // cells (0,0), (0,1), (1,0), (1,1)
  const out = m.call(x, t);
  const conv = (c: number, v: number) => (c === 0 ? 2 * v + 1 : -v + 0.5);
  const gamma = [[1, 10], [2, 20], [3, 30]];
  const expected = [0, 1].flatMap((c) => [1, 2, 3, 4].map((v, cell) => gamma[[0, 1, 2, 0][cell]][c] * conv(c, v)));
  assertClose(await out.toArray(), expected);
  assertThrows(() => m.call(x, tensor(new Int32Array([0, 1]))), RangeError, "one timestep per cell");
});

gpuTest("DCG: gated attention by hand, y_fusion = (y_global + y_local)/2, crops where the saliency picks", async () => {
  manualSeed(11);
  const trunk = { baseWidth: 2, layers: [1, 1, 1, 1] as const };
  const dcg = new Dcg({
    numClasses: 3,
    inChannels: 3,
    numK: 3,
    cropSize: 4,
    globalTrunk: trunk,
    localTrunk: trunk,
    attentionDim: 4,
  });
  dcg.eval();
  // Gated attention against float64 from the layer weights.
  const h = Array.from({ length: 2 * 3 * 16 }, (_, i) => Math.cos(i * 0.37));
  const { attention, pooled } = dcg.attend(tensor(h, [2, 3, 16]));
  const [U, V, w] = await Promise.all(
    [dcg.mil_attn_U.weight, dcg.mil_attn_V.weight, dcg.mil_attn_w.weight].map((p) => p.toArray()),
  );
  const att: number[] = [], pool: number[] = [];
  for (let b = 0; b < 2; b++) {
    const scores = [0, 1, 2].map((k) => {
      const hk = h.slice((b * 3 + k) * 16, (b * 3 + k + 1) * 16);
      let s = 0;
      for (let a = 0; a < 4; a++) {
        let u = 0, v = 0;
        for (let d = 0; d < 16; d++) (u += U[a * 16 + d] * hk[d]), (v += V[a * 16 + d] * hk[d]);
        s += w[a] * (1 / (1 + Math.exp(-u))) * Math.tanh(v);
      }
      return s;
    });
    const mx = Math.max(...scores), ex = scores.map((s) => Math.exp(s - mx)), z = ex.reduce((a, b) => a + b);
    const a = ex.map((e) => e / z);
    att.push(...a);
    for (let d = 0; d < 16; d++) pool.push(a.reduce((s, ak, k) => s + ak * h[(b * 3 + k) * 16 + d], 0));
  }
  assertClose(await attention.toArray(), att);
  assertClose(await pooled.toArray(), pool);
  // The forward's contract on a batch of 16×16 images (saliency grid 2×2: stride 8).
  const x = tensor(Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.11)), [2, 3, 16, 16]);
  const o = noGrad(() => dcg.call(x));
  assertEquals(o.saliency.shape, [2, 3, 2, 2]);
  assertEquals(o.cells.shape, [2, 3, 2]);
  assertEquals(o.crops.shape, [6, 3, 4, 4]);
  const [yf, yg, yl, sal] = await Promise.all([o.yFusion, o.yGlobal, o.yLocal, o.saliency].map((t) => t.toArray()));
  assertClose(yf, yg.map((g, i) => (g + yl[i]) / 2));
  assertClose(yg, [0, 1, 2, 3, 4, 5].map((r) => sal.slice(r * 4, r * 4 + 4).reduce((a, b) => a + b) / 4));
  assertEquals(await o.cells.toArray(), await roiSelect(o.saliency, 3, 1).toArray());
  const a = await o.attention.toArray();
  assertClose([a[0] + a[1] + a[2], a[3] + a[4] + a[5]], [1, 1]);
  // The pooled trunk features the denoiser may reuse: the global trunk's last map averaged over
  // its cells, and the local trunk on each crop.
  const lastMap = noGrad(() => (dcg.ds_net as ResNet).forwardFeatures(x)[3]);
  const [Cg, cells] = [lastMap.shape[1], lastMap.shape[2] * lastMap.shape[3]];
  assertEquals(o.globalFeature.shape, [2, dcg.globalChannels]);
  const m = await lastMap.toArray();
  assertClose(
    await o.globalFeature.toArray(),
    Array.from({ length: 2 * Cg }, (_, r) => m.slice(r * cells, (r + 1) * cells).reduce((s, v) => s + v) / cells),
  );
  assertClose(await o.cropFeatures.toArray(), await noGrad(() => dcg.dn_resnet.call(o.crops)).toArray());
  assert(dcg.searchWindow(224, 7) === 1 && dcg.searchWindow(16, 2) === 1, "the official crop_shape_adjusted");
  assertThrows(() => new Dcg({ numClasses: 3, inChannels: 3, topFraction: 0 }), RangeError, "topFraction");
});
