/**
 * The diffusion classifier's throughput, the batched way against the one-class-at-a-time way,
 * on the DDPM U-Net of `unet_bench.ts` (5 classes, 3×28×28, eval mode; untrained weights, which
 * cost the same): B images × N trials × K classes network rows, with
 * - `batched`: every class and several trials in one forward (up to 256 rows, the default);
 * - `one class per pass`: one class per forward, trials still batched;
 * - `loop`: one class and one trial per forward, the images as the batch (how a per-class,
 *   per-trial loop over a batch of images runs).
 * All three share the seeded noise bank, so they must decide the same; the bench checks that.
 * Each variant runs once to compile, then once timed.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/diffusion_classifier_bench.ts [images] [trials]`
 * (default 4 images, 5 trials).
 */
import {
  type DiffusionClassifierOptions,
  diffusionClassify,
  dispatchCounters,
  initGpu,
  NoiseSchedule,
  randn,
  synchronize,
} from "../mod.ts";
import { adapterDescription } from "./_common.ts";
import { unetWorkload } from "./_models.ts";

await initGpu();
const B = Number(Deno.args[0] ?? "4"), N = Number(Deno.args[1] ?? "5");
if (!Number.isInteger(B) || B < 1 || !Number.isInteger(N) || N < 1) {
  throw new Error(`images and trials must be positive integers, got ${Deno.args.join(" ")}`);
}
const w = unetWorkload(1);
w.net.eval();
const { c: C, hw: HW, classes: K } = w.dims;
const images = randn([B, C, HW, HW]);
const ids = Int32Array.from({ length: B }, (_, i) => i);
const base: DiffusionClassifierOptions = {
  model: (x, t, y) => w.net.call(x, t, y),
  schedule: NoiseSchedule.named("squaredcos_cap_v2", 1000),
  predictionType: "v_prediction",
  numClasses: K,
  trials: N,
};
const variants: [string, Partial<DiffusionClassifierOptions>][] = [
  ["batched (all classes and trials, ≤ 256 rows per forward)", {}],
  ["one class per pass (trials batched)", { oneClassPerPass: true }],
  [`loop (one class, one trial per forward; ${B} rows)`, { oneClassPerPass: true, maxBatch: B }],
];
const rows: string[] = [];
let reference: Int32Array | undefined;
for (const [name, extra] of variants) {
  const opts = { ...base, ...extra };
  await diffusionClassify(opts, images, ids); // compile and warm up
  await synchronize();
  const before = dispatchCounters().dispatches;
  const t0 = performance.now();
  const res = await diffusionClassify(opts, images, ids);
  const s = (performance.now() - t0) / 1000;
  const dispatches = dispatchCounters().dispatches - before;
  reference ??= res.predictions;
  const same = res.predictions.every((p, i) => p === reference![i]);
  rows.push(`| ${name} | ${s.toFixed(2)} | ${(B / s).toFixed(3)} | ${dispatches} | ${same ? "yes" : "NO"} |`);
}
console.log(
  `Adapter: ${adapterDescription()}; U-Net (${w.net.numParameters()} parameters), ${B} images × ${N} trials × ` +
    `${K} classes = ${B * N * K} rows`,
);
console.log("| way | s | images/s | dispatches | same decisions |\n|---|---|---|---|---|");
console.log(rows.join("\n"));
images.dispose();
