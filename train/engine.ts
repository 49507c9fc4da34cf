/**
 * The training engine every workflow runs on. A task says what is specific to it — how one
 * batch becomes a loss (plus extra scalars to log) and how to validate (named metrics) — and
 * {@linkcode fit} owns the rest, the same way for every task: epochs and steps, gradient
 * accumulation and clipping, autocast with dynamic loss scaling, an EMA of the weights
 * (validation and the best checkpoint use it), the learning-rate schedule, logging every N steps
 * (progress bar, train.log, metrics.jsonl, TensorBoard), validation every N epochs, the best
 * checkpoint by any metric, periodic checkpoints (per epoch and/or per N steps, old ones
 * pruned), exact resume at the batch position, the non-finite policy, a throughput meter, and
 * SIGINT / SIGTERM (save, then report the signal so the task exits 130 / 143).
 *
 * Nothing is read back from the GPU inside a step except every `train.logEvery` steps (the
 * losses of the window, at once) and, with loss scaling, the overflow flag (as PyTorch's
 * GradScaler does).
 *
 * Data parallel ({@linkcode DataParallel}, train/data_parallel.ts; under `mpirun`/`srun` by
 * default): rank 0's weights are broadcast at the start, each rank reads its shard of every
 * epoch, gradients are averaged over the ranks after the last micro-batch's backward, all ranks
 * agree on stopping, rank 0 validates and shares the metrics, and only rank 0 writes files.
 * @module
 */
import { setImmediate } from "node:timers";
import { autocast, f16Supported } from "../core/amp.ts";
import { noGrad } from "../core/autograd.ts";
import { autotuneBudgetSeconds, autotuneReport, autotuneSettled } from "../core/backend/autotune.ts";
import { synchronize } from "../core/device.ts";
import type { Module, Parameter } from "../core/nn/module.ts";
import { clipGradNorm } from "../core/optim/clip.ts";
import { EMA } from "../core/optim/ema.ts";
import { GradScaler, type GradScalerState } from "../core/optim/grad_scaler.ts";
import { keep, scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import type { Batch, DataLoader } from "../datasets/loader.ts";
import { SummaryWriter } from "../util/formats/tfevents.ts";
import { writeJsonAtomic } from "../util/io.ts";
import { joinPath } from "../util/path.ts";
import { Rng } from "../util/rng.ts";
import { checkpointPath, type JsonValue, loadCheckpoint, NonFiniteError, saveCheckpoint } from "./checkpoint.ts";
import { bestCheckpointPath, pruneCheckpoints, removeTemporaryFiles } from "./checkpoint_files.ts";
import { ConfigError } from "./config.ts";
import type { Logger } from "./logger.ts";
import { endEpochBar, epochBar, watchInterrupts } from "./loop.ts";
import { buildOptimizer, buildSchedule } from "./optimizer.ts";
import { smallerIsBetter, type TrainOptions } from "./options.ts";
import { type EpochProfile, PhaseProfiler, profileRequested, profileTable } from "./profile.ts";
import { dropRowsAfterStep, JsonlWriter, type RunDir } from "./run_dir.ts";
import type { InterruptController, InterruptSignal } from "./signals.ts";
import { averageBatchNormStats, broadcastModel, type DataParallel, dataParallel } from "./data_parallel.ts";

/** Where a micro-batch sits in the run, handed to {@linkcode TrainTask.loss}. */
export interface StepContext {
  /** Epoch (from 0). */
  epoch: number;
  /** Batch index within the epoch (from 0). */
  batchInEpoch: number;
  /** Optimizer steps taken before this micro-batch. */
  step: number;
  /** A CPU generator seeded by (seed, epoch, batch): the same numbers on a resumed run. */
  rng: Rng;
}

/** What one micro-batch gives: its loss, and optional scalars logged as their window means. */
export interface StepOutput {
  /** The scalar loss to minimise. */
  loss: Tensor;
  /** Extra scalars (e.g. parts of the loss), logged as `train_<name>`. */
  scalars?: Record<string, Tensor>;
}

/** A validation's outcome: named metrics, and optionally the line to log. */
export interface ValidationResult {
  /** Metric values by name (logged as `val_<name>`). */
  metrics: Record<string, number>;
  /** A one-line summary for the log (default: every metric). */
  summary?: string;
}

/** What a workflow gives the engine. */
export interface TrainTask {
  /** The model trained and checkpointed. */
  model: Module;
  /** Training batches. */
  loader: DataLoader;
  /** One micro-batch to its loss (called inside a scope, and inside autocast when mixed precision is on). */
  loss(batch: Batch, ctx: StepContext): StepOutput;
  /** Validation with the model in eval mode and the EMA weights applied; null when there is nothing to validate. */
  validate?(ctx: { epoch: number; step: number }): Promise<ValidationResult | null>;
  /** The metric names `validate` returns (checked against `train.selectMetric` before training). */
  metricNames?: readonly string[];
  /** Parameters to optimise (default: every parameter of the model). */
  parameters?: Parameter[];
  /** A phrase naming the model for the log (e.g. "U-Net"). */
  describe?: string;
}

/** How {@linkcode fit} runs. */
export interface FitOptions {
  /** The `train` section. */
  train: TrainOptions;
  /** The run's seed (per-batch CPU generators derive from it). */
  seed: number;
  /** The run folder. */
  run: RunDir;
  /** The run's log. */
  log: Logger;
  /** A checkpoint to resume from. */
  resumeFrom?: string;
  /** No progress bar. */
  quiet?: boolean;
  /** Called once the checkpoint has loaded (e.g. to save a config changed on the command line). */
  onResumed?: () => Promise<void>;
  /** Where interrupts come from (default: the process's SIGINT and SIGTERM). */
  interrupts?: InterruptController;
  /** Data-parallel seams (default: {@linkcode dataParallel}, the process's world — one process unless launched by MPI). */
  parallel?: DataParallel;
  /** Dynamic loss scaling (default: on exactly when f16 autocast runs). */
  lossScaling?: boolean;
  /**
   * Time every epoch by phase (waiting for the GPU at each phase boundary), log the table and
   * write `profile.json` in the run folder (default: whether `MEDDIFF_PROFILE=1`).
   */
  profile?: boolean;
}

/** Where a task's run starts and how it is watched: the engine options a task command decides. */
export type TrainStart = Pick<FitOptions, "resumeFrom" | "quiet" | "onResumed" | "interrupts" | "parallel">;

/** What a finished (or interrupted) run reports. */
export interface FitResult {
  /** Optimizer steps taken in total. */
  step: number;
  /** Epochs completed. */
  epochsDone: number;
  /** The best value of `train.selectMetric` (null when never validated). */
  best: number | null;
  /** The metrics of the last validation (null when never validated). */
  lastValidation: Record<string, number> | null;
  /** Mean training loss of the last logged window. */
  lastTrainLoss: number | null;
  /** Training throughput of this part of the run (a resume starts anew), images per second over all processes. */
  imagesPerSecond: number;
  /** Wall time of this process's part of the run, seconds. */
  seconds: number;
  /** The EMA of the weights (null without one). */
  ema: EMA | null;
  /** The signal that stopped the run early (after a checkpoint was saved), or null. */
  interrupted: InterruptSignal | null;
  /** Optimizer steps skipped because loss scaling found an overflow. */
  skippedSteps: number;
}

/** The training losses (and extra scalars) summed since the last log line. */
interface LogWindow {
  loss: number;
  n: number;
  scalars: Record<string, number>;
}

/** One step's tensors waiting to be read back at the next log (or save). */
interface PendingStep {
  step: number;
  losses: Tensor[];
  scalars: Record<string, Tensor>[];
  gradNorm: Tensor | null;
}

/** Trains `task` as `opts.train` says, resuming from `opts.resumeFrom` when given (see the module doc). */
export async function fit(task: TrainTask, opts: FitOptions): Promise<FitResult> {
  const t = opts.train, log = opts.log, run = opts.run;
  const parallel = opts.parallel ?? dataParallel();
  const writer = parallel.rank === 0;
  const model = task.model;
  // Each rank reads its share of every epoch (one shared seed): N ranks at batch B = one process at N·B.
  const loader = parallel.worldSize > 1 ? task.loader.sharded(parallel) : task.loader;
  const params = task.parameters ?? model.parameters();
  checkSelectMetric(task, t);
  const stepsPerEpoch = Math.floor(loader.length / t.gradAccumulation);
  if (loader.length === 0) throw new Error(`the training set gives no batch of ${t.batchSize}`);
  if (stepsPerEpoch === 0) {
    throw new ConfigError([
      `train.gradAccumulation ${t.gradAccumulation} exceeds the ${loader.length} batches of an epoch`,
    ]);
  }
  const batchesPerEpoch = stepsPerEpoch * t.gradAccumulation; // a last partial accumulation is left out
  const totalSteps = stepsPerEpoch * t.epochs;
  const opt = buildOptimizer(params, t);
  const schedule = buildSchedule(opt, t, stepsPerEpoch);
  const ema = t.emaDecay > 0 ? new EMA(() => model.namedParameters(), { decay: t.emaDecay, warmup: true }) : null;
  const mixed = t.mixedPrecision && f16Supported();
  if (t.mixedPrecision && !mixed) log.warn("train.mixedPrecision: this adapter lacks shader-f16; training in f32");
  const scaler = (opts.lossScaling ?? mixed) ? new GradScaler() : null;
  const lowerIsBetter = smallerIsBetter(t.selectMetric, t.selectMode);
  const ckpt = { model, optimizer: opt, ema: ema ?? undefined, scheduler: schedule ?? undefined };

  if (writer) {
    const leftovers = await removeTemporaryFiles([run.path, run.checkpointsDir]);
    if (leftovers.length) {
      log.warn(`removed ${leftovers.length} unfinished file(s) of an earlier run: ${leftovers.join(", ")}`);
    }
  }
  let step = 0, epoch = 0, skipBatches = 0, best: number | null = null, skippedSteps = 0;
  let lastSaved: string | null = null;
  if (opts.resumeFrom) {
    const info = await loadCheckpoint(opts.resumeFrom, ckpt);
    step = info.step;
    epoch = info.epoch ?? 0;
    const x = info.extra;
    skipBatches = typeof x.batchInEpoch === "number" ? x.batchInEpoch : 0;
    best = typeof x.best === "number" ? x.best : null;
    skippedSteps = typeof x.skippedSteps === "number" ? x.skippedSteps : 0;
    if (scaler && x.scaler && typeof x.scaler === "object") {
      scaler.loadStateDict(x.scaler as unknown as GradScalerState);
    }
    lastSaved = opts.resumeFrom;
    // The position is also kept in samples of the whole job, so that a run resumed on another
    // number of processes (or another batch per process) continues the epoch where it stopped;
    // a position that does not divide is rounded down (a few samples are seen again).
    const perBatch = t.batchSize * parallel.worldSize;
    const savedWorld = typeof x.worldSize === "number" ? x.worldSize : 1;
    const samples = typeof x.samplesInEpoch === "number" ? x.samplesInEpoch : skipBatches * perBatch;
    if (savedWorld !== parallel.worldSize || samples !== skipBatches * perBatch) {
      skipBatches = Math.floor(samples / perBatch);
      const exact = samples % perBatch === 0;
      (exact ? log.info : log.warn).call(
        log,
        `resuming a run of ${savedWorld} process(es) with ${parallel.worldSize} at batch ${t.batchSize} each: ` +
          `the epoch continues at batch ${skipBatches}${exact ? "" : " (a few samples are seen again)"}; ` +
          `the step count goes on and the learning-rate schedule follows the new number of steps per epoch`,
      );
    }
    log.info(`resumed from ${opts.resumeFrom}: step ${step}, epoch ${epoch + 1}, batch ${skipBatches}`);
    if (writer) {
      const dropped = await dropRowsAfterStep(run.metricsPath, step);
      if (dropped) log.info(`metrics.jsonl: ${dropped} row(s) after step ${step} dropped (they are replayed)`);
    }
    await opts.onResumed?.();
  }
  await broadcastModel(parallel, model); // every rank starts from rank 0's weights
  log.info(
    `model: ${task.describe ?? model.constructor.name} ${
      params.reduce((n, p) => n + p.size, 0).toLocaleString("en-US")
    } ` +
      `parameters; ${t.optimizer} lr ${t.lr} ${t.lrSchedule}; ${totalSteps} optimizer steps (${stepsPerEpoch}/epoch × ` +
      `${t.epochs}), batch ${t.batchSize}${t.gradAccumulation > 1 ? ` × ${t.gradAccumulation} accumulated` : ""}` +
      `${ema ? `, EMA ${t.emaDecay}` : ""}${mixed ? ", f16 autocast" : ""}${scaler ? ", loss scaling" : ""}`,
  );

  const metrics = writer ? new JsonlWriter(run.metricsPath) : null;
  const tb = writer ? new SummaryWriter(run.path) : null;
  // With train.batchNormStats "average", every rank takes part before anything is saved or validated.
  const syncStats = () => t.batchNormStats === "average" ? averageBatchNormStats(parallel, model) : Promise.resolve();
  const save = async (path: string, nextEpoch: number, batchInEpoch: number): Promise<void> => {
    await syncStats();
    if (!writer) return;
    await saveCheckpoint(path, {
      ...ckpt,
      step,
      epoch: nextEpoch,
      requireFinite: true,
      extra: {
        batchInEpoch,
        samplesInEpoch: batchInEpoch * t.batchSize * parallel.worldSize,
        worldSize: parallel.worldSize,
        best,
        skippedSteps,
        ...(scaler ? { scaler: scaler.stateDict() as unknown as JsonValue } : {}),
      },
    });
    lastSaved = path;
  };
  const savePeriodic = async (nextEpoch: number, batchInEpoch: number): Promise<string> => {
    const path = checkpointPath(run.checkpointsDir, step);
    await save(path, nextEpoch, batchInEpoch);
    if (writer) await pruneCheckpoints(run.checkpointsDir, t.keepCheckpoints);
    return path;
  };
  const nonFinite = (what: string): NonFiniteError =>
    new NonFiniteError(
      `${what}; training stopped. ${
        lastSaved
          ? `The last good checkpoint is ${lastSaved} (resume with --resume ${run.path}, e.g. with a lower train.lr)`
          : "No checkpoint was written yet"
      }.`,
    );

  // Losses are read back every logEvery steps (and before any save), never inside a step.
  const pending: PendingStep[] = [];
  let window: LogWindow = { loss: 0, n: 0, scalars: {} };
  let lastTrainLoss: number | null = null;
  // The epoch's mean for its summary line (a log window can straddle epochs or miss one).
  let epochLoss = { sum: 0, n: 0 };
  const readPending = async (): Promise<void> => {
    const steps = pending.splice(0);
    try {
      // Every value of the window in one read-back (each item() alone would wait for the GPU once).
      const read = (ts: Tensor[]) => Promise.all(ts.map((x) => x.item()));
      const values = await Promise.all(steps.map(async (p) => ({
        losses: await read(p.losses),
        norm: p.gradNorm ? await p.gradNorm.item() : 0,
        scalars: await Promise.all(p.scalars.map(async (s) => {
          const vs = await read(Object.values(s));
          return Object.keys(s).map((k, i) => [k, vs[i]] as const);
        })),
      })));
      steps.forEach((p, i) => {
        const { losses, norm, scalars } = values[i];
        // With loss scaling an overflow skips the step (counted in skippedSteps); without it, stop.
        if (!scaler && !losses.every(Number.isFinite)) {
          throw nonFinite(`the training loss is ${losses.find((v) => !Number.isFinite(v))} at step ${p.step}`);
        }
        if (!scaler && !Number.isFinite(norm)) throw nonFinite(`the gradient norm is ${norm} at step ${p.step}`);
        for (const v of losses) {
          if (!Number.isFinite(v)) continue;
          window.loss += v;
          window.n++;
          epochLoss.sum += v;
          epochLoss.n++;
        }
        for (const [k, v] of scalars.flat()) window.scalars[k] = (window.scalars[k] ?? 0) + v;
      });
    } finally {
      steps.forEach(disposeStep);
    }
  };

  const prof = new PhaseProfiler(opts.profile ?? profileRequested());
  const profiles: EpochProfile[] = [];
  const ctrlC = watchInterrupts(opts.interrupts);
  const started = performance.now();
  let images = 0, interrupted: InterruptSignal | null = null, lastValidation: Record<string, number> | null = null;
  try {
    for (; epoch < t.epochs; epoch++) {
      model.train();
      const bar = epochBar(log, {
        total: batchesPerEpoch,
        batchSize: t.batchSize,
        epoch: epoch + 1,
        epochs: t.epochs,
        quiet: opts.quiet || !writer, // one bar per job: rank 0's
      });
      bar.update(Math.min(skipBatches, batchesPerEpoch));
      let batchInEpoch = skipBatches;
      const epochStart = { step, images };
      epochLoss = { sum: 0, n: 0 };
      await prof.begin();
      let micro: PendingStep = { step: step + 1, losses: [], scalars: [], gradNorm: null };
      for await (const batch of loader.iterate(epoch, { from: skipBatches })) {
        if (batchInEpoch >= batchesPerEpoch) {
          batch.dispose();
          break;
        }
        await prof.lap("data");
        const ctx: StepContext = { epoch, batchInEpoch, step, rng: Rng.derive(opts.seed, 7, epoch, batchInEpoch) };
        const size = batch.ids.length;
        scope(() => {
          const out = autocast(() => task.loss(batch, ctx), { enabled: mixed });
          const scaled = t.gradAccumulation > 1 ? out.loss.div(t.gradAccumulation) : out.loss;
          (scaler ? scaler.scale(scaled) : scaled).backward();
          noGrad(() => {
            micro.losses.push(keep(out.loss.detach()));
            if (out.scalars) {
              micro.scalars.push(
                Object.fromEntries(Object.entries(out.scalars).map(([k, v]) => [k, keep(v.detach())])),
              );
            }
          });
        });
        batch.dispose();
        batchInEpoch++;
        images += size;
        await prof.lap("forward+backward");
        if (batchInEpoch % t.gradAccumulation !== 0) {
          bar.update(1);
          await prof.lap("progress bar");
          continue;
        }
        // An optimizer step.
        // Gradients averaged over the ranks; every rank's stop request travels with them.
        const stopRequested = await parallel.allReduceGradients(
          params,
          ctrlC.stopped ? ctrlC.signal ?? "SIGINT" : null,
        );
        if (scaler) scaler.unscale_(opt);
        if (t.clipGradNorm > 0) micro.gradNorm = keep(clipGradNorm(params, t.clipGradNorm));
        const lr = opt.paramGroups[0].lr; // the rate this step uses
        if (scaler) {
          if (!(await scaler.step(opt))) skippedSteps++;
          await scaler.update();
        } else opt.step();
        opt.zeroGrad();
        schedule?.step();
        step++;
        ema?.update(step);
        pending.push(micro);
        micro = { step: step + 1, losses: [], scalars: [], gradNorm: null };
        await prof.lap("optimizer");
        if (step % t.logEvery === 0) {
          await readPending();
          window = await sumWindow(parallel, window);
          lastTrainLoss = window.n > 0 ? window.loss / window.n : lastTrainLoss;
          const seconds = (performance.now() - started) / 1000;
          const row: Record<string, number> = {
            epoch: epoch + 1,
            step,
            train_loss: lastTrainLoss ?? NaN,
            lr,
            images_per_s: images * parallel.worldSize / Math.max(seconds, 1e-9), // the whole job's
          };
          for (const [k, v] of Object.entries(window.scalars)) row[`train_${k}`] = v / Math.max(1, window.n);
          if (scaler) Object.assign(row, { loss_scale: scaler.getScale(), skipped_steps: skippedSteps });
          metrics?.write(row);
          for (const [k, v] of Object.entries(row)) {
            if (k !== "epoch" && k !== "step") tb?.addScalar(`train/${k.replace(/^train_/, "")}`, v, step);
          }
          log.debug(
            `step ${step}/${totalSteps}: loss ${lastTrainLoss?.toFixed(4) ?? "n/a"}, lr ${lr.toExponential(3)}, ` +
              `${row.images_per_s.toFixed(1)} images/s`,
          );
          window = { loss: 0, n: 0, scalars: {} };
          await prof.lap("log read-back");
        }
        bar.update(1, lastTrainLoss === null ? {} : { loss: lastTrainLoss });
        await prof.lap("progress bar");
        // One turn of the event loop per step: a step between read-backs awaits nothing but
        // microtasks, so without it a SIGINT/SIGTERM listener would only run at the next
        // read-back (logEvery steps of minutes each, on large volumes) and the run would not stop.
        // setImmediate costs microseconds; an awaited setTimeout(0) is clamped to milliseconds.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const stepCheckpoint = t.checkpointEverySteps > 0 && step % t.checkpointEverySteps === 0;
        if (stopRequested || (stepCheckpoint && batchInEpoch < batchesPerEpoch)) {
          await readPending();
          const path = await savePeriodic(epoch, batchInEpoch);
          await prof.lap("checkpoint");
          if (stopRequested) {
            interrupted = stopRequested;
            log.info(
              `interrupted (${interrupted}) at epoch ${epoch + 1}, batch ${batchInEpoch}: saved ${path}; ` +
                `resume with --resume ${run.path}`,
            );
            break;
          }
        }
      }
      disposeStep(micro);
      endEpochBar(log, bar);
      skipBatches = 0;
      if (interrupted) break;
      await readPending();
      await prof.lap("log read-back");
      const done = epoch + 1;
      const [lossSum, lossN] = await parallel.sumOverRanks([epochLoss.sum, epochLoss.n]);
      const epochTrainLoss = lossN > 0 ? lossSum / lossN : null;
      if (task.validate && (done % t.validateEvery === 0 || done === t.epochs)) {
        // Rank 0 validates; every rank takes its metrics, so all decide alike.
        await syncStats();
        const v = await parallel.shareFromRoot(
          writer ? await validateWith(task, model, ema, { epoch: done, step }) : null,
        );
        await prof.lap("validation");
        if (v) {
          lastValidation = v.metrics;
          const value = v.metrics[t.selectMetric];
          if (!Number.isFinite(value)) throw nonFinite(`validation ${t.selectMetric} is ${value} after epoch ${done}`);
          const better = best === null || (lowerIsBetter ? value < best : value > best);
          const row: Record<string, number> = { epoch: done, step };
          for (const [k, x] of Object.entries(v.metrics)) {
            row[`val_${k}`] = x;
            if (Number.isFinite(x)) tb?.addScalar(`val/${k}`, x, step);
          }
          metrics?.write(row);
          log.info(
            `epoch ${done}/${t.epochs}: train loss ${epochTrainLoss?.toFixed(4) ?? "n/a"}, ` +
              `${v.summary ?? Object.entries(v.metrics).map(([k, x]) => `val ${k} ${x.toFixed(4)}`).join(", ")}` +
              `${ema ? " (EMA)" : ""}${better ? ` — best ${t.selectMetric} so far` : ""}`,
          );
          if (better) {
            best = value;
            await save(bestCheckpointPath(run.checkpointsDir), done, 0);
          }
        }
      } else log.info(`epoch ${done}/${t.epochs}: train loss ${epochTrainLoss?.toFixed(4) ?? "n/a"}`);
      if (done % t.checkpointEvery === 0 || done === t.epochs) await savePeriodic(done, 0);
      tb?.flush();
      await prof.lap("checkpoint");
      const profile = prof.end(done, step - epochStart.step, images - epochStart.images);
      if (profile) {
        profiles.push(profile);
        for (const line of profileTable(profile)) log.info(line);
        if (writer) await writeJsonAtomic(joinPath(run.path, "profile.json"), profiles);
      }
    }
  } finally {
    pending.forEach(disposeStep);
    ctrlC.dispose();
    metrics?.close();
    tb?.close();
    await synchronize();
  }
  const seconds = (performance.now() - started) / 1000;
  await logAutotune(log);
  return {
    step,
    epochsDone: epoch,
    best,
    lastValidation,
    lastTrainLoss,
    imagesPerSecond: images * parallel.worldSize / Math.max(seconds, 1e-9),
    seconds,
    ema,
    interrupted,
    skippedSteps,
  };
}

/**
 * What kernel tuning cost this run (measuring is capped per process; see core/backend/autotune.ts),
 * once the measurements still running have ended, so the figure is the run's whole cost.
 */
async function logAutotune(log: Logger): Promise<void> {
  await autotuneSettled();
  const r = autotuneReport();
  if (r.measured + r.deferred + r.shipped === 0) return;
  log.info(
    `kernel autotuning: ${r.measured} shape(s) measured in ${(r.ms / 1000).toFixed(1)} s` +
      (r.deferred
        ? `, ${r.deferred} left for the next run (MEDDIFF_AUTOTUNE_BUDGET=${autotuneBudgetSeconds()} s)`
        : "") +
      (r.shipped ? `, ${r.shipped} from the choices shipped for this adapter` : ""),
  );
}

/** `train.selectMetric` must be a metric the task's validation returns (checked before training). */
function checkSelectMetric(task: TrainTask, t: TrainOptions): void {
  if (!task.validate || !task.metricNames || task.metricNames.includes(t.selectMetric)) return;
  throw new ConfigError([
    `train.selectMetric "${t.selectMetric}" is not a validation metric of this task (${task.metricNames.join(", ")})`,
  ]);
}

/** Runs the task's validation in eval mode with the EMA weights swapped in (and out again). */
async function validateWith(
  task: TrainTask,
  model: Module,
  ema: EMA | null,
  at: { epoch: number; step: number },
): Promise<ValidationResult | null> {
  ema?.store();
  ema?.copyTo();
  model.eval();
  try {
    return await task.validate!(at);
  } finally {
    ema?.restore();
    model.train();
  }
}

/** A log window's sums over every rank (so the log shows the whole job's training loss). */
async function sumWindow(parallel: DataParallel, w: LogWindow): Promise<LogWindow> {
  if (parallel.worldSize === 1) return w;
  const keys = Object.keys(w.scalars).sort(); // every rank runs the same task: the same names
  const [loss, n, ...sums] = await parallel.sumOverRanks([w.loss, w.n, ...keys.map((k) => w.scalars[k])]);
  return { loss, n, scalars: Object.fromEntries(keys.map((k, i) => [k, sums[i]])) };
}

/** Frees a step's read-back tensors. */
function disposeStep(p: PendingStep): void {
  for (const x of [...p.losses, ...p.scalars.flatMap(Object.values), ...(p.gradNorm ? [p.gradNorm] : [])]) x.dispose();
}
