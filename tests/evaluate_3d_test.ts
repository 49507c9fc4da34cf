/**
 * `deno task evaluate-3d` end to end: a slice classifier trained on a synthetic MedMNIST 3D
 * archive (data.sliceAxis), then "generated" volumes that are copies of the real test volumes:
 * their per-slice Fréchet distance is 0 along every axis, below the real training volumes' floor.
 */
import { zipSync } from "fflate";
import { writeNifti } from "../datasets/nifti_write.ts";
import { trainClassifierCommand } from "../tasks/classify/commands.ts";
import { evaluate3dCommand } from "../tasks/generation/volumes.ts";
import { ConfigError } from "../train/config.ts";
import { encodeNpy } from "../util/formats/npy.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, withTempDir } from "./_util.ts";

const S = 8;
const voxel = (v: number, i: number) => (Math.sin(i * 0.3 + v) * 90 + 128 + (v % 2) * 40 * Math.cos(i * 0.05)) & 255;

gpuTest("evaluate-3d: copies of the test volumes are at distance 0 on every axis, under the floor", async () => {
  await withTempDir("meddiff-eval3d-", async (root) => {
    let at = 0;
    const split = (name: string, n: number) => {
      const first = at;
      at += n;
      return {
        [`${name}_images.npy`]: encodeNpy({
          dtype: "uint8",
          shape: [n, S, S, S],
          data: Uint8Array.from({ length: n * S ** 3 }, (_, i) => voxel(first + Math.floor(i / S ** 3), i % S ** 3)),
        }),
        [`${name}_labels.npy`]: encodeNpy({
          dtype: "uint8",
          shape: [n, 1],
          data: Array.from({ length: n }, (_, i) => (first + i) % 2),
        }),
      };
    };
    await Deno.writeFile(
      `${root}/vols.npz`,
      zipSync({ ...split("train", 6), ...split("val", 2), ...split("test", 4) }),
    );
    const cls = await trainClassifierCommand([
      "--data.dataset=medmnist",
      `--data.path=${root}/vols.npz`,
      "--data.sliceAxis=0",
      "--data.labelCheck=off",
      "--train.epochs=1",
      "--train.batchSize=8",
      `--output.root=${root}/runs`,
    ], true);
    // The test volumes (indices 8–11 of the archive) written as generated NIfTI files.
    for (let v = 0; v < 4; v++) {
      const data = Float32Array.from({ length: S ** 3 }, (_, i) => voxel(8 + v, i) / 255);
      await Deno.mkdir(`${root}/gen/${(8 + v) % 2}`, { recursive: true });
      await writeNifti(`${root}/gen/${(8 + v) % 2}/sample_${v}.nii.gz`, { data, shape: [S, S, S] });
    }
    const out = await evaluate3dCommand(["--volumes", `${root}/gen`, "--features", cls!.run.path], true);
    const axes = out!.report.axes as { fd: number; floor_fd: number; slices: { test: number; generated: number } }[];
    assertEquals(axes.length, 3);
    for (const a of axes) {
      assertEquals(a.slices.test, a.slices.generated);
      assert(Math.abs(a.fd) < 1e-3 && a.floor_fd > 10 * Math.abs(a.fd), JSON.stringify(a));
    }
    await assertRejects(() => evaluate3dCommand(["--volumes", `${root}/gen`], true), ConfigError, "--features");
  });
});
