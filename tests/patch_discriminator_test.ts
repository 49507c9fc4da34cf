/**
 * models/patch_discriminator.ts against its PyTorch twin (scripts/make_patch_discriminator_fixture.py: MONAI's
 * PatchDiscriminator in plain torch): MONAI's state-dict names and shapes, a strict load, the patch logits, the input
 * and parameter gradients, and — with batch norm in training mode — the running statistics after a forward.
 */
import { loadSafetensors } from "../core/nn/safetensors.ts";
import { PatchDiscriminator } from "../models/patch_discriminator.ts";
import { OptionError } from "../util/errors.ts";
import { assertEquals, assertThrows } from "./_asserts.ts";
import { assertClose, assertGradMatches, gpuTest, maxAbsOf } from "./_util.ts";

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/patch_discriminator.json", import.meta.url)),
) as { cases: Record<string, { config: Record<string, unknown>; keys: [string, number[]][]; out_shape: number[] }> };

for (const [name, c] of Object.entries(fixture.cases)) {
  gpuTest(
    `patch discriminator (${name}: ${c.config.norm} norm, ${c.config.spatial_dims}-D) matches its PyTorch twin`,
    async () => {
      const file = await loadSafetensors(new URL("./fixtures/patch_discriminator.safetensors", import.meta.url));
      const own = Object.fromEntries(
        Object.entries(file).filter(([k]) => k.startsWith(`${name}.`)).map(([k, t]) => [k.slice(name.length + 1), t]),
      );
      const state = Object.fromEntries(Object.entries(own).filter(([k]) => !/^(input|expected|grad|after)\./.test(k)));
      const net = new PatchDiscriminator({
        spatialDims: c.config.spatial_dims as 2 | 3,
        channels: c.config.channels as number,
        inChannels: c.config.in_channels as number,
        numLayersD: c.config.num_layers_d as number,
        norm: c.config.norm as "batch" | "instance",
      });
      const sorted = (kv: [string, number[]][]) => kv.slice().sort(([a], [b]) => a < b ? -1 : 1);
      assertEquals(sorted(Object.entries(net.stateDict()).map(([k, t]) => [k, [...t.shape]])), sorted(c.keys));
      net.loadStateDict(state);
      net.train();
      const x = own["input.x"].detach();
      x.requiresGrad = true;
      const y = net.call(x);
      assertEquals([...y.shape], c.out_shape);
      const want = await own["expected.out"].data();
      assertClose(await y.data(), want, { atol: 1e-4 * maxAbsOf(want), rtol: 0, msg: "patch logits" });
      y.mul(own["input.grad_weights"]).sum().backward();
      await assertGradMatches("input", x.grad, own["grad.input.x"]);
      for (const [p, t] of net.namedParameters()) await assertGradMatches(p, t.grad, own[`grad.${p}`]);
      const buffers = new Map(Object.entries(net.stateDict()));
      for (const k of Object.keys(own).filter((k) => k.startsWith("after."))) {
        const b = k.slice("after.".length);
        assertClose(await buffers.get(b)!.data(), await own[k].data(), { atol: 1e-5, rtol: 1e-4, msg: b });
      }
    },
  );
}

gpuTest("patch discriminator: MONAI's initialisation and layout; bad options name the option", () => {
  const net = new PatchDiscriminator({ spatialDims: 3, channels: 32, inChannels: 1, norm: "instance" });
  // MAISI's discriminator: 32 → 64 → 128 → 256 channels, instance norm (no parameters), biases only at the ends.
  const names = net.namedParameters().map(([n]) => n).sort();
  assertEquals(names, [
    "0.conv.weight",
    "1.conv.weight",
    "2.conv.weight",
    "final_conv.conv.bias",
    "final_conv.conv.weight",
    "initial_conv.conv.bias",
    "initial_conv.conv.weight",
  ]);
  // 1·32·4³ + 32, 32·64·4³, 64·128·4³, 128·256·4³, 256·1·4³ + 1.
  assertEquals(net.parameters().reduce((n, p) => n + p.size, 0), 2_770_977);
  assertThrows(
    () => new PatchDiscriminator({ spatialDims: 4 as 3, channels: 8, inChannels: 1 }),
    OptionError,
    "spatialDims",
  );
  assertThrows(() => new PatchDiscriminator({ spatialDims: 2, channels: 0, inChannels: 1 }), OptionError, "channels");
});
