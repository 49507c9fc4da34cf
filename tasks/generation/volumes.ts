/**
 * `deno task evaluate-3d --volumes <dir> --features <slice classifier run>`: the per-slice
 * Fréchet and kernel distances of generated volumes (NIfTI files in class folders, as `deno task
 * sample-3d` writes them) against the real test volumes, along each of the three axes, in the
 * feature space of a 2-D classifier the framework trained on slices of the same MedMNIST 3D file
 * (`deno task train-classifier --data.sliceAxis k`); the real training volumes against the test
 * ones give the floor. The metrics are named after the network (`FD-resnet18-adrenalmnist3d_64`),
 * never FID. Slices are the middle share of each volume (the classifier's `data.sliceFraction`),
 * values clamped to [0, 1]. Writes `generation3d.json`.
 * @module
 */
import { MedMnist } from "../../datasets/medmnist.ts";
import { middleSlices, sliceOf } from "../../datasets/volume_slices.ts";
import type { ArrayImage, Dataset, Sample } from "../../datasets/types.ts";
import { frechetDistance } from "../../metrics/frechet.ts";
import { kernelDistance } from "../../metrics/kid.ts";
import { ConfigError, loadConfig } from "../../train/config.ts";
import { openRunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { Rng } from "../../util/rng.ts";
import { classifierSchema } from "../classify/config.ts";
import { openGeneratedVolumes } from "../common/training_mix.ts";
import { parseTaskArgs } from "../lib/args.ts";
import { type FeatureNetwork, imageSet, openFeatureNetwork } from "./feature_network.ts";

/** One set of volumes: [D, H, W] data in [0, 1] and labels. */
interface Volumes {
  data: Float32Array[];
  labels: number[];
}

/** The slices of `v` along `axis` (middle `fraction`), as [n, 1, S, S] pixels with labels. */
function slicePixels(v: Volumes, shape: readonly number[], axis: number, fraction: number) {
  const kept = middleSlices(shape[axis], fraction);
  const side = shape.filter((_, i) => i !== axis), per = side[0] * side[1];
  const pixels = new Float32Array(v.data.length * kept.length * per);
  const labels = new Int32Array(v.data.length * kept.length);
  v.data.forEach((vol, i) => {
    kept.forEach((s, j) => {
      pixels.set(sliceOf(vol, shape, axis, s), (i * kept.length + j) * per);
      labels[i * kept.length + j] = v.labels[i];
    });
  });
  return { pixels, labels, side };
}

/** Every sample of `ds` (`[1, D, H, W]` volumes) at `indices`, with its label. */
async function collect(ds: Dataset<Sample>, indices: readonly number[]): Promise<Volumes> {
  const out: Volumes = { data: [], labels: [] };
  for (const i of indices) {
    const s = await ds.get(i);
    out.data.push((s.image as ArrayImage).data);
    out.labels.push(s.label);
  }
  return out;
}

/** A split of the MedMNIST 3D file, all of it or a seeded subset of `take` volumes, and the volumes' shape. */
async function realVolumes(path: string, split: "train" | "test", take: number | null, seed: number) {
  const ds = await MedMnist.open(path, { split });
  let idx = Array.from({ length: ds.length }, (_, i) => i);
  if (take !== null && take < idx.length) {
    idx = Array.from(new Rng(seed).permutation(idx.length).subarray(0, take)).sort((a, b) => a - b);
  }
  return { volumes: await collect(ds, idx), shape: [...ds.sampleShape] };
}

/** What `deno task evaluate-3d` measured. */
export interface Volume3dEvaluation {
  outDir: string;
  report: Record<string, unknown>;
}

/** `deno task evaluate-3d`; null after `--help`. */
export async function evaluate3dCommand(argv: readonly string[], quiet = false): Promise<Volume3dEvaluation | null> {
  const args = parseTaskArgs(argv, {
    name: "evaluate-3d",
    description: "Per-slice Fréchet and kernel distances of generated volumes along each axis, against the real test " +
      "volumes, in a slice classifier's feature space, with the real training volumes as the floor.",
    options: {
      volumes: {
        description: "generated volumes: class folders of NIfTI files (deno task sample-3d) (required)",
        valueName: "dir",
      },
      features: {
        description: "a classifier run trained with data.sliceAxis on the real 3-D file (required)",
        valueName: "dir",
      },
      out: { description: "output folder (default: the volumes folder)", valueName: "dir" },
      seed: {
        description: "seed of the training-volume subset and the kernel distance's subsets (default 0)",
        valueName: "n",
      },
    },
  });
  if (args.help) {
    console.log(args.helpText);
    return null;
  }
  const o = args.options;
  if (!o.volumes || !o.features) {
    throw new ConfigError(["--volumes <dir> and --features <dir> are required (see --help)"]);
  }
  const seed = o.seed === undefined ? 0 : Number(o.seed);
  const featureRun = await openRunDir(o.features);
  const fcfg = (await loadConfig(classifierSchema, { file: featureRun.configPath })).config;
  if (fcfg.data.dataset !== "medmnist" || fcfg.data.sliceAxis === null || !fcfg.data.path) {
    throw new ConfigError([
      `--features ${o.features}: a classifier trained on slices of a MedMNIST 3D file (data.sliceAxis)`,
    ]);
  }
  const net: FeatureNetwork = await openFeatureNetwork(o.features);
  try {
    const { volumes: test, shape } = await realVolumes(fcfg.data.path, "test", null, seed);
    const { volumes: train } = await realVolumes(fcfg.data.path, "train", test.data.length, seed);
    const generated = await openGeneratedVolumes(o.volumes, net.data.classes, shape[0], "--volumes");
    if (generated.length < 2) throw new ConfigError([`--volumes ${o.volumes}: fewer than 2 NIfTI volumes`]);
    const gen = await collect(generated, [...Array(generated.length).keys()]);
    const axes: Record<string, unknown>[] = [];
    for (const axis of [0, 1, 2]) {
      const sets = [test, gen, train].map((v) => slicePixels(v, shape, axis, fcfg.data.sliceFraction));
      if (sets[0].side[0] !== net.data.imageSize || sets[0].side[1] !== net.data.imageSize) {
        throw new ConfigError([
          `--features ${o.features} sees ${net.data.imageSize}² images; axis ${axis} slices are ${
            sets[0].side.join("×")
          }`,
        ]);
      }
      const feats = [];
      for (const s of sets) feats.push(await imageSet(net, s.pixels, s.labels, [1, s.side[0], s.side[1]]));
      const [t, g, r] = feats.map((f) => ({ data: f.features, n: f.n, d: f.d }));
      const kd = kernelDistance(t, g, { subsets: 100, subsetSize: 1000, seed });
      const kdFloor = kernelDistance(t, r, { subsets: 100, subsetSize: 1000, seed });
      axes.push({
        axis,
        plane: ["axial", "coronal", "sagittal"][axis],
        slices: { test: t.n, generated: g.n, train: r.n },
        fd: frechetDistance(t, g),
        kd_mean: kd.mean,
        kd_std: kd.std,
        floor_fd: frechetDistance(t, r),
        floor_kd_mean: kdFloor.mean,
        floor_kd_std: kdFloor.std,
      });
    }
    const report = {
      feature_network: { name: net.name, run: net.run, checkpoint: net.checkpoint, layer: net.layer },
      metric_names: net.metricNames,
      volumes: { generated: gen.data.length, test: test.data.length, train: train.data.length, shape },
      seed,
      axes,
    };
    const outDir = o.out ?? o.volumes;
    await writeJsonAtomic(joinPath(outDir, "generation3d.json"), report);
    if (!quiet) {
      console.log(`feature network ${net.name}; per-slice ${net.metricNames.fd} against the real test volumes:`);
      for (const a of axes) {
        console.log(
          `  ${a.plane}: generated ${(a.fd as number).toFixed(3)}, real train (floor) ${
            (a.floor_fd as number).toFixed(3)
          }`,
        );
      }
      console.log(`wrote ${joinPath(outDir, "generation3d.json")}`);
    }
    return { outDir, report };
  } finally {
    net.embedder.dispose();
  }
}
