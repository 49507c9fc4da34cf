/**
 * safetensors files as GPU tensors: decoding bytes (parsed by `util/formats/safetensors.ts`)
 * into tensors, reading files, reading tensors back to the host and atomic saves.
 * @module
 */
import { writeFileAtomic } from "../../util/io.ts";
import { encodeSafetensors, type HostTensor, parseSafetensors } from "../../util/formats/safetensors.ts";
import { Tensor } from "../tensor.ts";
import { tensor } from "../ops/creation.ts";

/** Creates GPU tensors from safetensors bytes (validated completely first). */
export function decodeSafetensors(bytes: Uint8Array, source = "data"): Record<string, Tensor> {
  const { tensors } = parseSafetensors(bytes, source);
  const out: Record<string, Tensor> = {};
  try {
    for (const [name, h] of Object.entries(tensors)) out[name] = tensor(h.data, h.shape, { dtype: h.dtype });
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}

/** Reads a safetensors file into GPU tensors by name (nothing is created unless the whole file is valid). */
export async function loadSafetensors(path: string | URL): Promise<Record<string, Tensor>> {
  const source = String(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`safetensors ${source}: cannot read the file (${e instanceof Error ? e.message : e})`);
  }
  return decodeSafetensors(bytes, source);
}

/** Reads the tensors back from the GPU into host arrays. */
export async function toHost(tensors: Record<string, Tensor>): Promise<Record<string, HostTensor>> {
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`safetensors: "${name}" is not a Tensor`);
    if (t.isDisposed) throw new Error(`safetensors: "${name}" was disposed`);
  }
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = { dtype: t.dtype, shape: [...t.shape], data: await t.data() };
  }
  return out;
}

/**
 * Writes tensors to a safetensors file atomically: the bytes go to a temporary file in the same
 * folder, which is then renamed over `path`; on failure `path` is untouched and the temporary
 * file removed.
 */
export async function saveSafetensors(
  path: string | URL,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (path instanceof URL) {
    if (path.protocol !== "file:") throw new TypeError(`saveSafetensors: only file: URLs can be written, got ${path}`);
    path = decodeURIComponent(path.pathname);
  }
  const bytes = encodeSafetensors(await toHost(tensors), metadata);
  await writeFileAtomic(path, bytes, { what: `saveSafetensors ${path}` });
}
