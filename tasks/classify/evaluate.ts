/**
 * Evaluation outputs of a classifier run (`deno task evaluate`): `metrics.json` (every metric
 * with its bootstrap confidence interval), `report.txt` (per-class precision/recall/F1),
 * `predictions.csv` (id, true, predicted, per-class probabilities), `roc.png`,
 * `confusion.png` and `curves.png` (training curves from `metrics.jsonl`).
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../../util/io.ts";
import { confusionMatrix } from "../../metrics/confusion.ts";
import { classificationReport } from "../../metrics/report.ts";
import { confusionMatrixPlot } from "../../plots/confusion.ts";
import { parseJsonl, trainingCurvesPlot } from "../../plots/curves.ts";
import { rocPlot } from "../../plots/roc.ts";
import { joinPath } from "../../util/path.ts";
import { classificationMetrics, type MetricValue, type Predictions } from "./predict.ts";

/** Options of {@linkcode writeEvaluation}. */
export interface EvaluationOptions {
  /** Class names by index. */
  classes: readonly string[];
  /** Split name, for the file contents. */
  split: string;
  /** Bootstrap resamples (0: none). */
  bootstrap: number;
  /** Calibration-error bins. */
  eceBins: number;
  /** Seed of the resampling. */
  seed: number;
  /** `metrics.jsonl` text of the run, for the training curves (optional). */
  metricsJsonl?: string;
  /** The checkpoint evaluated (recorded in metrics.json). */
  checkpoint: string;
  /** Wall seconds per image of the prediction pass (recorded in metrics.json when given). */
  secondsPerImage?: number;
}

const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** Writes the evaluation files into `dir`; returns the metrics and the file names. */
export async function writeEvaluation(
  pred: Predictions,
  dir: string,
  o: EvaluationOptions,
): Promise<{ metrics: Record<string, MetricValue>; files: string[] }> {
  await Deno.mkdir(dir, { recursive: true });
  const C = o.classes.length;
  const metrics = classificationMetrics(pred, C, { bootstrap: o.bootstrap, seed: o.seed, eceBins: o.eceBins });
  const report = classificationReport(pred.yTrue, pred.yPred, {
    labels: Array.from({ length: C }, (_, i) => i),
    targetNames: [...o.classes],
    digits: 4,
    zeroDivision: 0,
  });
  const cm = confusionMatrix(pred.yTrue, pred.yPred, { numClasses: C });
  const files: string[] = [];
  const put = async (name: string, write: (path: string) => Promise<unknown>) => {
    await write(joinPath(dir, name));
    files.push(name);
  };
  await put("metrics.json", (p) =>
    writeJsonAtomic(p, {
      split: o.split,
      checkpoint: o.checkpoint,
      samples: pred.yTrue.length,
      ...(o.secondsPerImage === undefined ? {} : { seconds_per_image: o.secondsPerImage }),
      classes: o.classes,
      bootstrap: o.bootstrap > 0 ? { resamples: o.bootstrap, confidence: 0.95, seed: o.seed } : null,
      metrics,
      per_class: report.dict,
      confusion_matrix: cm,
    }));
  await put("report.txt", (p) => writeFileAtomic(p, report.text + "\n"));
  const header = ["id", "true", "predicted", ...o.classes.map((c) => `p_${c}`)].map(csvField).join(",");
  const rows = pred.ids.map((id, i) =>
    [csvField(id), pred.yTrue[i], pred.yPred[i], ...Array.from(pred.probs[i], (v) => v.toPrecision(6))].join(",")
  );
  await put("predictions.csv", (p) => writeFileAtomic(p, [header, ...rows].join("\n") + "\n"));
  const present = new Set(pred.yTrue).size;
  if (present >= 2) {
    await put(
      "roc.png",
      (p) => rocPlot(pred.yTrue, pred.probs, p, { classNames: o.classes, title: `ROC (${o.split})` }),
    );
  }
  await put(
    "confusion.png",
    (p) => confusionMatrixPlot(cm, p, { classNames: o.classes, title: `Confusion (${o.split})` }),
  );
  if (o.metricsJsonl && o.metricsJsonl.trim() !== "") {
    // A run stopped before its first log line has no train_loss: plot the series it has.
    const records = parseJsonl(o.metricsJsonl);
    const series = ["train_loss", "val_loss", "val_macro_f1"].filter((k) =>
      records.some((r) => Number.isFinite(r.step) && Number.isFinite(r[k]))
    );
    if (series.length > 0) {
      await put("curves.png", (p) => trainingCurvesPlot(records, p, { x: "step", series }));
    }
  }
  return { metrics, files };
}
