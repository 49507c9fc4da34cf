/**
 * safetensors and checkpoint cases. Weights are written by meddiff's own encoder (which stores
 * a checksum of the tensor data) or byte by byte (headers that lie); checkpoints by
 * `saveCheckpoint` from a `Linear(4, 3)` after one AdamW step, then cut, flipped or relabelled.
 * The corpus test loads checkpoints into the same model and optimizer.
 * @module
 */
import { AdamW, initGpu, randn } from "../../mod.ts";
import { Linear } from "../../core/nn/linear.ts";
import { saveCheckpoint } from "../../train/checkpoint.ts";
import { encodeSafetensors } from "../../util/formats/safetensors.ts";
import { concat, type CorpusWriter, flip } from "./case.ts";

/** A safetensors file from a JSON header text and a data section. */
function raw(header: string, data: Uint8Array, declaredLength?: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(declaredLength ?? h.length), true);
  return concat(len, h, data);
}

/** The model and optimizer the checkpoint cases are written from (and loaded into). */
export function checkpointTargets(): { model: Linear; optimizer: AdamW } {
  const model = new Linear(4, 3);
  return { model, optimizer: new AdamW(model.parameters(), { lr: 1e-3 }) };
}

/** Writes the safetensors and checkpoint cases. */
export async function weightCases(w: CorpusWriter): Promise<void> {
  const tensors = {
    "a.weight": { dtype: "float32" as const, shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    "a.bias": { dtype: "float32" as const, shape: [2], data: new Float32Array([0.5, -0.5]) },
  };
  const valid = encodeSafetensors(tensors);
  const s = (
    path: string,
    bytes: Uint8Array,
    defect: string,
    expect: "ok" | "warn" | "DatasetError" | "SizeLimitError",
  ) => w.file(`safetensors/${path}`, bytes, { reader: "safetensors", defect, expect });
  await s("valid.safetensors", valid, "valid, written by meddiff (with checksum)", "ok");
  const foreign = raw(
    JSON.stringify({ "w": { dtype: "F32", shape: [2], data_offsets: [0, 8] } }),
    new Uint8Array(new Float32Array([1, 2]).buffer),
  );
  await s("foreign_no_checksum.safetensors", foreign, "valid, written elsewhere (no checksum)", "warn");
  await s(
    "bitflip_data.safetensors",
    flip(valid, -3, 0x40),
    "bit flipped in the tensor data (checksum mismatch)",
    "DatasetError",
  );
  await s("empty.safetensors", new Uint8Array(0), "zero bytes", "DatasetError");
  await s("truncated_data.safetensors", valid.subarray(0, valid.length - 5), "data section cut short", "DatasetError");
  await s("truncated_header.safetensors", valid.subarray(0, 20), "header cut short", "DatasetError");
  await s(
    "header_length_huge.safetensors",
    raw("{}", new Uint8Array(0), 2 ** 50),
    "header length 2^50",
    "DatasetError",
  );
  await s("header_not_json.safetensors", raw("{not json", new Uint8Array(8)), "header is not JSON", "DatasetError");
  await s("header_array.safetensors", raw("[1,2,3]", new Uint8Array(0)), "header is a JSON array", "DatasetError");
  const entry = (e: object) => raw(JSON.stringify({ w: e }), new Uint8Array(16));
  await s(
    "offsets_out_of_range.safetensors",
    entry({ dtype: "F32", shape: [4], data_offsets: [0, 64] }),
    "offsets past the data",
    "DatasetError",
  );
  await s(
    "offsets_reversed.safetensors",
    entry({ dtype: "F32", shape: [0], data_offsets: [8, 0] }),
    "end before start",
    "DatasetError",
  );
  await s(
    "shape_mismatch.safetensors",
    entry({ dtype: "F32", shape: [3], data_offsets: [0, 16] }),
    "shape [3] float32 in 16 bytes",
    "DatasetError",
  );
  await s(
    "unknown_dtype.safetensors",
    entry({ dtype: "Q4", shape: [4], data_offsets: [0, 16] }),
    "dtype Q4",
    "DatasetError",
  );
  await s(
    "negative_shape.safetensors",
    entry({ dtype: "F32", shape: [-4], data_offsets: [0, 16] }),
    "negative dimension",
    "DatasetError",
  );
  await s(
    "overlapping.safetensors",
    raw(
      JSON.stringify({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }),
      new Uint8Array(16),
    ),
    "two tensors share bytes",
    "DatasetError",
  );
  await s(
    "declares_huge.safetensors",
    entry({ dtype: "F64", shape: [100000, 100000, 100], data_offsets: [0, 8e12] }),
    "tensor declares 8 TB",
    "DatasetError",
  );

  // Checkpoints from a real save.
  await initGpu();
  const { model, optimizer } = checkpointTargets();
  model.call(randn([2, 4])).square().mean().backward();
  optimizer.step();
  const path = `${w.dir}/checkpoints/valid.safetensors`;
  await Deno.mkdir(`${w.dir}/checkpoints`, { recursive: true });
  await saveCheckpoint(path, { model, optimizer, step: 1, epoch: 0 });
  const ckpt = await Deno.readFile(path);
  w.cases.push({ path: "checkpoints/valid.safetensors", reader: "checkpoint", defect: "valid", expect: "ok" });
  const c = (name: string, bytes: Uint8Array, defect: string) =>
    w.file(`checkpoints/${name}`, bytes, { reader: "checkpoint", defect, expect: "DatasetError" });
  // The data section ends with the last tensor; a flip near the end changes an Adam moment's exponent.
  await c("bitflip_moment.safetensors", flip(ckpt, -2, 0x40), "one bit flipped in the tensor data");
  await c("truncated.safetensors", ckpt.subarray(0, ckpt.length - 30), "cut short");
  const header = new TextDecoder().decode(
    ckpt.subarray(8, 8 + Number(new DataView(ckpt.buffer).getBigUint64(0, true))),
  );
  const swap = (from: string, to: string) => {
    const h = header.replace(from, to).padEnd(header.length);
    return concat(
      ckpt.subarray(0, 8),
      new TextEncoder().encode(h.slice(0, header.length)),
      ckpt.subarray(8 + header.length),
    );
  };
  await c(
    "wrong_format.safetensors",
    swap('"format":"meddiff.checkpoint"', '"format":"other.checkpointt"'),
    "metadata format is not meddiff's",
  );
  await c("bad_step.safetensors", swap('"step":"1"', '"step":"x"'), "step metadata is not a number");
  await c(
    "other_architecture.safetensors",
    encodeSafetensors(tensors, { format: "meddiff.checkpoint", version: "1", step: "1" }),
    "another model's tensors",
  );
}
