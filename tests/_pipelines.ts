/** Tiny runs several test files build on: the 3-D pipeline (VAE → latents → DiT3D) on procedural 8³ volumes. */
import { trainDit3dCommand } from "../tasks/dit3d/commands.ts";
import { encodeLatentsCommand, trainVaeCommand } from "../tasks/vae3d/commands.ts";

/** The tiny DiT3D's options (a 2³ grid of 4-channel latents, window attention in block 1). */
export const TINY_DIT3D: readonly string[] = [
  "--model.depth=2",
  "--model.hiddenSize=24",
  "--model.numHeads=2",
  "--model.windowSize=[2,2,2]",
  "--model.windowBlocks=[1]",
  "--train.batchSize=3",
];

/** Trains a tiny VAE (1 epoch), encodes its latents and trains a tiny DiT3D on them, all under `root`. */
export async function tiny3dPipeline(root: string, ditEpochs: number) {
  const vae = await trainVaeCommand([
    "--model.numChannels=[8,16]",
    "--model.normNumGroups=4",
    "--data.length=12",
    "--data.size=8",
    "--train.epochs=1",
    "--train.batchSize=3",
    `--output.root=${root}`,
  ], true);
  vae!.result.model.dispose();
  const latents = await encodeLatentsCommand(["--vae", vae!.run.path], true);
  const dit = await trainDit3dCommand(
    ["--latents", latents!.dir, ...TINY_DIT3D, `--train.epochs=${ditEpochs}`, `--output.root=${root}`],
    true,
  );
  return { vae: vae!, latents: latents!, dit: dit! };
}
