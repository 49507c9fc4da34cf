/**
 * Data-parallel scaling through the training engine: ResNet-18 (small-input stem, 10 classes) on
 * random 28×28×3 images, batch B per process, under `mpirun -np N` (or alone). Prints one JSON
 * line from rank 0: the job's images/s over the timed steps, the milliseconds per step spent in
 * the gradient all-reduce (read-back, MPI, upload), and — with N > 1 — the MPI all-reduce
 * bandwidth on buffers the size of ResNet-18's and the U-Net's gradients (the figure the scaling
 * model in BENCHMARKS.md uses).
 *
 *   LP_NUM_THREADS=1 deno run -A bench/data_parallel_scaling.ts 16 8
 *   LP_NUM_THREADS=1 mpirun -np 2 deno run -A bench/data_parallel_scaling.ts 16 8
 * Arguments: batch per process (16), timed steps (8); two warm-up steps come first.
 */
import { manualSeed } from "../core/ops/random.ts";
import { crossEntropy } from "../core/ops/loss.ts";
import { TensorDataset } from "../datasets/tensor_dataset.ts";
import { DataLoader } from "../datasets/loader.ts";
import type { Sample } from "../datasets/types.ts";
import { resnet18 } from "../models/resnet.ts";
import { type CommunicationStats, dataParallel, MpiDataParallel } from "../train/data_parallel.ts";
import { fit } from "../train/engine.ts";
import { Logger } from "../train/logger.ts";
import { TRAIN_DEFAULTS } from "../train/options.ts";
import { createRunDir } from "../train/run_dir.ts";
import { Mpi } from "../util/mpi.ts";
import { initGpu, releaseGpu } from "../core/device.ts";

const batch = Number(Deno.args[0] ?? 16), steps = Number(Deno.args[1] ?? 8), warmup = 2;
const parallel = dataParallel();
const world = parallel.worldSize;

/** `n` images and labels of a fixed random set (the same on every rank: each reads its shard). */
function randomSet(n: number): TensorDataset {
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const data = Float32Array.from({ length: n * 3 * 28 * 28 }, () => next() * 2 - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return new TensorDataset({ data, shape: [n, 3, 28, 28] }, labels, { labelCheck: "off" });
}

/** Runs `steps` optimizer steps as one epoch; returns seconds and where the all-reduces spent their time. */
async function timedSteps(k: number, root: string): Promise<{ seconds: number; comm: CommunicationStats | null }> {
  manualSeed(0);
  const model = resnet18({ numClasses: 10, smallInput: true });
  const loader: DataLoader = new DataLoader<Sample>(randomSet(batch * world * k), {
    batchSize: batch,
    shuffle: true,
    seed: 0,
  });
  const run = await createRunDir(root, `dp-rank${parallel.rank}`);
  await Deno.writeTextFile(run.configPath, "name: bench\n");
  const log = new Logger(run, { console: null });
  const before = parallel instanceof MpiDataParallel ? parallel.stats() : null;
  const out = await fit({ model, loader, loss: (b) => ({ loss: crossEntropy(model.call(b.images), b.labels) }) }, {
    train: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: batch, logEvery: k },
    seed: 0,
    run,
    log,
    quiet: true,
    parallel,
  });
  log.close();
  if (!(parallel instanceof MpiDataParallel) || !before) return { seconds: out.seconds, comm: null };
  const after = parallel.stats();
  const comm = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - before[k as keyof CommunicationStats]]),
  ) as unknown as CommunicationStats;
  return { seconds: out.seconds, comm };
}

await initGpu();
const root = await Deno.makeTempDir({ prefix: "dp_scaling_" });
try {
  await timedSteps(warmup, root); // kernels compiled and chosen, buffers pooled
  const t = await timedSteps(steps, root);
  const result: Record<string, unknown> = {
    processes: world,
    batchPerProcess: batch,
    steps,
    lpNumThreads: Deno.env.get("LP_NUM_THREADS") ?? "default",
    imagesPerSecond: +(batch * world * steps / t.seconds).toFixed(2),
    secondsPerStep: +(t.seconds / steps).toFixed(3),
  };
  if (t.comm) {
    const c = t.comm, per = (ms: number) => +(ms / steps).toFixed(1);
    const communication = c.readMs + c.mpiMs + c.writeMs; // the backward's wait is compute
    Object.assign(result, {
      msPerStep: { backwardWait: per(c.waitMs), readBack: per(c.readMs), mpi: per(c.mpiMs), upload: per(c.writeMs) },
      communicationFraction: +(communication / 1000 / t.seconds).toFixed(4),
      mpiFraction: +(c.mpiMs / 1000 / t.seconds).toFixed(4),
    });
  }
  if (world > 1) {
    const mpi = Mpi.init();
    const resnetParams = resnet18({ numClasses: 10, smallInput: true }).parameters().reduce((n, p) => n + p.size, 0);
    // The U-Net of bench/_models.ts (the DDPM configs' U-Net): 3,941,315 parameters.
    for (const [name, params] of [["resnet18", resnetParams], ["unet", 3_941_315]] as const) {
      const buf = new Float32Array(params);
      await mpi.allReduceSum(buf);
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) await mpi.allReduceSum(buf);
      const ms = (performance.now() - t0) / 5;
      // Ring all-reduce moves 2(N−1)/N of the buffer per process ("bus bandwidth", as nccl-tests).
      result[`allReduce_${name}_ms`] = +ms.toFixed(1);
      result[`allReduce_${name}_busGBps`] = +(2 * (world - 1) / world * params * 4 / (ms / 1000) / 1e9).toFixed(2);
    }
  }
  if (parallel.rank === 0) console.log(JSON.stringify(result));
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await releaseGpu();
  if (parallel instanceof MpiDataParallel) parallel.finalize();
}
