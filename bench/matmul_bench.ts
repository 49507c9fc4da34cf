/**
 * Matmul GFLOP/s at 256…2048², ours against TensorFlow.js's WebGPU and WASM backends.
 * Each group's summary gives the ratios; a table of GFLOP/s is printed at the end. Small
 * sizes run several products per iteration (`matmulBatch`) so that one wait covers them.
 * `MATMUL_BENCH_SIZES=256,512` measures other sizes; `BENCH_TFJS=0` leaves the tfjs peers out
 * (`BENCH_TFJS=webgpu` keeps tfjs-webgpu only).
 */
import {
  adapterDescription,
  MATMUL_SIZES,
  matmulBatch,
  matmulFlops,
  matmulOperands,
  runMatmul,
  tfPeer,
} from "./_common.ts";
import { atEnd, bestOf, figuresAtEnd, timed } from "./_record.ts";
import { initGpu } from "../mod.ts";

await initGpu();

const sizes = Deno.env.get("MATMUL_BENCH_SIZES")?.split(",").map(Number) ?? MATMUL_SIZES;
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`MATMUL_BENCH_SIZES: ${sizes}`);
const peers = [await tfPeer("webgpu"), await tfPeer("wasm")];
const gflops = (n: number, ms?: number): string => ms ? (matmulBatch(n) * matmulFlops(n) / ms / 1e6).toFixed(1) : "—";

for (const n of sizes) {
  const [a, b] = await matmulOperands(n);
  const reps = n >= 2048 ? 3 : n >= 1024 ? 5 : 10;
  Deno.bench(
    { name: `meddiff matmul ${n}`, group: `matmul ${n}`, baseline: true, n: reps, warmup: 1 },
    timed(`meddiff ${n}`, () => runMatmul(a, b, matmulBatch(n))),
  );
  for (const peer of peers) {
    if (typeof peer === "string") continue;
    const [x, y] = await peer.operands(n);
    // tfjs's WebGPU backend runs 2048² at a few GFLOP/s on software adapters: keep its reps low.
    const r = peer.name === "webgpu" ? Math.min(reps, n >= 1024 ? 2 : 4) : reps;
    Deno.bench(
      { name: `tfjs-${peer.name} matMul ${n}`, group: `matmul ${n}`, n: r, warmup: 1 },
      timed(`${peer.name} ${n}`, () => peer.matmul(x, y, matmulBatch(n))),
    );
  }
}

figuresAtEnd(() =>
  Object.fromEntries(sizes.map((n) => [`matmul ${n}² (per product)`, (bestOf(`meddiff ${n}`) ?? NaN) / matmulBatch(n)]))
);
atEnd(() => {
  const rows = sizes.map((n) => {
    const ours = bestOf(`meddiff ${n}`), web = bestOf(`webgpu ${n}`), wasm = bestOf(`wasm ${n}`);
    const ratio = (p?: number) => (ours && p ? `${(p / ours).toFixed(2)}×` : "—");
    return `| ${n} | ${gflops(n, ours)} | ${gflops(n, web)} | ${gflops(n, wasm)} | ${ratio(web)} | ${ratio(wasm)} |`;
  });
  return [
    "",
    `Adapter: ${adapterDescription()} (best of the timed runs, GFLOP/s)`,
    ...peers.filter((p) => typeof p === "string"),
    "| n | meddiff | tfjs-webgpu | tfjs-wasm | vs webgpu | vs wasm |",
    "|---|---|---|---|---|---|",
    ...rows,
  ];
});
