/**
 * The 2.5-D perceptual loss (models/perceptual.ts) against its PyTorch twin
 * (tests/fixtures/perceptual.json from scripts/make_perceptual_fixture.py: formula weights and
 * formula volumes, so nothing large is committed): the loss with every slice, the gradient with
 * respect to the input, the random slice selection, and the weight loader's checks.
 */
import { saveSafetensors } from "../core/nn/safetensors.ts";
import { loadFeatureResNet, PerceptualLoss25D } from "../models/perceptual.ts";
import { resnet18 } from "../models/mod.ts";
import { type Tensor, tensor } from "../mod.ts";
import { Rng } from "../util/rng.ts";
import { joinPath } from "../util/path.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { formulaStateDict } from "./_formula_weights.ts";
import { assertClose, gpuTest, prod, withTempDir } from "./_util.ts";

interface PerceptualFixture {
  shape: number[];
  width: number;
  keys: [string, number[]][];
  loss: number;
  per_slice: number[][];
  grad_sum: number;
  grad_sq_sum: number;
  grad_at: [number, number][];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/perceptual.json", import.meta.url)),
) as PerceptualFixture;

/** The script's `volume(phase)`: float64 sines rounded once to float32. */
function volume(phase: number): Tensor {
  const [B, C, D, H, W] = fixture.shape, out = new Float32Array(prod(fixture.shape));
  let i = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let d = 0; d < D; d++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) {
            out[i++] = 0.5 + 0.5 * Math.sin(0.37 * d + 0.23 * h + 0.11 * w + phase) *
                Math.cos(0.05 * (d - h + w) + 0.3 * phase);
          }
        }
      }
    }
  }
  return tensor(out, fixture.shape);
}

/** Writes the fixture's formula weights (plus an fc the loader must ignore) to `dir`. */
async function formulaWeightsFile(dir: string): Promise<string> {
  const path = joinPath(dir, "net.safetensors");
  const state = formulaStateDict(fixture.keys);
  state["fc.weight"] = tensor(new Float32Array(10 * 8 * fixture.width), [10, 8 * fixture.width]);
  state["fc.bias"] = tensor(new Float32Array(10), [10]);
  await saveSafetensors(path, state);
  for (const t of Object.values(state)) t.dispose();
  return path;
}

gpuTest("perceptual loss (2.5-D, ResNet features) equals PyTorch's: value and input gradient", async () => {
  await withTempDir("perceptual", async (dir) => {
    const net = await loadFeatureResNet(await formulaWeightsFile(dir));
    assertEquals(net.featureChannels, 8 * fixture.width);
    assert(net.parameters().every((p) => !p.requiresGrad), "the network is frozen");
    const loss = new PerceptualLoss25D(net, { sliceFraction: 1 });
    const x = volume(0).requiresGrad_();
    const y = volume(1);
    const l = loss.call(x, y, new Rng(0));
    assertClose(await l.data(), [fixture.loss], { rtol: 1e-4, atol: 0, msg: "loss" });
    l.backward();
    const g = await x.grad!.data();
    let sum = 0, sq = 0, max = 0;
    for (const v of g) sum += v, sq += v * v, max = Math.max(max, Math.abs(v));
    assertClose([sq], [fixture.grad_sq_sum], { rtol: 1e-3, atol: 0, msg: "Σ grad²" });
    assertClose([sum], [fixture.grad_sum], { rtol: 0, atol: 1e-4 * max * Math.sqrt(g.length), msg: "Σ grad" });
    assertClose(
      fixture.grad_at.map(([i]) => g[i]),
      fixture.grad_at.map(([, v]) => v),
      { rtol: 0, atol: 2e-4 * max, msg: "grad at fixed positions" },
    );
    assert(net.parameters().every((p) => p.grad === null), "no gradient reaches the network");
    for (const t of [l, x, y]) t.dispose();
    net.dispose();
  });
});

gpuTest(
  "perceptual loss: a slice share picks floor(n·share) slices per axis, the same from input and target",
  async () => {
    await withTempDir("perceptual", async (dir) => {
      const net = await loadFeatureResNet(await formulaWeightsFile(dir));
      const x = volume(0), y = volume(1);
      const share = 0.25;
      const l = new PerceptualLoss25D(net, { sliceFraction: share }).call(x, y, new Rng(5));
      const rng = new Rng(5);
      let expected = 0;
      for (const perSlice of fixture.per_slice) {
        const keep = Math.floor(perSlice.length * share);
        const picked = rng.permutation(perSlice.length).subarray(0, keep);
        expected += picked.reduce((s, i) => s + perSlice[i], 0) / keep;
      }
      assertClose(await l.data(), [expected], { rtol: 1e-4, atol: 0, msg: "the mean over the picked slices" });
      const same = new PerceptualLoss25D(net, { sliceFraction: share }).call(x, x, new Rng(5));
      assertClose(await same.data(), [0], { rtol: 0, atol: 1e-6, msg: "a volume against itself" });
      for (const t of [l, same, x, y]) t.dispose();
      net.dispose();
    });
  },
);

gpuTest("perceptual loss: the loader and the loss refuse what they cannot use, naming it", async () => {
  await withTempDir("perceptual", async (dir) => {
    const path = joinPath(dir, "bad.safetensors");
    await saveSafetensors(path, { "stem.weight": tensor(new Float32Array(4), [4]) });
    await assertRejects(() => loadFeatureResNet(path), Error, `perceptual network ${path}: expected a 2-D ResNet`);
    await assertRejects(() => loadFeatureResNet(joinPath(dir, "absent.safetensors")), Error, "perceptual network");
    const small = resnet18({ numClasses: 0, baseWidth: 4 });
    const state = small.stateDict();
    delete state["layer4.1.bn2.weight"];
    await saveSafetensors(path, state);
    await assertRejects(() => loadFeatureResNet(path), Error, "missing layer4.1.bn2.weight");
    const checkpoint: Record<string, Tensor> = { "optim.0.exp_avg": tensor(new Float32Array(4), [4]) };
    for (const [k, t] of Object.entries(small.stateDict())) checkpoint[`model.${k}`] = t;
    await saveSafetensors(path, checkpoint);
    const fromRun = await loadFeatureResNet(path);
    assertEquals(fromRun.featureChannels, 32, "a run's checkpoint: the model's tensors, the optimizer's ignored");
    fromRun.dispose();
    const gray = resnet18({ numClasses: 0, baseWidth: 4, inChannels: 1 });
    assertThrows(() => new PerceptualLoss25D(gray), RangeError, 'use norm "none"');
    assertThrows(() => new PerceptualLoss25D(small, { sliceFraction: 0 }), RangeError, "sliceFraction");
    const loss = new PerceptualLoss25D(small);
    const v = tensor(new Float32Array(2 * 8 * 8 * 8), [1, 2, 8, 8, 8]);
    assertThrows(() => loss.call(v, v, new Rng(0)), RangeError, "volumes of 2 channels");
    v.dispose();
    small.dispose();
    gray.dispose();
  });
});
