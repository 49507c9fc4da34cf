/**
 * The conditional DDPM training loop behind `deno task train`: ε- (or v-/x₀-) prediction with
 * MSE, AdamW with OneCycle or cosine decay, gradient accumulation and clipping, an EMA of the
 * weights, label dropout to the null class (for classifier-free guidance), optional f16
 * autocast with loss scaling. Validation uses the EMA weights and fixed noise; checkpoints
 * (model, optimizer, EMA, schedule, RNG, position) are written atomically, the best by
 * validation loss kept; Ctrl-C saves one before exiting. Nothing is read back to the CPU
 * inside a step except the loss every `train.logEvery` steps.
 * @module
 */
import { autocast, f16Supported } from "../../core/amp.ts";
import { noGrad } from "../../core/autograd.ts";
import { synchronize } from "../../core/device.ts";
import { checkpointPath, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint.ts";
import { mseLoss } from "../../core/ops/loss.ts";
import { Generator, manualSeed, randint, randn } from "../../core/ops/random.ts";
import { tensor } from "../../core/ops/creation.ts";
import { AdamW } from "../../core/optim/adam.ts";
import { clipGradNorm } from "../../core/optim/clip.ts";
import { EMA } from "../../core/optim/ema.ts";
import { GradScaler } from "../../core/optim/grad_scaler.ts";
import { CosineAnnealingLR, type LRScheduler, OneCycleLR } from "../../core/optim/lr_scheduler.ts";
import { keep, scope } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import { DataLoader } from "../../datasets/loader.ts";
import { Rng } from "../../util/rng.ts";
import type { UNet } from "../../models/unet.ts";
import type { DDIMScheduler } from "../../samplers/ddim.ts";
import type { DDPMScheduler } from "../../samplers/ddpm.ts";
import type { Logger } from "../../train/logger.ts";
import { endEpochBar, epochBar, watchInterrupts } from "../../train/loop.ts";
import { JsonlWriter, type RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import type { InterruptController } from "../../train/signals.ts";
import { SummaryWriter } from "../../util/formats/tfevents.ts";
import type { DdpmConfig } from "./config.ts";
import type { ImageData } from "../common/data.ts";
import { buildTrainScheduler, buildUNet } from "./model.ts";

/** What a finished (or interrupted) training run reports. */
export interface TrainResult {
  /** The model, with its training weights (the EMA holds the averaged ones). */
  unet: UNet;
  /** The EMA of the weights. */
  ema: EMA;
  /** Optimizer steps taken in total. */
  step: number;
  /** Epochs completed. */
  epochsDone: number;
  /** Best validation loss (EMA weights), or null when never validated. */
  bestValLoss: number | null;
  /** Mean training loss of the last logged window. */
  lastTrainLoss: number | null;
  /** Training throughput of the whole run, images per second. */
  imagesPerSecond: number;
  /** Whether Ctrl-C stopped the run early. */
  interrupted: boolean;
}

/** Where the run starts. */
export interface TrainStart {
  /** A checkpoint to resume from (its run folder is `run`). */
  resumeFrom?: string;
  /** No progress bar (tests, scripts). */
  quiet?: boolean;
  /** Called once the checkpoint has loaded (e.g. to save a config changed on the command line). */
  onResumed?: () => Promise<void>;
  /** Where Ctrl-C comes from (default: the process's SIGINT). */
  interrupts?: InterruptController;
}

/** The path of the best checkpoint in a run. */
export function bestCheckpointPath(run: RunDir): string {
  return joinPath(run.checkpointsDir, "best.safetensors");
}

function makeSchedule(cfg: DdpmConfig, opt: AdamW, totalSteps: number): LRScheduler | null {
  const t = cfg.train;
  if (t.lrSchedule === "onecycle") {
    return new OneCycleLR(opt, { maxLr: t.lr, totalSteps, pctStart: t.warmupFraction, cycleMomentum: false });
  }
  if (t.lrSchedule === "cosine") return new CosineAnnealingLR(opt, { tMax: totalSteps, etaMin: t.lr * 0.01 });
  return null;
}

/** The diffusion target for the configured prediction type. */
function target(sched: DDPMScheduler | DDIMScheduler, x0: Tensor, noise: Tensor, t: Tensor): Tensor {
  const kind = sched.config.predictionType;
  if (kind === "epsilon") return noise.alias();
  if (kind === "sample") return x0.alias();
  return sched.getVelocity(x0, noise, t);
}

/** Labels of a batch with each replaced by the null class with probability `p` (seeded per batch). */
function droppedLabels(labels: Int32Array, indices: Int32Array, nullClass: number, p: number, rng: Rng): Tensor {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = rng.random() < p ? nullClass : labels[indices[i]];
  return tensor(out, [out.length], { dtype: "int32" });
}

/**
 * Trains (or resumes) a run: `run` holds the resolved config already; `data` the opened data.
 * Returns when the epochs are done or Ctrl-C stopped it (after saving a checkpoint).
 */
export async function trainDdpm(
  cfg: DdpmConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<TrainResult> {
  const t = cfg.train;
  manualSeed(cfg.seed);
  const numClasses = data.classes.length;
  const unet = buildUNet(cfg, { channels: data.channels, imageSize: data.imageSize, numClasses });
  const sched = buildTrainScheduler(cfg);
  const T = cfg.diffusion.numTrainTimesteps;
  const params = unet.parameters();
  const opt = new AdamW(params, { lr: t.lr, weightDecay: t.weightDecay });
  const loader = new DataLoader(data.train, {
    batchSize: t.batchSize,
    shuffle: true,
    dropLast: data.train.length >= t.batchSize,
    seed: cfg.seed,
    transform: data.trainTransform,
    cache: cfg.data.cache,
    concurrency: t.concurrency,
  });
  const valLoader = new DataLoader(data.val, {
    batchSize: t.batchSize,
    seed: cfg.seed,
    transform: data.evalTransform,
    cache: cfg.data.cache,
    concurrency: t.concurrency,
  });
  if (loader.length === 0) throw new Error(`the training set (${data.train.length} samples) gives no batch`);
  const stepsPerEpoch = Math.floor(loader.length / t.gradAccumulation);
  if (stepsPerEpoch === 0) {
    throw new Error(`train.gradAccumulation ${t.gradAccumulation} exceeds the ${loader.length} batches of an epoch`);
  }
  const totalSteps = stepsPerEpoch * t.epochs;
  const schedule = makeSchedule(cfg, opt, totalSteps);
  const ema = new EMA(() => unet.namedParameters(), { decay: t.emaDecay, warmup: true });
  const mixed = t.mixedPrecision && f16Supported();
  if (t.mixedPrecision && !mixed) log.warn("train.mixedPrecision: this adapter lacks shader-f16; training in f32");
  const scaler = mixed ? new GradScaler() : null;
  const trainLabels = await data.train.labels?.();
  if (!trainLabels) throw new Error("the training set does not expose its labels (needed for label dropout)");

  let step = 0, epoch = 0, skipBatches = 0, bestValLoss: number | null = null;
  if (start.resumeFrom) {
    const info = await loadCheckpoint(start.resumeFrom, {
      model: unet,
      optimizer: opt,
      ema,
      scheduler: schedule ?? undefined,
    });
    step = info.step;
    epoch = info.epoch ?? 0;
    skipBatches = typeof info.extra.batchInEpoch === "number" ? info.extra.batchInEpoch : 0;
    bestValLoss = typeof info.extra.bestValLoss === "number" ? info.extra.bestValLoss : null;
    log.info(`resumed from ${start.resumeFrom}: step ${step}, epoch ${epoch}, batch ${skipBatches}`);
    await start.onResumed?.();
  }
  log.info(`data: ${data.description}`);
  log.info(
    `model: U-Net ${params.reduce((n, p) => n + p.size, 0).toLocaleString("en-US")} parameters; ` +
      `${totalSteps} optimizer steps (${stepsPerEpoch}/epoch × ${t.epochs}), batch ${t.batchSize}` +
      `${t.gradAccumulation > 1 ? ` × ${t.gradAccumulation} accumulated` : ""}${mixed ? ", f16 autocast" : ""}`,
  );

  const metrics = new JsonlWriter(run.metricsPath);
  const tb = new SummaryWriter(run.path);
  /** Saves the state; `nextEpoch`/`batchInEpoch` say where a resumed run continues. */
  const save = async (path: string, nextEpoch: number, batchInEpoch: number) => {
    await saveCheckpoint(path, {
      model: unet,
      optimizer: opt,
      ema,
      scheduler: schedule ?? undefined,
      step,
      epoch: nextEpoch,
      extra: { batchInEpoch, bestValLoss },
    });
  };
  let batchInEpoch = 0, interrupted = false;
  // Ctrl-C stops at the next step boundary; the loop then saves a checkpoint and returns.
  const ctrlC = watchInterrupts(start.interrupts);

  const runStart = performance.now();
  let imagesSeen = 0, lastTrainLoss = null as number | null;
  try {
    for (; epoch < t.epochs && !interrupted; epoch++) {
      unet.train();
      const bar = epochBar(log, {
        total: loader.length,
        batchSize: t.batchSize,
        epoch: epoch + 1,
        epochs: t.epochs,
        quiet: start.quiet,
      });
      const pending: Tensor[] = [];
      let windowLoss = 0, windowCount = 0;
      batchInEpoch = 0;
      let micro = 0;
      for await (const batch of loader.iterate(epoch)) {
        if (batchInEpoch < skipBatches) {
          batch.dispose();
          batchInEpoch++;
          bar.update(1);
          continue;
        }
        const rng = Rng.derive(cfg.seed, 7, epoch, batchInEpoch);
        await scope(async () => {
          const x0 = batch.images;
          const B = x0.shape[0];
          const y = droppedLabels(trainLabels, batch.indices, numClasses, t.labelDropout, rng);
          const ts = randint(0, T, [B]);
          const noise = randn(x0.shape);
          const xt = sched.addNoise(x0, noise, ts);
          const goal = target(sched, x0, noise, ts);
          const pred = autocast(() => unet.call(xt, ts, y), { enabled: mixed });
          const loss = mseLoss(pred, goal);
          const scaled = t.gradAccumulation > 1 ? loss.div(t.gradAccumulation) : loss;
          (scaler ? scaler.scale(scaled) : scaled).backward();
          pending.push(keep(noGrad(() => loss.detach())));
          micro++;
          if (micro % t.gradAccumulation === 0) {
            if (scaler) scaler.unscale_(opt);
            if (t.clipGradNorm > 0) clipGradNorm(params, t.clipGradNorm).dispose();
            if (scaler) {
              await scaler.step(opt);
              await scaler.update();
            } else opt.step();
            opt.zeroGrad();
            const lr = opt.paramGroups[0].lr; // the rate this step used
            schedule?.step();
            step++;
            ema.update(step);
            if (step % t.logEvery === 0) {
              const values = await Promise.all(pending.map((l) => l.item()));
              pending.forEach((l) => l.dispose());
              pending.length = 0;
              windowLoss += values.reduce((a, b) => a + b, 0);
              windowCount += values.length;
              lastTrainLoss = windowLoss / windowCount;
              const elapsed = (performance.now() - runStart) / 1000;
              const ips = (imagesSeen + B) / elapsed;
              metrics.write({ epoch: epoch + 1, step, train_loss: lastTrainLoss, lr, images_per_s: ips });
              tb.addScalar("train/loss", lastTrainLoss, step);
              tb.addScalar("train/lr", lr, step);
              tb.addScalar("train/images_per_s", ips, step);
              windowLoss = 0;
              windowCount = 0;
            }
          }
          imagesSeen += B;
          bar.update(1, lastTrainLoss === null ? {} : { loss: lastTrainLoss });
        });
        batch.dispose();
        batchInEpoch++;
        if (interrupted || ctrlC.stopped) {
          interrupted = true;
          break;
        }
      }
      pending.forEach((l) => l.dispose());
      endEpochBar(log, bar);
      skipBatches = 0;
      if (interrupted) {
        const path = checkpointPath(run.checkpointsDir, step);
        await save(path, epoch, batchInEpoch);
        log.info(
          `interrupted at epoch ${epoch + 1}, batch ${batchInEpoch}: saved ${path}; resume with --resume ${run.path}`,
        );
        break;
      }
      const done = epoch + 1;
      if (done % t.validateEvery === 0 || done === t.epochs) {
        const valLoss = await validate(unet, ema, sched, valLoader, cfg);
        if (valLoss !== null) {
          metrics.write({ epoch: done, step, val_loss: valLoss });
          tb.addScalar("val/loss", valLoss, step);
          const better = bestValLoss === null || valLoss < bestValLoss;
          log.info(
            `epoch ${done}/${t.epochs}: train loss ${lastTrainLoss?.toFixed(4) ?? "n/a"}, val loss ` +
              `${valLoss.toFixed(4)} (EMA)${better ? ", best so far" : ""}`,
          );
          if (better) {
            bestValLoss = valLoss;
            await save(bestCheckpointPath(run), done, 0);
          }
        }
      }
      if (done % t.checkpointEvery === 0 || done === t.epochs) {
        await save(checkpointPath(run.checkpointsDir, step), done, 0);
      }
      tb.flush();
    }
  } finally {
    ctrlC.dispose();
    metrics.close();
    tb.close();
    sched.dispose();
    await synchronize();
  }
  const seconds = (performance.now() - runStart) / 1000;
  return {
    unet,
    ema,
    step,
    epochsDone: epoch,
    bestValLoss,
    lastTrainLoss,
    imagesPerSecond: imagesSeen / Math.max(seconds, 1e-9),
    interrupted,
  };
}

/** Mean validation loss with the EMA weights and fixed timesteps/noise (the same every epoch). */
async function validate(
  unet: UNet,
  ema: EMA,
  sched: DDPMScheduler,
  loader: DataLoader,
  cfg: DdpmConfig,
): Promise<number | null> {
  if (loader.length === 0) return null;
  ema.store();
  ema.copyTo();
  unet.eval();
  const gen = new Generator(cfg.seed + 1);
  const T = cfg.diffusion.numTrainTimesteps;
  const sums: Tensor[] = [];
  let count = 0;
  try {
    for await (const batch of loader.iterate(0)) {
      const B = batch.images.shape[0];
      sums.push(scope(() =>
        noGrad(() => {
          const ts = randint(0, T, [B], { generator: gen });
          const noise = randn(batch.images.shape, { generator: gen });
          const xt = sched.addNoise(batch.images, noise, ts);
          const pred = unet.call(xt, ts, batch.labels);
          return mseLoss(pred, target(sched, batch.images, noise, ts)).mul(B);
        })
      ));
      count += B;
      batch.dispose();
    }
    const values = await Promise.all(sums.map((s) => s.item()));
    return values.reduce((a, b) => a + b, 0) / count;
  } finally {
    sums.forEach((s) => s.dispose());
    ema.restore();
    unet.train();
  }
}
