/**
 * The `data` section of the 3-D workflows (VAE, DiT3D) and how it opens: MedMNIST 3D files
 * (`medmnist`, e.g. AdrenalMNIST3D at 64³, values scaled to [0, 1], the file's own train / val /
 * test splits), a folder of NIfTI volumes (`nifti`: each resampled to `data.size`³ trilinearly
 * and its intensities clipped to the 0–99.5th percentiles and scaled to [0, 1], as MAISI
 * prepares MRI; a seeded validation share that is also the test split; one volume alone serves
 * every split, for a reconstruction demo) or the built-in {@linkcode ProceduralVolumes}
 * (`procedural`, for tests and tiny configs; a seeded validation share and a test set drawn with
 * another seed). Volumes are `[1, D, H, W]` float32 in [0, 1]; what a later command needs
 * (classes, channels, size, and for NIfTI the first volume's affine rescaled to the new grid)
 * goes into the run's `volume.json`.
 * @module
 */
import { MedMnist } from "../../datasets/medmnist.ts";
import { ProceduralVolumes } from "../../datasets/procedural_volumes.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { MappedDataset, Subset } from "../../datasets/subset.ts";
import { percentileClip, resizeVolume } from "../../datasets/transforms/volume.ts";
import { NiftiDataset, niftiId } from "../../datasets/volume_dataset.ts";
import { type Dataset, DatasetError, type Sample } from "../../datasets/types.ts";
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { checkedPath } from "./data.ts";
import { parseCsv } from "../../datasets/csv_dataset.ts";

/** The `data` section's defaults. */
export const VOLUME_DATA_DEFAULTS = {
  dataset: "procedural",
  path: null as string | null,
  /** Procedural only: samples and cube side. */
  length: 48,
  size: 16,
  /** Procedural only: validation share. */
  valFraction: 0.25,
  /** NIfTI only: a CSV giving each volume's class (null: unlabelled, one class). */
  labels: null as string | null,
  cache: true,
};

/** The `data` section's values. */
export type VolumeDataConfig = typeof VOLUME_DATA_DEFAULTS;

/** Key metadata of the section (for `defineConfig`). */
export const VOLUME_DATA_META = {
  "data.dataset": {
    choices: ["procedural", "medmnist", "nifti"],
    help: "procedural (built in), a MedMNIST 3D .npz file, or a folder of NIfTI volumes",
  },
  "data.path": {
    type: "string",
    help: "the MedMNIST 3D .npz file (e.g. ../shared/data/medmnist/adrenalmnist3d_64.npz) or the NIfTI folder",
  },
  "data.length": { type: "integer", min: 4, max: 100_000, help: "procedural: number of volumes" },
  "data.size": {
    type: "integer",
    min: 4,
    max: 512,
    help: "procedural: cube side; nifti: the side every volume is resampled to",
  },
  "data.valFraction": { min: 0.01, max: 0.9, help: "procedural and nifti: validation share" },
  "data.labels": {
    type: "string",
    help: "nifti: a CSV with columns id (file name, extension optional) and label (a class name or index 0..K−1), " +
      "one row per volume of the folder",
  },
  "data.cache": { help: "keep decoded volumes in memory" },
} as const;

/** Opened volume data. */
export interface VolumeData {
  train: Dataset<Sample>;
  val: Dataset<Sample>;
  test: Dataset<Sample>;
  classes: readonly string[];
  channels: number;
  /** Spatial size [D, H, W]. */
  size: [number, number, number];
  /** Voxel-to-world matrix for written volumes (NIfTI data: the first training volume's, on the new grid). */
  affine: number[][] | null;
  description: string;
}

/** Opens the configured volumes; a wrong path or a 2-D file is a {@linkcode ConfigError} naming the key. */
export async function openVolumeData(d: VolumeDataConfig, seed: number): Promise<VolumeData> {
  if (d.dataset === "procedural") {
    const all = new ProceduralVolumes({ length: d.length, size: d.size, seed });
    const { train, val } = stratifiedSplit(all.labels(), { valFraction: d.valFraction, seed });
    const test = new ProceduralVolumes({
      length: Math.max(8, Math.round(d.length / 4)),
      size: d.size,
      seed: seed + 7919,
    });
    return {
      train: new Subset(all, train),
      val: new Subset(all, val),
      test,
      classes: all.classes,
      channels: 1,
      size: [d.size, d.size, d.size],
      affine: null,
      description: `procedural volumes ${d.size}³, ${train.length} train / ${val.length} val / ${test.length} test`,
    };
  }
  if (d.dataset === "nifti") return await openNiftiFolder(d, seed);
  const path = await checkedPath("data.path", d.path, "file", 'for data.dataset "medmnist"');
  const [train, val, test] = await Promise.all(
    (["train", "val", "test"] as const).map((split) => MedMnist.open(path, { split })),
  );
  if (!train.is3d) throw new ConfigError([`data.path ${path} holds 2D images; the 3-D workflows need volumes`]);
  const [D, H, W] = train.sampleShape;
  return {
    train,
    val,
    test,
    classes: train.classes,
    channels: 1,
    size: [D, H, W],
    affine: null,
    description: `MedMNIST ${path}: ${D}×${H}×${W} volumes, ${train.classes.length} classes, ` +
      `${train.length} train / ${val.length} val / ${test.length} test`,
  };
}

/**
 * A folder of NIfTI volumes, resampled and scaled (see the module notes); labelled by the
 * `data.labels` CSV (classes, and a validation share stratified by them), else one class.
 */
async function openNiftiFolder(d: VolumeDataConfig, seed: number): Promise<VolumeData> {
  const dir = await checkedPath("data.path", d.path, "folder", 'for data.dataset "nifti"');
  const table = d.labels === null ? null : await readVolumeLabels(d.labels);
  let all: NiftiDataset;
  try {
    all = await NiftiDataset.open({ dir, ...(table ? { labels: table.labels, classes: table.classes } : {}) });
  } catch (e) {
    const problem = e instanceof DatasetError ? e.problem : e instanceof Error ? e.message : String(e);
    const key = table && /label/.test(problem) ? `data.labels ${d.labels}` : `data.path ${dir}`;
    throw new ConfigError([
      `${key}: ${problem} (expected a folder of .nii / .nii.gz / .hdr volumes${
        table ? ", each with a row in data.labels" : ""
      })`,
    ]);
  }
  if (table) {
    // Rows for volumes that are not in the folder are a mistake too: nothing is dropped silently.
    const ids = new Set(all.entries.map((e) => e.id));
    const stray = [...table.labels.keys()].filter((id) => !ids.has(id));
    if (stray.length) {
      throw new ConfigError([
        `data.labels ${d.labels}: ${stray.length} row(s) name no volume of ${dir} (${stray.slice(0, 3).join(", ")}${
          stray.length > 3 ? ", …" : ""
        })`,
      ]);
    }
  }
  const classes = table ? table.classes : ["volume"];
  const labelsOf = table ? () => Int32Array.from(all.entries, (e) => e.label) : () => new Int32Array(all.length);
  const S = d.size, scale = percentileClip({ lower: 0, upper: 99.5, rescale: true }), resize = resizeVolume([S, S, S]);
  const labelled: Dataset<Sample> = { length: all.length, get: (i) => all.get(i), classes, labels: labelsOf };
  const prepared = new MappedDataset(labelled, async (sample: Sample, rng) => {
    const out = await scale(await resize(sample, rng), rng);
    return { ...out, label: table ? sample.label : 0 }; // unlabelled volumes: one class, "volume"
  });
  const first = await all.get(0);
  const affine = rescaledAffine(first.meta.affine as number[][], first.image.shape.slice(1), [S, S, S]);
  const common = { classes, channels: 1, size: [S, S, S] as [number, number, number], affine };
  if (all.length === 1) {
    return {
      ...common,
      train: prepared,
      val: prepared,
      test: prepared,
      description: `NIfTI ${dir}: 1 volume resampled to ${S}³ (one volume: train, validation and test are the same)`,
    };
  }
  const { train, val } = stratifiedSplit(labelsOf(), { valFraction: d.valFraction, seed });
  const valSet = new Subset(prepared, val);
  return {
    ...common,
    train: new Subset(prepared, train),
    val: valSet,
    test: valSet,
    description: `NIfTI ${dir}: ${all.length} volumes resampled to ${S}³${
      table ? `, ${classes.length} classes (${d.labels})` : ""
    }, ${train.length} train / ${val.length} val (the folder has no test split: validation doubles as test)`,
  };
}

/**
 * A volume-labels CSV: columns `id` (a file name, extension optional) and `label` (class names,
 * which become classes in sorted order, or indices 0..K−1); errors name the file and line.
 */
export async function readVolumeLabels(path: string): Promise<{ labels: Map<string, number>; classes: string[] }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new ConfigError([`data.labels ${path} cannot be read (expected a CSV with columns id,label)`]);
  }
  let table;
  try {
    table = parseCsv(text, { file: path });
  } catch (e) {
    throw new ConfigError([`data.labels ${e instanceof Error ? e.message : e}`]);
  }
  const header = table.header.map((h) => h.trim());
  const [idCol, labelCol] = ["id", "label"].map((c) => header.indexOf(c));
  if (idCol < 0 || labelCol < 0) {
    throw new ConfigError([
      `data.labels ${path}: line 1 must name the columns id and label (got ${header.join(", ")})`,
    ]);
  }
  const rows = table.rows.map((r, i) => ({
    id: niftiId((r[idCol] ?? "").trim()),
    label: (r[labelCol] ?? "").trim(),
    line: table.lines[i],
  }));
  const bad = rows.find((r) => r.id === "" || r.label === "");
  if (bad) throw new ConfigError([`data.labels ${path}:${bad.line}: empty id or label`]);
  const numeric = rows.every((r) => /^\d+$/.test(r.label));
  const classes = numeric
    ? Array.from({ length: Math.max(...rows.map((r) => Number(r.label))) + 1 }, (_, k) => String(k))
    : [...new Set(rows.map((r) => r.label))].sort();
  const labels = new Map<string, number>();
  for (const r of rows) {
    if (labels.has(r.id)) throw new ConfigError([`data.labels ${path}:${r.line}: volume "${r.id}" appears twice`]);
    labels.set(r.id, numeric ? Number(r.label) : classes.indexOf(r.label));
  }
  return { labels, classes };
}

/** `affine` (of a [D, H, W] grid) for the same field of view sampled on `to` (align_corners=False). */
export function rescaledAffine(affine: number[][], from: readonly number[], to: readonly number[]): number[][] {
  // NIfTI's voxel (i, j, k) is (x, y, z) = (W, H, D) order; column j scales by from/to of that axis.
  const f = [from[2] / to[2], from[1] / to[1], from[0] / to[0]];
  const out = affine.map((row) => [...row]);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r][c] = affine[r][c] * f[c];
    // Voxel centres: new voxel 0 sits at old coordinate (f − 1)/2.
    out[r][3] = affine[r][3] + [0, 1, 2].reduce((s, c) => s + affine[r][c] * (f[c] - 1) / 2, 0);
  }
  return out;
}

/** Writes `<run>/volume.json` (classes, channels, size, affine). */
export async function saveVolumeDataInfo(run: RunDir, data: VolumeData): Promise<void> {
  const { classes, channels, size, affine } = data;
  await writeJsonAtomic(joinPath(run.path, "volume.json"), { classes, channels, size, affine });
}
