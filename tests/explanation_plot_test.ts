/**
 * The DiffMIC-v2 explanation figure: the PNG's size, the image panel's pixels (nearest-neighbour
 * image, saliency colours where the map is hot and cold, the boxes where they belong and
 * clipped to the image), the header, legend and trajectory in the SVG, and errors naming the
 * field at fault.
 */
import sharp from "sharp";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { type Explanation, explanationPlot, explanationSvg } from "../plots/mod.ts";

const CLASSES = ["normal", "benign <nevus>", 'malignant & "mel"'];

/** A 28 × 28 explanation: uniform grey image, 4 × 4 saliency hot at row 0, column 3 only. */
function base(over: Partial<Explanation> = {}): Explanation {
  const H = 28, W = 28;
  const saliency = new Float32Array(16);
  saliency[0 * 4 + 3] = 1;
  return {
    image: new Float32Array(H * W).fill(0.5),
    channels: 1,
    height: H,
    width: W,
    saliency,
    gridH: 4,
    gridW: 4,
    boxes: [],
    classes: CLASSES,
    trajectory: [[1 / 3, 1 / 3, 1 / 3], [0.3, 0.5, 0.2], [0.15, 0.75, 0.1]],
    trajectoryLabels: ["prior", "t=500", "t=0"],
    predicted: 1,
    trueClass: 2,
    ...over,
  };
}

interface Img {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

async function decode(input: string | Uint8Array): Promise<Img> {
  const { data, info } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}

function px(img: Img, x: number, y: number): [number, number, number] {
  const o = (Math.round(y) * img.width + Math.round(x)) * img.channels;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

/** Position and size of the embedded image in the SVG. */
function imageRect(svg: string): { x: number; y: number; w: number; h: number; href: string } {
  const m = /<image x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]* href="([^"]+)"/.exec(svg);
  assert(m, "the SVG embeds an <image>");
  return { x: +m[1], y: +m[2], w: +m[3], h: +m[4], href: m[5] };
}

function svgSize(svg: string): [number, number] {
  const m = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg);
  assert(m, "svg size");
  return [+m[1], +m[2]];
}

/** The PNG embedded in the SVG as a data URI. */
function embeddedPng(svg: string): Uint8Array {
  const { href } = imageRect(svg);
  assert(href.startsWith("data:image/png;base64,"), "a PNG data URI");
  return Uint8Array.from(atob(href.slice("data:image/png;base64,".length)), (c) => c.charCodeAt(0));
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("explanation: explanationPlot writes a PNG of the SVG's size; scale 2 doubles it; nothing else left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_expl_" });
  try {
    const e = base({
      boxes: [{ top: 2, left: 2, size: 10, weight: 0.7 }, { top: 14, left: 14, size: 10, weight: 0.3 }],
    });
    const svg = await explanationSvg(e);
    const [w, h] = svgSize(svg);
    const size = await explanationPlot(e, `${dir}/sub/explain.png`); // the folder is created
    assertEquals(size, { width: w, height: h });
    const img = await decode(`${dir}/sub/explain.png`);
    assertEquals([img.width, img.height], [w, h]);
    assert(w >= 320 + 300 && h >= 320, `room for a 320 px image and a chart (${w}×${h})`);
    const big = await explanationPlot(e, `${dir}/sub/explain2x.png`, { scale: 2 });
    assertEquals(big, { width: 2 * w, height: 2 * h });
    assertEquals((await sharp(`${dir}/sub/explain2x.png`).metadata()).format, "png");
    assertEquals(await listDir(`${dir}/sub`), ["explain.png", "explain2x.png"], "no temporary file left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("explanation: the saliency-hot region is warmer than the cold one, in the right place (row-major grid)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_expl_" });
  try {
    for (const upsample of ["bilinear", "nearest"] as const) {
      const e = base();
      const svg = await explanationSvg(e, { saliencyUpsample: upsample });
      const r = imageRect(svg);
      assertEquals([r.w, r.h], [320, 320], "a 28 × 28 image is shown at 320 px (default imageSize)");
      await explanationPlot(e, `${dir}/${upsample}.png`, { saliencyUpsample: upsample });
      const img = await decode(`${dir}/${upsample}.png`);
      const cell = r.w / 4;
      const at = (row: number, col: number) => px(img, r.x + (col + 0.5) * cell, r.y + (row + 0.5) * cell);
      const warmth = ([red, , blue]: number[]) => red - blue;
      const hot = at(0, 3); // top-right: saliency[0 * gridW + 3]
      const cold = at(2, 1);
      const transposed = at(3, 0); // where the hot cell would land if rows and columns were swapped
      assert(warmth(hot) > 40, `${upsample}: hot cell is red (${hot})`);
      assert(warmth(cold) < -40, `${upsample}: cold cell is blue (${cold})`);
      assert(warmth(transposed) < -40, `${upsample}: the grid is row-major (${transposed})`);
      assert(warmth(hot) - warmth(cold) > 100, `${upsample}: hot warmer than cold by a wide margin`);
      // Across the boundary between a hot and a cold cell, nearest keeps 2 colours, bilinear blends.
      const row = new Set<string>();
      for (let x = r.x + 4; x < r.x + r.w - 4; x++) row.add(px(img, x, r.y + cell / 2).join(","));
      if (upsample === "nearest") assertEquals(row.size, 2, "nearest: one hot and one cold colour along the row");
      else assert(row.size > 20, `bilinear: a gradient along the row (${row.size} colours)`);
    }
    // Any range: min–max normalisation makes an affine map of the saliency draw the same figure.
    const e = base();
    const shifted = new Float32Array(e.saliency.length).map((_, i) => e.saliency[i] * 37 - 5);
    assertEquals(await explanationSvg({ ...e, saliency: shifted }), await explanationSvg(e));
    // viridis: the hot cell is yellow-bright, the cold one dark purple.
    const v = await explanationSvg(e, { colormap: "viridis" });
    await explanationPlot(e, `${dir}/viridis.png`, { colormap: "viridis" });
    const img = await decode(`${dir}/viridis.png`);
    const r = imageRect(v);
    const hot = px(img, r.x + 3.5 * r.w / 4, r.y + 0.5 * r.h / 4);
    const cold = px(img, r.x + 1.5 * r.w / 4, r.y + 2.5 * r.h / 4);
    assert(hot[1] - cold[1] > 80, `viridis: the hot cell is brighter green (${hot} vs ${cold})`);
    // Alpha 0: the plain image, hot and cold look the same.
    await explanationPlot(e, `${dir}/plain.png`, { saliencyAlpha: 0 });
    const plain = await decode(`${dir}/plain.png`);
    assertEquals(px(plain, r.x + 3.5 * r.w / 4, r.y + 0.5 * r.h / 4), [128, 128, 128]);
    assertEquals(px(plain, r.x + 1.5 * r.w / 4, r.y + 2.5 * r.h / 4), [128, 128, 128]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("explanation: the image is resampled by nearest neighbour, CHW, rows top to bottom, no transposition", async () => {
  const H = 28, W = 28;
  const image = new Float32Array(3 * H * W);
  const value = (c: number, y: number, x: number) => [y / (H - 1), x / (W - 1), ((3 * y + 7 * x) % 11) / 10][c];
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) image[(c * H + y) * W + x] = value(c, y, x);
  }
  const e = base({ image, channels: 3 });
  const svg = await explanationSvg(e, { saliencyAlpha: 0, imageSize: 336 }); // 12 display px per image pixel
  const raster = await decode(embeddedPng(svg));
  assertEquals([raster.width, raster.height], [336, 336]);
  let worst = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Every display pixel of the 12 × 12 block holds the image pixel's value (no blending at the edges).
      for (const [dy, dx] of [[0, 0], [11, 11], [0, 11], [6, 5]]) {
        const got = px(raster, x * 12 + dx, y * 12 + dy);
        for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(got[c] - 255 * value(c, y, x)));
      }
    }
  }
  assert(worst <= 1, `raster matches the image pixel for pixel (worst error ${worst})`);
  // The embedded raster follows options.scale, and a non-square image keeps its aspect.
  const wide = base({ image: new Float32Array(20 * 40).fill(0.2), height: 20, width: 40 });
  const wsvg = await explanationSvg(wide, { imageSize: 240, scale: 2 });
  const r = imageRect(wsvg);
  assertEquals([r.w, r.h], [240, 120]);
  const wr = await decode(embeddedPng(wsvg));
  assertEquals([wr.width, wr.height], [480, 240]);
});

Deno.test("explanation: boxes sit at their image coordinates, heavier ones thicker, clipped to the image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_expl_" });
  try {
    const e = base({
      image: new Float32Array(28 * 28), // black
      boxes: [
        { top: 14, left: 0, size: 14, weight: 0.7 }, // bottom-left quadrant
        { top: -10, left: 20, size: 20, weight: 0.3 }, // extends past the top and right edges
      ],
    });
    const opts = { saliencyAlpha: 0, imageSize: 336 };
    const svg = await explanationSvg(e, opts);
    assert(svg.includes(">0.70<") && svg.includes(">0.30<"), "each box's weight is printed");
    const strokes = [0, 1].map((i) => {
      const g = new RegExp(`<g class="box" data-box="${i}">(.*?)</g>`).exec(svg);
      assert(g, `box ${i} drawn`);
      return Number(/stroke="#ffffff" stroke-opacity="[\d.]+" stroke-width="([\d.]+)"/.exec(g[1])![1]);
    });
    assert(strokes[0] > strokes[1], `the heavier box is thicker (${strokes})`);
    await explanationPlot(e, `${dir}/boxes.png`, opts);
    const img = await decode(`${dir}/boxes.png`);
    const r = imageRect(svg);
    const bright = (p: number[]) => Math.min(...p) > 180;
    // Box 0: top edge at image row 14 → 168 display px, right edge at column 14 → 168 px.
    assert(bright(px(img, r.x + 100, r.y + 168)), `box 0's top edge (${px(img, r.x + 100, r.y + 168)})`);
    assert(bright(px(img, r.x + 168, r.y + 250)), "box 0's right edge");
    assert(!bright(px(img, r.x + 100, r.y + 180)), "inside box 0 stays dark");
    assert(!bright(px(img, r.x + 100, r.y + 150)), "above box 0 stays dark");
    // Box 1: bottom edge at row 10 → 120 px, from column 20 → 240 px to past the right edge.
    const edge1 = px(img, r.x + 300, r.y + 120);
    const edge0 = px(img, r.x + 100, r.y + 168);
    assert(Math.min(...edge1) > 100, `box 1's bottom edge inside the image (${edge1})`);
    assert(Math.min(...edge0) > Math.min(...edge1) + 30, `the heavier box is brighter (${edge0} vs ${edge1})`);
    const outside = px(img, r.x + r.w + 12, r.y + 120);
    assert(Math.min(...outside) > 245, `box 1 is clipped at the image edge (${outside})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("explanation: header, legend and trajectory — predicted highlighted, names escaped, many or one step", async () => {
  const svg = await explanationSvg(base({ title: "Case <42>" }));
  assert(svg.includes("Case &lt;42&gt;"), "escaped title");
  assert(svg.includes("Predicted: benign &lt;nevus&gt; (p = 0.750)"), "predicted class and its final probability");
  assert(svg.includes("True: malignant &amp; &quot;mel&quot; (p = 0.100)") && svg.includes("wrong"), "true class");
  assert(!svg.includes("<nevus>") && !svg.includes('"mel"'), "no raw markup from the class names");
  assert(svg.includes(">benign &lt;nevus&gt; 0.75 (predicted)<"), "legend marks the predicted class");
  assert(svg.includes(">malignant &amp; &quot;mel&quot; 0.10 (true)<"), "legend marks the true class");
  assert(svg.includes(">prior<") && svg.includes(">t=500<") && svg.includes(">t=0<"), "x tick labels");
  assertEquals(svg.match(/<polyline/g)?.length, 3, "one line per class");
  const pred = /<g class="class predicted" data-class="1"><polyline [^>]*stroke="#ff7f0e" stroke-width="3.5"/;
  assert(pred.test(svg), "the predicted class's line is the thick one");
  const drawn = [...svg.matchAll(/<g class="class[^"]*" data-class="(\d)"/g)].map((m) => +m[1]);
  assertEquals(drawn, [0, 2, 1], "the predicted class is drawn last, on top");
  const correct = await explanationSvg(base({ trueClass: 1 }));
  assert(correct.includes("True: benign &lt;nevus&gt;") && correct.includes("correct"));
  const unknown = await explanationSvg(base({ trueClass: undefined, trajectoryLabels: undefined }));
  assert(!unknown.includes("True:") && unknown.includes(">2<"), "no true class; index tick labels");
  // 1000 steps: at most 9 ticks, the first and the last labelled, no markers.
  const T = 1000;
  const traj = Array.from({ length: T }, (_, s) => [1 - s / (2 * T), s / (2 * T), 0]);
  const labels = traj.map((_, s) => `t=${T - 1 - s}`);
  const long = await explanationSvg(base({ trajectory: traj, trajectoryLabels: labels, predicted: 0 }));
  const ticks = [...long.matchAll(/>t=(\d+)</g)].map((m) => +m[1]);
  assert(ticks.length >= 3 && ticks.length <= 9, `${ticks.length} ticks`);
  assert(ticks.includes(999) && ticks.includes(0), "first and last step labelled");
  assertEquals(long.match(/<circle/g), null, "no markers on 1000 steps");
  // One step: a marker per class.
  const one = await explanationSvg(base({ trajectory: [[0.2, 0.5, 0.3]], trajectoryLabels: ["t=0"] }));
  assertEquals(one.match(/<circle/g)?.length, 3);
  assertEquals(one.match(/<polyline/g), null);
});

Deno.test("explanation: errors name the field whose size or value is wrong", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meddiff_expl_" });
  try {
    const bad = async (over: Partial<Explanation>, includes: string, cls: typeof Error = RangeError, opts = {}) => {
      await assertRejects(() => explanationSvg(base(over), opts), cls, includes);
    };
    await bad({ saliency: new Float32Array(15) }, "saliency has 15 values but gridH × gridW = 4 × 4 needs 16");
    await bad({ gridW: 5 }, "saliency has 16 values but gridH × gridW = 4 × 5 needs 20");
    await bad({ saliency: undefined as unknown as Float32Array }, "saliency must be a Float32Array", TypeError);
    await bad({ saliency: new Float32Array(16).fill(NaN) }, "saliency[0] must be a finite number");
    await bad({ image: new Float32Array(27 * 28) }, "image has 756 values but CHW 1 × 28 × 28 needs 784");
    await bad({ channels: 3 }, "image has 784 values but CHW 3 × 28 × 28 needs 2352");
    await bad({ channels: 2 as 1 }, "channels must be 1 (grey) or 3 (RGB)");
    await bad({ height: 0 }, "height must be an integer");
    await bad({ image: new Float32Array(784).fill(-1.8) }, "image[0] = -1.8");
    await bad({ trajectory: [[0.3, 0.3, 0.4], [0.5, 0.5]] }, "trajectory[1] has 2 values but there are 3 classes");
    await bad({ trajectory: [] }, "trajectory must be a non-empty array");
    await bad({ trajectory: [[0.3, 1.7, 0]] }, "trajectory[0][1] must be a probability in [0, 1], got 1.7");
    await bad({ trajectoryLabels: ["a", "b"] }, "trajectoryLabels must hold one label per trajectory row (3), got 2");
    await bad({ predicted: 3 }, "predicted must be a class index in [0, 2], got 3");
    await bad({ trueClass: -1 }, "trueClass must be a class index in [0, 2], got -1");
    await bad({ classes: ["only"] }, "classes must be an array of at least 2 class names");
    await bad(
      { boxes: [{ top: 0, left: 0, size: 4, weight: 0.5 }, { top: 0, left: 0, size: 4, weight: NaN }] },
      "boxes[1].weight must be a finite number",
    );
    await bad({ boxes: [{ top: 0, left: 0, size: 0, weight: 1 }] }, "boxes[0].size must be > 0");
    await bad(
      { boxes: [{ top: 30, left: 0, size: 8, weight: 1 }] },
      "boxes[0] (top 30, left 0, size 8) lies wholly outside",
    );
    await bad({ boxes: [{ top: 0, left: 0, size: 8, weight: 0.4 }] }, "weights sum to 0.4000");
    await bad({}, "options.imageSize must be a number in [224, 2048], got 100", RangeError, { imageSize: 100 });
    await bad({}, "options.colormap", RangeError, { colormap: "hot" });
    await bad({}, "options.saliencyAlpha", RangeError, { saliencyAlpha: 1.5 });
    await bad({}, "options.saliencyUpsample", RangeError, { saliencyUpsample: "bicubic" });
    // A failed plot writes nothing.
    await assertRejects(
      () => explanationPlot(base({ saliency: new Float32Array(3) }), `${dir}/never.png`),
      RangeError,
      "saliency has 3 values",
    );
    assertEquals(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
