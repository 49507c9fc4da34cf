/**
 * PNG/JPEG, image-folder and CSV cases. PNGs and JPEGs are encoded with sharp, then cut,
 * flipped or given a header that declares 100,000 × 100,000 pixels; the CSV cases point at
 * `csv/images/` (columns `id,label`, extension `.png`, 2 classes) and include ids that climb out
 * of that folder.
 * @module
 */
import { zlibSync } from "fflate";
import { crc32 } from "../../util/formats/crc.ts";
import { encodePng } from "../../util/png.ts";
import { loadSharp } from "../../util/sharp.ts";
import { concat, type CorpusWriter, flip } from "./case.ts";

function raster(w: number, h: number) {
  return { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).map((_, i) => (i * 31) % 256) };
}

/** A PNG chunk with its CRC. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A PNG whose IHDR declares `width × height` RGB pixels, with a short IDAT (1 KiB of zeros). */
export function pngDeclaring(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlibSync(new Uint8Array(1024))),
    chunk("IEND", new Uint8Array(0)),
  );
}

/** Writes the image, image-folder and CSV cases. */
export async function imageCases(w: CorpusWriter): Promise<void> {
  const sharp = await loadSharp();
  const png = await encodePng(raster(24, 20));
  const r = raster(24, 20);
  const jpeg = new Uint8Array(
    await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer(),
  );
  const img = (
    path: string,
    bytes: Uint8Array | string,
    defect: string,
    expect: "ok" | "DatasetError" | "SizeLimitError",
  ) => w.file(`images/${path}`, bytes, { reader: "image", defect, expect });
  await img("valid.png", png, "valid PNG", "ok");
  await img("valid.jpg", jpeg, "valid JPEG", "ok");
  await img("empty.png", new Uint8Array(0), "zero bytes", "DatasetError");
  await img("text.png", "not an image\n", "text named .png", "DatasetError");
  await img("truncated.png", png.subarray(0, png.length >> 1), "PNG cut in half", "DatasetError");
  await img("idat_bitflip.png", flip(png, png.length - 20, 0x40), "bit flipped in IDAT (CRC mismatch)", "DatasetError");
  await img("truncated.jpg", jpeg.subarray(0, jpeg.length >> 1), "JPEG cut in half", "DatasetError");
  await img(
    "declares_100000x100000.png",
    pngDeclaring(100000, 100000),
    "IHDR declares 100,000 × 100,000 pixels",
    "SizeLimitError",
  );
  await img("zero_width.png", pngDeclaring(0, 20), "IHDR width 0", "DatasetError");

  // Image folders.
  await w.extra("folders/valid/a/1.png", png);
  await w.extra("folders/valid/b/2.png", png);
  w.folder("folders/valid", { reader: "imagefolder", defect: "valid, two classes", expect: "ok" });
  await w.extra("folders/no_classes/readme.txt", "no class folders here\n");
  w.folder("folders/no_classes", { reader: "imagefolder", defect: "no class folders", expect: "DatasetError" });
  await w.extra("folders/corrupt_image/a/1.png", png);
  await w.extra("folders/corrupt_image/b/2.png", png.subarray(0, 40));
  w.folder("folders/corrupt_image", { reader: "imagefolder", defect: "one truncated PNG", expect: "DatasetError" });
  await w.extra("folders/empty_class/a/1.png", png);
  await Deno.mkdir(`${w.dir}/folders/empty_class/b`, { recursive: true });
  w.folder("folders/empty_class", { reader: "imagefolder", defect: "class folder b is empty", expect: "DatasetError" });

  // CSV + image folder.
  await w.extra("csv/images/a.png", png);
  await w.extra("csv/images/b.png", png);
  await w.extra("outside.png", png);
  const csv = (path: string, text: string, defect: string, expect: "ok" | "DatasetError") =>
    w.file(`csv/${path}`, text, { reader: "csv", defect, expect });
  await csv("valid.csv", "id,label\na,0\nb,1\n", "valid", "ok");
  await csv(
    "traversal.csv",
    "id,label\na,0\n../../outside,1\n",
    "id ../../outside climbs out of imageDir",
    "DatasetError",
  );
  await csv("absolute.csv", `id,label\na,0\n${w.dir}/outside,1\n`, "absolute id", "DatasetError");
  await csv("missing_column.csv", "name,label\na,0\n", "no id column", "DatasetError");
  await csv("bad_label.csv", "id,label\na,zero\nb,1\n", "label 'zero'", "DatasetError");
  await csv("label_out_of_range.csv", "id,label\na,0\nb,7\n", "label 7 with 2 classes", "DatasetError");
  await csv("missing_image.csv", "id,label\na,0\nnope,1\n", "image nope.png missing", "DatasetError");
  await csv("unterminated_quote.csv", 'id,label\n"a,0\nb,1\n', "unterminated quote", "DatasetError");
  await csv("empty.csv", "", "zero bytes", "DatasetError");
  await csv("ragged.csv", "id,label\na,0,extra,fields\nb\n", "rows with the wrong field count", "DatasetError");
}
