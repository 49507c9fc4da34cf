/**
 * What a first run spends compiling kernels: one U-Net training step with every dispatch in a
 * submit of its own (`MEDDIFF_DISPATCH_BUDGET=1`), so that a submit that takes long is the
 * compile of the kernel it ran (llvmpipe compiles a shader to machine code on its first
 * launch, on the main thread). Prints the first step's time, the slow submits by kernel, and
 * the second step's time. Mesa keeps compiled shaders in `~/.cache/mesa_shader_cache`: run
 * with `MESA_SHADER_CACHE_DISABLE=true` to see a fresh machine.
 *
 *   MEDDIFF_DISPATCH_BUDGET=1 MESA_SHADER_CACHE_DISABLE=true MEDDIFF_AUTOTUNE=0 XDG_RUNTIME_DIR=/tmp \
 *     deno run -A bench/first_step_compile.ts [batch]
 */
import { initGpu, synchronize } from "../mod.ts";
import { unetWorkload } from "./_models.ts";

await initGpu();
const SLOW_MS = 100;
let lastKernel = "";
const setPipeline = GPUComputePassEncoder.prototype.setPipeline;
GPUComputePassEncoder.prototype.setPipeline = function (p: GPUComputePipeline) {
  lastKernel = p.label;
  return setPipeline.call(this, p);
};
const slow = new Map<string, { n: number; ms: number }>();
const submit = GPUQueue.prototype.submit;
GPUQueue.prototype.submit = function (buffers: GPUCommandBuffer[]) {
  const t0 = performance.now();
  const r = submit.call(this, buffers);
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) {
    const e = slow.get(lastKernel) ?? { n: 0, ms: 0 };
    slow.set(lastKernel, { n: e.n + 1, ms: e.ms + ms });
  }
  return r;
};

const w = unetWorkload(Number(Deno.args[0] ?? "32"));
const timeStep = async () => {
  const t0 = performance.now();
  w.step();
  await synchronize();
  return performance.now() - t0;
};
const first = await timeStep();
const rows = [...slow].sort((a, b) => b[1].ms - a[1].ms);
const second = await timeStep();
console.log(`first step ${(first / 1000).toFixed(1)} s, second step ${(second / 1000).toFixed(1)} s`);
console.log(`| kernel | submits over ${SLOW_MS} ms in the first step | s |\n|---|---|---|`);
for (const [k, v] of rows) console.log(`| ${k} | ${v.n} | ${(v.ms / 1000).toFixed(1)} |`);
