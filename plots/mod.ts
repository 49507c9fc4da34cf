/**
 * Figures as PNG files without a browser: SVG built as strings, rendered by librsvg through
 * `sharp`, written atomically. ROC curves, confusion matrices, training curves, and the explanation
 * of one DiffMIC-v2 prediction (saliency, crop boxes, trajectory).
 *
 * @example
 * ```ts
 * import { confusionMatrixPlot, explanationPlot, rocPlot, trainingCurvesPlot } from "./plots/mod.ts";
 * await rocPlot(yTrue, probs, "runs/a/roc.png", { classNames });
 * await confusionMatrixPlot(confusionMatrix(yTrue, yPred, { numClasses }), "runs/a/confusion.png", { classNames });
 * await trainingCurvesPlot(await Deno.readTextFile("runs/a/metrics.jsonl"), "runs/a/loss.png", {
 *   series: ["train_loss", "val_loss"],
 * });
 * await explanationPlot(explanation, "runs/a/explain/0042.png");
 * ```
 * @module
 */
export { type RenderedPng, type RenderOptions, renderSvgToPng, svgToPngBytes } from "./render.ts";
export {
  type LabelledRocCurve,
  macroAverageRoc,
  rocCurvesSvg,
  type RocFigureOptions,
  rocPlot,
  type RocPlotOptions,
  rocPlotSvg,
} from "./roc.ts";
export { confusionMatrixPlot, confusionMatrixSvg, type ConfusionPlotOptions } from "./confusion.ts";
export {
  type MetricsRecord,
  parseJsonl,
  type TrainingCurvesOptions,
  trainingCurvesPlot,
  trainingCurvesSvg,
} from "./curves.ts";
export {
  type Explanation,
  type ExplanationBox,
  explanationPlot,
  type ExplanationPlotOptions,
  explanationSvg,
} from "./explanation.ts";
export { type Labelled, reliabilityPlot, reliabilitySvg, riskCoveragePlot, riskCoverageSvg } from "./selective.ts";
export { type Counterfactual, counterfactualPlot, counterfactualSvg } from "./counterfactual.ts";
export { escapeXml } from "./svg.ts";
export {
  type DistanceHistogramOptions,
  distanceHistogramPlot,
  distanceHistogramSvg,
  type DistanceSeries,
} from "./distances.ts";
