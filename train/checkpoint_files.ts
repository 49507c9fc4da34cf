/**
 * The checkpoint files of a run folder: which one `--resume` means, pruning old periodic
 * checkpoints, and removing what a killed save left behind.
 * @module
 */
import { joinPath } from "../util/path.ts";
import { latestCheckpoint } from "./checkpoint.ts";
import { ConfigError } from "./config.ts";

/** The name of a run's best checkpoint in its `checkpoints/` folder. */
export const BEST_CHECKPOINT = "best.safetensors";

/** The path of the best checkpoint in a `checkpoints/` folder. */
export function bestCheckpointPath(checkpointsDir: string): string {
  return joinPath(checkpointsDir, BEST_CHECKPOINT);
}

/** The `step` a checkpoint file records, read from its header alone (null when absent or unreadable). */
export async function checkpointStep(path: string): Promise<number | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  try {
    const head = new Uint8Array(8);
    if ((await file.read(head)) !== 8) return null;
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (n <= 0 || n > 64 << 20) return null;
    const json = new Uint8Array(n);
    for (let got = 0; got < n;) {
      const r = await file.read(json.subarray(got));
      if (r === null) return null;
      got += r;
    }
    const step = Number(JSON.parse(new TextDecoder().decode(json))?.__metadata__?.step);
    return Number.isInteger(step) && step >= 0 ? step : null;
  } catch {
    return null;
  } finally {
    file.close();
  }
}

/**
 * The checkpoint `--resume` means: a checkpoint file as given, or in a run folder the newest of
 * its latest `checkpoints/ckpt-*.safetensors` and its `best.safetensors` (by the step they
 * record; the periodic one on a tie), since the best one is newer when it was saved between
 * periodic checkpoints.
 */
export async function resolveResume(pathOrRun: string): Promise<string> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(pathOrRun);
  } catch {
    throw new ConfigError([`--resume ${pathOrRun}: no such file or run folder`]);
  }
  if (stat.isFile) return pathOrRun;
  const dir = joinPath(pathOrRun, "checkpoints");
  const latest = await latestCheckpoint(dir);
  const best = bestCheckpointPath(dir);
  const bestStep = await checkpointStep(best);
  if (bestStep !== null && (!latest || bestStep > ((await checkpointStep(latest)) ?? -1))) return best;
  if (!latest) {
    throw new ConfigError([`--resume ${pathOrRun}: the run folder has no checkpoints/ckpt-*.safetensors yet`]);
  }
  return latest;
}

/**
 * Deletes the oldest periodic checkpoints (`ckpt-<step>.safetensors`) of `dir` so that `keep`
 * remain (0 keeps all); best.safetensors is never touched. Returns the deleted paths.
 */
export async function pruneCheckpoints(dir: string, keep: number): Promise<string[]> {
  if (keep <= 0) return [];
  const found: { step: number; name: string }[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^ckpt-(\d+)\.safetensors$/.exec(e.name);
    if (e.isFile && m) found.push({ step: Number(m[1]), name: e.name });
  }
  found.sort((a, b) => a.step - b.step);
  const removed: string[] = [];
  for (const { name } of found.slice(0, Math.max(0, found.length - keep))) {
    const path = joinPath(dir, name);
    await Deno.remove(path);
    removed.push(path);
  }
  return removed;
}

/**
 * Removes the temporary files (`.<name>.<id>.tmp`) that a process killed during an atomic write
 * leaves in `dirs`; returns their paths. Missing folders are skipped.
 */
export async function removeTemporaryFiles(dirs: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of dirs) {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (!e.isFile || !/^\..+\.[0-9a-f]{8}\.tmp$/.test(e.name)) continue;
        const path = joinPath(dir, e.name);
        await Deno.remove(path);
        removed.push(path);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return removed;
}
