/**
 * Prints the benchmark figures as markdown: matmul GFLOP/s per kernel variant and size, the
 * autotuned choice, TensorFlow.js peers and ratios, and GB/s of a large add and sum.
 *
 *   XDG_RUNTIME_DIR=/tmp deno run -A bench/report.ts [--sizes 256,512,1024,2048] [--reps 5]
 */
import { gpu, initGpu, randn, synchronize } from "../mod.ts";
import { MATMUL_VARIANTS } from "../core/backend/matmul.ts";
import { tuneMatmul } from "../core/ops/matmul.ts";
import {
  adapterDescription,
  bestMs,
  MATMUL_SIZES,
  matmulBatch,
  matmulFlops,
  matmulOperands,
  runAdd,
  runMatmul,
  runSum,
  STREAM_ELEMENTS,
  tfPeer,
} from "./_common.ts";

await initGpu();

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const sizes = arg("sizes")?.split(",").map(Number) ?? [...MATMUL_SIZES];
const reps = Number(arg("reps") ?? 5);
const soft = gpu().isSoftware;
const rate = (n: number, ms: number): string => (matmulFlops(n) / ms / 1e6).toFixed(1);
const out: string[] = [];
const log = (s = "") => {
  out.push(s);
  console.error(s); // progress on stderr; the final table goes to stdout
};

log(`Adapter: ${adapterDescription()}; software: ${soft}; ${navigator.hardwareConcurrency} CPU threads`);
log(
  `Timing: best of ${reps} timed regions after a warm-up; each region records ${
    sizes.map((n) => `${matmulBatch(n)}× ${n}²`).join(", ")
  } products and ends with \`await synchronize()\` (tfjs: \`await data()\` of the last result).`,
);
log();

// Per-variant GFLOP/s (workgroup-memory tiling is ~0.4 GFLOP/s on software adapters: small sizes only).
const perVariant = new Map<string, Map<number, number>>();
const tuned = new Map<number, string>();
const ours = new Map<number, number>();
for (const n of sizes) {
  const [a, b] = await matmulOperands(n);
  const k = matmulBatch(n);
  tuned.set(n, (await tuneMatmul(n, n, n)).choice);
  ours.set(n, (await bestMs(() => runMatmul(a, b, k), n >= 2048 ? Math.min(reps, 3) : reps)) / k);
  for (const v of MATMUL_VARIANTS) {
    if (soft && v === "tiled" && n > 512) continue;
    if (v === "naive" && n > 1024) continue;
    Deno.env.set("MEDDIFF_MATMUL", v);
    const ms = (await bestMs(() => runMatmul(a, b, k), n >= 1024 ? Math.min(reps, 3) : reps)) / k;
    Deno.env.delete("MEDDIFF_MATMUL");
    const row = perVariant.get(v) ?? new Map<number, number>();
    row.set(n, ms);
    perVariant.set(v, row);
    console.error(`  ${v} ${n}: ${rate(n, ms)} GFLOP/s`);
  }
  a.dispose();
  b.dispose();
}

// Peers on the same products.
const peerMs = new Map<string, Map<number, number>>();
for (const name of ["webgpu", "wasm"] as const) {
  const peer = await tfPeer(name);
  if (typeof peer === "string") {
    log(peer);
    continue;
  }
  const row = new Map<number, number>();
  for (const n of sizes) {
    const [x, y] = await peer.operands(n);
    const r = name === "webgpu" && n >= 1024 ? 2 : n >= 2048 ? Math.min(reps, 3) : reps;
    const k = matmulBatch(n);
    row.set(n, (await bestMs(() => peer.matmul(x, y, k), r)) / k);
    console.error(`  tfjs-${name} ${n}: ${rate(n, row.get(n)!)} GFLOP/s`);
    x.dispose();
    y.dispose();
  }
  peerMs.set(name, row);
}

log("### Matmul, n×n · n×n (GFLOP/s)");
log();
log(`| kernel | ${sizes.join(" | ")} |`);
log(`|---|${sizes.map(() => "---").join("|")}|`);
log(`| **meddiff (autotuned)** | ${sizes.map((n) => `**${rate(n, ours.get(n)!)}** (${tuned.get(n)})`).join(" | ")} |`);
for (const [v, row] of perVariant) {
  log(`| meddiff \`${v}\` | ${sizes.map((n) => (row.has(n) ? rate(n, row.get(n)!) : "—")).join(" | ")} |`);
}
for (const [name, row] of peerMs) {
  log(`| tfjs-${name} | ${sizes.map((n) => rate(n, row.get(n)!)).join(" | ")} |`);
}
for (const [name, row] of peerMs) {
  log(`| meddiff ÷ tfjs-${name} | ${sizes.map((n) => `${(row.get(n)! / ours.get(n)!).toFixed(2)}×`).join(" | ")} |`);
}

const x = randn([STREAM_ELEMENTS]), y = randn([STREAM_ELEMENTS]);
await synchronize();
const bytes = 4 * STREAM_ELEMENTS;
const addMs = await bestMs(() => runAdd(x, y), 10, 2);
const sumMs = await bestMs(() => runSum(x), 10, 2);
log();
log("### Memory-bound kernels (16M float32)");
log();
log("| op | ms | GB/s |");
log("|---|---|---|");
log(`| add (2 reads + 1 write) | ${addMs.toFixed(2)} | ${(3 * bytes / addMs / 1e6).toFixed(2)} |`);
log(`| sum (1 read) | ${sumMs.toFixed(2)} | ${(bytes / sumMs / 1e6).toFixed(2)} |`);
console.log(out.join("\n"));
