/**
 * Images per second through a fundus training pipeline: a 512×512 JPEG (made from
 * `../shared/data/images/fundus/skimage_retina.jpg`, cropped to the fundus and resized) is
 * decoded (sharp), Ben Graham-preprocessed, resized to 240², randomly cropped to 224², rotated
 * (±15°, bilinear), flipped, colour-jittered, normalised and turned into a CHW float32 array —
 * the path a sample takes from disk to the batch collator.
 *
 * Rows: the pipeline run one image at a time; with up to 8 images in flight (`Promise`
 * concurrency: the decode runs on libuv's threads, the TypeScript steps stay on the main
 * thread); spread over Web Workers (one per core, each running the same pipeline, results
 * transferred back); and each step alone on 512² (or 224²) images.
 *
 * This file is also the workers' module: loaded with `?worker` it serves pipeline requests.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/transforms_bench.ts`
 */
import sharp from "sharp";
import { Rng } from "../util/rng.ts";
import type { ArrayImage, Raster, Sample } from "../datasets/types.ts";
import {
  autoCropFundusImage,
  benGraham,
  colorJitter,
  compose,
  decodeImage,
  decodeRaster,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  randomRotation,
  randomVerticalFlip,
  resize,
  resizeImage,
  toTensor,
} from "../datasets/transforms/mod.ts";
import { atEnd, bestOf, timed } from "./_record.ts";

/** The training pipeline measured here, from encoded bytes to a normalised [3, 224, 224] array. */
function fundusPipeline(blur: "exact" | "sharp") {
  return compose([
    decodeImage({ channels: 3 }),
    benGraham({ blur }),
    resize({ size: 240 }),
    randomCrop(224),
    randomRotation(15, { interpolation: "bilinear" }),
    randomHorizontalFlip(),
    randomVerticalFlip(),
    colorJitter({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02 }),
    normalize(IMAGENET_MEAN, IMAGENET_STD),
    toTensor(),
  ]);
}

interface Job {
  blur: "exact" | "sharp";
  bytes: Uint8Array;
  seed: number;
  index: number;
}

if (new URL(import.meta.url).searchParams.has("worker")) {
  // ---------------------------------------------------------------- worker side
  const pipelines = { exact: fundusPipeline("exact"), sharp: fundusPipeline("sharp") };
  const scope = self as unknown as {
    onmessage: (e: MessageEvent<Job>) => void;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
  };
  scope.onmessage = async (e: MessageEvent<Job>) => {
    const { blur, bytes, seed, index } = e.data;
    try {
      const s: Sample<unknown> = { image: bytes, label: 0, id: `fundus-${index}`, meta: {} };
      const out = await pipelines[blur](s, Rng.derive(seed, index));
      const image = out.image as ArrayImage;
      scope.postMessage({ index, data: image.data, shape: image.shape }, [image.data.buffer as ArrayBuffer]);
    } catch (err) {
      scope.postMessage({ index, error: String(err) });
    }
  };
} else {
  await main();
}

async function main(): Promise<void> {
  const retina = new URL("../../shared/data/images/fundus/skimage_retina.jpg", import.meta.url);
  try {
    await Deno.stat(retina);
  } catch {
    console.warn(
      `transforms_bench: ${retina.pathname} is absent (../shared/data); the transform benchmarks are skipped`,
    );
    return;
  }
  const full = await decodeRaster(retina.pathname, { channels: 3 });
  const img512 = resizeImage(autoCropFundusImage(full, { square: true }), 512, 512);
  const jpeg = new Uint8Array(
    await sharp(img512.data, { raw: { width: 512, height: 512, channels: 3 } }).jpeg({ quality: 95 }).toBuffer(),
  );
  const BATCH = 32;
  const SEED = 1234;
  const sampleOf = (i: number): Sample<unknown> => ({ image: jpeg, label: 0, id: `fundus-${i}`, meta: {} });
  const check = (out: Sample) => {
    const a = out.image as ArrayImage;
    if (a.shape.join() !== "3,224,224") throw new Error(`pipeline gave shape [${a.shape}]`);
  };
  const IN_FLIGHT = 8;
  const WORKERS = Math.max(1, Math.min(navigator.hardwareConcurrency ?? 2, 8));
  let workers: Worker[] | null = null;
  let workerNote = "";
  try {
    workers = Array.from(
      { length: WORKERS },
      () => new Worker(new URL("?worker", import.meta.url), { type: "module" }),
    );
    const pool = workers;
    globalThis.addEventListener("unload", () => pool.forEach((w) => w.terminate()));
  } catch (e) {
    workerNote = `Web Workers unavailable: ${(e as Error).message}`;
  }
  const runOn = (w: Worker, job: Job) =>
    new Promise<void>((resolve, reject) => {
      w.onmessage = (e: MessageEvent<{ error?: string; shape?: number[] }>) => {
        if (e.data.error) reject(new Error(`worker: ${e.data.error}`));
        else if (e.data.shape?.join() !== "3,224,224") reject(new Error(`worker gave shape [${e.data.shape}]`));
        else resolve();
      };
      w.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
      w.postMessage(job);
    });

  for (const blur of ["exact", "sharp"] as const) {
    const pipeline = fundusPipeline(blur);
    const opts = { group: `pipeline, ${blur} blur`, n: 3, warmup: 1 };
    Deno.bench(
      { name: `${blur} blur: sequential (${BATCH} images)`, baseline: true, ...opts },
      timed(`${blur} sequential`, async () => {
        for (let i = 0; i < BATCH; i++) check(await pipeline(sampleOf(i), Rng.derive(SEED, i)));
      }),
    );
    Deno.bench(
      { name: `${blur} blur: ${IN_FLIGHT} in flight (${BATCH} images)`, ...opts },
      timed(`${blur} concurrent`, async () => {
        let next = 0;
        const lane = async () => {
          while (next < BATCH) {
            const i = next++;
            check(await pipeline(sampleOf(i), Rng.derive(SEED, i)));
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
      }),
    );
    if (workers) {
      const pool = workers;
      Deno.bench(
        { name: `${blur} blur: ${WORKERS} Web Workers (${BATCH} images)`, ...opts },
        timed(`${blur} workers`, async () => {
          let next = 0;
          await Promise.all(pool.map(async (w) => {
            while (next < BATCH) {
              const i = next++;
              await runOn(w, { blur, bytes: jpeg, seed: SEED, index: i });
            }
          }));
        }),
      );
    }
  }

  // Single steps (one image each), to show where the time goes.
  const s512: Sample = { image: img512, label: 0, id: "s", meta: {} };
  const s224: Sample = {
    image: resizeImage(img512, 224, 224) as Raster,
    label: 0,
    id: "s",
    meta: {},
  };
  const rng = new Rng(0);
  const steps: [string, () => unknown][] = [
    ["decode 512² JPEG (sharp)", () => decodeImage({ channels: 3 })(sampleOf(0), rng)],
    ["benGraham 512² (exact blur, σ = 8.5, 53 taps)", () => benGraham()(s512, rng)],
    ["benGraham 512² (sharp blur)", () => benGraham({ blur: "sharp" })(s512, rng)],
    ["resize 512² → 240² (bilinear, antialiased)", () => resize({ size: 240 })(s512, rng)],
    ["randomRotation 224² (bilinear)", () => randomRotation(15, { interpolation: "bilinear" })(s224, rng)],
    [
      "colorJitter 224² (all four)",
      () => colorJitter({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02 })(s224, rng),
    ],
    ["normalize + toTensor 224²", () => compose([normalize(IMAGENET_MEAN, IMAGENET_STD), toTensor()])(s224, rng)],
  ];
  for (const [name, fn] of steps) {
    Deno.bench({ name, group: "steps", n: 10, warmup: 2 }, timed(name, async () => void (await fn())));
  }

  atEnd(() => {
    const rate = (key: string) => {
      const ms = bestOf(key);
      return ms ? `${(BATCH / ms * 1000).toFixed(1)} images/s` : "—";
    };
    const lines = ["", `fundus 512² JPEG → Ben Graham → 224² augmented tensor, ${BATCH} images per run (best run):`];
    for (const blur of ["exact", "sharp"]) {
      lines.push(
        `  ${blur} blur: sequential ${rate(`${blur} sequential`)}; ${IN_FLIGHT} in flight ${
          rate(`${blur} concurrent`)
        }; ` +
          (workers ? `${WORKERS} Web Workers ${rate(`${blur} workers`)}` : workerNote),
      );
    }
    lines.push(
      "  per step (best, ms): " +
        steps.map(([n]) =>
          `${n.split(" (")[0]}${n.includes("sharp blur") ? " (sharp)" : ""} ${bestOf(n)?.toFixed(1) ?? "—"}`
        ).join(", "),
    );
    return lines;
  });
}
