import sharp from "sharp";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { CsvImageDataset, parseCsv } from "../datasets/csv_dataset.ts";
import { DatasetError } from "../datasets/types.ts";
import { needsSharedData, sharedDataPath } from "./_shared_data.ts";
import { skippableTest } from "./_skip.ts";
import { withTempDir } from "./_util.ts";

async function writePng(path: string, value: number, size = 4): Promise<void> {
  await sharp(new Uint8Array(size * size * 3).fill(value), { raw: { width: size, height: size, channels: 3 } })
    .png().toFile(path);
}

Deno.test("parseCsv: quotes, escaped quotes, delimiters and line breaks in quotes, CRLF, CR, BOM, blank lines", () => {
  const text = '\uFEFFid,"note, with comma",n\r\n' +
    'a,"say ""hi""",1\r\n' +
    "\r\n" +
    'b,"two\r\nlines",2\n' +
    "c,,3\r" +
    '"d",plain "inner" quote,4\n' +
    'e,"",\n';
  const t = parseCsv(text);
  assertEquals(t.header, ["id", "note, with comma", "n"]);
  assertEquals(t.rows, [
    ["a", 'say "hi"', "1"],
    ["b", "two\r\nlines", "2"],
    ["c", "", "3"],
    ["d", 'plain "inner" quote', "4"],
    ["e", "", ""],
  ]);
  assertEquals(t.lines, [2, 4, 6, 7, 8]);
  // No trailing newline; a quoted empty last field still makes a record.
  assertEquals(parseCsv('x\n""').rows, [[""]]);
  assertEquals(parseCsv("a;b\n1;2", { delimiter: ";" }).rows, [["1", "2"]]);
  assertEquals(parseCsv("h\n\n\n").rows, []);
});

Deno.test("parseCsv: malformed input names the file and line", () => {
  assertThrows(
    () => parseCsv('h1,h2\nx,"open\n\nmore', { file: "t.csv" }),
    DatasetError,
    "t.csv: line 2: a quoted field is never closed",
  );
  assertThrows(
    () => parseCsv('h\n"a"b\n', { file: "t.csv" }),
    DatasetError,
    `line 2: unexpected "b" after a closing quote`,
  );
  assertThrows(() => parseCsv("", { file: "e.csv" }), DatasetError, "e.csv: the CSV file is empty");
  assertThrows(() => parseCsv("a", { delimiter: '"' }), RangeError, "delimiter");
});

Deno.test("CsvImageDataset: APTOS-style id_code,diagnosis with an image folder", async () => {
  await withTempDir("meddiff_csv_", async (dir) => {
    await Deno.mkdir(`${dir}/train_images`);
    const rows = [["000c1434d8d7", 2], ["001639a390f0", 4], ["0024cdab0c1e", 1], ["002c21358ce6", 0]] as const;
    for (const [id, d] of rows) await writePng(`${dir}/train_images/${id}.png`, 10 * d + 5);
    const csv = `${dir}/train.csv`;
    await Deno.writeTextFile(csv, "id_code,diagnosis\r\n" + rows.map(([id, d]) => `${id},${d}`).join("\r\n") + "\r\n");
    const ds = await CsvImageDataset.open({
      csv,
      imageDir: `${dir}/train_images`,
      idColumn: "id_code",
      labelColumn: "diagnosis",
      extension: ".png",
      numClasses: 5,
    });
    assertEquals(ds.length, 4);
    assertEquals(ds.labels!(), new Int32Array([2, 4, 1, 0]));
    for (let i = 0; i < 4; i++) {
      const s = await ds.get(i);
      assertEquals(s.id, rows[i][0]);
      assertEquals(s.label, rows[i][1]);
      assertEquals(s.meta.csvLine, i + 2);
      assertEquals([s.image.width, s.image.height, s.image.channels], [4, 4, 3]);
      assert(s.image.data.every((v) => v === 10 * rows[i][1] + 5), `pixels of ${s.id}`);
    }
    // An unlabelled test CSV (APTOS test.csv has only id_code): label -1, no labels().
    await Deno.writeTextFile(`${dir}/test.csv`, "id_code\n000c1434d8d7\n");
    const test = await CsvImageDataset.open({
      csv: `${dir}/test.csv`,
      imageDir: `${dir}/train_images`,
      idColumn: "id_code",
      extension: ".png",
    });
    assertEquals([(await test.get(0)).label, test.labels], [-1, undefined]);
  });
});

Deno.test("CsvImageDataset: bad rows give DatasetError with the CSV file and line; skip drops and reports them", async () => {
  await withTempDir("meddiff_csv_", async (dir) => {
    for (const id of ["a", "b", "c", "d", "e", "f"]) await writePng(`${dir}/${id}.png`, 100);
    const csv = `${dir}/labels.csv`;
    const open = (extra: Record<string, unknown> = {}) =>
      CsvImageDataset.open({
        csv,
        imageDir: dir,
        idColumn: "id",
        labelColumn: "y",
        extension: ".png",
        numClasses: 3,
        ...extra,
      });
    const cases: [string, string][] = [
      ["id,y\na,0\nb,1.5\n", 'line 3: label "1.5" in column "y" is not an integer'],
      ["id,y\na,0\nb,\n", 'line 3: label "" in column "y" is not an integer'],
      ["id,y\na,0\nb,3\n", 'line 3: label 3 in column "y" is out of range [0, 3)'],
      ["id,y\na,0\nb,-1\n", "line 3: label -1"],
      ["id,y\na,0\nmissing,1\n", `line 3: image file ${dir}/missing.png not found (id "missing")`],
      ["id,y\na,0\na,1\n", `line 3: id "a" already appeared on line 2`],
      ["id,y\na,0\nb,1,extra\n", "line 3: expected 2 fields like the header, got 3"],
      ["id,label\na,0\n", `line 1: no label column "y" (columns: id, label)`],
    ];
    for (const [text, msg] of cases) {
      await Deno.writeTextFile(csv, text);
      const e = await assertRejects(() => open(), DatasetError, msg);
      assertEquals((e as DatasetError).file, csv);
    }
    // "2.0" (as pandas writes an integer column that had gaps) is an integer.
    await Deno.writeTextFile(csv, "id,y\na,2.0\n");
    assertEquals((await open()).labels!(), new Int32Array([2]));

    await Deno.writeTextFile(csv, 'id,y\na,0\n"b",x\nmissing,1\nc,2\nd,7\n');
    const skipped = await open({ onError: "skip" });
    assertEquals(skipped.entries.map((e) => e.id), ["a", "c"]);
    assertEquals(skipped.skipReport.skipped.map((s) => s.file), [`${csv}:3`, `${csv}:4`, `${csv}:6`]);

    // A corrupt image: found by get() (naming the image and the CSV line) or by validation.
    await Deno.writeFile(`${dir}/e.png`, new Uint8Array([0, 1, 2, 3]));
    await Deno.writeTextFile(csv, "id,y\na,0\ne,1\n");
    const lazy = await open();
    const err = await assertRejects(() => lazy.get(1), DatasetError, `(${csv} line 3)`);
    assertEquals((err as DatasetError).file, `${dir}/e.png`);
    await assertRejects(() => open({ validate: true }), DatasetError, "line 3: image");
    assertEquals((await open({ onError: "skip" })).entries.map((e) => e.id), ["a"]);
    await assertRejects(() => open({ csv: `${dir}/none.csv` }), DatasetError, "none.csv: cannot read the CSV file");
  });
});

Deno.test("CsvImageDataset: an id that leads outside imageDir is refused, naming the CSV, line and id", async () => {
  await withTempDir("meddiff_csv_", async (dir) => {
    await Deno.mkdir(`${dir}/images/sub`, { recursive: true });
    for (const p of ["images/a.png", "images/sub/b.png", "secret.png"]) await writePng(`${dir}/${p}`, 9);
    const csv = `${dir}/labels.csv`;
    const open = (extra: Record<string, unknown> = {}) =>
      CsvImageDataset.open({ csv, imageDir: `${dir}/images`, idColumn: "id", extension: ".png", ...extra });
    const cases: [string, string][] = [
      ["../secret", 'line 3: id "../secret" leads outside the image folder'],
      ["sub/../../secret", 'line 3: id "sub/../../secret" leads outside the image folder'],
      [`${dir}/secret`, `line 3: id "${dir}/secret" is an absolute path`],
      ["..\\secret", "leads outside the image folder"],
    ];
    for (const [id, msg] of cases) {
      await Deno.writeTextFile(csv, `id\na\n${id}\n`);
      const e = await assertRejects(() => open(), DatasetError, msg);
      assertEquals([(e as DatasetError).file, (e as DatasetError).field], [csv, "id"]);
    }
    await Deno.writeTextFile(csv, "id\na\n../secret\nsub/b\n./sub/b2\n");
    const skipped = await open({ onError: "skip" });
    assertEquals(skipped.entries.map((e) => e.id), ["a", "sub/b"], "ids in subfolders stay allowed");
    assertEquals(skipped.skipReport.skipped.map((s) => s.file), [`${csv}:3`, `${csv}:5`]);
  });
});

Deno.test("CsvImageDataset: multi-label columns → Sample.labels", async () => {
  await withTempDir("meddiff_csv_", async (dir) => {
    for (const id of ["p1", "p2", "p3"]) await writePng(`${dir}/${id}.jpg.png`, 50);
    const csv = `${dir}/isic.csv`;
    await Deno.writeTextFile(csv, "image,MEL,NV,BCC\np1.jpg,0,1,0\np2.jpg,1.0,0,1\np3.jpg,0,0,0\n");
    const ds = await CsvImageDataset.open({
      csv,
      imageDir: dir,
      idColumn: "image",
      labelColumns: ["MEL", "NV", "BCC"],
      extension: ".png",
    });
    assertEquals(ds.classes, ["MEL", "NV", "BCC"]);
    assertEquals(ds.labels!(), new Int32Array([1, 0, -1]), "label = first positive column, or -1");
    assertEquals((await ds.get(1)).labels, [1, 0, 1]);
    await Deno.writeTextFile(csv, "image,MEL,NV,BCC\np1.jpg,0,2,0\n");
    await assertRejects(
      () =>
        CsvImageDataset.open({
          csv,
          imageDir: dir,
          idColumn: "image",
          labelColumns: ["MEL", "NV", "BCC"],
          extension: ".png",
        }),
      DatasetError,
      `line 2: value "2" in label column "NV" must be 0 or 1`,
    );
  });
});

skippableTest({
  name: "CsvImageDataset over the ISIC dermoscopy JPEGs in ../shared/data",
  skip: needsSharedData(sharedDataPath("images/dermoscopy/ISIC_0000000.jpg")),
  fn: async () => {
    await withTempDir("meddiff_csv_", async (dir) => {
      const csv = `${dir}/isic.csv`;
      // Diagnoses from ../shared/data/README.md: nevus, nevus, melanoma in situ, nevus, melanoma.
      await Deno.writeTextFile(
        csv,
        "isic_id,melanoma\nISIC_0000000,0\nISIC_0000001,0\nISIC_0000002,1\nISIC_0000003,0\nISIC_0000004,1\n",
      );
      const ds = await CsvImageDataset.open({
        csv,
        imageDir: sharedDataPath("images/dermoscopy")!,
        idColumn: "isic_id",
        labelColumn: "melanoma",
        extension: ".jpg",
        classes: ["benign", "melanoma"],
        validate: "decode",
        expectSize: { width: 256, height: 256 },
        channels: 1,
      });
      assertEquals(ds.labels!(), new Int32Array([0, 0, 1, 0, 1]));
      const s = await ds.get(4);
      assertEquals([s.id, s.image.channels, s.image.data.length], ["ISIC_0000004", 1, 256 * 256]);
    });
  },
});
