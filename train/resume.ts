/** What `--resume` names: a checkpoint file, or a run folder (its latest checkpoint). */
import { latestCheckpoint } from "./checkpoint.ts";
import { joinPath } from "../util/path.ts";

/** The checkpoint `--resume` means: a checkpoint file, or the latest one in a run folder's `checkpoints/`. */
export async function resolveResume(pathOrRun: string): Promise<string> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(pathOrRun);
  } catch {
    throw new Error(`--resume ${pathOrRun}: no such file or run folder`);
  }
  if (stat.isFile) return pathOrRun;
  const latest = await latestCheckpoint(joinPath(pathOrRun, "checkpoints"));
  if (!latest) throw new Error(`--resume ${pathOrRun}: the run folder has no checkpoints/ckpt-*.safetensors yet`);
  return latest;
}
