/**
 * Integrity of the safetensors files meddiff writes and reads (issue #13): every file written
 * carries the CRC-32C of its data (`meddiff.crc32c`), a flipped bit fails with a DatasetError
 * naming the file, files from other tools load unverified with one note, and the parser refuses
 * absurd headers, bad offsets and sizes past the decode limit, naming the file and tensor.
 */
import {
  CHECKSUM_KEY,
  encodeSafetensors,
  type HostTensor,
  parseSafetensors,
  readSafetensorsFile,
} from "../util/formats/safetensors.ts";
import { crc32c } from "../util/formats/crc.ts";
import { DatasetError, SizeLimitError } from "../util/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";

/** A file from a header object and data, as another tool would write it (no checksum, no checks). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array()): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function headerOf(bytes: Uint8Array): { n: number; json: Record<string, unknown> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

/** Adam second moments around 2e-5, as a checkpoint holds them. */
const moments: Record<string, HostTensor> = {
  "optim.0.expAvgSq": { dtype: "float32", shape: [4, 4], data: new Float32Array(16).fill(2e-5) },
  "model.w": { dtype: "float32", shape: [3], data: Float32Array.from([0.5, -1, 2]) },
  mask: { dtype: "bool", shape: [2], data: Uint8Array.from([1, 0]) },
};

Deno.test("safetensors checksum: written into the metadata, verified on parse, hidden from the metadata returned", () => {
  const bytes = encodeSafetensors(moments, { format: "meddiff.checkpoint" });
  const { n, json } = headerOf(bytes);
  const stored = (json.__metadata__ as Record<string, string>)[CHECKSUM_KEY];
  assertEquals(stored, crc32c(bytes.subarray(8 + n)).toString(16).padStart(8, "0"), "CRC-32C of the data section");
  const back = parseSafetensors(bytes, "ckpt.safetensors");
  assertEquals(back.checksum, "verified");
  assertEquals(back.metadata, { format: "meddiff.checkpoint" });
  assertEquals(back.tensors["optim.0.expAvgSq"].data, moments["optim.0.expAvgSq"].data);
  // Re-encoding what was parsed gives the same file (the key is written afresh, never twice).
  assertEquals(encodeSafetensors(back.tensors, back.metadata), bytes);
});

Deno.test("safetensors checksum: one flipped bit (an Adam moment 2e-5 → 6.8e33) fails, naming the file", () => {
  const bytes = encodeSafetensors(moments);
  const { n } = headerOf(bytes);
  const flipped = bytes.slice();
  flipped[8 + n + 3] ^= 0x40; // bit 30 of the first float: the top exponent bit
  const f = new Float32Array(flipped.slice(8 + n, 8 + n + 4).buffer)[0];
  assert(f > 1e33, `the flip makes ${f}`);
  const e = assertThrows(
    () => parseSafetensors(flipped, "runs/a/ckpt-000100.safetensors"),
    DatasetError,
  ) as DatasetError;
  assertEquals(e.file, "runs/a/ckpt-000100.safetensors");
  assertEquals(e.field, CHECKSUM_KEY);
  assert(e.message.includes("does not match its checksum"), e.message);
  // A checksum that is not 8 hex digits is refused too.
  const { json } = headerOf(bytes);
  (json.__metadata__ as Record<string, string>)[CHECKSUM_KEY] = "xyz";
  const data = bytes.subarray(8 + n);
  assertThrows(() => parseSafetensors(rawFile(json, data), "f"), DatasetError, "must be 8 hex digits");
});

Deno.test("safetensors checksum: a file from another tool (none) parses, reported absent", () => {
  const file = rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
  const { checksum, metadata } = parseSafetensors(file);
  assertEquals(checksum, "absent");
  assertEquals(metadata, {});
});

Deno.test("safetensors parser: absurd header, bad names and declared sizes past the limit name file and tensor", () => {
  const absurd = new Uint8Array(16);
  new DataView(absurd.buffer).setBigUint64(0, 2n ** 62n, true);
  assertThrows(() => parseSafetensors(absurd, "a.safetensors"), DatasetError, "a.safetensors: header length");
  const proto = rawFile(
    JSON.parse('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'),
    new Uint8Array(4),
  );
  assertThrows(() => parseSafetensors(proto, "p"), DatasetError, '"__proto__" is not allowed');
  // 10^6 × 10^6 floats (4 TB) in a 64-byte file: the size fails first, naming the tensor.
  const huge = rawFile({ big: { dtype: "F16", shape: [1e6, 1e6], data_offsets: [0, 8] } }, new Uint8Array(8));
  const e = assertThrows(() => parseSafetensors(huge, "h.safetensors"), SizeLimitError) as SizeLimitError;
  assertEquals([e.file, e.field], ["h.safetensors", "big"]);
  assert(e.message.includes('tensor "big" (F16 [1000000, 1000000]) is'), e.message);
  // The sum counts too: two tensors of 40 bytes each (decoded) under a 64-byte limit.
  const two = rawFile({
    a: { dtype: "F32", shape: [10], data_offsets: [0, 40] },
    b: { dtype: "F32", shape: [10], data_offsets: [40, 80] },
  }, new Uint8Array(80));
  assertThrows(() => parseSafetensors(two, "t", { maxDecodedBytes: 64 }), SizeLimitError, "its 2 tensors are");
  parseSafetensors(two, "t", { maxDecodedBytes: 80 });
  // Errors about one tensor carry its name as the field.
  const overlap = rawFile({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  }, new Uint8Array(12));
  const o = assertThrows(
    () => parseSafetensors(overlap, "o"),
    DatasetError,
    'tensor "b" data_offsets [4, 12] overlap "a"',
  ) as DatasetError;
  assertEquals(o.field, "b");
});

Deno.test("readSafetensorsFile: missing and oversized files fail naming them; an unverified file is noted once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st_integrity_" });
  const warn = console.warn;
  const notes: string[] = [];
  console.warn = (...a: unknown[]) => notes.push(a.join(" "));
  try {
    await assertRejects(
      () => readSafetensorsFile(`${dir}/none.safetensors`),
      DatasetError,
      "none.safetensors: cannot read",
    );
    const path = `${dir}/torch.safetensors`;
    await Deno.writeFile(path, rawFile({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(16)));
    await assertRejects(
      () => readSafetensorsFile(path, { maxDecodedBytes: 32 }),
      SizeLimitError,
      `${path}: the file is`,
    );
    assertEquals((await readSafetensorsFile(path)).checksum, "absent");
    assertEquals((await readSafetensorsFile(path)).checksum, "absent");
    assertEquals(notes.length, 1, notes.join("\n"));
    assert(notes[0].includes(path) && notes[0].includes(CHECKSUM_KEY), notes[0]);
    const ours = `${dir}/ours.safetensors`;
    await Deno.writeFile(ours, encodeSafetensors(moments));
    assertEquals((await readSafetensorsFile(ours)).checksum, "verified");
    assertEquals(notes.length, 1, "no note for a verified file");
  } finally {
    console.warn = warn;
    await Deno.remove(dir, { recursive: true });
  }
});
