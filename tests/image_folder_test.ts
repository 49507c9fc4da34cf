import sharp from "sharp";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { checkImageFiles, ImageFolder, loadClassMap, readRasterFile } from "../datasets/image_folder.ts";
import { DatasetError, SizeLimitError } from "../datasets/types.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";
import { withTempDir } from "./_util.ts";
import { pngDeclaring } from "../scripts/malformed/images.ts";

/** Writes a w×h PNG whose pixel (x, y) channel c holds `(seed + 7x + 13y + 50c) % 256`. */
async function writePng(path: string, w: number, h: number, channels: 1 | 3, seed: number): Promise<Uint8Array> {
  const data = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) data[(y * w + x) * channels + c] = (seed + 7 * x + 13 * y + 50 * c) % 256;
    }
  }
  let img = sharp(data, { raw: { width: w, height: h, channels } });
  if (channels === 1) img = img.toColourspace("b-w");
  await img.png().toFile(path);
  return data;
}

async function mkdirs(root: string, ...dirs: string[]): Promise<void> {
  for (const d of dirs) await Deno.mkdir(`${root}/${d}`, { recursive: true });
}

Deno.test("ImageFolder: split layout, sorted classes, labels, exact pixels, class map round trip", async () => {
  await withTempDir("meddiff_if_", async (root) => {
    await mkdirs(root, "train/nevus", "train/melanoma", "train/bcc", "val/nevus", "val/melanoma");
    const pixels = new Map<string, Uint8Array>();
    let seed = 0;
    for (const [cls, n] of [["nevus", 3], ["melanoma", 2], ["bcc", 1]] as const) {
      for (let i = 0; i < n; i++) {
        pixels.set(`train/${cls}/img${i}.png`, await writePng(`${root}/train/${cls}/img${i}.png`, 6, 4, 3, seed++));
      }
    }
    await writePng(`${root}/val/melanoma/v0.png`, 6, 4, 3, 99);
    await writePng(`${root}/val/nevus/v1.png`, 6, 4, 3, 98);
    await Deno.writeTextFile(`${root}/train/nevus/notes.txt`, "not an image");
    await Deno.writeTextFile(`${root}/train/nevus/.DS_Store`, "hidden");

    const train = await ImageFolder.open(root, { split: "train" });
    assertEquals(train.classes, ["bcc", "melanoma", "nevus"]);
    assertEquals([...train.classToIndex], [["bcc", 0], ["melanoma", 1], ["nevus", 2]]);
    assertEquals(train.length, 6);
    assertEquals(train.labels(), new Int32Array([0, 1, 1, 2, 2, 2]));
    assertEquals(train.classCounts(), [1, 2, 3]);
    assertEquals(train.entries.map((e) => e.id), [
      "train/bcc/img0.png",
      "train/melanoma/img0.png",
      "train/melanoma/img1.png",
      "train/nevus/img0.png",
      "train/nevus/img1.png",
      "train/nevus/img2.png",
    ]);
    for (let i = 0; i < train.length; i++) {
      const s = await train.get(i);
      assertEquals([s.image.width, s.image.height, s.image.channels], [6, 4, 3]);
      assert(s.image.data instanceof Uint8Array);
      assertEquals(s.image.data, pixels.get(s.id), `pixels of ${s.id}`);
      assertEquals(s.meta.className, train.classes[s.label]);
    }
    await assertRejects(() => train.get(6), RangeError, "[0, 6)");

    const mapPath = `${root}/classes.json`;
    await train.saveClassMap(mapPath);
    assertEquals(JSON.parse(await Deno.readTextFile(mapPath)).classToIndex, { bcc: 0, melanoma: 1, nevus: 2 });
    assertEquals([...Deno.readDirSync(root)].filter((e) => e.name.endsWith(".tmp")).length, 0, "no temp file left");
    const classes = await loadClassMap(mapPath);
    assertEquals(classes, ["bcc", "melanoma", "nevus"]);
    // The val split lacks "bcc": with the training classes, indices stay aligned (bcc's absence is reported).
    const val = await ImageFolder.open(root, { split: "val", classes, onError: "skip" });
    assertEquals(val.labels(), new Int32Array([1, 2]));
    assertEquals(val.skipReport.skipped.map((s) => s.reason), [`no folder for class "bcc"`]);
    await assertRejects(() => ImageFolder.open(root, { split: "val", classes }), DatasetError, "val/bcc");
    // torchvision's class_to_idx JSON is accepted too.
    await Deno.writeTextFile(mapPath, JSON.stringify({ b: 1, a: 0 }));
    assertEquals(await loadClassMap(mapPath), ["a", "b"]);
    await Deno.writeTextFile(mapPath, JSON.stringify({ b: 1, a: 1 }));
    await assertRejects(() => loadClassMap(mapPath), DatasetError, "each once");
  });
});

Deno.test("ImageFolder: no split, extensions case-insensitive, channel conversion, symlinks", async () => {
  await withTempDir("meddiff_if_", async (root) => {
    await mkdirs(root, "data/a", "data/b", "elsewhere");
    const grey = await writePng(`${root}/data/a/g.PNG`, 5, 3, 1, 10);
    const rgb = await writePng(`${root}/elsewhere/c.png`, 5, 3, 3, 20);
    await Deno.symlink(`${root}/elsewhere/c.png`, `${root}/data/b/linked.png`);
    await sharp(rgb, { raw: { width: 5, height: 3, channels: 3 } }).tiff({ compression: "lzw" }).toFile(
      `${root}/data/b/t.tif`,
    );

    const native = await ImageFolder.open(`${root}/data`);
    assertEquals(native.entries.map((e) => e.id), ["a/g.PNG", "b/linked.png", "b/t.tif"]);
    const g = await native.get(0);
    assertEquals([g.image.channels, g.image.data], [1, grey]);
    assertEquals((await native.get(1)).image.data, rgb);
    assertEquals((await native.get(2)).image.data, rgb, "TIFF decodes losslessly");

    const as3 = await ImageFolder.open(`${root}/data`, { channels: 3 });
    const g3 = (await as3.get(0)).image;
    assertEquals(g3.channels, 3);
    for (let p = 0; p < 15; p++) {
      assert(g3.data[3 * p] === grey[p] && g3.data[3 * p + 1] === grey[p] && g3.data[3 * p + 2] === grey[p]);
    }
    const as1 = await ImageFolder.open(`${root}/data`, { channels: 1 });
    const c1 = (await as1.get(1)).image;
    assertEquals([c1.channels, c1.data.length], [1, 15]);
    // PIL's convert("L") (ITU-R 601 luma of the sRGB values), as torchvision's ImageFolder reads it.
    for (let p = 0; p < 15; p++) {
      const luma = 0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2];
      assert(Math.abs(c1.data[p] - luma) <= 0.5 + 1e-9, `grey pixel ${p}: ${c1.data[p]} vs luma ${luma.toFixed(2)}`);
    }
    await assertRejects(
      () => ImageFolder.open(`${root}/data`, { channels: 2 as 1 }),
      RangeError,
      "channels must be 1 or 3",
    );
  });
});

Deno.test("ImageFolder: layout mistakes give errors naming the folder", async () => {
  await withTempDir("meddiff_if_", async (root) => {
    await mkdirs(root, "train/x", "train/y", "train/empty");
    await writePng(`${root}/train/x/1.png`, 4, 4, 3, 1);
    await writePng(`${root}/train/y/1.png`, 4, 4, 3, 2);
    let e = await assertRejects(
      () => ImageFolder.open(root, { split: "train" }),
      DatasetError,
      "class folder has no images",
    );
    assertEquals((e as DatasetError).file, `${root}/train/empty`);
    const skipped = await ImageFolder.open(root, { split: "train", onError: "skip" });
    assertEquals(skipped.classes, ["empty", "x", "y"], "an empty class keeps its index");
    assertEquals(skipped.labels(), new Int32Array([1, 2]));
    assertEquals(skipped.skipReport.skipped[0].file, `${root}/train/empty`);
    await Deno.remove(`${root}/train/empty`);

    e = await assertRejects(
      () => ImageFolder.open(root, { split: "train", classes: ["x"] }),
      DatasetError,
      "not one of the given classes",
    );
    assertEquals((e as DatasetError).file, `${root}/train/y`);
    await assertRejects(
      () => ImageFolder.open(root, { split: "test" }),
      DatasetError,
      `no "test" split folder (folders in the root: train)`,
    );
    await assertRejects(() => ImageFolder.open(root), DatasetError, "pass { split }");
    await assertRejects(() => ImageFolder.open(`${root}/nope`), DatasetError, "not a folder");
    await assertRejects(() => ImageFolder.open(root, { split: "../x" }), TypeError, "folder name");
  });
});

Deno.test("ImageFolder: corrupt, truncated and wrong-size images (throw, header / decode validation, skip)", async () => {
  await withTempDir("meddiff_if_", async (root) => {
    await mkdirs(root, "a", "b");
    await writePng(`${root}/a/good.png`, 8, 8, 3, 1);
    await writePng(`${root}/b/good.png`, 8, 8, 3, 2);
    await writePng(`${root}/b/small.png`, 6, 8, 3, 3);
    await Deno.writeFile(`${root}/a/garbage.png`, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const full = await Deno.readFile(`${root}/b/good.png`);
    await Deno.writeFile(`${root}/b/truncated.png`, full.subarray(0, Math.floor(full.length * 0.6)));

    // Default: opening lists files only; decoding a bad one names it.
    const lazy = await ImageFolder.open(root);
    assertEquals(lazy.entries.map((e) => e.id), [
      "a/garbage.png",
      "a/good.png",
      "b/good.png",
      "b/small.png",
      "b/truncated.png",
    ]);
    let err = await assertRejects(() => lazy.get(0), DatasetError, "cannot decode the image");
    assertEquals((err as DatasetError).file, `${root}/a/garbage.png`);
    err = await assertRejects(() => lazy.get(4), DatasetError, "cannot decode");
    assertEquals((err as DatasetError).file, `${root}/b/truncated.png`);
    const sized = await ImageFolder.open(root, { expectSize: { width: 8, height: 8 } });
    await assertRejects(() => sized.get(3), DatasetError, "expected an image of 8×8 pixels (width×height), got 6×8");

    // validate: true → the first bad header throws at open.
    err = await assertRejects(
      () => ImageFolder.open(root, { validate: true }),
      DatasetError,
      "cannot read the image header",
    );
    assertEquals((err as DatasetError).file, `${root}/a/garbage.png`);

    // skip (header check): garbage and wrong size dropped; the truncated file passes the header check.
    const header = await ImageFolder.open(root, { onError: "skip", expectSize: { width: 8, height: 8 } });
    assertEquals(header.entries.map((e) => e.id), ["a/good.png", "b/good.png", "b/truncated.png"]);
    assertEquals(header.skipReport.skipped.map((s) => s.file), [`${root}/a/garbage.png`, `${root}/b/small.png`]);
    await assertRejects(() => header.get(2), DatasetError, "truncated.png");

    // skip with a full decode: the truncated file is caught too.
    const decoded = await ImageFolder.open(root, {
      onError: "skip",
      validate: "decode",
      expectSize: { width: 8, height: 8 },
    });
    assertEquals(decoded.entries.map((e) => e.id), ["a/good.png", "b/good.png"]);
    assertEquals(decoded.skipReport.skipped.length, 3);
    for (let i = 0; i < decoded.length; i++) await decoded.get(i);

    const problems = await checkImageFiles([`${root}/a/good.png`, `${root}/missing.png`], { concurrency: 1 });
    assertEquals(problems[0], null);
    assert(problems[1]!.includes("missing"), problems[1]!);
    await assertRejects(() => readRasterFile(`${root}/missing.png`), DatasetError, "missing.png");
  });
});

Deno.test("readRasterFile: empty, text, truncated and bit-flipped PNG/JPEG files give DatasetErrors naming them", async () => {
  await withTempDir("meddiff_if_", async (dir) => {
    await writePng(`${dir}/good.png`, 16, 16, 3, 5);
    const png = await Deno.readFile(`${dir}/good.png`);
    const jpg = await sharp(png).jpeg({ quality: 90 }).toBuffer();
    const flipped = png.slice();
    flipped[png.length - 20] ^= 0x10; // inside IDAT: the chunk CRC no longer matches
    const files: Record<string, Uint8Array> = {
      "empty.png": new Uint8Array(0),
      "text.png": new TextEncoder().encode("this is not an image\n"),
      "cut.png": png.subarray(0, png.length - 30),
      "flipped.png": flipped,
      "cut.jpg": new Uint8Array(jpg.subarray(0, Math.floor(jpg.length / 2))),
      "header.jpg": new Uint8Array(jpg.subarray(0, 20)),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      const e = await assertRejects(() => readRasterFile(path), DatasetError, `${path}: `);
      assertEquals((e as DatasetError).file, path);
      const [problem] = await checkImageFiles([path], { mode: "decode" });
      assert(problem !== null, `${name} fails a decode check`);
    }
    await assertRejects(() => readRasterFile(`${dir}/empty.png`), DatasetError, "empty file");
  });
});

Deno.test("readRasterFile: a PNG declaring 100000×100000 pixels fails from its header, before decoding", async () => {
  await withTempDir("meddiff_if_", async (dir) => {
    const path = `${dir}/huge.png`;
    await Deno.writeFile(path, pngDeclaring(100000, 100000));
    const e = await assertRejects(
      () => readRasterFile(path, { maxDecodedBytes: 1 << 30 }),
      SizeLimitError,
      `${path}: the image header declares 100000×100000 pixels × 3 channels:`,
    );
    assertEquals((e as SizeLimitError).declared, 3e10);
    // A small limit catches an ordinary image too; header validation reports it per file.
    await writePng(`${dir}/ok.png`, 32, 32, 3, 1);
    await assertRejects(() => readRasterFile(`${dir}/ok.png`, { maxDecodedBytes: 1000 }), SizeLimitError, "32×32");
    const [huge, ok] = await checkImageFiles([path, `${dir}/ok.png`], { maxDecodedBytes: 1 << 30 });
    assert(huge !== null && huge.includes("100000×100000"), String(huge));
    assertEquals(ok, null);
    await Deno.mkdir(`${dir}/root/a`, { recursive: true });
    await Deno.rename(path, `${dir}/root/a/huge.png`);
    const err = await assertRejects(
      () => ImageFolder.open(`${dir}/root`, { validate: true }),
      DatasetError,
      "100000×100000",
    );
    assertEquals((err as DatasetError).file, `${dir}/root/a/huge.png`);
  });
});

skippableTest({
  name: "ImageFolder over the ISIC dermoscopy images in ../shared/data (symlinked into class folders)",
  skip: needsSharedData(sharedDataPath("images/dermoscopy/ISIC_0000000.jpg")),
  fn: async () => {
    const src = sharedDataPath("images/dermoscopy")!;
    await withTempDir("meddiff_if_", async (root) => {
      await mkdirs(root, "melanoma", "nevus");
      const diagnosis = ["nevus", "nevus", "melanoma", "nevus", "melanoma"]; // ISIC_0000000..4 (README)
      for (let i = 0; i < 5; i++) {
        await Deno.symlink(`${src}/ISIC_000000${i}.jpg`, `${root}/${diagnosis[i]}/ISIC_000000${i}.jpg`);
      }
      const ds = await ImageFolder.open(root, { validate: "decode", channels: 3 });
      assertEquals(ds.classes, ["melanoma", "nevus"]);
      assertEquals(ds.labels(), new Int32Array([0, 0, 1, 1, 1]));
      const s = await ds.get(0);
      assertEquals(s.id, "melanoma/ISIC_0000002.jpg");
      assertEquals([s.image.width, s.image.height, s.image.channels], [256, 256, 3]);
      let mean = 0;
      for (const v of s.image.data) mean += v;
      mean /= s.image.data.length;
      assert(mean > 40 && mean < 230, `mean pixel ${mean} of a dermoscopy photo`);
    });
  },
});
