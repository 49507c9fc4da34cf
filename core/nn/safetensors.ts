/**
 * safetensors files as GPU tensors: decoding bytes (parsed by `util/formats/safetensors.ts`)
 * into tensors, reading files, reading tensors back to the host and atomic saves.
 * @module
 */
import { writeFileAtomic } from "../../util/io.ts";
import {
  encodeSafetensors,
  type HostTensor,
  parseSafetensors,
  readSafetensorsFile,
} from "../../util/formats/safetensors.ts";
import { Tensor } from "../tensor.ts";
import { tensor } from "../ops/creation.ts";

/** Creates GPU tensors from safetensors bytes (validated completely first). */
export function decodeSafetensors(bytes: Uint8Array, source = "data"): Record<string, Tensor> {
  return toTensors(parseSafetensors(bytes, source).tensors);
}

function toTensors(tensors: Record<string, HostTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  try {
    for (const [name, h] of Object.entries(tensors)) out[name] = tensor(h.data, h.shape, { dtype: h.dtype });
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Reads a safetensors file into GPU tensors by name (nothing is created unless the whole file is
 * valid and, when it has one, matches its checksum; see `readSafetensorsFile`).
 */
export async function loadSafetensors(path: string | URL): Promise<Record<string, Tensor>> {
  const file = path instanceof URL
    ? (path.protocol === "file:" ? decodeURIComponent(path.pathname) : String(path))
    : path;
  return toTensors((await readSafetensorsFile(file)).tensors);
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
 * Writes tensors to a safetensors file atomically, with the CRC-32C of their data in the
 * metadata (`meddiff.crc32c`): the bytes go to a temporary file in the same folder, which is then
 * renamed over `path`; on failure `path` is untouched, the temporary file removed, and a
 * WriteError names the file.
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
  await writeFileAtomic(path, bytes, { what: "the safetensors weights" });
}
