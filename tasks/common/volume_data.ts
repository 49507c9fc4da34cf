/**
 * The `data` section of the 3-D workflows (VAE, DiT3D) and how it opens: MedMNIST 3D files
 * (`medmnist`, e.g. AdrenalMNIST3D at 64³, values scaled to [0, 1], the file's own train / val /
 * test splits) or the built-in {@linkcode ProceduralVolumes} (`procedural`, for tests and tiny
 * configs; a seeded validation share and a test set drawn with another seed). Volumes are
 * `[1, D, H, W]` float32 in [0, 1]; what a later command needs (classes, channels, size) goes
 * into the run's `volume.json`.
 * @module
 */
import { MedMnist } from "../../datasets/medmnist.ts";
import { ProceduralVolumes } from "../../datasets/procedural_volumes.ts";
import { stratifiedSplit } from "../../datasets/split.ts";
import { Subset } from "../../datasets/subset.ts";
import type { Dataset, Sample } from "../../datasets/types.ts";
import { ConfigError } from "../../train/config.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { writeJsonAtomic } from "../../util/io.ts";
import { joinPath } from "../../util/path.ts";
import { checkedPath } from "./data.ts";

/** The `data` section's defaults. */
export const VOLUME_DATA_DEFAULTS = {
  dataset: "procedural",
  path: null as string | null,
  /** Procedural only: samples and cube side. */
  length: 48,
  size: 16,
  /** Procedural only: validation share. */
  valFraction: 0.25,
  cache: true,
};

/** The `data` section's values. */
export type VolumeDataConfig = typeof VOLUME_DATA_DEFAULTS;

/** Key metadata of the section (for `defineConfig`). */
export const VOLUME_DATA_META = {
  "data.dataset": { choices: ["procedural", "medmnist"], help: "procedural (built in) or a MedMNIST 3D .npz file" },
  "data.path": {
    type: "string",
    help: "the MedMNIST 3D .npz file (e.g. ../shared/data/medmnist/adrenalmnist3d_64.npz)",
  },
  "data.length": { type: "integer", min: 4, max: 100_000, help: "procedural: number of volumes" },
  "data.size": { type: "integer", min: 4, max: 512, help: "procedural: cube side in voxels" },
  "data.valFraction": { min: 0.01, max: 0.9, help: "procedural: validation share" },
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
      description: `procedural volumes ${d.size}³, ${train.length} train / ${val.length} val / ${test.length} test`,
    };
  }
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
    description: `MedMNIST ${path}: ${D}×${H}×${W} volumes, ${train.classes.length} classes, ` +
      `${train.length} train / ${val.length} val / ${test.length} test`,
  };
}

/** Writes `<run>/volume.json` (classes, channels, size). */
export async function saveVolumeDataInfo(run: RunDir, data: VolumeData): Promise<void> {
  const { classes, channels, size } = data;
  await writeJsonAtomic(joinPath(run.path, "volume.json"), { classes, channels, size });
}

/** Reads `<run>/volume.json`. */
export async function loadVolumeDataInfo(run: RunDir): Promise<Pick<VolumeData, "classes" | "channels" | "size">> {
  const path = joinPath(run.path, "volume.json");
  try {
    const r = JSON.parse(await Deno.readTextFile(path));
    if (!Array.isArray(r.classes) || !Number.isInteger(r.channels) || !Array.isArray(r.size) || r.size.length !== 3) {
      throw new Error("expected {classes, channels, size: [D, H, W]}");
    }
    return { classes: r.classes, channels: r.channels, size: r.size };
  } catch (e) {
    throw new Error(`${path}: cannot read the run's volume description (${e instanceof Error ? e.message : e})`);
  }
}
