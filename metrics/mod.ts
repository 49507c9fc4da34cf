/**
 * Classification metrics on the CPU, with scikit-learn's names (in camelCase) and semantics:
 * labels and scores as plain arrays or typed arrays (e.g. from `await tensor.data()`).
 *
 * @example
 * ```ts
 * import { bootstrapCi, cohenKappaScore, f1Score, rocAucScore } from "./metrics/mod.ts";
 * f1Score(yTrue, yPred, { average: "macro" });
 * cohenKappaScore(yTrue, yPred, { weights: "quadratic" });
 * rocAucScore(yTrue, probs, { multiClass: "ovr", average: "macro" }); // probs: N rows of C
 * bootstrapCi((t, p) => rocAucScore(t, p), yTrue, probs, { seed: 0 });
 * ```
 *
 * Generation metrics on feature matrices (rows of a trained network's features per image):
 * `frechetDistance`, `kernelDistance` (KID's estimator), `precisionRecall`, `densityCoverage` (or the four at once: `manifoldMetrics`).
 * @module
 */
export type { LabelsLike, ScoresLike, ZeroDivision } from "./_input.ts";
export { confusionMatrix, type ConfusionMatrixOptions } from "./confusion.ts";
export {
  type AccuracyOptions,
  accuracyScore,
  type Average,
  type BalancedAccuracyOptions,
  balancedAccuracyScore,
  f1Score,
  type FbetaOptions,
  fbetaScore,
  type PerClass,
  precisionRecallFscoreSupport,
  precisionScore,
  type PrfOptions,
  type PrfResult,
  recallScore,
} from "./scores.ts";
export {
  type ClassificationReport,
  classificationReport,
  type ClassificationReportOptions,
  formatFixed,
  type ReportDictRow,
  type ReportRow,
} from "./report.ts";
export { auc, type RocAucOptions, rocAucScore, type RocCurve, rocCurve, type RocCurveOptions } from "./auroc.ts";
export { type CohenKappaOptions, cohenKappaScore } from "./kappa.ts";
export {
  type CalibrationBins,
  calibrationBins,
  type CalibrationOptions,
  expectedCalibrationError,
} from "./calibration.ts";
export { fitTemperature, type TemperatureFit, temperatureSoftmax } from "./temperature.ts";
export { type RiskCoverage, riskCoverage } from "./risk_coverage.ts";
export { bootstrapCi, type BootstrapOptions, type BootstrapResult, quantileSorted } from "./bootstrap.ts";
export { type FeatureMatrix, type FeaturesLike } from "./features.ts";
export {
  type FeatureStatistics,
  featureStatistics,
  frechetDistance,
  frechetDistanceFromStatistics,
} from "./frechet.ts";
export { type KernelDistance, kernelDistance, type KernelDistanceOptions, polynomialMmd2 } from "./kid.ts";
export { densityCoverage, manifoldMetrics, type ManifoldOptions, precisionRecall } from "./manifold.ts";
export { psnr, ssim, type SsimOptions } from "./image_quality.ts";
