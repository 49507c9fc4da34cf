/**
 * Temperature scaling (Guo et al. 2017): one scalar τ > 0 such that `softmax(logits / τ)` has
 * the lowest negative log-likelihood on held-out data. Logits may be anything where larger means
 * more likely — for the diffusion classifier, the negated mean denoising errors. The NLL is
 * convex in β = 1/τ (a log-sum-exp of lines minus a line), so β is found by bisection on the
 * derivative over [1e-8, 1e8], in log space; no step size to tune.
 * @module
 */
import { checkNumClasses, checkRange, type LabelsLike, type ScoresLike, toLabels, toScoreMatrix } from "./_input.ts";
import type { ScoreMatrix } from "./_input.ts";

/** A fitted temperature and the NLL it gives. */
export interface TemperatureFit {
  /** τ: divide the logits by it before the softmax. */
  temperature: number;
  /** Mean NLL at τ = 1. */
  nllBefore: number;
  /** Mean NLL at the fitted τ. */
  nllAfter: number;
}

const BETA_MIN = 1e-8, BETA_MAX = 1e8;

/** Mean NLL of `softmax(β·logits)` and its derivative in β. */
function nllAndSlope(m: ScoreMatrix, y: number[], beta: number): { nll: number; slope: number } {
  let nll = 0, slope = 0;
  const K = m.cols;
  for (let i = 0; i < m.n; i++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, beta * m.data[i * K + k]);
    let z = 0, ez = 0;
    for (let k = 0; k < K; k++) {
      const v = m.data[i * K + k];
      const e = Math.exp(beta * v - max);
      z += e;
      ez += e * v;
    }
    nll += max + Math.log(z) - beta * m.data[i * K + y[i]];
    slope += ez / z - m.data[i * K + y[i]];
  }
  return { nll: nll / m.n, slope: slope / m.n };
}

function readLogits(fn: string, yTrue: LabelsLike, logits: ScoresLike, numClasses?: number) {
  const y = toLabels(fn, "yTrue", yTrue);
  const m = toScoreMatrix(fn, "logits", logits, y.length, numClasses);
  if (m.oneD || m.cols < 2) throw new RangeError(`${fn}: logits must be (N, C) with C ≥ 2 classes`);
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) throw new RangeError(`${fn}: logits must be finite, got ${m.data[i]} at ${i}`);
  }
  checkRange(fn, "yTrue", y, m.cols);
  return { y, m };
}

/**
 * Fits τ on validation logits `(N, C)` (rows or flat) and labels. When the data are perfectly
 * separated the NLL keeps falling as τ → 0; the fit then stops at τ = 1e-8.
 *
 * @example
 * ```ts
 * const { temperature } = fitTemperature(valLabels, valErrors.map((e) => -e), { numClasses: 2 });
 * ```
 */
export function fitTemperature(
  yTrue: LabelsLike,
  logits: ScoresLike,
  options: { numClasses?: number } = {},
): TemperatureFit {
  const fn = "fitTemperature";
  const numClasses = options.numClasses === undefined ? undefined : checkNumClasses(fn, options.numClasses, 2);
  const { y, m } = readLogits(fn, yTrue, logits, numClasses);
  const nllBefore = nllAndSlope(m, y, 1).nll;
  let lo = Math.log(BETA_MIN), hi = Math.log(BETA_MAX);
  if (nllAndSlope(m, y, Math.exp(hi)).slope <= 0) lo = hi; // still falling at the edge: separated
  else if (nllAndSlope(m, y, Math.exp(lo)).slope >= 0) hi = lo; // uninformative logits
  for (let it = 0; it < 200 && hi - lo > 1e-12; it++) {
    const mid = (lo + hi) / 2;
    if (nllAndSlope(m, y, Math.exp(mid)).slope < 0) lo = mid;
    else hi = mid;
  }
  const beta = Math.exp((lo + hi) / 2);
  return { temperature: 1 / beta, nllBefore, nllAfter: nllAndSlope(m, y, beta).nll };
}

/** `softmax(logits / τ)` row by row, as a flat row-major `(N, C)` array. */
export function temperatureSoftmax(logits: ScoresLike, temperature: number, numClasses: number): Float64Array {
  const fn = "temperatureSoftmax";
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`${fn}: temperature must be a positive finite number, got ${temperature}`);
  }
  const K = checkNumClasses(fn, numClasses, 2);
  const rows = logits.length > 0 && typeof (logits as ArrayLike<unknown>)[0] === "object";
  const n = rows ? logits.length : logits.length / K;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${fn}: logits must hold N·${K} values`);
  const m = toScoreMatrix(fn, "logits", logits, n, K);
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, m.data[i * K + k] / temperature);
    let z = 0;
    for (let k = 0; k < K; k++) z += out[i * K + k] = Math.exp(m.data[i * K + k] / temperature - max);
    for (let k = 0; k < K; k++) out[i * K + k] /= z;
  }
  return out;
}
