/**
 * conv2d at batch 64, 64→64 channels, 28×28, 3×3, padding 1: forward and forward+backward,
 * ours against TensorFlow.js's WebGPU backend (its conv2d, NHWC) on the same adapter. Each
 * timed region ends with `await synchronize()` (tfjs: `await data()`); a table of ms and
 * GFLOP/s is printed at the end. `CONV_BENCH_BATCH=n` changes the batch; `BENCH_TFJS=0` leaves
 * the tfjs peer out.
 */
import { initGpu, randn, synchronize, type Tensor } from "../mod.ts";
import { conv2d, tuneConv2d } from "../core/ops/conv.ts";
import { adapterDescription, tfPeer } from "./_common.ts";
import { atEnd, bestOf, figuresAtEnd, timed } from "./_record.ts";
import type { Tensor4D } from "@tensorflow/tfjs-core";

await initGpu();

const [N, C, O, HW, K] = [Number(Deno.env.get("CONV_BENCH_BATCH") ?? "64"), 64, 64, 28, 3];
if (!Number.isInteger(N) || N < 1) throw new RangeError(`CONV_BENCH_BATCH must be a positive integer, got ${N}`);
/** Multiply-adds ×2 of one pass (each backward pass costs the same again). */
const FLOPS = 2 * N * O * HW * HW * C * K * K;

const x = randn([N, C, HW, HW]).requiresGrad_();
const w = randn([O, C, K, K]).mul(0.05).requiresGrad_();
const b = randn([O]).requiresGrad_();
await tuneConv2d(x.shape, w.shape, { padding: 1 });
await synchronize();

async function forward(): Promise<void> {
  conv2d(x, w, b, { padding: 1 }).dispose();
  await synchronize();
}

async function forwardBackward(): Promise<void> {
  const y: Tensor = conv2d(x, w, b, { padding: 1 });
  y.backward(y); // d(½‖y‖²)/dy = y: no extra reduction kernels in the timed region
  y.dispose();
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
  }
  await synchronize();
}

Deno.bench(
  { name: "meddiff conv2d forward", group: "forward", baseline: true, n: 5, warmup: 1 },
  timed("fwd", forward),
);
Deno.bench(
  { name: "meddiff conv2d forward+backward", group: "train", baseline: true, n: 3, warmup: 1 },
  timed("fb", forwardBackward),
);

const peer = await tfPeer("webgpu");
if (typeof peer !== "string") {
  const tf = peer.tf;
  const tx = tf.randomNormal([N, HW, HW, C]) as Tensor4D;
  const tw = tf.randomNormal([K, K, C, O]) as Tensor4D;
  Deno.bench(
    { name: "tfjs-webgpu conv2d forward", group: "forward", n: 2, warmup: 1 },
    timed("tf", async () => {
      const y = tf.conv2d(tx, tw, 1, "same");
      await y.data();
      y.dispose();
    }),
  );
}

figuresAtEnd(() => ({
  [`conv2d forward (batch ${N})`]: bestOf("fwd"),
  [`conv2d forward+backward (batch ${N})`]: bestOf("fb"),
}));
atEnd(() => {
  const row = (name: string, ms: number | undefined, flops: number) =>
    `| ${name} | ${ms ? ms.toFixed(1) : "—"} | ${ms ? (flops / ms / 1e6).toFixed(1) : "—"} |`;
  const fwd = bestOf("fwd"), tf = bestOf("tf");
  return [
    "",
    `Adapter: ${adapterDescription()}; conv2d x [${N}, ${C}, ${HW}, ${HW}], w [${O}, ${C}, ${K}, ${K}], padding 1`,
    ...(typeof peer === "string" ? [peer] : []),
    "| run | ms | GFLOP/s |",
    "|---|---|---|",
    row("meddiff forward", fwd, FLOPS),
    row("meddiff forward+backward", bestOf("fb"), 3 * FLOPS),
    row("tfjs-webgpu forward", tf, FLOPS),
    ...(fwd && tf ? [`meddiff ÷ tfjs-webgpu (forward): ${(tf / fwd).toFixed(1)}×`] : []),
  ];
});
