/**
 * Loading weights exported from torchvision (or named as it names them) into our models.
 * @module
 */
import type { LoadStateDictResult, Module } from "../core/nn/module.ts";
import { loadSafetensors } from "../core/nn/safetensors.ts";
import type { Tensor } from "../core/tensor.ts";

/** The tensors of the safetensors file `path`; a failure's message begins with `source`. */
export async function readWeightsFile(path: string, source: string): Promise<Record<string, Tensor>> {
  try {
    return await loadSafetensors(path);
  } catch (e) {
    throw new Error(`${source}: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
}

/**
 * Copies `weights` into `model`: every tensor must match by name and shape, except that batch
 * norm's `num_batches_tracked` counters may be absent (pytorch-fid's Inception file has none).
 * Errors begin with `source` (e.g. "Inception-v3 weights <path>") and list up to five missing and
 * unexpected names; `names` says whose names were expected ("Inception3", "ResNet").
 */
export function loadTorchvisionWeights(
  model: Module,
  weights: Record<string, Tensor>,
  source: string,
  names: string,
): void {
  let result: LoadStateDictResult;
  try {
    result = model.loadStateDict(weights, { strict: false });
  } catch (e) {
    throw new Error(`${source}: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  const missing = result.missingKeys.filter((k) => !k.endsWith("num_batches_tracked"));
  const unexpected = result.unexpectedKeys;
  if (missing.length === 0 && unexpected.length === 0) return;
  const list = (what: string, keys: string[]) =>
    keys.length ? `${what} ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}` : "";
  throw new Error(
    `${source} do not match torchvision's ${names} names: ` +
      [list("missing", missing), list("unexpected", unexpected)].filter((s) => s).join("; "),
  );
}
