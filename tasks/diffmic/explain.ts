/**
 * `deno task explain-diffmic --run <diffmic run> [--count N] [--split test]`: one PNG per image
 * that shows why DiffMIC-v2 decided as it did — the DCG's saliency (the summed, min–max
 * normalised class maps that choose the crops) over the image, the K crop boxes with their
 * gated-attention weights, and the class probabilities along the DDIM trajectory (softmax of
 * the cell mean of x̂₀ after each step, from the start map to t = 0).
 * @module
 */
import { softmax } from "../../core/ops/softmax.ts";
import { scope } from "../../core/scope.ts";
import { explanationPlot } from "../../plots/explanation.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { ConfigError, loadConfig, parseConfigOption } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";
import { dataNormalization, openImageData, toUnitRange } from "../common/data.ts";
import { checkSplit, evaluationCheckpoint } from "../common/evaluation.ts";
import { evaluationLoader, loaderSettings } from "../common/loaders.ts";
import { runKind } from "../common/run_kind.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { diffmicSchema } from "./config.ts";
import { buildDenoiser, loadDcgCopy } from "./model.ts";
import { inferBatch, inferenceSettings, labelScheduler } from "./predict.ts";

/** What `deno task explain-diffmic` wrote. */
export interface ExplainResult {
  /** Folder of the figures. */
  outDir: string;
  /** PNG file names. */
  files: string[];
}

/** Rounds half to even (numpy's rounding, which the crop positions use). */
function roundHalfEvenRatio(num: number, den: number): number {
  const q = Math.floor(num / den), r = num - q * den;
  return 2 * r > den || (2 * r === den && q % 2 === 1) ? q + 1 : q;
}

/** The summed min–max normalised class maps of one image (h·w), as the region search sees them. */
function summedSaliency(maps: Float32Array, C: number, cells: number): Float32Array {
  const out = new Float32Array(cells);
  for (let c = 0; c < C; c++) {
    const m = maps.subarray(c * cells, (c + 1) * cells);
    let lo = Infinity, hi = -Infinity;
    for (const v of m) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    if (hi > lo) { for (let i = 0; i < cells; i++) out[i] += (m[i] - lo) / (hi - lo); }
  }
  return out;
}

/** `deno task explain-diffmic` (see the module doc); null after `--help`. */
export async function explainDiffmicCommand(argv: readonly string[], quiet = false): Promise<ExplainResult | null> {
  const args = parseTaskArgs(argv, {
    name: "explain-diffmic",
    description: "Writes one explanation PNG per image of a DiffMIC-v2 run: saliency, crops with attention weights, " +
      "and the class probabilities along the DDIM trajectory.",
    options: {
      run: { description: "the train-diffmic run folder (required)", valueName: "dir" },
      count: {
        description: "images to explain, from the start of the split (default 8)",
        valueName: "n",
        default: "8",
      },
      split: { description: "test (default), val or train", valueName: "name", default: "test" },
      checkpoint: { description: "best (default), latest, or a checkpoint file", valueName: "which", default: "best" },
      out: { description: "output folder (default: <run>/explain-<split>)", valueName: "dir" },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.run) throw new ConfigError(["--run <dir> is required (a folder made by deno task train-diffmic)"]);
  if (args.overrides.length > 0) throw new ConfigError([`unknown arguments: ${args.overrides.join(" ")}`]);
  const split = o.split!;
  if (split !== "test" && split !== "val" && split !== "train") {
    throw new ConfigError([`--split must be test, val or train, got ${split}`]);
  }
  const count = parseConfigOption(diffmicSchema, "train.batchSize", "count", o.count!) as number;
  const run = await openRunDir(o.run);
  if ((await runKind(run)) !== "diffmic") throw new ConfigError([`--run ${o.run} is not a train-diffmic run`]);
  const cfg = (await loadConfig(diffmicSchema, { file: run.configPath })).config;
  const data = await openImageData(cfg.data, cfg.seed);
  checkSplit(data, split, cfg.data.dataset);
  const ckpt = await evaluationCheckpoint(run, o.checkpoint!);
  const C = data.classes.length;
  const prior = await loadDcgCopy(run, data.channels, C);
  const denoiser = buildDenoiser(cfg, prior, data.channels, C);
  await loadCheckpoint(ckpt, { model: denoiser, restoreRng: false });
  denoiser.eval();
  const scheduler = labelScheduler(cfg.diffusion);
  const settings = inferenceSettings(cfg);
  const norm = dataNormalization(cfg.data, data.channels);
  const outDir = o.out ?? joinPath(run.path, `explain-${split}`);
  await Deno.mkdir(outDir, { recursive: true });
  const loader = evaluationLoader(
    data,
    { ...loaderSettings(cfg), batchSize: Math.min(count, cfg.train.batchSize) },
    split,
  );
  const files: string[] = [];
  let b = 0;
  for await (const batch of loader.iterate(0)) {
    if (files.length >= count) {
      batch.dispose();
      break;
    }
    const r = await scope(async () => {
      const out = inferBatch(prior.dcg, denoiser, scheduler, batch.images, b++, settings, true);
      const read = (t: { data(): Promise<unknown> }) => t.data() as Promise<Float32Array>;
      return {
        images: await read(batch.images),
        saliency: await read(out.dcg.saliency),
        cells: await out.dcg.cells.data() as Int32Array,
        attention: await read(out.dcg.attention),
        probs: await read(softmax(out.logits, 1)),
        trajectory: await Promise.all(out.trajectory!.map(read)),
        salShape: out.dcg.saliency.shape,
      };
    });
    const labels = await batch.labels.data();
    const [B, Ch, H, W] = batch.images.shape, [, , h, w] = r.salShape, K = prior.model.numK;
    const steps = ["start", ...Array.from(scheduler.timesteps, (t) => `t=${t}`)];
    for (let i = 0; i < B && files.length < count; i++) {
      const image = toUnitRange(r.images.subarray(i * Ch * H * W, (i + 1) * Ch * H * W), norm, H * W);
      const probs = Array.from(r.probs.subarray(i * C, (i + 1) * C));
      const predicted = probs.indexOf(Math.max(...probs));
      const boxes = Array.from({ length: K }, (_, k) => ({
        top: roundHalfEvenRatio(r.cells[(i * K + k) * 2] * H, h),
        left: roundHalfEvenRatio(r.cells[(i * K + k) * 2 + 1] * W, w),
        size: prior.model.cropSize,
        weight: r.attention[i * K + k],
      }));
      const id = batch.ids[i];
      const name = `${String(files.length).padStart(3, "0")}-${id.replace(/[^A-Za-z0-9_.-]/g, "_")}.png`;
      await explanationPlot({
        image,
        channels: Ch as 1 | 3,
        height: H,
        width: W,
        saliency: summedSaliency(r.saliency.subarray(i * C * h * w, (i + 1) * C * h * w), C, h * w),
        gridH: h,
        gridW: w,
        boxes,
        classes: data.classes,
        trajectory: r.trajectory.map((t) => Array.from(t.subarray(i * C, (i + 1) * C))),
        trajectoryLabels: steps,
        trueClass: labels[i],
        predicted,
        title: `DiffMIC-v2 · ${split} image ${id}`,
      }, joinPath(outDir, name));
      files.push(name);
    }
    batch.dispose();
  }
  if (!quiet) console.log(`wrote ${files.length} explanation(s) to ${outDir}`);
  denoiser.dispose();
  prior.dcg.dispose();
  return { outDir, files };
}
