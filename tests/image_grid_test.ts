/**
 * Image grids and PNG output: make_grid geometry and padding checked pixel by pixel (including
 * against numbers torchvision 0.14 produced), the float → byte mapping, PNG round trips for 1-4
 * channels, and class folders that never overwrite a file.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { imageGrid, imageToRaster, saveImageFolder } from "../tasks/lib/image_grid.ts";
import { decodePng, encodePng, type Raster, savePng } from "../util/png.ts";
import { withTempDir } from "./_util.ts";

/** Rows of channel `c` of a raster. */
function rows(r: Raster, c = 0): number[][] {
  return Array.from(
    { length: r.height },
    (_, y) => Array.from({ length: r.width }, (_, x) => r.data[(y * r.width + x) * r.channels + c]),
  );
}

Deno.test("imageGrid: matches torchvision make_grid + save_image (5 images, nrow 2, padding 1, pad 0.25)", () => {
  const x = Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => (i / 29) * 2 - 1);
  const g = imageGrid(x, [5, 1, 2, 3], { nrow: 2, padding: 1, padValue: 0.25, range: [-1, 1] });
  assertEquals([g.width, g.height, g.channels], [9, 10, 1]);
  // torchvision.utils.make_grid(x, nrow=2, padding=1, pad_value=0.25, normalize=True, value_range=(-1, 1))
  //   .mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)[0]   (torchvision 0.14.1)
  assertEquals(rows(g), [
    [64, 64, 64, 64, 64, 64, 64, 64, 64],
    [64, 0, 9, 18, 64, 53, 62, 70, 64],
    [64, 26, 35, 44, 64, 79, 88, 97, 64],
    [64, 64, 64, 64, 64, 64, 64, 64, 64],
    [64, 106, 114, 123, 64, 158, 167, 176, 64],
    [64, 132, 141, 149, 64, 185, 193, 202, 64],
    [64, 64, 64, 64, 64, 64, 64, 64, 64],
    [64, 211, 220, 229, 64, 64, 64, 64, 64],
    [64, 237, 246, 255, 64, 64, 64, 64, 64],
    [64, 64, 64, 64, 64, 64, 64, 64, 64],
  ]);
});

Deno.test("imageGrid: RGB is interleaved HWC; geometry for one row, no padding, one image", () => {
  // Two 1x2 RGB images in [0, 1]: channel c of image k at column x is (k*6 + c*2 + x) / 11.
  const x = Float32Array.from({ length: 2 * 3 * 1 * 2 }, (_, i) => i / 11);
  const g = imageGrid(x, [2, 3, 1, 2], { padding: 0, range: [0, 1] });
  assertEquals([g.width, g.height, g.channels], [4, 1, 3]);
  const byte = (v: number) => Math.floor((v / 11) * 255 + 0.5);
  assertEquals([...g.data], [
    ...[0, 2, 4].map(byte),
    ...[1, 3, 5].map(byte),
    ...[6, 8, 10].map(byte),
    ...[7, 9, 11].map(byte),
  ]);
  const one = imageGrid(new Float32Array(4).fill(1), [1, 2, 2], { padding: 2, padValue: 1 });
  assertEquals([one.width, one.height, one.channels], [6, 6, 1]);
  assert(one.data.every((v) => v === 255));
  const wide = imageGrid(new Float32Array(3 * 4), [3, 1, 2, 2], { nrow: 8, padding: 1 });
  assertEquals([wide.width, wide.height], [3 * 3 + 1, 2 + 2]);
});

Deno.test("imageGrid: value mapping — clamping, NaN, [0,1] input, minmax and minmax-each", () => {
  const v = Float32Array.from([-3, -1, 0, 1, 3, NaN, 0.5, -0.5]);
  const g = imageGrid(v, [1, 1, 1, 8], { padding: 0 });
  assertEquals([...g.data], [0, 0, 128, 255, 255, 0, 191, 64]);
  const u = imageGrid(Float32Array.from([0, 0.5, 1]), [1, 1, 1, 3], { padding: 0, range: [0, 1] });
  assertEquals([...u.data], [0, 128, 255]);
  // minmax-each: each image stretched to 0..255 on its own; minmax: one range for the batch.
  const two = Float32Array.from([10, 20, 100, 300]);
  assertEquals([...imageGrid(two, [2, 1, 1, 2], { padding: 0, range: "minmax-each" }).data], [0, 255, 0, 255]);
  assertEquals([...imageGrid(two, [2, 1, 1, 2], { padding: 0, range: "minmax" }).data], [0, 9, 79, 255]);
  // A constant image under minmax-each is black rather than NaN.
  assertEquals([...imageGrid(new Float32Array(2).fill(5), [1, 1, 1, 2], { padding: 0, range: "minmax-each" }).data], [
    0,
    0,
  ]);
  const single = imageToRaster(two, [2, 1, 1, 2], { index: 1, range: [0, 300] });
  assertEquals([single.width, single.height, ...single.data], [2, 1, 85, 255]);
});

Deno.test("imageGrid: argument errors name the argument and what was expected", () => {
  const x = new Float32Array(8);
  assertThrows(() => imageGrid(x, [2, 2, 3]), TypeError, "data has 8 values, shape [2,2,3] needs 12");
  assertThrows(() => imageGrid(x, [8]), TypeError, "shape must be [N, C, H, W] or [C, H, W]");
  assertThrows(() => imageGrid(new Float32Array(5 * 4), [1, 5, 2, 2]), TypeError, "1 to 4 channels, got C = 5");
  assertThrows(() => imageGrid(x, [2, 1, 2, 2], { nrow: 0 }), TypeError, "nrow");
  assertThrows(() => imageGrid(x, [2, 1, 2, 2], { padding: -1 }), TypeError, "padding");
  assertThrows(() => imageGrid(x, [2, 1, 2, 2], { padValue: 2 }), TypeError, "padValue must be in [0, 1]");
  assertThrows(() => imageGrid(x, [2, 1, 2, 2], { range: [1, 1] }), TypeError, "range must be [lo, hi] with lo < hi");
  assertThrows(() => imageToRaster(x, [2, 1, 2, 2], { index: 2 }), RangeError, "index must be an integer in [0, 2)");
});

Deno.test("savePng / decodePng: 1-4 channels decode back identically; atomic write leaves no temporary file", async () => {
  await withTempDir("png_", async (dir) => {
    for (const channels of [1, 2, 3, 4]) {
      const w = 5, h = 3;
      const data = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37 + channels) % 256);
      const raster: Raster = { data, width: w, height: h, channels };
      const path = `${dir}/c${channels}.png`;
      await savePng(path, raster);
      const bytes = await Deno.readFile(path);
      assertEquals([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "PNG signature");
      assertEquals(bytes[25], [0, 4, 2, 6][channels - 1], "PNG colour type (gray, gray+alpha, RGB, RGBA)");
      const back = await decodePng(path);
      assertEquals([back.width, back.height, back.channels], [w, h, channels]);
      assertEquals([...back.data], [...data]);
    }
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["c1.png", "c2.png", "c3.png", "c4.png"]);
    // A grid survives the trip too.
    const g = imageGrid(Float32Array.from({ length: 3 * 3 * 4 * 4 }, (_, i) => Math.sin(i)), [3, 3, 4, 4], { nrow: 2 });
    const back = await decodePng(await encodePng(g));
    assertEquals([...back.data], [...g.data]);
    await assertRejects(
      () => encodePng({ data: new Uint8Array(3), width: 2, height: 2, channels: 1 }),
      TypeError,
      "raster.data has 3 bytes, 2x2x1 needs 4",
    );
    await assertRejects(() => decodePng(new Uint8Array([1, 2, 3])), Error, "decodePng: cannot decode the bytes");
    await assertRejects(() => decodePng(`${dir}/none.png`), Error, "cannot read");
  });
});

Deno.test("saveImageFolder: one PNG per image in class folders; never overwrites; validates labels and names", async () => {
  await withTempDir("imgfolder_", async (dir) => {
    const n = 5;
    const x = Float32Array.from({ length: n * 1 * 2 * 2 }, (_, i) => (i % 4) / 3);
    const labels = Int32Array.from([0, 1, 1, 0, 1]);
    const paths = await saveImageFolder(dir, x, [n, 1, 2, 2], labels, ["normal", "tumor"], { range: [0, 1] });
    assertEquals(paths, [
      `${dir}/normal/img_000000.png`,
      `${dir}/tumor/img_000001.png`,
      `${dir}/tumor/img_000002.png`,
      `${dir}/normal/img_000003.png`,
      `${dir}/tumor/img_000004.png`,
    ]);
    const first = await decodePng(paths[0]);
    assertEquals([first.width, first.height, first.channels, ...first.data], [2, 2, 1, 0, 85, 170, 255]);
    // Again with the same numbers: new names with -1, the old files untouched.
    const before = await Deno.readFile(paths[1]);
    const again = await saveImageFolder(dir, new Float32Array(2 * 4), [2, 1, 2, 2], [1, 1], ["normal", "tumor"], {
      startIndex: 1,
      prefix: "img_",
    });
    assertEquals(again, [`${dir}/tumor/img_000001-1.png`, `${dir}/tumor/img_000002-1.png`]);
    assertEquals(await Deno.readFile(paths[1]), before);
    assertEquals([...Deno.readDirSync(`${dir}/tumor`)].length, 5);
    await assertRejects(
      () => saveImageFolder(dir, x, [n, 1, 2, 2], [0, 1, 2, 0, 1], ["a", "b"]),
      RangeError,
      "labels[2] = 2 is not a class index in [0, 2)",
    );
    await assertRejects(
      () => saveImageFolder(dir, x, [n, 1, 2, 2], [0, 1], ["a", "b"]),
      TypeError,
      "5 images but 2 labels",
    );
    await assertRejects(
      () => saveImageFolder(dir, x, [n, 1, 2, 2], labels, ["ok", "../up"]),
      TypeError,
      'class name "../up" cannot be a folder name',
    );
  });
});
