/**
 * The classifier training loop behind `deno task train-classifier`: cross-entropy (optionally
 * class-weighted, label-smoothed) or focal loss, AdamW or SGD with cosine/OneCycle decay,
 * optional class-balanced sampling, gradient clipping and f16 autocast; validation every N
 * epochs computes the clinical metrics and keeps the best checkpoint by `train.selectMetric`
 * (macro F1 by default, as the seeds do). Losses are read back every `train.logEvery` steps only.
 * @module
 */
import { autocast, f16Supported } from "../../core/amp.ts";
import { noGrad } from "../../core/autograd.ts";
import { synchronize } from "../../core/device.ts";
import { checkpointPath, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint.ts";
import { tensor } from "../../core/ops/creation.ts";
import { focalLoss } from "../../core/ops/focal_loss.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { manualSeed } from "../../core/ops/random.ts";
import { AdamW } from "../../core/optim/adam.ts";
import { clipGradNorm } from "../../core/optim/clip.ts";
import { CosineAnnealingLR, type LRScheduler, OneCycleLR } from "../../core/optim/lr_scheduler.ts";
import type { Optimizer } from "../../core/optim/optimizer.ts";
import { SGD } from "../../core/optim/sgd.ts";
import { keep, scope } from "../../core/scope.ts";
import type { Tensor } from "../../core/tensor.ts";
import { DataLoader } from "../../datasets/loader.ts";
import { classBalancedWeights, WeightedRandomSampler } from "../../datasets/sampler.ts";
import type { ImageData } from "../common/data.ts";
import type { Logger } from "../../train/logger.ts";
import { endEpochBar, epochBar, watchInterrupts } from "../../train/loop.ts";
import { JsonlWriter, type RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { SummaryWriter } from "../../util/formats/tfevents.ts";
import type { ClassifierConfig } from "./config.ts";
import { buildClassifier, type Classifier, loadPretrained } from "./model.ts";
import { classificationMetrics, predict } from "./predict.ts";

/** What a classifier training run reports. */
export interface ClassifierTrainResult {
  /** The model with its final weights. */
  model: Classifier;
  /** Optimizer steps taken. */
  step: number;
  /** Epochs completed. */
  epochsDone: number;
  /** Best value of the selection metric on the validation set (null when never validated). */
  best: number | null;
  /** Training throughput, images per second. */
  imagesPerSecond: number;
  /** Wall time of the training loop, seconds. */
  seconds: number;
  /** Whether Ctrl-C stopped the run early. */
  interrupted: boolean;
}

/** The path of a run's best checkpoint. */
export function bestClassifierPath(run: RunDir): string {
  return joinPath(run.checkpointsDir, "best.safetensors");
}

/** A loader over `data`'s evaluation transform (validation, test). */
export function evalLoader(cfg: ClassifierConfig, data: ImageData, set: "train" | "val" | "test"): DataLoader {
  const ds = set === "test" ? data.test : data[set];
  if (!ds) throw new Error(`the data has no ${set} split`);
  return new DataLoader(ds, {
    batchSize: cfg.train.batchSize,
    seed: cfg.seed,
    transform: data.evalTransform,
    cache: cfg.data.cache,
    concurrency: cfg.train.concurrency,
  });
}

/** Inverse-frequency class weights N / (C · n_c) (absent classes get 0). */
function inverseFrequency(labels: Int32Array, numClasses: number): Float32Array {
  const counts = new Float64Array(numClasses);
  for (const l of labels) counts[l]++;
  return Float32Array.from(counts, (n) => (n > 0 ? labels.length / (numClasses * n) : 0));
}

/** Larger-is-better value of the selection metric (loss is negated). */
function selectionValue(name: string, m: Record<string, { value: number }>): number {
  const v = m[name]?.value ?? NaN;
  return name === "loss" ? -v : v;
}

/** Trains (or resumes) a classifier run into `run`. */
export async function trainClassifier(
  cfg: ClassifierConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  start: { resumeFrom?: string; quiet?: boolean } = {},
): Promise<ClassifierTrainResult> {
  const t = cfg.train;
  manualSeed(cfg.seed);
  const numClasses = data.classes.length;
  const model = buildClassifier(cfg, data.channels, data.imageSize, numClasses);
  if (cfg.model.pretrained && !start.resumeFrom) {
    const skipped = await loadPretrained(model, cfg.model.pretrained);
    log.info(
      `pretrained weights from ${cfg.model.pretrained}${skipped.length ? `; not loaded: ${skipped.join(", ")}` : ""}`,
    );
  }
  const params = model.parameters();
  const opt: Optimizer<{ lr: number }> = t.optimizer === "sgd"
    ? new SGD(params, { lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay, nesterov: true })
    : new AdamW(params, { lr: t.lr, weightDecay: t.weightDecay });
  const labels = await data.train.labels?.();
  if (!labels) throw new Error("the training set does not expose its labels");
  const sampler = t.balancedSampling
    ? new WeightedRandomSampler(classBalancedWeights(labels), data.train.length, { seed: cfg.seed })
    : undefined;
  const loader = new DataLoader(data.train, {
    batchSize: t.batchSize,
    ...(sampler ? { sampler } : { shuffle: true }),
    dropLast: data.train.length > t.batchSize,
    seed: cfg.seed,
    transform: data.trainTransform,
    cache: cfg.data.cache,
    concurrency: t.concurrency,
  });
  const valLoader = evalLoader(cfg, data, "val");
  const totalSteps = loader.length * t.epochs;
  const schedule: LRScheduler | null = t.lrSchedule === "cosine"
    ? new CosineAnnealingLR(opt, { tMax: totalSteps })
    : t.lrSchedule === "onecycle"
    ? new OneCycleLR(opt, { maxLr: t.lr, totalSteps, pctStart: t.warmupFraction, cycleMomentum: false })
    : null;
  const weight = t.classWeights === "balanced" ? keep(tensor(inverseFrequency(labels, numClasses))) : undefined;
  const mixed = t.mixedPrecision && f16Supported();
  if (t.mixedPrecision && !mixed) log.warn("train.mixedPrecision: this adapter lacks shader-f16; training in f32");
  const lossOf = (logits: Tensor, y: Tensor): Tensor =>
    t.loss === "focal"
      ? focalLoss(logits, y, { gamma: t.focalGamma, weight })
      : crossEntropy(logits, y, { weight, labelSmoothing: t.labelSmoothing });

  let step = 0, epoch = 0, best: number | null = null;
  if (start.resumeFrom) {
    const info = await loadCheckpoint(start.resumeFrom, {
      model,
      optimizer: opt as Optimizer<never>,
      scheduler: schedule ?? undefined,
    });
    step = info.step;
    epoch = info.epoch ?? 0;
    best = typeof info.extra.best === "number" ? info.extra.best : null;
    log.info(`resumed from ${start.resumeFrom}: step ${step}, epoch ${epoch}`);
  }
  log.info(`data: ${data.description}`);
  log.info(
    `model: ${cfg.model.arch} ${params.reduce((n, p) => n + p.size, 0).toLocaleString("en-US")} parameters; ` +
      `${t.optimizer} lr ${t.lr}, ${t.lrSchedule}, ${t.loss}${weight ? " class-weighted" : ""}` +
      `${sampler ? ", class-balanced sampling" : ""}; ${totalSteps} steps`,
  );
  const metrics = new JsonlWriter(run.metricsPath);
  const tb = new SummaryWriter(run.path);
  const save = (path: string, nextEpoch: number) =>
    saveCheckpoint(path, {
      model,
      optimizer: opt as Optimizer<never>,
      scheduler: schedule ?? undefined,
      step,
      epoch: nextEpoch,
      extra: { best },
    });
  let interrupted = false;
  const ctrlC = watchInterrupts();
  const started = performance.now();
  let images = 0;
  try {
    for (; epoch < t.epochs && !interrupted; epoch++) {
      model.train();
      const bar = epochBar(log, {
        total: loader.length,
        batchSize: t.batchSize,
        epoch: epoch + 1,
        epochs: t.epochs,
        quiet: start.quiet,
      });
      const pending: Tensor[] = [];
      let lastLoss: number | null = null;
      for await (const batch of loader.iterate(epoch)) {
        await scope(async () => {
          const logits = autocast(() => model.call(batch.images), { enabled: mixed });
          const loss = lossOf(logits, batch.labels);
          loss.backward();
          pending.push(keep(noGrad(() => loss.detach())));
          if (t.clipGradNorm > 0) clipGradNorm(params, t.clipGradNorm).dispose();
          opt.step();
          opt.zeroGrad();
          const lr = opt.paramGroups[0].lr;
          schedule?.step();
          step++;
          if (step % t.logEvery === 0) {
            const values = await Promise.all(pending.map((l) => l.item()));
            pending.forEach((l) => l.dispose());
            pending.length = 0;
            lastLoss = values.reduce((a, b) => a + b, 0) / values.length;
            const ips = (images + batch.ids.length) / ((performance.now() - started) / 1000);
            metrics.write({ epoch: epoch + 1, step, train_loss: lastLoss, lr, images_per_s: ips });
            tb.addScalar("train/loss", lastLoss, step);
            tb.addScalar("train/lr", lr, step);
            tb.addScalar("train/images_per_s", ips, step);
          }
        });
        images += batch.ids.length;
        bar.update(1, lastLoss === null ? {} : { loss: lastLoss });
        batch.dispose();
        if (ctrlC.stopped) interrupted = true;
        if (interrupted) break;
      }
      pending.forEach((l) => l.dispose());
      endEpochBar(log, bar);
      if (interrupted) {
        const path = checkpointPath(run.checkpointsDir, step);
        await save(path, epoch); // the interrupted epoch is repeated on resume
        log.info(`interrupted in epoch ${epoch + 1}: saved ${path}; resume with --resume ${run.path}`);
        break;
      }
      const done = epoch + 1;
      if (done % t.validateEvery === 0 || done === t.epochs) {
        const pred = await predict(model, valLoader);
        const m = classificationMetrics(pred, numClasses);
        const record: Record<string, number> = {};
        for (const [k, v] of Object.entries(m)) record[`val_${k}`] = v.value;
        metrics.write({ epoch: done, step, ...record });
        for (const k of ["loss", "accuracy", "macro_f1", "auroc", "qwk"]) {
          if (Number.isFinite(m[k]?.value)) tb.addScalar(`val/${k}`, m[k].value, step);
        }
        const value = selectionValue(t.selectMetric, m);
        const better = Number.isFinite(value) && (best === null || value > best);
        log.info(
          `epoch ${done}/${t.epochs}: val loss ${m.loss.value.toFixed(4)}, acc ${m.accuracy.value.toFixed(4)}, ` +
            `macro F1 ${m.macro_f1.value.toFixed(4)}, AUROC ${m.auroc.value.toFixed(4)}, QWK ${
              m.qwk.value.toFixed(4)
            }` +
            (better ? ` — best ${t.selectMetric} so far` : ""),
        );
        if (better) {
          best = value;
          await save(bestClassifierPath(run), done);
        }
      }
      await save(checkpointPath(run.checkpointsDir, step), done);
      tb.flush();
    }
  } finally {
    ctrlC.dispose();
    weight?.dispose();
    metrics.close();
    tb.close();
    await synchronize();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    model,
    step,
    epochsDone: epoch,
    best: best === null ? null : t.selectMetric === "loss" ? -best : best,
    imagesPerSecond: images / Math.max(seconds, 1e-9),
    seconds,
    interrupted,
  };
}
