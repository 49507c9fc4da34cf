/**
 * DiffMIC-v2's conditional denoiser (models/diffmic.ts, `DiffMicDenoiser`) and its diffusion
 * focal loss (samplers/label_diffusion.ts, `diffusionFocalLoss`) against the PyTorch twin in
 * scripts/make_diffmic_fixture.py. Two cases (tests/fixtures/diffmic_denoiser_{a,b}.safetensors,
 * options in tests/fixtures/diffmic_denoiser.json):
 *   a: resnet18 encoders (small-input stem, base width 4, one block per stage), guidance on,
 *      3 classes, 3×3 label map, 3-channel crops, batch 4;
 *   b: resnet50 encoders (Bottleneck, 7×7 stride-2 stem and max-pool, base width 1), guidance
 *      off, 2 classes, 2×2 label map, 1-channel crops, batch 3.
 * Per case: state-dict keys, shapes and order and the parameter count; the eval-mode output
 * (stored running statistics); the training-mode output (batch statistics), the focal loss,
 * the loss's gradients (every parameter outside the ResNet backbones, plus representative
 * backbone ones) and the running statistics after that one training forward (momentum 0.1).
 * The reference values were computed in float64 from the stored float32 weights.
 */
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { noGrad, type Tensor, tensor } from "../mod.ts";
import { DiffMicDenoiser, type DiffMicDenoiserOptions } from "../models/diffmic.ts";
import { diffusionFocalLoss } from "../samplers/label_diffusion.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, gpuTest, maxAbsOf } from "./_util.ts";

interface CaseInfo {
  options: DiffMicDenoiserOptions;
  batch: number;
  image_size: number;
  crop_size: number;
  num_parameters: number;
  num_keys: number;
  loss: number;
}

const info = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/diffmic_denoiser.json", import.meta.url)),
) as { alpha: number; gamma: number; a: CaseInfo; b: CaseInfo };

const PREFIXES = ["input.", "expected.", "grad.", "after."];

interface LoadedCase {
  /** The state dict in PyTorch's order. */
  state: Record<string, Tensor>;
  /** Everything else, by full name (`input.x`, `grad.lin1.lin.weight`, ...). */
  rest: Record<string, Tensor>;
}

async function loadCase(name: "a" | "b"): Promise<LoadedCase> {
  const file = await loadSafetensors(new URL(`./fixtures/diffmic_denoiser_${name}.safetensors`, import.meta.url));
  const state: Record<string, Tensor> = {}, rest: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(file)) {
    if (PREFIXES.some((p) => k.startsWith(p))) rest[k] = v;
    else state[k] = v;
  }
  return { state, rest };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Compares with atol = tol · max|expected| (floored at `floor`), reporting the max abs diff on failure. */
async function expectClose(got: Tensor, want: Tensor, tol: number, msg: string, floor = 0): Promise<void> {
  assertEquals([...got.shape], [...want.shape], `${msg}: shape`);
  const g = await got.data(), w = await want.data();
  const scale = Math.max(maxAbsOf(w), floor);
  try {
    assertClose(g, w, { atol: tol * scale, rtol: 0, msg });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n  (${msg}: max |diff| ${maxAbsDiff(g, w)}, max |expected| ${scale})`);
  }
}

for (const name of ["a", "b"] as const) {
  const c = info[name];
  const label = `${c.options.encoder?.arch}, guidance ${c.options.guidance ? "on" : "off"}`;

  gpuTest(
    `diffmic denoiser (${name}: ${label}): state-dict keys, shapes and order equal the PyTorch twin's`,
    async () => {
      const { state } = await loadCase(name);
      const net = new DiffMicDenoiser(c.options);
      const sd = net.stateDict();
      assertEquals(
        Object.entries(sd).map(([k, t]) => [k, [...t.shape]]),
        Object.entries(state).map(([k, t]) => [k, [...t.shape]]),
        "keys",
      );
      assertEquals(Object.keys(state).length, c.num_keys);
      assertEquals(net.numParameters(), c.num_parameters, "parameter count");
      net.loadStateDict(state); // strict
      net.dispose();
    },
  );

  gpuTest(`diffmic denoiser (${name}: ${label}): eval-mode output matches PyTorch`, async () => {
    const { state, rest } = await loadCase(name);
    const x = rest["input.x"], y = rest["input.y"], t = rest["input.t"], crops = rest["input.crops"];
    assertEquals(t.dtype, "int32");
    const net = new DiffMicDenoiser(c.options);
    net.loadStateDict(state);
    net.eval();
    const out = noGrad(() => net.call(x, y, t, { crops }));
    const { numClasses: C, numK: K } = c.options;
    assertEquals(out.shape, [c.batch, C, K, K]);
    await expectClose(out, rest["expected.out_eval"], 1e-4, "eval output");
    // The fixture is sensitive to the timestep layout (batch-major, cell i·K + j): reversed
    // timesteps give a clearly different output.
    const tr = Int32Array.from(await t.data()).reverse();
    const outRev = noGrad(() => net.call(x, y, tensor(tr, t.shape, { dtype: "int32" }), { crops }));
    const want = await rest["expected.out_eval"].data();
    assert(
      maxAbsDiff(await outRev.data(), want) > 1e-2 * maxAbsOf(want),
      "reversed timesteps should change the output",
    );
    net.dispose();
  });

  gpuTest(
    `diffmic denoiser (${name}: ${label}): training-mode output, focal loss, gradients and running stats match PyTorch`,
    async () => {
      const { state, rest } = await loadCase(name);
      const x = rest["input.x"], y = rest["input.y"], t = rest["input.t"], crops = rest["input.crops"];
      const net = new DiffMicDenoiser(c.options);
      net.loadStateDict(state);
      net.train();
      const out = net.call(x, y, t, { crops });
      await expectClose(out, rest["expected.out_train"], 1e-4, "train output");
      // Batch statistics, not the stored running ones: the two references differ.
      const wantTrain = await rest["expected.out_train"].data(), wantEval = await rest["expected.out_eval"].data();
      assert(maxAbsDiff(wantTrain, wantEval) > 0.05 * maxAbsOf(wantTrain), "train and eval references differ");

      const labels = rest["input.labels"];
      assertEquals(labels.dtype, "int32");
      const loss = diffusionFocalLoss(out, rest["input.eps"], rest["input.prior"], labels, {
        alpha: info.alpha,
        gamma: info.gamma,
      });
      assertEquals([...loss.shape], []);
      const lossValue = (await loss.data())[0];
      assertClose([lossValue], [c.loss], { atol: 0, rtol: 1e-4, msg: "focal loss" });
      await expectClose(loss, rest["expected.loss"], 1e-4, "focal loss (stored float32)");
      loss.backward();

      // Gradients: atol = 5e-4 · max|expected| per tensor, floored at 1% of the largest gradient
      // (encoder_x.g.bias and encoder_x_l.g.bias feed a training-mode BatchNorm1d: their exact
      // gradient is 0, the float64 reference holds ~1e-17).
      const gradNames = Object.keys(rest).filter((k) => k.startsWith("grad.")).map((k) => k.slice(5));
      assert(gradNames.length >= 12, "the fixture stores gradients");
      let globalScale = 0;
      for (const k of gradNames) globalScale = Math.max(globalScale, maxAbsOf(await rest[`grad.${k}`].data()));
      const params = new Map(net.namedParameters());
      const failures: string[] = [];
      for (const k of gradNames) {
        const p = params.get(k);
        if (!p) {
          failures.push(`${k}: no such parameter`);
          continue;
        }
        if (!p.grad) {
          failures.push(`${k}: got no gradient`);
          continue;
        }
        try {
          await expectClose(p.grad, rest[`grad.${k}`], 5e-4, `grad of ${k}`, 0.01 * globalScale);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
      // Every parameter gets a gradient.
      const missing = net.namedParameters().filter(([, p]) => !p.grad).map(([n]) => n);
      if (missing.length) failures.push(`parameters without a gradient: ${missing.join(", ")}`);

      // Running statistics after one training forward (momentum 0.1, unbiased variance).
      const sd = net.stateDict();
      const afterNames = Object.keys(rest).filter((k) => k.startsWith("after.")).map((k) => k.slice(6));
      assert(afterNames.length >= 10, "the fixture stores running statistics");
      for (const k of afterNames) {
        if (!(k in sd)) {
          failures.push(`${k}: not in the state dict`);
          continue;
        }
        try {
          await expectClose(sd[k], rest[`after.${k}`], 1e-4, `after one training forward: ${k}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
      const counted = await sd["unetnorm1.num_batches_tracked"].data();
      if (counted[0] !== 4) failures.push(`unetnorm1.num_batches_tracked: ${counted[0]}, expected 3 + 1`);
      if (failures.length) throw new Error(`${failures.length} mismatch(es):\n${failures.join("\n")}`);
      net.dispose();
    },
  );
}

gpuTest(
  "diffmic denoiser on the DCG's features (encoders: dcg) is the own-trunk network with its trunks cut off",
  async () => {
    const c = info.a;
    const { state, rest } = await loadCase("a");
    const own = new DiffMicDenoiser(c.options);
    own.loadStateDict(state);
    own.eval();
    const global = own.encoder_x.backbone!, local = own.encoder_x_l.backbone!;
    const shared = new DiffMicDenoiser({
      ...c.options,
      dcgFeatures: { global: global.featureChannels, local: local.featureChannels },
    });
    assertEquals(shared.encoder_x.backbone, null);
    const kept = Object.fromEntries(Object.entries(state).filter(([k]) => !k.includes(".backbone.")));
    assertEquals(Object.keys(shared.stateDict()), Object.keys(kept), "the state dict is the own one minus the trunks");
    shared.loadStateDict(kept); // strict
    shared.eval();
    const x = rest["input.x"], y = rest["input.y"], t = rest["input.t"], crops = rest["input.crops"];
    const cond = noGrad(() => ({ crops, globalFeature: global.call(x), cropFeatures: local.call(crops) }));
    const want = noGrad(() => own.call(x, y, t, { crops }));
    await expectClose(noGrad(() => shared.call(x, y, t, cond)), want, 1e-5, "shared-feature output");
    assertThrows(() => shared.call(x, y, t, { crops }), RangeError, "globalFeature and cropFeatures");
    own.dispose();
    shared.dispose();
  },
);
