/** `data.json` (and `split.json`) of a run: what sampling needs to know about the data without opening it. */
import { writeJsonAtomic } from "../../util/io.ts";
import { saveSplit } from "../../datasets/split.ts";
import type { ImageData } from "./data.ts";
import type { RunDir } from "../../train/run_dir.ts";
import { joinPath } from "../../util/path.ts";

/** Image shape and class names of a run's data (the class→index map). */
export interface RunDataInfo {
  /** Class names by index. */
  classes: string[];
  /** Image channels. */
  channels: number;
  /** Image side in pixels. */
  imageSize: number;
}

/** Writes `<run>/data.json` (classes, image shape) and, when a split was made, `<run>/split.json`. */
export async function saveRunDataInfo(run: RunDir, data: RunDataInfo & { split?: ImageData["split"] }): Promise<void> {
  const { classes, channels, imageSize } = data;
  await writeJsonAtomic(joinPath(run.path, "data.json"), { classes, channels, imageSize });
  if (data.split) {
    const { train, val, datasetLength, valFraction, seed } = data.split;
    await saveSplit(joinPath(run.path, "split.json"), { train, val }, { datasetLength, valFraction, seed });
  }
}

/** Reads `<run>/data.json`, checking its fields. */
export async function loadRunDataInfo(run: RunDir): Promise<RunDataInfo> {
  const path = joinPath(run.path, "data.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read the run's data description (${e instanceof Error ? e.message : e})`);
  }
  const r = raw as Partial<RunDataInfo>;
  const ok = Array.isArray(r.classes) && r.classes.every((c) => typeof c === "string") &&
    Number.isInteger(r.channels) && Number.isInteger(r.imageSize);
  if (!ok) throw new Error(`${path}: expected {classes: string[], channels: integer, imageSize: integer}`);
  return { classes: r.classes!, channels: r.channels!, imageSize: r.imageSize! };
}
