/**
 * Figures as PNG files without a browser: SVG built as strings, rendered by librsvg through
 * `sharp`, written atomically. ROC curves, confusion matrices and training curves.
 *
 * @example
 * ```ts
 * import { confusionMatrixPlot, rocPlot, trainingCurvesPlot } from "./plots/mod.ts";
 * await rocPlot(yTrue, probs, "runs/a/roc.png", { classNames });
 * await confusionMatrixPlot(confusionMatrix(yTrue, yPred, { numClasses }), "runs/a/confusion.png", { classNames });
 * await trainingCurvesPlot(await Deno.readTextFile("runs/a/metrics.jsonl"), "runs/a/loss.png", {
 *   series: ["train_loss", "val_loss"],
 * });
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
export { escapeXml } from "./svg.ts";
