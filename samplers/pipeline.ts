/**
 * The denoising loop, apart from the model and the scheduler (diffusers' pipeline shape):
 * initial noise → for each timestep: model (under noGrad, optionally through classifier-free
 * guidance) → scheduler.step. Every step runs in its own scope, so GPU memory stays flat.
 * @module
 */
import { full, Generator, noGrad, randn, scope, Tensor, tensor } from "../core/mod.ts";
import type { ClassifierFreeGuidance } from "./guidance.ts";
import type { Scheduler, StepOptions } from "./scheduler.ts";
import { checkTensorArg } from "./tensor_helpers.ts";

/** A denoising model: noisy samples (B, …), int32 timesteps (B), optional int32 class labels (B) → prediction shaped like x. */
export type DiffusionModel = (x: Tensor, t: Tensor, classLabels?: Tensor) => Tensor;

/** Options of `DiffusionPipeline`. */
export interface DiffusionPipelineOptions {
  /** The model, e.g. `(x, t, y) => unet.call(x, t, y)`. */
  model: DiffusionModel;
  /** A `DDPMScheduler`, `DDIMScheduler` or anything with the `Scheduler` shape. */
  scheduler: Scheduler;
  /** Classifier-free guidance (needs `classLabels` and `nullClass` at generation). */
  guider?: ClassifierFreeGuidance;
}

/** What `onStep` receives; its tensors are freed when the step ends (copy what you keep). */
export interface PipelineStepInfo {
  /** Index of the step, 0-based. */
  step: number;
  /** Number of steps. */
  numSteps: number;
  /** Timestep of this step. */
  timestep: number;
  /** The sample after this step, x_{t_prev}. */
  sample: Tensor;
  /** The predicted x₀ at this step. */
  predOriginalSample: Tensor;
}

/** Options of `DiffusionPipeline.generate`. */
export interface GenerateOptions {
  /** Full sample shape (B, …); or give `batchSize` and `sampleShape`. */
  shape?: readonly number[];
  /** Number of samples B (with `sampleShape`). */
  batchSize?: number;
  /** Shape of one sample, e.g. [C, H, W] (with `batchSize`). */
  sampleShape?: readonly number[];
  /** Class labels (B), int32 tensor or integers; passed to the model. */
  classLabels?: Tensor | ArrayLike<number>;
  /** Null class (index, or an int32 tensor shaped like the labels) for classifier-free guidance. */
  nullClass?: number | Tensor;
  /** Number of denoising steps (default 50); with `image`, only the last ⌈strength·steps⌉ run. */
  numInferenceSteps?: number;
  /**
   * Start from this image (B, …) noised to the schedule's point `strength` instead of from pure
   * noise (SDEdit / diffusers' img2img): counterfactuals and edits keep the image's layout.
   */
  image?: Tensor;
  /** How far `image` is noised, in (0, 1] of the timesteps (default 0.5; 1 starts from noise). */
  strength?: number;
  /** DDIM η (omit for DDPM). */
  eta?: number;
  /** Generator for the initial noise and the step noise. */
  generator?: Generator;
  /** Seed of a fresh generator (instead of `generator`). */
  seed?: number;
  /**
   * This batch is rows `[start, start + B)` of a batch of `total`: the initial and step noise
   * are those rows of the whole batch's, so a batch split over processes gives exactly the
   * samples one process gives for all of it.
   */
  rows?: { start: number; total: number };
  /** Keep the predicted x₀ every k steps (step 0, k, 2k, … and the last step) in `intermediates`. */
  returnIntermediates?: number;
  /** Called after every step (awaited); for progress bars and live previews. */
  onStep?: (info: PipelineStepInfo) => void | Promise<void>;
}

/** What `generate` returns; the caller owns (and disposes) the tensors. */
export interface GenerateResult {
  /** The final samples, shaped like the initial noise. */
  samples: Tensor;
  /** Predicted x₀ at the recorded steps (with `returnIntermediates`). */
  intermediates?: Tensor[];
  /** Timesteps of the recorded intermediates. */
  intermediateTimesteps?: number[];
}

const GENERATE_KEYS = new Set([
  "shape",
  "batchSize",
  "sampleShape",
  "classLabels",
  "nullClass",
  "numInferenceSteps",
  "image",
  "strength",
  "eta",
  "generator",
  "seed",
  "returnIntermediates",
  "onStep",
  "rows",
]);

/**
 * Owns the denoising loop.
 *
 * @example
 * ```ts
 * const pipe = new DiffusionPipeline({ model: (x, t, y) => unet.call(x, t, y), scheduler: new DDIMScheduler() });
 * const { samples } = await pipe.generate({ batchSize: 8, sampleShape: [1, 28, 28], numInferenceSteps: 50, seed: 0 });
 * ```
 */
export class DiffusionPipeline {
  /** The denoising model. */
  readonly model: DiffusionModel;
  /** The scheduler (its timesteps are set by `generate`). */
  readonly scheduler: Scheduler;
  /** Classifier-free guidance, if any. */
  readonly guider: ClassifierFreeGuidance | undefined;

  /** Validates the parts. */
  constructor(opts: DiffusionPipelineOptions) {
    if (opts === null || typeof opts !== "object") {
      throw new TypeError("DiffusionPipeline: options must be an object { model, scheduler, guider? }");
    }
    if (typeof opts.model !== "function") {
      throw new TypeError(
        "DiffusionPipeline: model must be a function (x, t, classLabels?) => Tensor; wrap a module as (x, t, y) => net.call(x, t, y)",
      );
    }
    const s = opts.scheduler as Partial<Scheduler> | undefined;
    if (!s || typeof s.step !== "function" || typeof s.setTimesteps !== "function") {
      throw new TypeError("DiffusionPipeline: scheduler must be a scheduler (e.g. DDPMScheduler, DDIMScheduler)");
    }
    if (opts.guider !== undefined && (opts.guider === null || typeof opts.guider.predict !== "function")) {
      throw new TypeError("DiffusionPipeline: guider must be a ClassifierFreeGuidance");
    }
    this.model = opts.model;
    this.scheduler = opts.scheduler;
    this.guider = opts.guider;
  }

  /** Runs the whole reverse process from seeded Gaussian noise. */
  async generate(opts: GenerateOptions = {}): Promise<GenerateResult> {
    const op = "DiffusionPipeline.generate";
    if (opts === null || typeof opts !== "object") throw new TypeError(`${op}: options must be an object`);
    for (const k of Object.keys(opts)) {
      if (!GENERATE_KEYS.has(k)) {
        throw new TypeError(`${op}: unknown option "${k}"; expected one of ${[...GENERATE_KEYS].join(", ")}`);
      }
    }
    const shape = resolveShape(opts, op);
    const B = shape[0];
    const numSteps = opts.numInferenceSteps ?? 50;
    if (!Number.isInteger(numSteps) || numSteps < 1) {
      throw new RangeError(`${op}: numInferenceSteps must be a positive integer, got ${numSteps}`);
    }
    const every = opts.returnIntermediates;
    if (every !== undefined && (!Number.isInteger(every) || every < 1)) {
      throw new RangeError(`${op}: returnIntermediates must be a positive integer (every k steps), got ${every}`);
    }
    if (opts.onStep !== undefined && typeof opts.onStep !== "function") {
      throw new TypeError(`${op}: onStep must be a function`);
    }
    if (opts.seed !== undefined && opts.generator !== undefined) {
      throw new TypeError(`${op}: pass either seed or generator, not both`);
    }
    if (opts.generator !== undefined && !(opts.generator instanceof Generator)) {
      throw new TypeError(`${op}: generator must be a Generator`);
    }
    const generator = opts.seed !== undefined ? new Generator(opts.seed) : opts.generator;
    const guider = this.guider;
    if (guider && opts.classLabels === undefined) {
      throw new TypeError(`${op}: classifier-free guidance needs classLabels`);
    }
    if (guider && guider.needsUnconditional && opts.nullClass === undefined) {
      throw new TypeError(`${op}: classifier-free guidance needs nullClass (the null class index or labels)`);
    }
    if (!guider && opts.nullClass !== undefined) {
      throw new TypeError(`${op}: nullClass is only used with a guider (ClassifierFreeGuidance)`);
    }

    if (opts.strength !== undefined && opts.image === undefined) {
      throw new TypeError(`${op}: strength is only used with image`);
    }
    const strength = opts.strength ?? 0.5;
    if (opts.image !== undefined) {
      checkTensorArg(opts.image, op, "image");
      if (opts.image.shape.length !== shape.length || opts.image.shape.some((d, k) => d !== shape[k])) {
        throw new RangeError(`${op}: image has shape [${opts.image.shape}], expected the sample shape [${shape}]`);
      }
      if (!(strength > 0 && strength <= 1)) throw new RangeError(`${op}: strength must be in (0, 1], got ${strength}`);
    }
    this.scheduler.setTimesteps(numSteps);
    const all = Array.from(this.scheduler.timesteps);
    // With an image, the last ⌈strength·steps⌉ timesteps denoise it from the first of them.
    const timesteps = opts.image === undefined ? all : all.slice(all.length - Math.ceil(strength * numSteps));
    const stepOpts: StepOptions = { generator };
    if (opts.eta !== undefined) stepOpts.eta = opts.eta;
    if (opts.rows !== undefined) stepOpts.noiseRows = opts.rows;

    const labels = opts.classLabels === undefined ? undefined : labelTensor(opts.classLabels, B, op);
    const ownLabels = labels !== undefined && labels !== opts.classLabels;
    const intermediates: Tensor[] = [];
    const intermediateTimesteps: number[] = [];
    let x = randn(shape, { generator, rows: opts.rows });
    const sigma = this.scheduler.initNoiseSigma;
    if (opts.image !== undefined) {
      const noised = this.scheduler.addNoise(opts.image, x, timesteps[0]);
      x.dispose();
      x = noised;
    } else if (sigma !== 1) {
      const scaled = x.mul(sigma);
      x.dispose();
      x = scaled;
    }
    try {
      for (let i = 0; i < timesteps.length; i++) {
        const t = timesteps[i];
        const record = every !== undefined && (i % every === 0 || i === timesteps.length - 1);
        const cur: Tensor = x;
        const out = await scope(async () => {
          const tt = full([B], t, { dtype: "int32" });
          const input = this.scheduler.scaleModelInput(cur, t);
          const pred = noGrad(() =>
            guider ? guider.predict(this.model, input, tt, labels!, opts.nullClass ?? 0) : this.model(input, tt, labels)
          );
          if (!(pred instanceof Tensor)) throw new TypeError(`${op}: the model returned ${typeof pred}, not a Tensor`);
          if (pred.shape.length !== shape.length || pred.shape.some((d, k) => d !== shape[k])) {
            throw new RangeError(
              `${op}: the model returned shape [${pred.shape}], expected the sample shape [${shape}]`,
            );
          }
          const { prevSample, predOriginalSample } = this.scheduler.step(pred, t, cur, stepOpts);
          if (opts.onStep) {
            await opts.onStep({
              step: i,
              numSteps: timesteps.length,
              timestep: t,
              sample: prevSample,
              predOriginalSample,
            });
          }
          return { prevSample, x0: record ? predOriginalSample : null };
        });
        x.dispose();
        x = out.prevSample;
        if (out.x0) {
          intermediates.push(out.x0);
          intermediateTimesteps.push(t);
        }
      }
    } catch (e) {
      x.dispose();
      for (const t of intermediates) t.dispose();
      throw e;
    } finally {
      if (ownLabels) labels!.dispose();
    }
    const result: GenerateResult = { samples: x };
    if (every !== undefined) {
      result.intermediates = intermediates;
      result.intermediateTimesteps = intermediateTimesteps;
    }
    return result;
  }
}

function resolveShape(opts: GenerateOptions, op: string): number[] {
  let shape: number[];
  if (opts.shape !== undefined) {
    if (opts.batchSize !== undefined || opts.sampleShape !== undefined) {
      throw new TypeError(`${op}: give either shape or batchSize + sampleShape, not both`);
    }
    if (!Array.isArray(opts.shape)) throw new TypeError(`${op}: shape must be an array such as [B, C, H, W]`);
    shape = [...opts.shape];
  } else {
    if (opts.batchSize === undefined || opts.sampleShape === undefined) {
      throw new TypeError(`${op}: give shape, or batchSize and sampleShape`);
    }
    if (!Array.isArray(opts.sampleShape)) throw new TypeError(`${op}: sampleShape must be an array such as [C, H, W]`);
    shape = [opts.batchSize, ...opts.sampleShape];
  }
  if (shape.length < 1 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${op}: the sample shape must be positive integers with a batch dim first, got [${shape}]`);
  }
  return shape;
}

function labelTensor(labels: Tensor | ArrayLike<number>, B: number, op: string): Tensor {
  if (labels instanceof Tensor) {
    checkTensorArg(labels, op, "classLabels");
    if (labels.dtype !== "int32" || labels.ndim !== 1 || labels.shape[0] !== B) {
      throw new RangeError(
        `${op}: classLabels must be an int32 tensor of shape [${B}], got ${labels.dtype} [${labels.shape}]`,
      );
    }
    return labels;
  }
  if (labels === null || typeof labels !== "object" || labels.length !== B) {
    throw new RangeError(`${op}: classLabels must hold ${B} integers (one per sample)`);
  }
  const arr = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    if (!Number.isInteger(labels[i])) {
      throw new RangeError(`${op}: classLabels[${i}] must be an integer, got ${labels[i]}`);
    }
    arr[i] = labels[i];
  }
  return tensor(arr);
}
