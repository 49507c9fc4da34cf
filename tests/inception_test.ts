/**
 * Inception-v3 (models/inception.ts): state-dict names, shapes and order equal torchvision's
 * Inception3 (no auxiliary head, 1008 classes); pooled features and logits match torchvision
 * and the FID port's pooling twin with formula weights (tests/fixtures/inception_v3.json from
 * scripts/make_inception_fixture.py), also through evaluate-generation's pytorch-fid input path;
 * weights load from safetensors, and a file with the wrong names is refused naming it.
 */
import { InceptionV3, loadInceptionV3 } from "../models/mod.ts";
import { noGrad, saveSafetensors, scope, tensor } from "../mod.ts";
import { inceptionEmbedder } from "../tasks/generation/feature_network.ts";
import { assertClose, gpuTest, maxAbsOf, withTempDir } from "./_util.ts";
import { assertEquals, assertRejects } from "./_asserts.ts";
import { formulaStateDict } from "./_formula_weights.ts";

interface Outputs {
  features: number[];
  logits: number[];
}

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/inception_v3.json", import.meta.url)),
) as {
  keys: [string, number[]][];
  input_shape: number[];
  torchvision_inception3: Outputs;
  fid: Outputs;
  preprocessed: { features: number[] };
};

const input = () => {
  const n = fixture.input_shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i)), fixture.input_shape);
};

gpuTest("inception: state dict names, shapes and order equal torchvision's Inception3", () => {
  const net = new InceptionV3();
  assertEquals(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.keys);
  net.dispose();
});

gpuTest(
  "inception: evaluate-generation's input path (grey [0, 1] → RGB, 299×299, [−1, 1]) matches pytorch-fid's",
  async () => {
    const net = new InceptionV3();
    net.loadStateDict(formulaStateDict(fixture.keys));
    net.eval();
    const embedder = inceptionEmbedder(net, { mean: [0.5], std: [0.5] }, 1);
    const grey = Float32Array.from({ length: 64 }, (_, i) => Math.sin(0.37 * i)); // (0.5 + 0.5 sin − 0.5) / 0.5
    const x = tensor(grey, [1, 1, 8, 8]);
    const f = scope(() => noGrad(() => embedder.embed(x)));
    const ref = fixture.preprocessed.features;
    assertClose(await f.data(), ref, {
      atol: 1e-4 * maxAbsOf(ref),
      rtol: 0,
      msg: "features of the preprocessed image",
    });
    for (const t of [x, f]) t.dispose();
    embedder.dispose();
  },
);

for (const [fid, ref] of [[false, fixture.torchvision_inception3], [true, fixture.fid]] as const) {
  gpuTest(
    `inception: features and logits match ${fid ? "the FID port" : "torchvision"} (formula weights)`,
    async () => {
      const net = new InceptionV3({ fid });
      net.loadStateDict(formulaStateDict(fixture.keys));
      net.eval();
      const x = input();
      const [f, y] = noGrad(() => {
        const f = net.forwardFeatures(x);
        return [f, net.fc.call(f)];
      });
      assertEquals(f.shape, [2, 2048]);
      assertClose(await f.data(), ref.features, { atol: 1e-4 * maxAbsOf(ref.features), rtol: 0, msg: "features" });
      assertClose(await y.data(), ref.logits, { atol: 1e-4 * maxAbsOf(ref.logits), rtol: 0, msg: "logits" });
      for (const t of [x, f, y]) t.dispose();
      net.dispose();
    },
  );
}

gpuTest(
  "inception: loads safetensors without num_batches_tracked or the auxiliary head; wrong names refused",
  async () => {
    await withTempDir("meddiff-inception-", async (dir) => {
      const dict = formulaStateDict(fixture.keys.filter(([k]) => !k.endsWith("num_batches_tracked")));
      dict["AuxLogits.fc.weight"] = tensor(new Float32Array(6), [2, 3]);
      await saveSafetensors(`${dir}/fid.safetensors`, dict);
      const net = await loadInceptionV3(`${dir}/fid.safetensors`);
      const x = input();
      const f = noGrad(() => net.forwardFeatures(x));
      assertClose(await f.data(), fixture.fid.features, {
        atol: 1e-4 * maxAbsOf(fixture.fid.features),
        rtol: 0,
        msg: "features after loading",
      });
      for (const t of [x, f]) t.dispose();
      net.dispose();

      const renamed = { ...dict, "Mixed_5b.branch1x1.conv.kernel": dict["Mixed_5b.branch1x1.conv.weight"] };
      delete (renamed as Record<string, unknown>)["Mixed_5b.branch1x1.conv.weight"];
      await saveSafetensors(`${dir}/renamed.safetensors`, renamed);
      await assertRejects(() => loadInceptionV3(`${dir}/renamed.safetensors`), Error, `${dir}/renamed.safetensors`);
      for (const t of Object.values(dict)) t.dispose();
    });
  },
);
