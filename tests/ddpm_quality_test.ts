/**
 * Sample quality end to end, the property every other DDPM test misses: a short `deno task
 * train` run on procedural 8×8 fundus-like images, sampled with the shipped sampler (DDIM,
 * trailing spacing, clipped x̂₀, guidance), must give images with the data's colour
 * statistics — a dark background and a reddish disk: per-channel means and standard
 * deviations near the training images'. With ε-prediction the same run samples grey noise
 * (channel means ≈ 0): at t ≈ T the cosine schedule's ᾱ is 2.4e-9 and x̂₀ = (x − √(1−ᾱ)·ε̂)/√ᾱ
 * amplifies the network's ε error ~20 000-fold, so the trajectory starts from clipped
 * garbage; v-prediction gives x̂₀ = √ᾱ·x − √(1−ᾱ)·v̂ with no amplification.
 * `MEDDIFF_QUALITY_PREDICTION=epsilon deno test -A tests/ddpm_quality_test.ts` shows the
 * failure (measured: channel means −0.04, −0.04, −0.03 against the data's −0.25, −0.65, −0.82).
 */
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { loadConfig } from "../train/config.ts";
import { buildSampler } from "../tasks/ddpm/model.ts";
import { openImageData } from "../tasks/common/data.ts";
import { DataLoader } from "../datasets/loader.ts";
import { ClassifierFreeGuidance, DiffusionPipeline } from "../samplers/mod.ts";
import { assert } from "./_asserts.ts";
import { gpuTest } from "./_util.ts";

const RUN = [
  "--data.length=288",
  "--data.imageSize=8",
  "--data.valFraction=0.1",
  "--model.baseChannels=16",
  "--model.channelMults=[1,2]",
  "--model.attentionResolutions=[4]",
  "--model.numHeads=2",
  "--model.dropout=0",
  "--train.batchSize=16",
  "--train.epochs=8",
  "--train.lr=0.002",
  "--train.emaDecay=0.99",
  "--train.logEvery=50",
  "--no-sample",
];

/** Per-channel mean and standard deviation of NCHW images. */
function channelStats(data: Float32Array, channels: number, pixels: number): { mean: number[]; std: number[] } {
  const n = data.length / (channels * pixels);
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s = 0, s2 = 0;
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < pixels; p++) {
        const v = data[(b * channels + c) * pixels + p];
        s += v;
        s2 += v * v;
      }
    }
    const m = s / (n * pixels);
    mean.push(m);
    std.push(Math.sqrt(s2 / (n * pixels) - m * m));
  }
  return { mean, std };
}

const fmt = (a: number[]) => a.map((v) => v.toFixed(2)).join(", ");

gpuTest("ddpm quality: a short v-prediction run samples images with the data's channel statistics", async () => {
  const root = await Deno.makeTempDir();
  try {
    const kind = Deno.env.get("MEDDIFF_QUALITY_PREDICTION") ?? "v_prediction";
    const out = await trainCommand([...RUN, `--diffusion.predictionType=${kind}`, `--output.root=${root}`], true);
    assert(out);
    const { result } = out;
    const resolved = (await loadConfig(ddpmSchema, { file: out.run.configPath })).config;
    const data = await openImageData(resolved.data, resolved.seed);
    const C = data.channels, S = data.imageSize, K = data.classes.length, P = 8;
    // The training images' statistics (the evaluation transform: to CHW in [−1, 1]).
    const loader = new DataLoader(data.train, { batchSize: data.train.length, transform: data.evalTransform });
    let real: Float32Array | null = null;
    for await (const b of loader.iterate(0)) {
      real = await b.images.data() as Float32Array;
      b.dispose();
    }
    const want = channelStats(real!, C, S * S);
    result.ema!.copyTo(); // the quality run keeps an EMA (train.emaDecay > 0)
    result.unet.eval();
    const scheduler = buildSampler(resolved, "ddim");
    const { samples } = await new DiffusionPipeline({
      model: (x, t, y) => result.unet.call(x, t, y),
      scheduler,
      guider: new ClassifierFreeGuidance({ guidanceScale: 2 }),
    }).generate({
      batchSize: K * P,
      sampleShape: [C, S, S],
      classLabels: Array.from({ length: K * P }, (_, i) => Math.floor(i / P)),
      nullClass: K,
      numInferenceSteps: 25,
      seed: 1,
    });
    const got = channelStats(await samples.data() as Float32Array, C, S * S);
    samples.dispose();
    scheduler.dispose();
    console.log(
      `  ${kind}: channel means ${fmt(got.mean)} (data ${fmt(want.mean)}), stds ${fmt(got.std)} (data ${
        fmt(want.std)
      })`,
    );
    for (let c = 0; c < C; c++) {
      assert(
        Math.abs(got.mean[c] - want.mean[c]) < 0.15,
        `channel ${c}: sample mean ${got.mean[c].toFixed(3)}, data mean ${want.mean[c].toFixed(3)}`,
      );
      assert(
        got.std[c] > 0.5 * want.std[c] && got.std[c] < 2 * want.std[c],
        `channel ${c}: sample std ${got.std[c].toFixed(3)}, data std ${want.std[c].toFixed(3)}`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
