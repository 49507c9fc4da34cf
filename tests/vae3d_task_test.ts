/**
 * `deno task train-vae` end to end on procedural volumes: the run folder (config, volume.json,
 * checkpoints, validation L1/PSNR/SSIM in metrics.jsonl, mid-slice PNGs), then `deno task
 * encode-latents` (every split; draws standardised per channel), the KL term against a
 * float64 formula, the mid-slices, and configuration errors named before any folder is made.
 */
import { tensor } from "../mod.ts";
import { saveSafetensors } from "../core/nn/safetensors.ts";
import { resnet18 } from "../models/mod.ts";
import { ConfigError } from "../train/config.ts";
import { gaussianKl, midSlices, vaeTrainLoader } from "../tasks/vae3d/trainer.ts";
import { vaeSchema } from "../tasks/vae3d/config.ts";
import { openVolumeData } from "../tasks/common/volume_data.ts";
import { encodeLatentsCommand, trainVaeCommand } from "../tasks/vae3d/commands.ts";
import { evaluateCommand } from "../tasks/classify/commands.ts";
import { drawLatent, LatentDataset } from "../tasks/vae3d/latents.ts";
import { Rng } from "../util/rng.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { assertClose, assertSameState, gpuTest, interruptAtFirstStep, randomArray, withTempDir } from "./_util.ts";

const TINY = ["--model.numChannels=[8,16]", "--model.normNumGroups=4", "--data.length=12", "--data.size=8"];

gpuTest("train-vae: a tiny run writes checkpoints, reconstruction metrics and mid-slice previews", async () => {
  await withTempDir("meddiff-vae-", async (root) => {
    const out = await trainVaeCommand(
      [...TINY, "--train.epochs=2", "--train.batchSize=3", `--output.root=${root}`],
      true,
    );
    const dir = out!.run.path;
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    for (const f of ["config.yaml", "volume.json", "metrics.jsonl", "checkpoints", "samples"]) {
      assert(names.includes(f), `${f} in ${names}`);
    }
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/volume.json`)), {
      affine: null,
      classes: ["normal", "mass"],
      channels: 1,
      size: [8, 8, 8],
    });
    const rows = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
    const val = rows.filter((r) => "val_ssim" in r);
    assertEquals(val.length, 2, "validated every epoch");
    for (const r of val) {
      assert(r.val_l1 > 0 && r.val_l1 < 1 && r.val_psnr > 0 && r.val_ssim <= 1, JSON.stringify(r));
    }
    assertEquals([...Deno.readDirSync(`${dir}/samples`)].map((e) => e.name).sort(), [
      "recon_epoch_1.png",
      "recon_epoch_2.png",
    ]);
    assert(out!.result.best !== null && out!.result.best === Math.min(...val.map((r) => r.val_l1)));
    assert([...Deno.readDirSync(`${dir}/checkpoints`)].some((e) => e.name === "best.safetensors"));
    out!.result.model.dispose();

    // deno task evaluate on a VAE run: test-split reconstruction with bootstrap intervals.
    const ev = await evaluateCommand(["--run", dir, "--bootstrap", "50"], true);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/eval-test/metrics.json`));
    assertEquals(saved.volumes, 8);
    for (const k of ["l1", "psnr", "ssim"]) {
      const m = saved.metrics[k];
      assert(m.lower <= m.value && m.value <= m.upper, `${k}: ${JSON.stringify(m)}`);
      assertEquals(saved.per_volume[k].length, 8);
    }
    assertEquals(ev!.files, ["metrics.json", "reconstructions.png"]);

    // encode-latents: every split, the latent means the VAE gives, draws standardised per channel.
    const enc = await encodeLatentsCommand(["--vae", dir], true);
    assertEquals(enc!.dir, `${dir}/latents`);
    assertEquals(enc!.info.shape, [4, 4, 4, 4]);
    assertEquals(enc!.info.counts, { train: 9, val: 3, test: 8 });
    const train = await LatentDataset.open(enc!.dir, "train");
    const draw = drawLatent(train.info), C = 4, per = 64;
    const sums = new Float64Array(C), sq = new Float64Array(C);
    for (let i = 0; i < train.length; i++) {
      for (let r = 0; r < 20; r++) {
        const z = (await draw(await train.get(i), new Rng(i * 100 + r))).image.data;
        for (let k = 0; k < z.length; k++) {
          sums[Math.floor(k / per)] += z[k];
          sq[Math.floor(k / per)] += z[k] * z[k];
        }
      }
    }
    const count = train.length * 20 * per;
    for (let c = 0; c < C; c++) {
      const m = sums[c] / count, sd = Math.sqrt(sq[c] / count - m * m);
      assert(Math.abs(m) < 0.1 && Math.abs(sd - 1) < 0.1, `channel ${c}: mean ${m}, std ${sd} after standardising`);
    }
  });
});

gpuTest("train-vae: the KL term is MAISI's 0.5·Σ(μ² + σ² − log σ² − 1), averaged over the batch", async () => {
  const mu = randomArray(2 * 4 * 8, 3), lv = randomArray(2 * 4 * 8, 4, -2, 1);
  let want = 0;
  for (let i = 0; i < mu.length; i++) want += 0.5 * (mu[i] ** 2 + Math.exp(lv[i]) - lv[i] - 1);
  const kl = gaussianKl(tensor(mu, [2, 4, 2, 2, 2]), tensor(lv, [2, 4, 2, 2, 2]));
  assertClose(await kl.data(), [want / 2], { rtol: 1e-5, msg: "KL" });
  kl.dispose();
  // Mid-slices of a 2×3×4 volume: axial (z = 1), coronal (y = 1), sagittal (x = 2), padded to 4×4.
  const v = Float32Array.from({ length: 24 }, (_, i) => i);
  const { data, side } = midSlices(v, [2, 3, 4]);
  assertEquals(side, 4);
  assertEquals(Array.from(data.subarray(0, 4)), [12, 13, 14, 15], "axial row 0 at z = 1");
  assertEquals(Array.from(data.subarray(16, 20)), [4, 5, 6, 7], "coronal row 0 at y = 1");
  assertEquals(Array.from(data.subarray(32, 36)), [2, 6, 10, 0], "sagittal row 0 at x = 2, padded");
});

gpuTest("train-vae: a volume the levels cannot halve, or a missing file, is refused naming the key", async () => {
  await withTempDir("meddiff-vae-", async (root) => {
    await assertRejects(
      () => trainVaeCommand([...TINY, "--data.size=6", "--model.numChannels=[8,8,8]", `--output.root=${root}`], true),
      ConfigError,
      "model.numChannels",
    );
    await assertRejects(
      () => trainVaeCommand(["--data.dataset=medmnist", `--data.path=${root}/none.npz`, `--output.root=${root}`], true),
      ConfigError,
      "data.path",
    );
    assertEquals([...Deno.readDirSync(root)].length, 0, "no run folder was made");
  });
});

gpuTest("train-vae: train.patchSize trains on random crops of each volume and validates on whole ones", async () => {
  // The loader: every sample a window of its whole volume, at places that change with the epoch.
  const cfg = structuredClone(vaeSchema.defaults);
  Object.assign(cfg.data, { length: 12, size: 8 });
  Object.assign(cfg.train, { batchSize: 3, patchSize: [4, 6, 2] });
  const data = await openVolumeData(cfg.data, cfg.seed), loader = vaeTrainLoader(cfg, data);
  const starts: string[][] = [[], []];
  for (const epoch of [0, 1]) {
    for await (const b of loader.cpuBatches(epoch)) {
      assertEquals(b.images.shape, [3, 1, 4, 6, 2]);
      for (let k = 0; k < 3; k++) {
        const whole = (await data.train.get(b.indices[k])).image.data;
        const crop = b.images.data.subarray(k * 48, (k + 1) * 48), found: string[] = [];
        for (let z = 0; z <= 4; z++) {
          for (let y = 0; y <= 2; y++) {
            for (let x = 0; x <= 6; x++) {
              let same = true;
              for (let i = 0; i < 48 && same; i++) {
                const [dz, dy, dx] = [Math.floor(i / 12), Math.floor(i / 2) % 6, i % 2];
                same = crop[i] === whole[(z + dz) * 64 + (y + dy) * 8 + x + dx];
              }
              if (same) found.push(`${b.indices[k]}@${z},${y},${x}`);
            }
          }
        }
        assert(found.length > 0, `sample ${b.indices[k]} of epoch ${epoch} is no window of its volume`);
        starts[epoch].push(found[0]);
      }
    }
  }
  assert(starts[0].sort().join() !== starts[1].sort().join(), "the crops move between epochs");

  await withTempDir("meddiff-vae-", async (root) => {
    const out = await trainVaeCommand(
      [...TINY, "--train.epochs=1", "--train.batchSize=3", "--train.patchSize=[4,4,4]", `--output.root=${root}`],
      true,
    );
    const dir = out!.run.path, rows = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
    assert(rows.some((r) => "val_ssim" in JSON.parse(r)), "validated on whole volumes");
    out!.result.model.dispose();
    for (const patch of ["[4,4]", "[16,4,4]", "[3,4,4]"]) {
      await assertRejects(
        () => trainVaeCommand([...TINY, `--train.patchSize=${patch}`, `--output.root=${root}/bad`], true),
        ConfigError,
        "train.patchSize",
      );
    }
  });
});

/**
 * Two runs of `args` for 2 epochs under `root`, one straight and one stopped after its first step
 * then resumed: asserts the resumed model equals the straight one; returns both runs' results (the
 * caller disposes the models) and the straight run's metrics rows.
 */
async function straightAndResumed(args: string[], root: string, msg: string) {
  const straight = await trainVaeCommand([...args, "--train.epochs=2", `--output.root=${root}/a`], true);
  const first = await trainVaeCommand(
    [...args, "--train.epochs=2", `--output.root=${root}/b`],
    true,
    interruptAtFirstStep(),
  );
  assert(straight && first && first.result.interrupted, "the second run stopped after its first step");
  const resumed = await trainVaeCommand(["--resume", first.run.path], true);
  assert(resumed);
  await assertSameState(straight.result.model, resumed.result.model, msg);
  const rows = (await Deno.readTextFile(`${straight.run.path}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  return { straight, runs: [straight, first, resumed], rows };
}

gpuTest(
  "train-vae with the adversarial term: discriminator in the checkpoints, exact resume, latents still encode",
  async () => {
    await withTempDir("meddiff-vae-adv-", async (root) => {
      const adv = [
        ...TINY,
        "--loss.advWeight=0.1",
        "--loss.discChannels=4",
        "--loss.discLayers=1",
        "--train.batchSize=3",
        "--train.logEvery=1",
      ];
      const { straight, runs, rows } = await straightAndResumed(adv, root, "after resuming");
      const keys = Object.keys(straight.result.model.stateDict());
      assert(keys.includes("discriminator.initial_conv.conv.weight") && keys.includes("discriminator.0.conv.weight"));
      assert(rows.some((r) => r.train_adv_generator > 0 && r.train_adv_discriminator > 0), "both terms logged");
      for (const r of runs) r.result.model.dispose();
      const latents = await encodeLatentsCommand(["--vae", straight.run.path], true);
      assert(latents, "the run's VAE (with its discriminator) loads strictly for encoding");
      await assertRejects(
        () =>
          trainVaeCommand([...TINY, "--loss.advWeight=0.1", "--loss.discLayers=3", `--output.root=${root}/c`], true),
        ConfigError,
        "loss.discLayers 3",
      );
    });
  },
);

gpuTest("train-vae with the perceptual term: logged, resumed exactly, and refused without a network", async () => {
  await withTempDir("meddiff-vae-perceptual-", async (root) => {
    const net = resnet18({ numClasses: 0, baseWidth: 4 });
    const weights = `${root}/resnet.safetensors`;
    await saveSafetensors(weights, net.stateDict());
    net.dispose();
    const opts = [
      ...TINY,
      "--loss.perceptualWeight=0.3",
      `--loss.perceptualNetwork=${weights}`,
      "--loss.perceptualSliceFraction=0.25",
      "--train.batchSize=3",
      "--train.logEvery=1",
    ];
    const { runs, rows } = await straightAndResumed(opts, root, "after resuming (the same slices drawn)");
    assert(rows.some((r) => r.train_perceptual > 0), "the term is logged");
    for (const r of runs) r.result.model.dispose();
    await assertRejects(
      () => trainVaeCommand([...TINY, "--loss.perceptualWeight=0.3", `--output.root=${root}/c`], true),
      ConfigError,
      "loss.perceptualWeight 0.3 needs loss.perceptualNetwork",
    );
    await assertRejects(
      () => trainVaeCommand([...TINY, `--loss.perceptualNetwork=${weights}`, `--output.root=${root}/c`], true),
      ConfigError,
      "loss.perceptualWeight is 0",
    );
  });
});
