/** safetensors: byte layout, every dtype, every corrupt-file error, atomic saves and a PyTorch fixture. */
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  Linear,
  loadSafetensors,
  parseSafetensors,
  ReLU,
  saveSafetensors,
  Sequential,
} from "../core/nn/mod.ts";
import { type Tensor, tensor } from "../mod.ts";
import { assertClose, gpuTest } from "./_util.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { DatasetError } from "../util/errors.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** Builds a file from a header object and a data buffer (no validation). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(), headerText?: string): Uint8Array {
  const text = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const sample: Record<string, HostTensor> = {
  flag: { dtype: "bool", shape: [3], data: Uint8Array.from([1, 0, 1]) },
  w: { dtype: "float32", shape: [2, 2], data: Float32Array.from([1.5, -2, 3e-8, Infinity]) },
  idx: { dtype: "int32", shape: [], data: Int32Array.from([-7]) },
  empty: { dtype: "float32", shape: [0, 4], data: new Float32Array() },
};

Deno.test("safetensors: encode/parse round trip for F32, I32 and BOOL, aligned header, metadata", () => {
  const bytes = encodeSafetensors(sample, { format: "pt" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assertEquals(header.w, { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] }, "wide types first");
  assertEquals(header.flag.dtype, "BOOL");
  const { tensors, metadata } = parseSafetensors(bytes);
  assertEquals(metadata, { format: "pt" });
  assertEquals(Object.keys(tensors), ["flag", "w", "idx", "empty"]);
  for (const [name, t] of Object.entries(sample)) assertEquals(tensors[name], t, name);
});

Deno.test("safetensors: F16, BF16 and I64 convert on load", () => {
  const f16 = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7c00, 0x8000, 0x7bff]);
  const bf16 = Uint16Array.from([0x3f80, 0xc020]);
  const i64 = BigInt64Array.from([5n, -2147483648n]);
  const data = new Uint8Array(12 + 4 + 16);
  data.set(new Uint8Array(f16.buffer), 0);
  data.set(new Uint8Array(bf16.buffer), 12);
  data.set(new Uint8Array(i64.buffer), 16);
  const file = rawFile({
    h: { dtype: "F16", shape: [6], data_offsets: [0, 12] },
    b: { dtype: "BF16", shape: [2], data_offsets: [12, 16] },
    l: { dtype: "I64", shape: [2, 1], data_offsets: [16, 32] },
  }, data);
  const { tensors } = parseSafetensors(file);
  assertEquals(tensors.h.dtype, "float32");
  assertEquals([...tensors.h.data], [1, -2, 2 ** -24, Infinity, -0, 65504]);
  assertEquals([...tensors.b.data], [1, -2.5]);
  assertEquals(tensors.l, { dtype: "int32", shape: [2, 1], data: Int32Array.from([5, -2147483648]) });
});

Deno.test("safetensors: corrupt files give errors naming the file and the problem", () => {
  const good = encodeSafetensors(sample);
  const f32 = (offsets: number[], shape = [2]) => ({ dtype: "F32", shape, data_offsets: offsets });
  const cases: [string, Uint8Array, string][] = [
    ["truncated", good.subarray(0, 5), "truncated: 5 bytes"],
    ["header too long", good.subarray(0, 40), "larger than the file"],
    ["bad JSON", rawFile(null, new Uint8Array(), "{not json"), "not valid JSON"],
    ["not an object", rawFile([1, 2]), "must be a JSON object"],
    ["out of range", rawFile({ a: f32([0, 8]) }, new Uint8Array(4)), "out of range"],
    ["size mismatch", rawFile({ a: f32([0, 4]) }, new Uint8Array(4)), "needs 8"],
    ["overlap", rawFile({ a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12)), "overlap"],
    ["hole", rawFile({ a: f32([4, 12]) }, new Uint8Array(12)), "hole"],
    ["trailing", rawFile({ a: f32([0, 8]) }, new Uint8Array(12)), "trailing"],
    [
      "dtype",
      rawFile({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      "unsupported dtype F64",
    ],
    ["bad shape", rawFile({ a: f32([0, 8], [-2]) }, new Uint8Array(8)), "invalid shape"],
    ["bad offsets", rawFile({ a: f32([8, 0]) }, new Uint8Array(8)), "invalid data_offsets"],
    [
      "I64 range",
      rawFile(
        { a: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
        new Uint8Array(BigInt64Array.from([2n ** 40n]).buffer),
      ),
      "does not fit in int32",
    ],
  ];
  for (const [what, bytes, msg] of cases) {
    const e = assertThrows(() => parseSafetensors(bytes, "model.safetensors"), DatasetError, msg);
    assert(e.message.startsWith("model.safetensors: "), `${what}: ${e.message}`);
    assertEquals((e as DatasetError).file, "model.safetensors");
  }
});

gpuTest("safetensors: decode to tensors, atomic save and load", async () => {
  const ts = decodeSafetensors(encodeSafetensors(sample));
  assertEquals(ts.idx.shape, []);
  assertEquals(await ts.idx.toArray(), [-7]);
  assertEquals(ts.flag.dtype, "bool");
  assertEquals(await ts.w.toArray(), [...sample.w.data]);
  const dir = await Deno.makeTempDir({ prefix: "meddiff-st-" });
  try {
    const path = `${dir}/model.safetensors`;
    await saveSafetensors(path, ts, { step: "3" });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"], "no temp file left");
    const back = await loadSafetensors(path);
    assertEquals(Object.keys(back).sort(), Object.keys(sample).sort());
    assertEquals(await back.flag.toArray(), [1, 0, 1]);
    assertEquals(parseSafetensors(await Deno.readFile(path)).metadata, { step: "3" });
    // A failed save leaves the existing file as it was, and no temp file.
    const before = await Deno.readFile(path);
    const dead = tensor([1]);
    dead.dispose();
    await assertRejects(() => saveSafetensors(path, { ok: back.w, dead }), Error, '"dead" was disposed');
    await assertRejects(() => saveSafetensors(`${dir}/missing/x.safetensors`, { ok: back.w }), Error, "missing");
    assertEquals(await Deno.readFile(path), before);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
    await assertRejects(() => loadSafetensors(`${dir}/nope.safetensors`), Error, "nope.safetensors: cannot read");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("safetensors: a PyTorch state dict loads into Sequential and reproduces its output", async () => {
  const sd = await loadSafetensors(new URL("mlp.safetensors", FIXTURES));
  const io = await loadSafetensors(new URL("mlp_io.safetensors", FIXTURES));
  const mlp = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
  try {
    assertEquals(Object.keys(sd), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    mlp.loadStateDict(sd);
    const y = mlp.call(io.x);
    assertClose(await y.data(), await io.y.data(), { atol: 1e-5, rtol: 1e-5 });
    const pairs: [Tensor, Tensor][] = [[io.half, io.half_f32], [io.bf16, io.bf16_f32], [io.long, io.long_i32]];
    for (const [got, want] of pairs) {
      assertEquals(got.dtype, want.dtype);
      assertEquals(got.shape, want.shape);
      assertEquals(await got.toArray(), await want.toArray());
    }
    assertEquals(await io.mask.toArray(), [1, 0, 1, 1]);
  } finally {
    mlp.dispose();
  }
});
