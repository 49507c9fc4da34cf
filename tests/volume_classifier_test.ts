/**
 * A 3-D classifier through `deno task train-classifier` / `evaluate`: a MedMNIST 3D archive without
 * data.sliceAxis trains a 3-D ResNet-18 on its volumes, with generated NIfTI volumes beside the real
 * ones (data.syntheticPath, training only) or alone (data.syntheticOnly: the classification
 * accuracy score), and is evaluated on the real test split; image-only architectures are refused.
 */
import { zipSync } from "fflate";
import { writeNifti } from "../datasets/nifti_write.ts";
import { evaluateCommand, trainClassifierCommand } from "../tasks/classify/commands.ts";
import { ConfigError } from "../train/config.ts";
import { encodeNpy } from "../util/formats/npy.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, withTempDir } from "./_util.ts";

const S = 6;

gpuTest("3-D classifier: real + generated NIfTI volumes, generated alone, evaluated on real volumes", async () => {
  await withTempDir("meddiff-cls3d-", async (root) => {
    const split = (name: string, n: number, offset: number) => ({
      [`${name}_images.npy`]: encodeNpy({
        dtype: "uint8",
        shape: [n, S, S, S],
        data: Uint8Array.from({ length: n * S ** 3 }, (_, i) => ((i * 11 + offset * 37) & 255)),
      }),
      [`${name}_labels.npy`]: encodeNpy({
        dtype: "uint8",
        shape: [n, 1],
        data: Array.from({ length: n }, (_, i) => i % 2),
      }),
    });
    await Deno.writeFile(
      `${root}/vols.npz`,
      zipSync({ ...split("train", 4, 0), ...split("val", 2, 1), ...split("test", 2, 2) }),
    );
    for (const k of [0, 1]) {
      await Deno.mkdir(`${root}/gen/${k}`, { recursive: true });
      for (let i = 0; i < 3; i++) {
        const data = Float32Array.from({ length: S ** 3 }, (_, j) => ((j * (k + 2) + i) % 7) / 6);
        await writeNifti(`${root}/gen/${k}/sample_${i}.nii.gz`, { data, shape: [S, S, S] });
      }
    }
    const common = [
      "--data.dataset=medmnist",
      `--data.path=${root}/vols.npz`,
      "--data.labelCheck=off",
      "--train.epochs=1",
      "--train.batchSize=2",
      "--model.baseWidth=8",
      `--output.root=${root}/runs`,
    ];
    const mixed = await trainClassifierCommand([
      ...common,
      `--data.syntheticPath=${root}/gen`,
      "--data.syntheticRatio=1",
    ], true);
    const log = await Deno.readTextFile(`${mixed!.run.path}/train.log`);
    assert(log.includes("4 synthetic from"), "4 generated volumes beside the 4 real ones");
    assertEquals(mixed!.result.model.constructor.name, "ResNet");
    mixed!.result.model.dispose();
    const only = await trainClassifierCommand([
      ...common,
      `--data.syntheticPath=${root}/gen`,
      "--data.syntheticOnly=true",
    ], true);
    only!.result.model.dispose();
    const ev = await evaluateCommand(["--run", only!.run.path, "--bootstrap", "20"], true);
    assert(ev!.metrics.accuracy.value >= 0 && ev!.metrics.accuracy.value <= 1);
    const saved = JSON.parse(await Deno.readTextFile(`${only!.run.path}/eval-test/metrics.json`));
    assertEquals(saved.samples, 2, "evaluated on the 2 real test volumes");
    await assertRejects(
      () => trainClassifierCommand([...common, "--model.arch=vitS16"], true),
      ConfigError,
      "for volumes",
    );
  });
});
