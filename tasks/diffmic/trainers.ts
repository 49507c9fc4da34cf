/**
 * The two training tasks of DiffMIC-v2 on the training engine (train/engine.ts):
 * {@linkcode trainDcg} pretrains the guidance network (cross-entropy on y_fusion, optionally
 * plus auxiliary cross-entropies on y_global and y_local); {@linkcode trainDiffmic} trains the
 * label denoiser with the DCG frozen (eval mode, outside the optimizer), the focal-weighted
 * noise loss, and validation by full DDIM inference on the validation split every
 * `train.validateEvery` epochs — the best checkpoint is chosen there, never on the test split.
 * @module
 */
import { noGrad } from "../../core/autograd.ts";
import { add, mul } from "../../core/ops/elementwise.ts";
import { cat } from "../../core/ops/join.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { manualSeed } from "../../core/ops/random.ts";
import type { Dcg } from "../../models/dcg.ts";
import type { DiffMicDenoiser } from "../../models/diffmic.ts";
import { diffusionFocalLoss, guidedPriorMap, labelMap, noiseLabelMap } from "../../samplers/label_diffusion.ts";
import { fit, type FitResult, type TrainStart, type ValidationResult } from "../../train/engine.ts";
import type { Logger } from "../../train/logger.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { SELECT_METRICS } from "../classify/config.ts";
import { classificationMetrics, type Predictions, predictWith } from "../classify/predict.ts";
import type { ImageData } from "../common/data.ts";
import { evaluationLoader, loaderSettings, trainingLoader } from "../common/loaders.ts";
import type { DcgConfig, DiffmicConfig } from "./config.ts";
import { buildDcg, buildDenoiser, type LoadedDcg } from "./model.ts";
import { inferenceSettings, labelScheduler, predictDiffmic } from "./predict.ts";

/** Validation metrics of predictions, with the summary line the classifiers log. */
function validation(pred: Predictions, numClasses: number, extra: Record<string, number> = {}): ValidationResult {
  const m = classificationMetrics(pred, numClasses);
  const metrics = { ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.value])), ...extra };
  const show = (k: string, name: string) => `${name} ${metrics[k].toFixed(4)}`;
  return {
    metrics,
    summary: [show("accuracy", "acc"), show("macro_f1", "macro F1"), show("auroc", "AUROC"), show("qwk", "QWK")]
      .concat("dcg_macro_f1" in extra ? [show("dcg_macro_f1", "DCG macro F1"), show("dcg_qwk", "DCG QWK")] : [])
      .join(", "),
  };
}

/** What a DCG training run reports. */
export interface DcgTrainResult extends FitResult {
  /** The network with its final weights. */
  model: Dcg;
}

/** Trains (or resumes) a DCG run into `run`. */
export async function trainDcg(
  cfg: DcgConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  start: TrainStart = {},
): Promise<DcgTrainResult> {
  manualSeed(cfg.seed);
  const C = data.classes.length;
  const model = buildDcg(cfg.model, data.channels, C);
  const settings = loaderSettings(cfg);
  const loader = await trainingLoader(data, settings, cfg.train.balancedSampling);
  const valLoader = evaluationLoader(data, settings, "val");
  const aux = cfg.train.auxWeight;
  log.info(`data: ${data.description}`);
  log.info(
    `DCG: global ${cfg.model.globalArch}, local ${cfg.model.localArch}, K ${cfg.model.numK} crops of ` +
      `${cfg.model.cropSize} px (${cfg.model.cropChannels} channels); loss CE(y_fusion)` +
      (aux > 0 ? ` + ${aux}·(CE(y_global) + CE(y_local))` : ""),
  );
  const out = await fit({
    model,
    loader,
    parameters: model.trainableParameters(),
    describe: "DCG",
    metricNames: SELECT_METRICS,
    loss: (batch) => {
      const o = model.call(batch.images);
      const fused = crossEntropy(o.yFusion, batch.labels);
      if (aux === 0) return { loss: fused };
      const g = crossEntropy(o.yGlobal, batch.labels), l = crossEntropy(o.yLocal, batch.labels);
      return { loss: add(fused, mul(aux, add(g, l))), scalars: { ce_fusion: fused, ce_global: g, ce_local: l } };
    },
    validate: async () => validation(await predictWith((x) => model.call(x).yFusion, valLoader), C),
  }, { train: cfg.train, seed: cfg.seed, run, log, ...start });
  return { ...out, model };
}

/** What a denoiser training run reports. */
export interface DiffmicTrainResult extends FitResult {
  /** The denoiser with its final weights. */
  model: DiffMicDenoiser;
}

/** Trains (or resumes) a DiffMIC-v2 denoiser run into `run`, on the frozen `prior`. */
export async function trainDiffmic(
  cfg: DiffmicConfig,
  data: ImageData,
  run: RunDir,
  log: Logger,
  prior: LoadedDcg,
  start: TrainStart = {},
): Promise<DiffmicTrainResult> {
  manualSeed(cfg.seed);
  const C = data.classes.length, K = prior.model.numK, dcg: Dcg = prior.dcg;
  dcg.eval();
  const model = buildDenoiser(cfg, prior, data.channels, C);
  const scheduler = labelScheduler(cfg.diffusion);
  const settings = loaderSettings(cfg);
  const loader = await trainingLoader(data, settings, cfg.train.balancedSampling);
  const valLoader = evaluationLoader(data, settings, "val");
  const focal = { alpha: cfg.diffusion.focalAlpha, gamma: cfg.diffusion.focalGamma };
  const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
  log.info(`data: ${data.description}`);
  log.info(
    `denoiser: ${(nParams / 1e6).toFixed(2)} M parameters, feature dim ${cfg.model.featureDim}, ` +
      (cfg.model.encoders === "dcg" ? "image features from the DCG's trunks" : `${cfg.model.encoderArch} encoders`) +
      `; label map ${K}×${K}; prior: DCG ${prior.source} (frozen)`,
  );
  const out = await fit({
    model,
    loader,
    describe: "DiffMIC-v2 denoiser",
    metricNames: [...SELECT_METRICS, "dcg_macro_f1", "dcg_accuracy", "dcg_qwk"],
    loss: (batch) => {
      const o = noGrad(() => dcg.call(batch.images));
      const priorMap = guidedPriorMap(o.yGlobal, o.yLocal, K);
      const y0 = labelMap(batch.labels, C, K);
      const { noisy, noise, timesteps } = noiseLabelMap(scheduler, y0);
      const yIn = cfg.model.guidance ? cat([priorMap, noisy], 1) : noisy;
      const out = model.call(batch.images, yIn, timesteps, o);
      const target = cfg.diffusion.prediction === "sample" ? y0 : noise;
      return { loss: diffusionFocalLoss(out, target, o.yFusion, batch.labels, focal) };
    },
    validate: async () => {
      const p = await predictDiffmic(dcg, model, scheduler, valLoader, inferenceSettings(cfg));
      const d = classificationMetrics(p.dcg, C);
      return validation(p.diffmic, C, {
        dcg_macro_f1: d.macro_f1.value,
        dcg_accuracy: d.accuracy.value,
        dcg_qwk: d.qwk.value,
      });
    },
  }, { train: cfg.train, seed: cfg.seed, run, log, ...start });
  return { ...out, model };
}
