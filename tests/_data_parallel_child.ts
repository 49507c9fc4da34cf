/**
 * One process of the data-parallel tests (tests/data_parallel_test.ts), run alone or as a rank
 * under `mpirun`: trains a small MLP with the engine on 36 procedural 8×8 images for one epoch
 * of `--batch` per process, then writes this rank's final parameters (float32, state-dict order)
 * to `<out>/rank<r>.bin`. With `--die-after k`, rank 1 kills itself (SIGKILL) at step k; with
 * `--hang-after k`, rank 1 stops answering (blocks its thread) at step k; with `--stop-at k`,
 * rank 0 alone is asked to stop (as by SIGTERM) at step k. `--run <folder> --resume <checkpoint>`
 * continues a run. `--slow-validation s` validates (rank 0) once at the end, taking s seconds.
 * `--bn per-rank|average` puts a BatchNorm layer in the MLP with that `train.batchNormStats`.
 *
 *   deno run -A tests/_data_parallel_child.ts --batch 6 --out <dir>
 *   mpirun -np 2 deno run -A tests/_data_parallel_child.ts --batch 3 --out <dir>
 */
import { Sequential } from "../core/nn/containers.ts";
import { Flatten } from "../core/nn/pool.ts";
import { Linear, ReLU } from "../core/nn/linear.ts";
import { BatchNorm1d } from "../core/nn/norm.ts";
import { crossEntropy } from "../core/ops/loss.ts";
import { manualSeed } from "../core/ops/random.ts";
import { DataLoader } from "../datasets/loader.ts";
import { DATA_DEFAULTS, openImageData } from "../tasks/common/data.ts";
import { runTask } from "../tasks/lib/args.ts";
import { dataParallel } from "../train/data_parallel.ts";
import { fit, type FitResult } from "../train/engine.ts";
import { concatBytes } from "../util/bytes.ts";
import { exitCodeFor, InterruptController, type InterruptSignal } from "../train/signals.ts";
import { Logger } from "../train/logger.ts";
import { TRAIN_DEFAULTS } from "../train/options.ts";
import { createRunDir, openRunDir } from "../train/run_dir.ts";

const arg = (name: string): string | undefined => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const batch = Number(arg("batch") ?? 6), out = arg("out")!;
const dieAfter = Number(arg("die-after") ?? 0), hangAfter = Number(arg("hang-after") ?? 0);
const stopAt = Number(arg("stop-at") ?? 0), resumeFrom = arg("resume"), runPath = arg("run");
const slowValidation = Number(arg("slow-validation") ?? 0), bn = arg("bn");

// Interrupts this test drives: rank 0 "receives SIGTERM" at step `stopAt`.
let raise: ((s: InterruptSignal) => void) | null = null;
const interrupts = new InterruptController({
  addListener: (listener) => void (raise = listener),
  removeListener: () => {},
  exit: () => {
    throw new Error("a training loop must not exit the process");
  },
  message: () => {},
});

await runTask(async () => {
  const parallel = dataParallel();
  manualSeed(0);
  const data = await openImageData(
    { ...DATA_DEFAULTS, imageSize: 8, channels: 1, numClasses: 4, length: 48, valFraction: 0.25, hflip: true },
    0,
  );
  const model = bn
    ? new Sequential(new Flatten(), new Linear(64, 16), new BatchNorm1d(16), new ReLU(), new Linear(16, 4))
    : new Sequential(new Flatten(), new Linear(64, 16), new ReLU(), new Linear(16, 4));
  const loader = new DataLoader(data.train, {
    batchSize: batch,
    shuffle: true,
    seed: 0,
    transform: data.trainTransform,
  });
  const made = parallel.rank === 0 && !runPath ? await createRunDir(out, "dp") : null;
  if (made) await Deno.writeTextFile(made.configPath, "name: dp\n");
  const run = runPath
    ? await openRunDir(runPath)
    : made ?? await openRunDir(await parallel.shareFromRoot<string>(null));
  if (made) await parallel.shareFromRoot(made.path);
  const log = new Logger(run, parallel.rank === 0 ? { console: null } : { file: null, console: null });
  let result: FitResult;
  try {
    result = await fit({
      model,
      loader,
      loss: (b, ctx) => {
        if (parallel.rank === 0 && ctx.step + 1 === stopAt) raise?.("SIGTERM");
        if (parallel.rank === 1 && ctx.step + 1 === dieAfter) Deno.kill(Deno.pid, "SIGKILL");
        if (parallel.rank === 1 && ctx.step + 1 === hangAfter) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        }
        return { loss: crossEntropy(model.call(b.images), b.labels) };
      },
      ...(slowValidation > 0
        ? {
          metricNames: ["loss"],
          validate: async () => {
            await new Promise((r) => setTimeout(r, slowValidation * 1000));
            return { metrics: { loss: 1 } };
          },
        }
        : {}),
    }, {
      train: {
        ...TRAIN_DEFAULTS,
        epochs: dieAfter + hangAfter > 0 ? 50 : 1,
        batchSize: batch,
        lr: 0.05,
        logEvery: 1,
        batchNormStats: bn ?? "per-rank",
      },
      seed: 0,
      run,
      log,
      quiet: true,
      interrupts,
      resumeFrom,
    });
  } finally {
    log.close();
  }
  const state = Object.values(model.stateDict());
  await Deno.writeFile(
    `${out}/rank${parallel.rank}.bin`,
    concatBytes(...await Promise.all(state.map((t) => t.data()))),
  );
  return result.interrupted ? exitCodeFor(result.interrupted) : 0;
});
