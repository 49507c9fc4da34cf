/**
 * Class counts inferred from labels (an unknown MedMNIST-layout `.npz`, in-memory tensors): a
 * stray label, a gap, a negative label or a class with one example is an error naming the file
 * and the labels (a console.warn under `labelCheck: "warn"`); known MedMNIST files keep their
 * declared classes.
 */
import { zipSync } from "fflate";
import { encodeNpy } from "../util/formats/npy.ts";
import { MedMnist } from "../datasets/medmnist.ts";
import { TensorDataset } from "../datasets/tensor_dataset.ts";
import { inferClassCount } from "../datasets/labels.ts";
import { DatasetError } from "../util/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";

function npz(labels: number[]): Uint8Array {
  const n = labels.length;
  return zipSync({
    "train_images.npy": encodeNpy({ dtype: "uint8", shape: [n, 4, 4], data: new Uint8Array(n * 16) }),
    "train_labels.npy": encodeNpy({ dtype: "uint8", shape: [n, 1], data: labels }),
  });
}

/** Labels 0..4, two of each, and one stray 200. */
const STRAY = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 200];

async function withWarnings<T>(fn: () => Promise<T> | T): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  try {
    return { value: await fn(), warnings };
  } finally {
    console.warn = original;
  }
}

Deno.test("MedMnist: an unknown .npz with one stray label 200 is an error, not 201 classes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-labels-" });
  try {
    const path = `${dir}/my_scans.npz`;
    await Deno.writeFile(path, npz(STRAY));
    const e = await assertRejects(
      () => MedMnist.open(path, { split: "train" }),
      DatasetError,
      `${path}: train_labels: label 200 occurs once; labels 0..4 and 200 are present: expected contiguous 0..K-1`,
    );
    assertEquals((e as DatasetError).field, "train_labels");
    const { value, warnings } = await withWarnings(() => MedMnist.open(path, { split: "train", labelCheck: "warn" }));
    assertEquals(value.classes.length, 201);
    assertEquals(warnings.length, 1);
    assert(warnings[0].includes(`${path}: train_labels: label 200 occurs once`), warnings[0]);
    // Explicit class names decide: 200 is then out of range, per sample.
    await assertRejects(
      () => MedMnist.open(path, { split: "train", classes: ["a", "b", "c", "d", "e"] }),
      DatasetError,
      "sample train:10 has label 200, outside 0..4",
    );
    // A known MedMNIST file keeps its declared classes: 200 is out of range there too.
    const known = `${dir}/retinamnist.npz`;
    await Deno.writeFile(
      known,
      zipSync({
        "train_images.npy": encodeNpy({ dtype: "uint8", shape: [11, 4, 4, 3], data: new Uint8Array(11 * 48) }),
        "train_labels.npy": encodeNpy({ dtype: "uint8", shape: [11, 1], data: STRAY }),
      }),
    );
    await assertRejects(() => MedMnist.open(known, { split: "train" }), DatasetError, "label 200, outside 0..4");
    // Clean labels still infer K.
    await Deno.writeFile(path, npz([1, 0, 2, 1, 0, 2]));
    assertEquals((await MedMnist.open(path, { split: "train" })).classes, ["0", "1", "2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MedMnist: a file named after an Object member (constructor.npz) is an unknown dataset", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-labels-" });
  try {
    const path = `${dir}/constructor.npz`;
    await Deno.writeFile(path, npz([0, 1, 0, 1]));
    const ds = await MedMnist.open(path, { split: "train" });
    assertEquals([ds.info, ds.classes], [undefined, ["0", "1"]]);
    await assertRejects(() => MedMnist.open(path, { split: "train", name: "tostring" }), RangeError, "unknown dataset");
    await assertRejects(() => MedMnist.open(path, { split: "train", name: "constructor" }), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inferClassCount: gaps, negatives, non-integers and single examples are named", () => {
  const opts = { file: "f.npz", what: "labels" };
  assertEquals(inferClassCount([2, 0, 1, 1, 0, 2], opts), 3);
  assertEquals(inferClassCount([], opts), 0);
  assertThrows(
    () => inferClassCount([0, 0, 3, 3], opts),
    DatasetError,
    "f.npz: labels: labels 0 and 3 are present: expected contiguous 0..K-1",
  );
  assertThrows(
    () => inferClassCount([0, 0, 1, 1, -1, -1], opts),
    DatasetError,
    "negative label -1 (2×); labels 0..1 are present",
  );
  assertThrows(() => inferClassCount([0, 0, 1.5, 1.5], opts), DatasetError, "non-integer label 1.5");
  assertThrows(() => inferClassCount([0, 0, 1, 1, 2], opts), DatasetError, "label 2 occurs once");
  assertThrows(() => inferClassCount([0, 0, 1, 1, 2 ** 30, 2 ** 30], { ...opts, labelCheck: "off" }), DatasetError);
  assertEquals(inferClassCount([0, 0, 1, 1, 2], { ...opts, labelCheck: "off" }), 3);
  assertThrows(() => inferClassCount([0], { ...opts, labelCheck: "loud" as "warn" }), RangeError, "labelCheck");
});

Deno.test("TensorDataset: inferred classes are checked the same way", async () => {
  const data = new Float32Array(STRAY.length);
  assertThrows(
    () => new TensorDataset({ data, shape: [STRAY.length] }, Int32Array.from(STRAY), { source: "lat.safetensors" }),
    DatasetError,
    "lat.safetensors: labels: label 200 occurs once",
  );
  const { value } = await withWarnings(() =>
    new TensorDataset({ data, shape: [STRAY.length] }, Int32Array.from(STRAY), { labelCheck: "warn" })
  );
  assertEquals(value.classes!.length, 201);
});
