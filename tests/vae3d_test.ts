/**
 * The MAISI 3-D autoencoder (models/vae3d.ts) against its PyTorch twin
 * (scripts/make_vae3d_fixture.py, MONAI's names and forward): state-dict keys, shapes and order;
 * after a strict load, the latent mean and log-variance, the reconstruction of the mean and the
 * gradients of a loss on both, for a non-cubic volume; the sampled latent's noise scale; the
 * released checkpoint's shorter names; bad shapes and options refused.
 */
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { noGrad, tensor } from "../mod.ts";
import { maisiKeysFromCheckpoint, MaisiVAE, resolveMaisiVAEConfig } from "../models/vae3d.ts";
import { OptionError } from "../util/errors.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, assertGradMatches, gpuTest, maxAbsOf } from "./_util.ts";

const fixture = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/vae3d.json", import.meta.url))) as {
  tiny: { config: Record<string, number & number[]>; keys: [string, number[]][] };
  grad_params: string[];
};
const c = fixture.tiny.config;
const TINY = {
  inChannels: c.in_channels,
  outChannels: c.out_channels,
  latentChannels: c.latent_channels,
  numChannels: c.num_channels,
  numResBlocks: c.num_res_blocks,
  normNumGroups: c.norm_num_groups,
  normEps: c.norm_eps,
};

gpuTest("vae3d: MONAI's state-dict names; latent, reconstruction and gradients match the PyTorch twin", async () => {
  const file = await loadSafetensors(new URL("./fixtures/vae3d_tiny.safetensors", import.meta.url));
  const state = Object.fromEntries(Object.entries(file).filter(([k]) => !/^(input|expected|grad)\./.test(k)));
  const vae = new MaisiVAE(TINY);
  assertEquals(Object.entries(vae.stateDict()).map(([k, t]) => [k, [...t.shape]]), fixture.tiny.keys);
  vae.loadStateDict(state);
  const x = file["input.x"].detach();
  x.requiresGrad = true;
  const { mu, logVar } = vae.encode(x);
  const recon = vae.decode(mu);
  assertEquals(mu.shape, [2, 4, 4, 4, 6]);
  for (const [got, name] of [[mu, "mu"], [logVar, "log_var"], [recon, "recon"]] as const) {
    const want = await file[`expected.${name}`].data();
    assertClose(await got.data(), want, { atol: 1e-4 * maxAbsOf(want), rtol: 0, msg: name });
  }
  recon.mul(file["input.r"]).sum().add(mu.mul(file["input.r_mu"]).sum()).backward();
  await assertGradMatches("input", x.grad, file["grad.input.x"]);
  const params = new Map(vae.namedParameters());
  for (const name of fixture.grad_params) await assertGradMatches(name, params.get(name)!.grad, file[`grad.${name}`]);

  // z = μ + σ·ε: the noise has unit scale once divided by σ.
  const z = noGrad(() => vae.sample({ mu, logVar }));
  const [zd, md, ld] = await Promise.all([z.data(), mu.data(), logVar.data()]);
  const eps = Array.from(zd, (v, i) => (v - md[i]) / Math.exp(ld[i] / 2));
  const mean = eps.reduce((a, b) => a + b, 0) / eps.length;
  const sd = Math.sqrt(eps.reduce((a, b) => a + (b - mean) ** 2, 0) / eps.length);
  assert(Math.abs(mean) < 0.15 && Math.abs(sd - 1) < 0.15, `ε mean ${mean}, sd ${sd} over ${eps.length}`);
  for (const t of [z, x]) t.dispose();
  vae.dispose();
  for (const v of Object.values(file)) v.dispose();
});

gpuTest("vae3d: the released checkpoint's shorter names map to MONAI's module names", () => {
  const vae = new MaisiVAE(TINY);
  const mapped = maisiKeysFromCheckpoint({
    "encoder.blocks.0.conv.weight": 1,
    "encoder.blocks.1.conv1.conv.weight": 2,
    "encoder.blocks.2.conv.conv.weight": 3,
    "encoder.blocks.4.weight": 4,
    "decoder.blocks.5.conv.conv.bias": 5,
    "module.quant_conv_mu.conv.weight": 6,
  }, vae);
  assertEquals(Object.keys(mapped), [
    "encoder.blocks.0.conv.conv.weight",
    "encoder.blocks.1.conv1.conv.conv.weight",
    "encoder.blocks.2.conv.conv.conv.weight",
    "encoder.blocks.4.weight",
    "decoder.blocks.5.conv.conv.bias",
    "quant_conv_mu.conv.weight",
  ]);
  vae.dispose();
});

gpuTest("vae3d: MAISI's defaults; bad shapes and options refused", () => {
  const d = resolveMaisiVAEConfig();
  assertEquals([d.numChannels, d.numResBlocks, d.normNumGroups, d.latentChannels, d.downsampleFactor], [
    [64, 128, 256],
    [2, 2, 2],
    32,
    4,
    4,
  ]);
  const vae = new MaisiVAE(TINY);
  const odd = tensor(new Float32Array(7 * 8 * 8), [1, 1, 7, 8, 8]);
  assertThrows(() => vae.encode(odd), RangeError, "multiples of 2");
  assertThrows(() => vae.decode(odd), RangeError, "(B, 4, D, H, W)");
  odd.dispose();
  vae.dispose();
  assertThrows(() => resolveMaisiVAEConfig({ numChannels: [24, 48], normNumGroups: 32 }), OptionError, "normNumGroups");
  assertThrows(() => resolveMaisiVAEConfig({ numResBlocks: [2, 2] }), OptionError, "one count per level");
});
