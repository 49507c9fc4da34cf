/**
 * The 3-D latent pipeline end to end on procedural volumes: train-vae → encode-latents →
 * train-dit3d (window blocks, EMA) → sample-3d (NIfTI volumes read back with their size and
 * affine, mid-slice PNGs per class, whole and tiled decoding), and configuration errors named
 * before any folder is made.
 */
import { readNifti } from "../datasets/nifti.ts";
import { ConfigError } from "../train/config.ts";
import { sample3dCommand } from "../tasks/dit3d/sample.ts";
import { trainDit3dCommand } from "../tasks/dit3d/commands.ts";
import { assert, assertEquals, assertRejects } from "./_asserts.ts";
import { gpuTest, withTempDir } from "./_util.ts";
import { tiny3dPipeline, TINY_DIT3D } from "./_pipelines.ts";

gpuTest("3-D pipeline: VAE, latents, DiT3D and sampling to NIfTI", async () => {
  await withTempDir("meddiff-3d-", async (root) => {
    const { latents, dit } = await tiny3dPipeline(root, 2);
    assertEquals(dit!.result.epochsDone, 2);
    assertEquals(dit!.result.model.config.gridSize, [2, 2, 2]);
    const saved = JSON.parse(await Deno.readTextFile(`${dit!.run.path}/latents.json`));
    assertEquals(saved.shape, [4, 4, 4, 4]);
    dit!.result.model.dispose();

    for (const tile of [null, "2"]) {
      const out = await sample3dCommand(
        ["--run", dit!.run.path, "--count", "2", "--steps", "3", "--out", `${root}/s${tile ?? ""}`].concat(
          tile ? ["--tile", tile] : [],
        ),
        true,
      );
      assertEquals(Object.keys(out!.volumes), ["normal", "mass"]);
      assertEquals(out!.figures.length, 2);
      const v = await readNifti(out!.volumes.mass[1]);
      assertEquals(v.shape, [8, 8, 8]);
      assertEquals(v.meta.affineSource, "sform");
      assert(v.data.every(Number.isFinite), "finite voxels");
    }
    const one = await sample3dCommand(["--run", dit!.run.path, "--label", "1", "--count", "1", "--steps", "2"], true);
    assertEquals(Object.keys(one!.volumes), ["mass"]);
    await assertRejects(() => sample3dCommand(["--run", dit!.run.path, "--label", "2"], true), ConfigError, "--label");

    await assertRejects(
      () =>
        trainDit3dCommand(
          ["--latents", latents!.dir, ...TINY_DIT3D, "--model.patchSize=[3,2,2]", `--output.root=${root}/x`],
          true,
        ),
      ConfigError,
      "model.patchSize",
    );
    await assertRejects(
      () => trainDit3dCommand([...TINY_DIT3D, `--output.root=${root}/x`], true),
      ConfigError,
      "--latents",
    );
    await assertRejects(
      () => trainDit3dCommand(["--latents", `${root}/none`, ...TINY_DIT3D, `--output.root=${root}/x`], true),
      ConfigError,
      "latents.path",
    );
  });
});
