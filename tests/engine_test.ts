/**
 * The training engine (train/engine.ts) on a tiny task (a linear classifier over procedural 8×8
 * images): exact resume from a mid-epoch step checkpoint with gradient accumulation and
 * OneCycle, metrics rows replaced rather than duplicated after a resume, pruning, the cleanup of
 * what a save killed half-way leaves, a real SIGTERM, the non-finite policy (stop, or skip with
 * loss scaling), the `--resume` choice of a newer best checkpoint, and the LR schedules.
 */
import { noGrad } from "../core/autograd.ts";
import { Sequential } from "../core/nn/containers.ts";
import { Linear } from "../core/nn/linear.ts";
import { Flatten } from "../core/nn/pool.ts";
import { crossEntropy } from "../core/ops/loss.ts";
import { manualSeed } from "../core/ops/random.ts";
import { scope } from "../core/scope.ts";
import { DataLoader } from "../datasets/loader.ts";
import { DATA_DEFAULTS, openImageData } from "../tasks/common/data.ts";
import { loadCheckpoint, NonFiniteError, saveCheckpoint } from "../train/checkpoint.ts";
import { resolveResume } from "../train/checkpoint_files.ts";
import { fit, type FitOptions, type FitResult } from "../train/engine.ts";
import { Logger } from "../train/logger.ts";
import { buildOptimizer, buildSchedule } from "../train/optimizer.ts";
import { LR_SCHEDULES, TRAIN_DEFAULTS, type TrainOptions } from "../train/options.ts";
import { type EpochProfile, PHASES } from "../train/profile.ts";
import { createRunDir, readJsonl, type RunDir } from "../train/run_dir.ts";
import { sharedInterrupts } from "../train/signals.ts";
import { zeros } from "../core/ops/creation.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { NEEDS_SIGNALS, skippableTest } from "./_skip.ts";
import { assertClose, assertSameState, gpuTest, withTempDir } from "./_util.ts";

interface TinyRun {
  out: FitResult;
  model: Sequential;
  run: RunDir;
}

interface TinyOptions extends Pick<FitOptions, "interrupts" | "lossScaling" | "profile"> {
  /** An existing run folder to resume (from `resumeFrom`, or its newest checkpoint). */
  run?: RunDir;
  resumeFrom?: string;
  /** From this optimizer step on (1-based), the loss is NaN. */
  nanFromStep?: number;
  /** Called with the step about to be taken, inside the loss. */
  onStep?: (step: number) => void;
}

/** A linear classifier trained by the engine on 36 procedural 8×8 grey images (12 validation). */
async function tinyFit(root: string, train: Partial<TrainOptions>, o: TinyOptions = {}): Promise<TinyRun> {
  manualSeed(0);
  const data = await openImageData(
    { ...DATA_DEFAULTS, imageSize: 8, channels: 1, numClasses: 4, length: 48, valFraction: 0.25, hflip: true },
    0,
  );
  const model = new Sequential(new Flatten(), new Linear(64, 4));
  const t: TrainOptions = { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 6, lr: 0.05, logEvery: 1, ...train };
  const loader = new DataLoader(data.train, { batchSize: 6, shuffle: true, seed: 0, transform: data.trainTransform });
  const valLoader = new DataLoader(data.val, { batchSize: 6, transform: data.evalTransform });
  const run = o.run ?? await createRunDir(root, "engine");
  const log = new Logger(run, { console: null });
  try {
    const out = await fit({
      model,
      loader,
      metricNames: ["loss"],
      loss: (batch, ctx) => {
        o.onStep?.(ctx.step + 1);
        const loss = crossEntropy(model.call(batch.images), batch.labels);
        const nan = o.nanFromStep !== undefined && ctx.step + 1 >= o.nanFromStep;
        return { loss: nan ? loss.mul(NaN) : loss, scalars: { twice: loss.mul(2) } };
      },
      validate: async () => {
        let sum = 0, n = 0;
        for await (const b of valLoader.iterate(0)) {
          const l = scope(() => noGrad(() => crossEntropy(model.call(b.images), b.labels).mul(b.ids.length)));
          sum += await l.item();
          l.dispose();
          n += b.ids.length;
          b.dispose();
        }
        return { metrics: { loss: sum / n } };
      },
    }, { train: t, seed: 0, run, log, quiet: true, ...o, resumeFrom: o.resumeFrom });
    return { out, model, run };
  } finally {
    log.close();
  }
}

gpuTest("engine: a profiled run times every phase of each epoch, logs the table and writes profile.json", async () => {
  await withTempDir("engine_profile_", async (root) => {
    const { run, out } = await tinyFit(root, { gradAccumulation: 2, checkpointEverySteps: 2 }, { profile: true });
    const profiles = JSON.parse(await Deno.readTextFile(`${run.path}/profile.json`)) as EpochProfile[];
    assertEquals(profiles.map((p) => [p.epoch, p.steps, p.images]), [[1, 3, 36], [2, 3, 36]]);
    for (const p of profiles) {
      for (const phase of PHASES) assert(p.ms[phase] >= 0, `${phase} timed`);
      for (const phase of ["data", "forward+backward", "optimizer", "validation", "checkpoint"] as const) {
        assert(p.ms[phase] > 0, `epoch ${p.epoch}: ${phase} took time`);
      }
      const sum = PHASES.reduce((s, phase) => s + p.ms[phase], 0);
      assertClose([sum], [p.totalMs], { rtol: 1e-9, atol: 1e-6, msg: "the phases add up to the epoch" });
      assert(p.dispatches > 0, "dispatches counted");
    }
    assertEquals(out.step, 6);
    const log = await Deno.readTextFile(run.logPath);
    assert(log.includes("| forward+backward |"), "the table is logged");
  });
});

gpuTest("engine: each epoch's summary line reports that epoch's mean training loss, whatever logEvery is", async () => {
  await withTempDir("engine_epoch_loss_", async (root) => {
    // logEvery 1 gives every step's loss; with 4, windows straddle the epochs (6 steps each).
    const every = await tinyFit(root, { logEvery: 1 });
    const losses = (await readJsonl(every.run.metricsPath)).filter((r) => "train_loss" in r)
      .map((r) => r.train_loss as number);
    assertEquals(losses.length, 12);
    const sparse = await tinyFit(root, { logEvery: 4 });
    const lines = (await Deno.readTextFile(sparse.run.logPath)).match(/epoch \d\/2: train loss [\d.]+/g) ?? [];
    const logged = lines.map((l) => Number(l.split(" ").at(-1)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assertClose(logged, [mean(losses.slice(0, 6)), mean(losses.slice(6))], { atol: 1e-4, msg: "epoch means" });
  });
});

const ckptNames = (run: RunDir) => [...Deno.readDirSync(run.checkpointsDir)].map((e) => e.name).sort();

gpuTest(
  "engine: resume from a mid-epoch step checkpoint (accumulation, OneCycle) is bit-exact; rows replaced, pruned, leftovers cleaned",
  async () => {
    await withTempDir("engine_", async (root) => {
      // 6 batches per epoch, 2 per step: 3 steps per epoch, 6 in all.
      const train = { gradAccumulation: 2, lrSchedule: "onecycle", checkpointEverySteps: 2, keepCheckpoints: 2 };
      const straight = await tinyFit(root, train);
      assertEquals(straight.out.step, 6);
      assertEquals(ckptNames(straight.run), ["best.safetensors", "ckpt-000004.safetensors", "ckpt-000006.safetensors"]);

      const cut = await tinyFit(root, train);
      // Back to step 4 (epoch 2, batch 2), as if killed there; a save killed half-way left temporary files.
      await Deno.remove(`${cut.run.checkpointsDir}/ckpt-000006.safetensors`);
      await Deno.remove(`${cut.run.checkpointsDir}/best.safetensors`);
      const bytes = await Deno.readFile(`${cut.run.checkpointsDir}/ckpt-000004.safetensors`);
      await Deno.writeFile(`${cut.run.checkpointsDir}/.ckpt-000006.safetensors.0badc0de.tmp`, bytes.slice(0, 100));
      await Deno.writeFile(`${cut.run.path}/.metrics.jsonl.deadbeef.tmp`, new Uint8Array(10));
      const from = await resolveResume(cut.run.path);
      assert(from.endsWith("ckpt-000004.safetensors"), from);
      const resumed = await tinyFit(root, train, { run: cut.run, resumeFrom: from });
      assertEquals(resumed.out.step, 6);
      await assertSameState(straight.model, resumed.model, "equal after a mid-epoch resume");
      assertEquals(ckptNames(resumed.run), ["best.safetensors", "ckpt-000004.safetensors", "ckpt-000006.safetensors"]);
      assertEquals([...Deno.readDirSync(resumed.run.path)].filter((e) => e.name.endsWith(".tmp")).length, 0);
      const rows = await readJsonl(resumed.run.metricsPath);
      const trainSteps = rows.filter((r) => "train_loss" in r).map((r) => r.step);
      assertEquals(trainSteps, [1, 2, 3, 4, 5, 6], "one row per step, none duplicated");
      assert(rows.every((r) => !("train_loss" in r) || typeof r.train_twice === "number"), "task scalars logged");
      assertEquals(rows.filter((r) => "val_loss" in r).map((r) => r.step), [3, 6]);
      const log = await Deno.readTextFile(resumed.run.logPath);
      assert(log.includes("removed 2 unfinished file(s)"), "the cleanup is logged");
    });
  },
);

skippableTest({
  name: "engine: a real SIGTERM mid-epoch saves a checkpoint, reports SIGTERM, and the resumed run is exact",
  skip: NEEDS_SIGNALS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir("engine_", async (root) => {
      const train = { epochs: 3 };
      const straight = await tinyFit(root, train);
      let sent = false;
      const cut = await tinyFit(root, train, {
        onStep: (step) => {
          if (step === 3 && !sent) {
            sent = true;
            Deno.kill(Deno.pid, "SIGTERM"); // as Slurm or `timeout` send it
          }
        },
      });
      assertEquals(cut.out.interrupted, "SIGTERM");
      assert(cut.out.step >= 3 && cut.out.step < 18, `stopped mid-run at step ${cut.out.step}`);
      sharedInterrupts().reset(); // a resumed run is a new process
      const resumed = await tinyFit(root, train, { run: cut.run, resumeFrom: await resolveResume(cut.run.path) });
      assertEquals(resumed.out.step, 18);
      assertEquals(resumed.out.interrupted, null);
      await assertSameState(straight.model, resumed.model, "equal after SIGTERM and resume");
    }).finally(() => sharedInterrupts().reset());
  },
});

gpuTest("engine: a NaN loss stops naming the step; no checkpoint holds a NaN; the last good one loads", async () => {
  await withTempDir("engine_", async (root) => {
    const run = await createRunDir(root, "nan");
    const err = await assertRejects(
      () => tinyFit(root, { checkpointEverySteps: 2 }, { run, nanFromStep: 5 }),
      NonFiniteError,
      "at step 5",
    );
    assert(err.message.includes(`${run.checkpointsDir}/ckpt-000004.safetensors`), err.message);
    assertEquals(ckptNames(run), ["ckpt-000002.safetensors", "ckpt-000004.safetensors"]);
    for (const name of ckptNames(run)) {
      const model = new Sequential(new Flatten(), new Linear(64, 4));
      await loadCheckpoint(`${run.checkpointsDir}/${name}`, { model, restoreRng: false });
      for (const t of Object.values(model.stateDict())) {
        assert((await t.data()).every(Number.isFinite), `${name} is finite`);
      }
    }
  });
});

gpuTest("engine: with loss scaling a NaN loss skips the step and backs off; the run finishes finite", async () => {
  await withTempDir("engine_", async (root) => {
    const r = await tinyFit(root, {}, { nanFromStep: 9, lossScaling: true });
    assertEquals(r.out.step, 12);
    assertEquals(r.out.skippedSteps, 4);
    for (const t of Object.values(r.model.stateDict())) assert((await t.data()).every(Number.isFinite));
    const rows = await readJsonl(r.run.metricsPath);
    const last = rows.filter((x) => "loss_scale" in x).at(-1)!;
    assertEquals(last.skipped_steps, 4);
    assertEquals(last.loss_scale, 65536 / 16, "halved at each skipped step");
    assert(ckptNames(r.run).includes("best.safetensors"));
  });
});

gpuTest(
  "engine: --resume on a run folder takes best.safetensors when it is newer than the last periodic one",
  async () => {
    await withTempDir("engine_", async (root) => {
      const run = await createRunDir(root, "resume");
      const model = new Sequential(new Linear(2, 2));
      await saveCheckpoint(`${run.checkpointsDir}/ckpt-000003.safetensors`, { model, step: 3 });
      await saveCheckpoint(`${run.checkpointsDir}/best.safetensors`, { model, step: 5 });
      assert((await resolveResume(run.path)).endsWith("best.safetensors"));
      await saveCheckpoint(`${run.checkpointsDir}/ckpt-000005.safetensors`, { model, step: 5 });
      assert((await resolveResume(run.path)).endsWith("ckpt-000005.safetensors"), "the periodic one on a tie");
    });
  },
);

gpuTest("engine: every train.lrSchedule, built from the options, follows its closed form", () => {
  const lrAt = (name: string, extra: Partial<TrainOptions> = {}) => {
    const p = zeros([1], { requiresGrad: true });
    const t: TrainOptions = { ...TRAIN_DEFAULTS, lr: 0.1, epochs: 4, ...extra, lrSchedule: name };
    const opt = buildOptimizer([p], t);
    const sched = buildSchedule(opt, t, 10); // 40 steps
    const out = [opt.paramGroups[0].lr];
    for (let i = 0; i < 40; i++) {
      sched?.step();
      out.push(opt.paramGroups[0].lr);
    }
    return out;
  };
  for (const name of LR_SCHEDULES) assertEquals(lrAt(name).length, 41, name);
  assertEquals(lrAt("constant").every((v) => v === 0.1), true);
  const cos = (s: number, floor: number) => floor + (0.1 - floor) * (1 + Math.cos(Math.PI * s / 40)) / 2;
  assertClose(lrAt("cosine", { minLrFraction: 0.1 }), Array.from({ length: 41 }, (_, s) => cos(s, 0.01)));
  const step = lrAt("step", { lrMilestones: [1, 3], lrGamma: 0.5 });
  assertClose(step, Array.from({ length: 41 }, (_, s) => 0.1 * 0.5 ** ((s >= 10 ? 1 : 0) + (s >= 30 ? 1 : 0))));
  const warm = lrAt("warmup-cosine", { warmupFraction: 0.25 });
  assertClose(warm.slice(0, 11), Array.from({ length: 11 }, (_, s) => 0.1 * s / 10));
  assertClose([warm[40]], [0]);
  const one = lrAt("onecycle");
  assertClose([one[0], Math.max(...one)], [0.1 / 25, 0.1], { rtol: 1e-6 });
});
