/**
 * Where a training step's GPU time goes, kernel by kernel: one warm-up step, one timed plain step, then one step under
 * the kernel profiler (`startKernelProfile`: every dispatch timed with `timestamp-query`), printed
 * as a table by op name with counts, milliseconds and shares. The profiled step is slower than a
 * plain one (one compute pass per dispatch); read the shares, not the wall time.
 *
 * With `--replay` it times each kernel on the CPU instead, for adapters whose timestamps cannot
 * be trusted (llvmpipe writes them before its threads have run the kernel): the step's dispatches
 * are recorded, then replayed one at a time — each three times in one submit, waited for, less an
 * empty submit's wait — with every buffer the step frees
 * kept as it left it (no reuse) until the replay ends. Copies and uploads are not counted.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/kernel_profile.ts [unet|resnet|swin|vae3d] [batch] [--forward] [--replay | --detail]`
 * (default: the U-Net training step of `unet_bench.ts` at batch 64; `vae3d` is the 3-D VAE of
 * `configs/vae3d-adrenalmnist3d.yaml`, batch 1 by default, `VAE3D_SIZE` its side, 64).
 */
import { initGpu, noGrad, scope, startKernelProfile, stopKernelProfile, synchronize } from "../mod.ts";
import { dispatch, type DispatchSpec, flush, gpu, type KernelProfileRow, observeDispatches } from "../core/device.ts";
import { adapterDescription } from "./_common.ts";
import { namedWorkload } from "./_models.ts";

await initGpu();
const args = Deno.args.filter((a) => !a.startsWith("--"));
const forwardOnly = Deno.args.includes("--forward");
const replay = Deno.args.includes("--replay") || Deno.args.includes("--detail");
/** Replay rows by op and workgroup grid, which tells a layer's kernels apart. */
const detail = Deno.args.includes("--detail");
const model = args[0] ?? "unet";
const { batch, workload: w } = namedWorkload(model, args[1]);
const run = forwardOnly ? () => scope(() => void noGrad(() => w.forward())) : () => w.step();

run();
await synchronize();
const plain0 = performance.now();
run();
await synchronize();
const plain = performance.now() - plain0;
const t0 = performance.now();
const rows = replay ? await replayProfile(run) : await timestampProfile(run);
const wall = performance.now() - t0;
const total = rows.reduce((s, r) => s + r.ms, 0);
const count = rows.reduce((s, r) => s + r.count, 0);
console.log(
  `${model} ${forwardOnly ? "forward" : "training step"}, batch ${batch}; adapter ${adapterDescription()}; ` +
    `${replay ? "replayed on the CPU clock" : "timestamp-query"}; ` +
    `${count} dispatches, ${total.toFixed(0)} ms of kernel time (${wall.toFixed(0)} ms wall while profiled; ${
      plain.toFixed(0)
    } ms unprofiled)`,
);
console.log("| kernel | dispatches | ms | share |\n|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.op} | ${r.count} | ${r.ms.toFixed(1)} | ${(100 * r.ms / total).toFixed(1)} % |`);
}

async function timestampProfile(step: () => void): Promise<KernelProfileRow[]> {
  startKernelProfile();
  step();
  return await stopKernelProfile();
}

/** Records the step's dispatches, then times each alone (see the module comment). */
async function replayProfile(step: () => void): Promise<KernelProfileRow[]> {
  const { device } = gpu();
  const specs: DispatchSpec[] = [];
  // The replay binds what the step freed: nothing is destroyed, and no buffer is handed out twice
  // (so a kernel that reads indices or tables finds the step's, not a later op's data).
  const destroy = [GPUBuffer.prototype.destroy, GPUTexture.prototype.destroy] as const;
  GPUBuffer.prototype.destroy = GPUTexture.prototype.destroy = function () {};
  const { pool } = gpu();
  const release = pool.release;
  pool.release = () => {};
  try {
    observeDispatches((spec) => specs.push(spec));
    step();
    observeDispatches();
    await synchronize();
    const wait = async (reps: number, spec?: DispatchSpec) => {
      const t = performance.now();
      for (let r = 0; spec && r < reps; r++) dispatch(spec);
      flush();
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t;
    };
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push(await wait(0));
    const base = idle.sort((a, b) => a - b)[10];
    const totals = new Map<string, { count: number; ms: number }>();
    const REPS = 3;
    for (const spec of specs) {
      const ms = Math.max(0, (await wait(REPS, spec)) - base) / REPS;
      const key = detail ? `${spec.op} [${spec.workgroups.map((n) => n ?? 1).join("×")}]` : spec.op;
      const row = totals.get(key) ?? { count: 0, ms: 0 };
      row.count++;
      row.ms += ms;
      totals.set(key, row);
    }
    await synchronize();
    return [...totals].map(([op, r]) => ({ op, ...r })).sort((a, b) => b.ms - a.ms);
  } finally {
    [GPUBuffer.prototype.destroy, GPUTexture.prototype.destroy] = destroy;
    pool.release = release;
  }
}
