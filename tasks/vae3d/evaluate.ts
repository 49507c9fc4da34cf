/**
 * `deno task evaluate --run <vae run>`: the reconstruction quality of a VAE run on a split (test
 * by default) — L1, PSNR and SSIM per volume, reported as their means with percentile-bootstrap
 * 95 % intervals over volumes — in `<run>/eval-<split>/metrics.json`, with the mid-slices of the
 * first four volumes and their reconstructions in `reconstructions.png`.
 * @module
 */
import { DataLoader } from "../../datasets/loader.ts";
import { bootstrapCi } from "../../metrics/bootstrap.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { loadConfig } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { evaluationCheckpoint } from "../common/evaluation.ts";
import { openVolumeData } from "../common/volume_data.ts";
import { vaeSchema } from "./config.ts";
import { buildVae, reconstructionMetrics, saveReconstructions } from "./trainer.ts";

/** A metric's mean over volumes and its interval. */
export interface MeanWithCi {
  value: number;
  lower: number;
  upper: number;
}

/** What the evaluation of a VAE run wrote. */
export interface VaeEvaluation {
  outDir: string;
  files: string[];
  metrics: Record<"l1" | "psnr" | "ssim", MeanWithCi>;
}

const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Evaluates the VAE run `run` on `split` (see the module notes). */
export async function evaluateVaeRun(
  run: RunDir,
  o: { split: "train" | "val" | "test"; checkpoint: string; bootstrap?: string; out?: string; quiet: boolean },
): Promise<VaeEvaluation> {
  const cfg = (await loadConfig(vaeSchema, { file: run.configPath })).config;
  const data = await openVolumeData(cfg.data, cfg.seed);
  const ckpt = await evaluationCheckpoint(run, o.checkpoint);
  const vae = buildVae(cfg, data.channels);
  try {
    await loadCheckpoint(ckpt, { model: vae, restoreRng: false });
    vae.eval();
    const loader = new DataLoader(data[o.split], { batchSize: cfg.train.batchSize, seed: cfg.seed, cache: false });
    const r = await reconstructionMetrics(vae, loader, data.size, 4);
    if (!r) throw new Error(`${run.path}: the ${o.split} split is empty`);
    const nResamples = o.bootstrap === undefined ? 1000 : Number(o.bootstrap);
    const ci = (v: number[]): MeanWithCi => {
      if (!(nResamples > 0)) return { value: meanOf(v), lower: NaN, upper: NaN };
      const b = bootstrapCi((t) => meanOf(t), v, v, { nResamples, seed: cfg.seed });
      return { value: b.estimate, lower: b.lower, upper: b.upper };
    };
    const metrics = { l1: ci(r.l1), psnr: ci(r.psnr), ssim: ci(r.ssim) };
    const outDir = o.out ?? joinPath(run.path, `eval-${o.split}`);
    await Deno.mkdir(outDir, { recursive: true });
    await writeJsonAtomic(joinPath(outDir, "metrics.json"), {
      split: o.split,
      checkpoint: ckpt,
      volumes: r.l1.length,
      size: data.size,
      bootstrap: nResamples,
      metrics,
      per_volume: { l1: r.l1, psnr: r.psnr, ssim: r.ssim },
    });
    await saveReconstructions(joinPath(outDir, "reconstructions.png"), r.first, data.size);
    const files = ["metrics.json", "reconstructions.png"];
    if (!o.quiet) {
      const show = (name: string, m: MeanWithCi, digits: number) =>
        `${name} ${m.value.toFixed(digits)} [${m.lower.toFixed(digits)}, ${m.upper.toFixed(digits)}]`;
      console.log(
        `${o.split}: ${r.l1.length} volumes, ${ckpt}\n  ${show("L1", metrics.l1, 4)}, ${
          show("PSNR", metrics.psnr, 2)
        } dB, ` +
          `${show("SSIM", metrics.ssim, 4)} (95 % bootstrap intervals)\nwrote ${
            files.map((f) => joinPath(outDir, f)).join(", ")
          }`,
      );
    }
    return { outDir, files, metrics };
  } finally {
    vae.dispose();
  }
}
