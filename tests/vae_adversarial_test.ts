/**
 * tasks/vae3d/adversarial.ts: in the one summed loss, the discriminator's gradient comes from its own term only and
 * the reconstruction's from the generator term only (what MAISI's two alternating optimizers give within a step);
 * the output-size rule that config checks use.
 */
import { randn } from "../core/ops/random.ts";
import { manualSeed } from "../core/ops/random.ts";
import { adversarialLosses, buildDiscriminator } from "../tasks/vae3d/adversarial.ts";
import { patchDiscriminatorOutputSide } from "../models/patch_discriminator.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { assertClose, gpuTest } from "./_util.ts";

gpuTest("VAE adversarial loss: the summed loss sends each term's gradient to its own side only", async () => {
  manualSeed(3);
  const d = buildDiscriminator({ advWeight: 0.1, discChannels: 2, discLayers: 1 }, 1);
  const real = randn([2, 1, 8, 8, 8]);
  const fake = randn([2, 1, 8, 8, 8]);
  fake.requiresGrad = true;
  const grads = async () => ({
    fake: fake.grad ? Array.from(await fake.grad.data() as Float32Array) : null,
    d: await Promise.all(d.parameters().map(async (p) => p.grad ? Array.from(await p.grad.data()) : null)),
  });
  const clear = () => {
    fake.grad = null;
    for (const p of d.parameters()) p.grad = null;
  };
  const both = adversarialLosses(d, real, fake);
  both.generator.add(both.discriminator).backward();
  const summed = await grads();
  clear();
  adversarialLosses(d, real, fake).generator.backward();
  const genOnly = await grads();
  clear();
  adversarialLosses(d, real, fake).discriminator.backward();
  const discOnly = await grads();
  assert(genOnly.d.every((g) => g === null), "the generator term gives the discriminator no gradient");
  assertEquals(discOnly.fake, null, "the discriminator term gives the reconstruction no gradient");
  assertClose(summed.fake!, genOnly.fake!, { atol: 1e-7, rtol: 1e-6, msg: "reconstruction gradient" });
  summed.d.forEach((g, i) => assertClose(g!, discOnly.d[i]!, { atol: 1e-7, rtol: 1e-6, msg: `discriminator ${i}` }));
  assert(d.parameters().every((p) => p.requiresGrad), "parameters trainable again afterwards");
});

Deno.test("VAE adversarial loss: the discriminator's output side (MAISI's 3 layers need ≥ 24 voxels a side)", () => {
  assertEquals(patchDiscriminatorOutputSide(64, 3), 6);
  assertEquals(patchDiscriminatorOutputSide(32, 3), 2);
  assertEquals(patchDiscriminatorOutputSide(16, 3), 0);
  assertEquals(patchDiscriminatorOutputSide(8, 1), 2);
});
