/**
 * Untrusted `.npy`/`.npz` files: decompression bombs, directories and headers that declare more
 * than the decode limit or than the file holds, and random corruption. Every malformed file is
 * built here; every failure must be a DatasetError naming the file (a SizeLimitError for sizes).
 */
import { encodeNpy, parseNpy, readNpy } from "../util/formats/npy.ts";
import { NpzArchive, parseNpz, readNpz } from "../util/formats/npz.ts";
import { MedMnist } from "../datasets/medmnist.ts";
import { DatasetError, SizeLimitError } from "../util/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { zip as zipOf } from "../scripts/malformed/zip.ts";

function zeros(n: number): Uint8Array {
  return encodeNpy({ dtype: "uint8", shape: [n], data: new Uint8Array(n) });
}

/** An `.npy` header that declares `shapeText` for `descr`, followed by `dataBytes` bytes. */
function npyDeclaring(descr: string, shapeText: string, dataBytes: number): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + dict.length + 1;
  const header = dict + " ".repeat(Math.ceil(total / 64) * 64 - total) + "\n";
  const out = new Uint8Array(10 + header.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

Deno.test("npz: a member whose declared size is over the limit fails before inflating, naming it", () => {
  const bomb = zipOf([{ name: "x.npy", data: zeros(8 << 20), deflate: true }]);
  assert(bomb.length < 64 << 10, `the 8 MiB member compresses to ${bomb.length} bytes`);
  const arch = NpzArchive.fromBytes(bomb, "bomb.npz", { maxDecodedBytes: 1 << 20 });
  const e = assertThrows(() => arch.read("x"), SizeLimitError, 'bomb.npz: member "x.npy" declares 8.00 MiB');
  assertEquals([(e as SizeLimitError).limit, (e as SizeLimitError).field], [1 << 20, "x.npy"]);
  assertThrows(() => parseNpz(bomb, "bomb.npz", { maxDecodedBytes: 1 << 20 }), SizeLimitError, "1.00 MiB");
  // Under the limit it reads as before.
  assertEquals(parseNpz(bomb, "bomb.npz", { maxDecodedBytes: 16 << 20 }).x.shape, [8 << 20]);
});

Deno.test("npz: a member that inflates past its declared size stops at that size", () => {
  const lying = zipOf([{ name: "x.npy", data: zeros(8 << 20), deflate: true, declaredSize: 1000 }]);
  assertThrows(
    () => NpzArchive.fromBytes(lying, "lie.npz").read("x"),
    DatasetError,
    'lie.npz: member "x.npy": inflates past the 1000 bytes declared for it',
  );
});

Deno.test("npz: a ZIP64 member declaring 1 TB is a SizeLimitError with both sizes, not corrupt data", () => {
  const huge = zipOf([{ name: "x.npy", data: zeros(1000), deflate: true, declaredSize: 1e12, zip64: true }]);
  const e = assertThrows(
    () => NpzArchive.fromBytes(huge, "huge.npz", { maxDecodedBytes: 1 << 30 }).read("x"),
    SizeLimitError,
    'huge.npz: member "x.npy" declares 931.32 GiB (1,000,000,000,000 bytes) of decoded data, over the limit of 1.00 GiB',
  );
  assertEquals((e as SizeLimitError).declared, 1e12);
});

Deno.test("npz: header() of a bomb whose .npy header length is huge reads a bounded prefix", () => {
  const head = npyDeclaring("|u1", "(4,)", 4);
  head[6] = 2; // version 2: a 4-byte header length
  const bad = new Uint8Array(12 + (64 << 20));
  bad.set(head.subarray(0, 8));
  new DataView(bad.buffer).setUint32(8, 0xfffffff0, true);
  const arch = NpzArchive.fromBytes(zipOf([{ name: "x.npy", data: bad, deflate: true }]), "peek.npz");
  assertThrows(() => arch.header("x"), DatasetError, 'peek.npz: member "x.npy": header length');
});

Deno.test("npy: a shape over the decode limit or over the bytes present names the field `shape`", async () => {
  const cut = npyDeclaring("<f4", "(1000, 1000)", 16);
  let e = assertThrows(() => parseNpy(cut, "a.npy"), DatasetError, "a.npy: truncated: float32 (1000, 1000) needs");
  assertEquals([e.constructor, (e as DatasetError).field], [DatasetError, "shape"]);
  // A shape over the limit is a SizeLimitError even when the data is absent (checked first).
  const tooBig = npyDeclaring("<f8", "(100000, 100000, 100)", 16);
  e = assertThrows(() => parseNpy(tooBig, "t.npy"), SizeLimitError, "t.npy: the header declares float64 shape");
  assertEquals((e as SizeLimitError).declared, 8e12);
  const inZip = zipOf([{ name: "x.npy", data: tooBig, deflate: true }]);
  e = assertThrows(() => parseNpz(inZip, "t.npz"), SizeLimitError, 't.npz: member "x.npy": the header declares');
  assertEquals((e as SizeLimitError).field, "shape");
  const real = encodeNpy({ dtype: "float32", shape: [256], data: new Float32Array(256) });
  e = assertThrows(() => parseNpy(real, "b.npy", { maxDecodedBytes: 512 }), SizeLimitError, "b.npy: ");
  assertEquals((e as SizeLimitError).field, "shape");
  assertEquals((e as SizeLimitError).declared, 1024);
  const dir = await Deno.makeTempDir({ prefix: "meddiff-npy-limit-" });
  try {
    await Deno.writeFile(`${dir}/c.npy`, real);
    await assertRejects(() => readNpy(`${dir}/c.npy`, { maxDecodedBytes: 512 }), SizeLimitError, `${dir}/c.npy`);
    assertEquals((await readNpy(`${dir}/c.npy`, { maxDecodedBytes: 4096 })).shape, [256]);
    // A file far larger than the limit is refused from its header, without reading it all.
    await Deno.writeFile(`${dir}/d.npy`, npyDeclaring("|u1", "(4194304,)", 4 << 20));
    await assertRejects(() => readNpy(`${dir}/d.npy`, { maxDecodedBytes: 1024 }), SizeLimitError, "shape (4194304)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npz/npy: random truncation and byte corruption give only DatasetErrors naming the file", () => {
  const npy = encodeNpy({ dtype: "int16", shape: [3, 5], data: Int16Array.from({ length: 15 }, (_, i) => i - 7) });
  const zip = zipOf([
    { name: "a.npy", data: npy },
    { name: "b.npy", data: zeros(3000), deflate: true },
    { name: "c.npy", data: npy, zip64: true },
  ]);
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const check = (f: () => unknown, name: string) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof DatasetError) || !e.message.startsWith(`${name}: `)) {
        throw new Error(`expected a DatasetError naming ${name}, got ${e}`, { cause: e });
      }
    }
  };
  for (let trial = 0; trial < 1500; trial++) {
    const bytes = (trial % 2 ? zip : npy).slice(0, trial % 5 === 0 ? rand(zip.length) : undefined);
    for (let k = 1 + rand(4); k > 0; k--) {
      if (bytes.length) bytes[rand(bytes.length)] = rand(256);
    }
    if (trial % 2) {
      check(() => {
        const arch = NpzArchive.fromBytes(bytes, "f.npz", { maxDecodedBytes: 1 << 20 });
        for (const n of arch.names) {
          check(() => arch.header(n), "f.npz");
          check(() => arch.read(n), "f.npz");
        }
      }, "f.npz");
    } else check(() => parseNpy(bytes, "f.npy"), "f.npy");
  }
});

Deno.test("MedMnist.open and readNpz accept maxDecodedBytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-npz-limit-" });
  try {
    const path = `${dir}/breastmnist.npz`;
    await Deno.writeFile(
      path,
      zipOf([
        { name: "train_images.npy", data: zeros(4 * 28 * 28), deflate: true },
        { name: "train_labels.npy", data: encodeNpy({ dtype: "uint8", shape: [4, 1], data: [0, 1, 0, 1] }) },
      ]),
    );
    await assertRejects(() => readNpz(path, { maxDecodedBytes: 1000 }), SizeLimitError, `${path}: member`);
    await assertRejects(
      () => MedMnist.open(path, { split: "train", maxDecodedBytes: 1000 }),
      SizeLimitError,
      'member "train_images.npy" declares',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
