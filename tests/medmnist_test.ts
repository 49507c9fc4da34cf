/**
 * MedMNIST: the real RetinaMNIST, BreastMNIST and AdrenalMNIST3D (28³ and 64³) files in
 * ../shared/data (skipped when absent) against the data README's table; MD5s against
 * OFFICIAL_MD5.txt; synthetic archives for label validation, skipping, multi-label and 3D data;
 * and the download helper with a stand-in `fetch` (no network).
 */
import { createHash } from "node:crypto";
import { zipSync } from "fflate";
import { MedMnist } from "../datasets/medmnist.ts";
import { downloadMedMnist, md5File, verifyMd5 } from "../datasets/medmnist_download.ts";
import { MEDMNIST_INFO, medmnistFileName, medmnistUrl, parseMedMnistFileName } from "../datasets/medmnist_info.ts";
import { encodeNpy, type NpyDType } from "../util/formats/npy.ts";
import { NpzArchive } from "../util/formats/npz.ts";
import { type ArrayImage, DatasetError, type Raster } from "../datasets/types.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";

const RETINA = sharedDataPath("medmnist/retinamnist.npz");
const BREAST = sharedDataPath("medmnist/breastmnist.npz");
const ADRENAL = sharedDataPath("medmnist/adrenalmnist3d.npz");
const ADRENAL64 = sharedDataPath("medmnist/adrenalmnist3d_64.npz");
const OFFICIAL_MD5 = sharedDataPath("medmnist/OFFICIAL_MD5.txt");

function counts(labels: Int32Array): Record<number, number> {
  const out: Record<number, number> = {};
  for (const l of labels) out[l] = (out[l] ?? 0) + 1;
  return out;
}

function raster(image: Raster | ArrayImage): Raster {
  assert("width" in image, "expected a Raster");
  return image;
}

function volume(image: Raster | ArrayImage): ArrayImage {
  assert("shape" in image, "expected an ArrayImage");
  return image;
}

// --- the real files --------------------------------------------------------------------------

skippableTest({
  name: "MedMnist: RetinaMNIST splits, 28×28×3 uint8 rasters and train class counts match the data README",
  skip: needsSharedData(RETINA),
  fn: async () => {
    const sizes = { train: 1080, val: 120, test: 400 } as const;
    for (const split of ["train", "val", "test"] as const) {
      const ds = await MedMnist.open(RETINA!, { split });
      assertEquals(ds.length, sizes[split], split);
      assertEquals(ds.sampleShape, [28, 28, 3]);
      assertEquals(ds.info?.name, "retinamnist");
      if (split === "train") assertEquals(counts(ds.labels()), { 0: 486, 1: 128, 2: 206, 3: 194, 4: 66 });
    }
    const ds = await MedMnist.open(RETINA!, { split: "val" });
    assertEquals(ds.classes, ["0", "1", "2", "3", "4"]);
    assertEquals(ds.skipReport.skipped, []);
    const s = await ds.get(7);
    const img = raster(s.image);
    assertEquals([img.width, img.height, img.channels], [28, 28, 3]);
    assert(img.data instanceof Uint8Array && img.data.length === 28 * 28 * 3);
    assertEquals(s.id, "val:7");
    assertEquals(s.label, ds.labels()[7]);
    assertEquals(s.meta.source, RETINA);
    let sum = 0;
    for (const v of img.data) sum += v;
    assert(sum / img.data.length > 10, "a fundus photograph is not black");
  },
});

skippableTest({
  name: "MedMnist: BreastMNIST splits, 28×28 greyscale and train class counts match the data README",
  skip: needsSharedData(BREAST),
  fn: async () => {
    const sizes = { train: 546, val: 78, test: 156 } as const;
    for (const split of ["train", "val", "test"] as const) {
      const ds = await MedMnist.open(BREAST!, { split });
      assertEquals(ds.length, sizes[split], split);
      assertEquals(ds.sampleShape, [28, 28, 1]);
      if (split === "train") assertEquals(counts(ds.labels()), { 0: 147, 1: 399 });
    }
    const ds = await MedMnist.open(BREAST!, { split: "train" });
    assertEquals(ds.classes, ["malignant", "normal, benign"]);
    const img = raster((await ds.get(0)).image);
    assertEquals([img.width, img.height, img.channels, img.data.length], [28, 28, 1, 784]);
  },
});

skippableTest({
  name: "MedMnist: AdrenalMNIST3D 28³ volumes as [1, 28, 28, 28] float32 in [0, 1]",
  skip: needsSharedData(ADRENAL),
  fn: async () => {
    const sizes = { train: 1188, val: 98, test: 298 } as const;
    for (const split of ["train", "val", "test"] as const) {
      const ds = await MedMnist.open(ADRENAL!, { split });
      assertEquals([ds.length, ds.is3d], [sizes[split], true], split);
      assertEquals(ds.sampleShape, [28, 28, 28]);
      if (split === "train") assertEquals(counts(ds.labels()), { 0: 929, 1: 259 });
    }
    const ds = await MedMnist.open(ADRENAL!, { split: "test" });
    assertEquals(ds.classes, ["normal", "hyperplasia"]);
    const v = volume((await ds.get(3)).image);
    assertEquals(v.shape, [1, 28, 28, 28]);
    assert(v.data instanceof Float32Array && v.data.length === 28 ** 3);
    let ones = 0;
    for (const x of v.data) {
      assert(x === 0 || x === 1, `a shape mask (0/255) scales to 0/1, got ${x}`);
      ones += x;
    }
    assert(ones > 100, "the gland mask is not empty");
  },
});

skippableTest({
  name: "MedMnist: AdrenalMNIST3D 64³ (MedMNIST+) headers for every split, one split and one volume",
  skip: needsSharedData(ADRENAL64),
  fn: async () => {
    assertEquals(parseMedMnistFileName(ADRENAL64!), { name: "adrenalmnist3d", size: 64 });
    const arch = await NpzArchive.open(ADRENAL64!);
    const sizes = { train: 1188, val: 98, test: 298 } as const;
    for (const split of ["train", "val", "test"] as const) {
      assertEquals(arch.header(`${split}_images`).shape, [sizes[split], 64, 64, 64], split);
      assertEquals(arch.header(`${split}_labels`).shape, [sizes[split], 1], split);
      assertEquals(arch.header(`${split}_images`).dtype, "uint8");
    }
    const ds = await MedMnist.open(ADRENAL64!, { split: "val" });
    assertEquals([ds.length, ds.sampleShape], [98, [64, 64, 64]]);
    const s = await ds.get(97);
    assertEquals(volume(s.image).shape, [1, 64, 64, 64]);
    assertEquals(s.id, "val:97");
  },
});

skippableTest({
  name: "MedMNIST MD5: the shared files match OFFICIAL_MD5.txt, and so does the built-in table",
  skip: needsSharedData(OFFICIAL_MD5),
  fn: async () => {
    const lines = (await Deno.readTextFile(OFFICIAL_MD5!)).split("\n").filter((l) =>
      /^\S+\.npz\s+[0-9a-f]{32}$/.test(l)
    );
    assert(lines.length >= 4);
    for (const line of lines) {
      const [file, md5] = line.split(/\s+/);
      const parsed = parseMedMnistFileName(file);
      assert(parsed, `${file} is a known MedMNIST file`);
      assertEquals(MEDMNIST_INFO[parsed.name].md5[parsed.size], md5, file);
      const local = sharedDataPath(`medmnist/${file}`, false); // only 4 of the listed files are shared
      if (local) await verifyMd5(local, md5);
    }
    for (const f of ["retinamnist.npz", "breastmnist.npz", "adrenalmnist3d.npz", "adrenalmnist3d_64.npz"]) {
      assert(lines.some((l) => l.startsWith(`${f} `)), `${f} is listed`);
    }
  },
});

skippableTest({
  name: "verifyMd5: a corrupted copy is rejected with both digests; md5File matches node:crypto",
  skip: needsSharedData(BREAST),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "meddiff-md5-" });
    try {
      const bytes = await Deno.readFile(BREAST!);
      const copy = `${dir}/breastmnist.npz`;
      const flipped = bytes.slice();
      flipped[1000] ^= 1;
      await Deno.writeFile(copy, flipped);
      const want = MEDMNIST_INFO.breastmnist.md5[28];
      const got = createHash("md5").update(flipped).digest("hex");
      assertEquals(await md5File(copy), got);
      await assertRejects(
        () => verifyMd5(copy, want),
        DatasetError,
        `${copy}: MD5 mismatch: expected ${want}, got ${got}`,
      );
      await verifyMd5(BREAST!, want.toUpperCase());
      await assertRejects(
        () => verifyMd5(`${dir}/absent.npz`, want),
        DatasetError,
        `${dir}/absent.npz: cannot open the file`,
      );
      await assertRejects(() => verifyMd5(copy, "abc"), TypeError, "expected MD5 must be 32 hex digits");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// --- names and URLs --------------------------------------------------------------------------

Deno.test("MedMNIST info: every v2 dataset, file names, URLs and names parsed back", () => {
  const names = [
    "pathmnist",
    "chestmnist",
    "dermamnist",
    "octmnist",
    "pneumoniamnist",
    "retinamnist",
    "breastmnist",
    "bloodmnist",
    "tissuemnist",
    "organamnist",
    "organcmnist",
    "organsmnist",
    "organmnist3d",
    "nodulemnist3d",
    "adrenalmnist3d",
    "fracturemnist3d",
    "vesselmnist3d",
    "synapsemnist3d",
  ];
  assertEquals(Object.keys(MEDMNIST_INFO).sort(), [...names].sort());
  const classCounts: Record<string, number> = {
    pathmnist: 9,
    chestmnist: 14,
    dermamnist: 7,
    octmnist: 4,
    bloodmnist: 8,
    tissuemnist: 8,
    organamnist: 11,
    organmnist3d: 11,
    fracturemnist3d: 3,
  };
  for (const [name, n] of Object.entries(classCounts)) assertEquals(MEDMNIST_INFO[name].classes.length, n, name);
  for (const info of Object.values(MEDMNIST_INFO)) {
    assertEquals(Object.keys(info.md5).map(Number), info.is3d ? [28, 64] : [28, 64, 128, 224], info.name);
    assert(Object.values(info.md5).every((m) => /^[0-9a-f]{32}$/.test(m)), info.name);
  }
  assertEquals(MEDMNIST_INFO.chestmnist.task, "multi-label");
  assertEquals(MEDMNIST_INFO.retinamnist.channels, 3);
  assertEquals(medmnistFileName("retinamnist"), "retinamnist.npz");
  assertEquals(medmnistFileName("adrenalmnist3d", 64), "adrenalmnist3d_64.npz");
  assertEquals(
    medmnistUrl("breastmnist", 128),
    "https://zenodo.org/records/10519652/files/breastmnist_128.npz?download=1",
  );
  assertThrows(
    () => medmnistFileName("adrenalmnist3d", 128),
    RangeError,
    "adrenalmnist3d comes in sizes 28, 64, not 128",
  );
  assertThrows(() => medmnistUrl("cifar10"), RangeError, 'unknown MedMNIST dataset "cifar10"');
  assertEquals(parseMedMnistFileName("/data/x/pathmnist_224.npz"), { name: "pathmnist", size: 224 });
  assertEquals(parseMedMnistFileName("bloodmnist.npz"), { name: "bloodmnist", size: 28 });
  assertEquals(parseMedMnistFileName("mine.npz"), undefined);
  assertEquals(parseMedMnistFileName("nodulemnist3d_224.npz"), undefined);
});

// --- synthetic archives ----------------------------------------------------------------------

/** A MedMNIST-layout archive of one split, deflated like the official files. */
function medmnistZip(
  split: string,
  images: { shape: number[]; data?: ArrayLike<number> },
  labels: { shape: number[]; data: number[]; dtype?: NpyDType },
): Uint8Array {
  const n = images.shape.reduce((a, b) => a * b, 1);
  const pixels = images.data ?? Uint8Array.from({ length: n }, (_, i) => (i * 37) & 255);
  return zipSync({
    [`${split}_images.npy`]: [encodeNpy({ dtype: "uint8", shape: images.shape, data: pixels }), { level: 6 }],
    [`${split}_labels.npy`]: [encodeNpy({ dtype: labels.dtype ?? "uint8", shape: labels.shape, data: labels.data }), {
      level: 6,
    }],
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "meddiff-medmnist-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("MedMnist: an out-of-range label throws, and under onError 'skip' is left out and reported", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/breastmnist.npz`; // 2 classes from the table
    await Deno.writeFile(path, medmnistZip("train", { shape: [5, 28, 28] }, { shape: [5, 1], data: [0, 1, 7, 1, 0] }));
    await assertRejects(
      () => MedMnist.open(path, { split: "train" }),
      DatasetError,
      `${path}: sample train:2 has label 7, outside 0..1 (2 classes)`,
    );
    const ds = await MedMnist.open(path, { split: "train", onError: "skip" });
    assertEquals(ds.length, 4);
    assertEquals(Array.from(ds.labels()), [0, 1, 1, 0]);
    assertEquals(ds.skipReport.skipped.length, 1);
    assertEquals(ds.skipReport.skipped[0].file, path);
    assert(ds.skipReport.skipped[0].reason.includes("train:2 has label 7"));
    assertEquals((await ds.get(2)).id, "train:3", "ids keep the index in the file");
    // An explicit class list widens the valid range.
    const wide = await MedMnist.open(path, { split: "train", classes: ["a", "b", "c", "d", "e", "f", "g", "h"] });
    assertEquals([wide.length, wide.classes.length], [5, 8]);
  });
});

Deno.test("MedMnist: images/labels length mismatch, missing split, wrong dtype/channels/size", async () => {
  await withDir(async (dir) => {
    const mismatch = `${dir}/pneumoniamnist.npz`;
    await Deno.writeFile(mismatch, medmnistZip("val", { shape: [4, 28, 28] }, { shape: [3, 1], data: [0, 1, 0] }));
    await assertRejects(
      () => MedMnist.open(mismatch, { split: "val" }),
      DatasetError,
      `${mismatch}: val_images has 4 samples but val_labels has 3`,
    );
    const skipped = await MedMnist.open(mismatch, { split: "val", onError: "skip" });
    assertEquals(skipped.length, 3);
    assert(skipped.skipReport.skipped[0].reason.includes("the 1 unpaired samples are left out"));
    await assertRejects(
      () => MedMnist.open(mismatch, { split: "test" }),
      DatasetError,
      `${mismatch}: no array "test_images" in the archive (it has: val_images, val_labels)`,
    );
    const rgb = `${dir}/retinamnist.npz`; // the table says 3 channels
    await Deno.writeFile(rgb, medmnistZip("train", { shape: [2, 28, 28] }, { shape: [2, 1], data: [0, 4] }));
    await assertRejects(() => MedMnist.open(rgb, { split: "train" }), DatasetError, "retinamnist has 3-channel images");
    const big = `${dir}/bloodmnist_64.npz`;
    await Deno.writeFile(big, medmnistZip("test", { shape: [2, 28, 28, 3] }, { shape: [2, 1], data: [0, 7] }));
    await assertRejects(
      () => MedMnist.open(big, { split: "test" }),
      DatasetError,
      "the file name says 64-pixel images",
    );
    const floats = zipSync({
      "train_images.npy": encodeNpy({ dtype: "float32", shape: [1, 2, 2], data: [0, 0, 0, 0] }),
      "train_labels.npy": encodeNpy({ dtype: "uint8", shape: [1, 1], data: [0] }),
    });
    await Deno.writeFile(`${dir}/f.npz`, floats);
    await assertRejects(
      () => MedMnist.open(`${dir}/f.npz`, { split: "train" }),
      DatasetError,
      "train_images must be uint8, got float32",
    );
    await assertRejects(
      () => MedMnist.open(`${dir}/f.npz`, { split: "training" as "train" }),
      RangeError,
      'options.split must be "train", "val" or "test", got "training"',
    );
  });
});

Deno.test("MedMnist: unknown names infer classes; explicit name; 3D volumes; int64 labels of shape (N)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/my_scans.npz`;
    const vox = Uint8Array.from({ length: 3 * 4 * 5 * 6 }, (_, i) => (i % 2 ? 255 : 51));
    await Deno.writeFile(
      path,
      medmnistZip("test", { shape: [3, 4, 5, 6], data: vox }, { shape: [3], data: [2, 0, 2], dtype: "int64" }),
    );
    // Labels 2, 0, 2 leave class 1 empty: inferring K = 3 needs labelCheck "off" (see labels_check_test.ts).
    const ds = await MedMnist.open(path, { split: "test", labelCheck: "off" });
    assertEquals([ds.is3d, ds.info, ds.classes], [true, undefined, ["0", "1", "2"]]);
    const v = volume((await ds.get(0)).image);
    assertEquals(v.shape, [1, 4, 5, 6]);
    assertEquals(Array.from(v.data.subarray(0, 3)), [0.2, 1, 0.2].map((x) => Math.fround(x)));
    const named = await MedMnist.open(path, { split: "test", name: "fracturemnist3d" });
    assertEquals(named.classes[2], "displaced rib fracture");
    await assertRejects(
      () => MedMnist.open(path, { split: "test", name: "nodulemnist3d" }),
      DatasetError,
      "outside 0..1",
    );
    // A 2D file with a trailing channel axis of 1.
    await Deno.writeFile(path, medmnistZip("train", { shape: [2, 3, 3, 1] }, { shape: [2, 1], data: [1, 1] }));
    const flat = await MedMnist.open(path, { split: "train", labelCheck: "off" });
    assertEquals([flat.is3d, flat.sampleShape], [false, [3, 3, 1]]);
  });
});

Deno.test("MedMnist: multi-label rows (ChestMNIST) set `labels`; non-0/1 entries are errors", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/chestmnist.npz`;
    const rows = [
      [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ];
    await Deno.writeFile(path, medmnistZip("train", { shape: [2, 28, 28] }, { shape: [2, 14], data: rows.flat() }));
    const ds = await MedMnist.open(path, { split: "train" });
    assert(ds.multiLabel);
    assertEquals(ds.classes[2], "effusion");
    const s0 = await ds.get(0), s1 = await ds.get(1);
    assertEquals([s0.label, s0.labels], [2, rows[0]]);
    assertEquals([s1.label, s1.labels], [-1, rows[1]]);
    assertEquals(Array.from(ds.labels()), [2, -1]);
    const bad = rows.flat();
    bad[20] = 3;
    await Deno.writeFile(path, medmnistZip("train", { shape: [2, 28, 28] }, { shape: [2, 14], data: bad }));
    await assertRejects(
      () => MedMnist.open(path, { split: "train" }),
      DatasetError,
      "train_labels[1, 6] = 3, expected 0 or 1",
    );
    const skip = await MedMnist.open(path, { split: "train", onError: "skip" });
    assertEquals([skip.length, skip.skipReport.skipped.length], [1, 1]);
  });
});

Deno.test("MedMnist: get() copies pixels and rejects bad indices", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/dermamnist.npz`;
    await Deno.writeFile(path, medmnistZip("val", { shape: [2, 28, 28, 3] }, { shape: [2, 1], data: [6, 0] }));
    const ds = await MedMnist.open(path, { split: "val" });
    const a = raster((await ds.get(1)).image);
    assertEquals(a.data[0], (28 * 28 * 3 * 37) & 255);
    a.data[0] = 0;
    assertEquals(raster((await ds.get(1)).image).data[0], (28 * 28 * 3 * 37) & 255);
    await assertRejects(() => ds.get(2), RangeError, "index 2 is outside [0, 2)");
    await assertRejects(() => ds.get(-1), RangeError);
  });
});

// --- download --------------------------------------------------------------------------------

Deno.test("downloadMedMnist: keeps a matching file, writes a verified download atomically, rejects a bad one", async () => {
  await withDir(async (dir) => {
    const payload = new TextEncoder().encode("pretend this is breastmnist.npz");
    const md5 = createHash("md5").update(payload).digest("hex");
    const calls: string[] = [];
    let serve = payload;
    const fakeFetch = (url: string): Promise<Response> => {
      calls.push(url);
      return Promise.resolve(new Response(serve.slice(), { headers: { "content-length": String(serve.length) } }));
    };
    const progress: number[] = [];
    const path = await downloadMedMnist("breastmnist", `${dir}/sub`, {
      md5,
      fetch: fakeFetch,
      onProgress: (got, total) => {
        assertEquals(total, payload.length);
        progress.push(got);
      },
    });
    assertEquals(path, `${dir}/sub/breastmnist.npz`);
    assertEquals(calls, ["https://zenodo.org/records/10519652/files/breastmnist.npz?download=1"]);
    assertEquals(progress.at(-1), payload.length);
    assertEquals(await Deno.readFile(path), payload);
    // Already there and matching: no fetch.
    await downloadMedMnist("breastmnist", `${dir}/sub`, { md5, fetch: fakeFetch });
    assertEquals(calls.length, 1);
    // A download whose MD5 is wrong leaves nothing behind, not even a temporary file.
    serve = new TextEncoder().encode("tampered");
    await assertRejects(
      () => downloadMedMnist("breastmnist", `${dir}/other`, { size: 64, fetch: fakeFetch }),
      DatasetError,
      `${dir}/other/breastmnist_64.npz: the download from https://zenodo.org/records/10519652/files/breastmnist_64.npz?download=1 has MD5`,
    );
    assertEquals([...Deno.readDirSync(`${dir}/other`)].length, 0);
    // A corrupt existing file is replaced by a good download.
    await Deno.writeFile(path, new TextEncoder().encode("junk"));
    serve = payload;
    await downloadMedMnist("breastmnist", `${dir}/sub`, { md5, fetch: fakeFetch });
    assertEquals(await Deno.readFile(path), payload);
    // HTTP errors name the URL.
    const notFound = () => Promise.resolve(new Response("no", { status: 404, statusText: "Not Found" }));
    await assertRejects(
      () => downloadMedMnist("retinamnist", dir, { fetch: notFound }),
      DatasetError,
      "retinamnist.npz?download=1: download failed: HTTP 404 Not Found",
    );
    await assertRejects(() => downloadMedMnist("cifar10", dir), RangeError, "unknown MedMNIST dataset");
  });
});

skippableTest({
  name: "downloadMedMnist: a served copy of the real BreastMNIST passes the built-in MD5",
  skip: needsSharedData(BREAST),
  fn: async () => {
    await withDir(async (dir) => {
      const bytes = await Deno.readFile(BREAST!);
      const path = await downloadMedMnist("breastmnist", dir, { fetch: () => Promise.resolve(new Response(bytes)) });
      await verifyMd5(path, MEDMNIST_INFO.breastmnist.md5[28]);
      assertEquals((await MedMnist.open(path, { split: "val" })).length, 78);
    });
  },
});
