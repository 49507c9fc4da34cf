/**
 * Data parallelism (train/data_parallel.ts, util/mpi.ts): the sharded sampler's coverage, the
 * launcher environment, and — with Open MPI's `mpirun` on the machine — two ranks against one
 * process, a rank that dies, and a rank that hangs (tests/_data_parallel_child.ts is the program).
 */
import { DataLoader } from "../datasets/loader.ts";
import { RandomSampler, ShardedSampler, shardIndices } from "../datasets/sampler.ts";
import { TensorDataset } from "../datasets/tensor_dataset.ts";
import { launchedWorld } from "../util/mpi.ts";
import { readNifti } from "../datasets/nifti.ts";
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { CAN_RUN, skippableTest } from "./_skip.ts";
import { TINY_UNET, withTempDir } from "./_util.ts";
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { tiny3dPipeline } from "./_pipelines.ts";

Deno.test("shardIndices: every position of an epoch once over the ranks, padded or cut as DistributedSampler", () => {
  const order = Int32Array.from([7, 3, 9, 1, 0, 4, 8]);
  const shares = [0, 1, 2].map((rank) => Array.from(shardIndices(order, { rank, worldSize: 3 })));
  assertEquals(shares, [[7, 1, 8], [3, 0, 7], [9, 4, 3]]); // padded with the order's first indices
  const covered = new Set(shares.flat());
  assertEquals([...covered].sort((a, b) => a - b), [0, 1, 3, 4, 7, 8, 9]);
  const cut = [0, 1, 2].map((rank) => Array.from(shardIndices(order, { rank, worldSize: 3 }, true)));
  assertEquals(cut, [[7, 1], [3, 0], [9, 4]]);
  assertThrows(() => shardIndices(order, { rank: 3, worldSize: 3 }), RangeError, "rank must be an integer");
});

Deno.test("ShardedSampler: the ranks' shares of a shuffled epoch are disjoint and cover it exactly once", () => {
  for (const n of [12, 13, 1000]) {
    const seen = new Map<number, number>();
    for (let rank = 0; rank < 4; rank++) {
      const s = new ShardedSampler(new RandomSampler(n, { seed: 5 }), { rank, worldSize: 4 });
      s.setEpoch(3);
      const idx = s.indices();
      assertEquals(idx.length, Math.ceil(n / 4));
      for (const i of idx) seen.set(i, (seen.get(i) ?? 0) + 1);
    }
    assertEquals(seen.size, n, `n ${n}: every index visited`);
    const extra = [...seen.values()].reduce((a, b) => a + b, 0) - n;
    assertEquals(extra, Math.ceil(n / 4) * 4 - n, `n ${n}: only the padding repeats`);
  }
});

Deno.test("DataLoader.sharded: batch k of every rank together is batch k of one loader with the world's batch", async () => {
  const n = 24;
  const ds = new TensorDataset({ data: new Float32Array(n * 4), shape: [n, 1, 2, 2] });
  const whole = new DataLoader(ds, { batchSize: 6, shuffle: true, seed: 9, dropLast: true });
  const parts = [0, 1].map((rank) =>
    new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 9, dropLast: true }).sharded({ rank, worldSize: 2 })
  );
  assertEquals(parts.map((p) => p.length), [4, 4]);
  const big: number[][] = [];
  for await (const b of whole.cpuBatches(2)) big.push([...b.indices].sort((a, c) => a - c));
  const ranks = await Promise.all(parts.map(async (p) => {
    const out: number[][] = [];
    for await (const b of p.cpuBatches(2)) out.push([...b.indices]);
    return out;
  }));
  assertEquals(ranks[0].map((b, k) => [...b, ...ranks[1][k]].sort((a, c) => a - c)), big);
});

Deno.test("launchedWorld: Open MPI, MPICH and srun variables; nothing without a launcher or in a batch script", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assertEquals(launchedWorld(env({})), null);
  assertEquals(launchedWorld(env({ OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "4" })), {
    rank: 1,
    size: 4,
    launcher: "openmpi",
  });
  assertEquals(launchedWorld(env({ PMI_RANK: "0", PMI_SIZE: "2" }))?.launcher, "mpich");
  assertEquals(launchedWorld(env({ SLURM_PROCID: "0", SLURM_NTASKS: "8" })), null, "the batch script itself");
  assertEquals(
    launchedWorld(env({ SLURM_STEP_ID: "0", SLURM_PROCID: "3", SLURM_STEP_NUM_TASKS: "8" })),
    { rank: 3, size: 8, launcher: "slurm" },
  );
  assertThrows(() => launchedWorld(env({ PMI_RANK: "2", PMI_SIZE: "2" })), Error, "not a rank within a world size");
});

/** Whether `command --version` runs here. */
const runs = (command: string): boolean => {
  if (!CAN_RUN) return false;
  try {
    return new Deno.Command(command, { args: ["--version"], stdout: "piped", stderr: "piped" }).outputSync().success;
  } catch {
    return false;
  }
};
// Open MPI's launcher by its own name where MPICH is installed too (`mpirun` may be either).
const MPIRUN = runs("mpirun.openmpi") ? "mpirun.openmpi" : "mpirun";
const needsMpi = !CAN_RUN ? "--allow-run" : !runs(MPIRUN) && "mpirun (Debian: openmpi-bin libopenmpi-dev)";
const CHILD = new URL("./_data_parallel_child.ts", import.meta.url).pathname;
const MEDDIFF = new URL("../meddiff.ts", import.meta.url).pathname;

/** Runs the child program (or `script`), alone or under `mpirun -np ranks` (one llvmpipe thread per rank). */
async function runChild(
  ranks: number,
  args: string[],
  env: Record<string, string> = {},
  script = CHILD,
): Promise<{ code: number; output: string; seconds: number }> {
  const deno = [Deno.execPath(), "run", "-A", script, ...args];
  const cmd = ranks > 1 ? [MPIRUN, "--oversubscribe", "-np", String(ranks), ...deno] : deno;
  const t0 = performance.now();
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: {
      LP_NUM_THREADS: "1",
      MEDDIFF_AUTOTUNE: "0", // fixed kernels, whatever the parent's tests set
      OMPI_ALLOW_RUN_AS_ROOT: "1",
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, output: text, seconds: (performance.now() - t0) / 1000 };
}

async function readParams(path: string): Promise<Float32Array> {
  return new Float32Array((await Deno.readFile(path)).buffer);
}

skippableTest({
  name: "data parallel: two ranks at batch 3 end where one process at batch 6 does; the ranks are bit-identical",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_equal_", async (dir) => {
      await Deno.mkdir(`${dir}/one`);
      await Deno.mkdir(`${dir}/two`);
      const one = await runChild(1, ["--batch", "6", "--out", `${dir}/one`]);
      assertEquals(one.code, 0, one.output);
      const two = await runChild(2, ["--batch", "3", "--out", `${dir}/two`]);
      assertEquals(two.code, 0, two.output);
      const [a, r0, r1] = await Promise.all(
        [`${dir}/one/rank0.bin`, `${dir}/two/rank0.bin`, `${dir}/two/rank1.bin`].map(readParams),
      );
      assertEquals(r0, r1, "ranks bit-identical");
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - r0[i]));
      assert(worst < 1e-6, `two ranks vs one process: max |Δ| ${worst} (6 AdamW steps)`);
      const epochLoss = async (folder: string) => {
        const run = [...Deno.readDirSync(folder)].find((e) => e.isDirectory)!.name;
        return (await Deno.readTextFile(`${folder}/${run}/train.log`)).match(/epoch 1\/1: train loss ([\d.]+)/)?.[1];
      };
      assertEquals(await epochLoss(`${dir}/two`), await epochLoss(`${dir}/one`), "the logged loss is the whole job's");
    });
  },
});

skippableTest({
  name: "data parallel: a rank killed mid-run ends the whole job, non-zero, within seconds",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_kill_", async (dir) => {
      const r = await runChild(2, ["--batch", "3", "--out", dir, "--die-after", "3"]);
      assert(r.code !== 0, "the job fails");
      assert(r.seconds < 60, `ended in ${r.seconds.toFixed(1)} s`);
      assert(/rank 1 .*exited on signal 9/.test(r.output), r.output);
    });
  },
});

skippableTest({
  name: "data parallel: a rank that stops answering ends the job after MEDDIFF_MPI_TIMEOUT with a clear error",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_hang_", async (dir) => {
      const r = await runChild(2, ["--batch", "3", "--out", dir, "--hang-after", "3"], { MEDDIFF_MPI_TIMEOUT: "3" });
      assert(r.code !== 0, "the job fails");
      assert(r.seconds < 60, `ended in ${r.seconds.toFixed(1)} s`);
      assert(r.output.includes("rank 0 of 2: all-reduce of"), r.output);
      assert(r.output.includes("another rank has probably died or stopped"), r.output);
    });
  },
});

skippableTest({
  name:
    "data parallel: a stop asked of rank 0 alone stops both ranks at one step; resumed on one process it ends as one",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_resume_", async (dir) => {
      for (const d of ["one", "two", "resumed"]) await Deno.mkdir(`${dir}/${d}`);
      const one = await runChild(1, ["--batch", "6", "--out", `${dir}/one`]);
      assertEquals(one.code, 0, one.output);
      const two = await runChild(2, ["--batch", "3", "--out", `${dir}/two`, "--stop-at", "2"]);
      assert(two.code !== 0, "an interrupted job exits non-zero");
      assert(/Exit code:\s+143/.test(two.output), two.output);
      const run = `${dir}/two/${[...Deno.readDirSync(`${dir}/two`)].find((e) => e.isDirectory)!.name}`;
      assertEquals([...Deno.readDirSync(`${run}/checkpoints`)].map((e) => e.name), ["ckpt-000002.safetensors"]);
      const [r0, r1] = await Promise.all([`${dir}/two/rank0.bin`, `${dir}/two/rank1.bin`].map(readParams));
      assertEquals(r0, r1, "both ranks stopped after the same step");
      const resumed = await runChild(1, [
        "--batch",
        "6",
        "--out",
        `${dir}/resumed`,
        "--run",
        run,
        "--resume",
        `${run}/checkpoints/ckpt-000002.safetensors`,
      ]);
      assertEquals(resumed.code, 0, resumed.output);
      const [a, b] = await Promise.all([`${dir}/one/rank0.bin`, `${dir}/resumed/rank0.bin`].map(readParams));
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert(worst < 1e-6, `resumed on one process vs never interrupted: max |Δ| ${worst}`);
      assert((await Deno.readTextFile(`${run}/train.log`)).includes("resuming a run of 2 process(es) with 1"));
    });
  },
});

/** Every file under `dir` (relative path → bytes). */
async function filesUnder(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    if (e.isDirectory) {
      for (const [k, v] of await filesUnder(`${dir}/${e.name}`, `${prefix}${e.name}/`)) out.set(k, v);
    } else out.set(prefix + e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return out;
}

/** Runs a command alone into `<dir>/one`, then on two ranks into `<dir>/two`; both must succeed with the same file names. */
async function oneThenTwoRanks(
  command: (ranks: number, out: string) => Promise<{ code: number; output: string }>,
  dir: string,
): Promise<[Map<string, Uint8Array>, Map<string, Uint8Array>]> {
  for (const [ranks, out] of [[1, "one"], [2, "two"]] as const) {
    const r = await command(ranks, `${dir}/${out}`);
    assertEquals(r.code, 0, r.output);
  }
  const [a, b] = await Promise.all([filesUnder(`${dir}/one`), filesUnder(`${dir}/two`)]);
  assertEquals([...b.keys()], [...a.keys()]);
  return [a, b];
}

skippableTest({
  name: "data parallel: deno task sample on two ranks writes exactly the files one process writes",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_sample_", async (dir) => {
      const trained = await trainCommand([
        "--data.length=24",
        "--data.imageSize=8",
        "--data.valFraction=0.25",
        ...TINY_UNET,
        "--train.batchSize=6",
        "--train.epochs=1",
        "--no-sample",
        `--output.root=${dir}`,
      ], true);
      assert(trained);
      const sample = (ranks: number, out: string) =>
        runChild(
          ranks,
          [
            "sample",
            "--run",
            trained.run.path,
            "--per-class",
            "3",
            "--steps",
            "3",
            "--sampler",
            "ddpm", // step noise too, not only the initial noise
            "--batch-size",
            "5",
            "--out",
            out,
            "--images",
            `${out}/images`,
          ],
          {},
          MEDDIFF,
        );
      const [a, b] = await oneThenTwoRanks(sample, dir);
      assert([...a.keys()].filter((k) => k.startsWith("images/")).length === 12, "4 classes × 3 images");
      for (const [k, v] of a) assertEquals(b.get(k), v, `${k} differs`);
    });
  },
});

skippableTest({
  name: "data parallel: deno task sample-3d on two ranks writes the volumes and figures one process writes",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_sample3d_", async (root) => {
      const { dit } = await tiny3dPipeline(root, 1);
      dit!.result.model.dispose();
      const sample = (ranks: number, out: string) =>
        runChild(
          ranks,
          ["sample-3d", "--run", dit!.run.path, "--count", "3", "--steps", "3", "--batch-size", "1", "--out", out],
          {},
          MEDDIFF,
        );
      const [a, b] = await oneThenTwoRanks(sample, root);
      assertEquals([...a.keys()].filter((k) => k.endsWith(".nii.gz")).length, 6, "2 classes × 3 volumes");
      // Byte-identical run alone (and in every run but one); once, inside the full suite, one volume differed at
      // float round-off, cause not found (#19): the volumes are compared to 1e-5 and any difference is printed.
      for (const [k, v] of a) {
        if (!k.endsWith(".nii.gz")) {
          assertEquals(b.get(k), v, `${k} differs`);
          continue;
        }
        const [x, y] = await Promise.all([`${root}/one/${k}`, `${root}/two/${k}`].map((f) => readNifti(f)));
        let worst = 0;
        for (let i = 0; i < x.data.length; i++) worst = Math.max(worst, Math.abs(x.data[i] - y.data[i]));
        if (worst > 0) console.warn(`sample-3d on 2 ranks: ${k} differs from 1 process by max |Δ| ${worst}`);
        assert(worst <= 1e-5, `${k}: max |Δ| ${worst}`);
      }
    });
  },
});

skippableTest({
  name: "data parallel: a command that does not share its work runs once under mpirun (the other ranks exit)",
  skip: needsMpi,
  fn: async () => {
    const r = await runChild(2, ["evaluate", "--help"], {}, MEDDIFF);
    assertEquals(r.code, 0, r.output);
    assertEquals(r.output.split("Usage: meddiff evaluate").length - 1, 1, r.output);
    assert(r.output.includes("runs on one process"), r.output);
  },
});

skippableTest({
  name: "data parallel: ranks wait for rank 0's validation however long it takes (no collective timeout there)",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_slow_val_", async (dir) => {
      const r = await runChild(2, ["--batch", "3", "--out", dir, "--slow-validation", "4"], {
        MEDDIFF_MPI_TIMEOUT: "2",
      });
      assertEquals(r.code, 0, r.output);
    });
  },
});

skippableTest({
  name: "data parallel: under MPICH's launcher (its ABI, libmpich.so.12) two ranks also end as one process does",
  skip: !CAN_RUN ? "--allow-run" : !runs("mpirun.mpich") && "mpirun.mpich (Debian: mpich)",
  fn: async () => {
    await withTempDir("dp_mpich_", async (dir) => {
      for (const d of ["one", "two"]) await Deno.mkdir(`${dir}/${d}`);
      const one = await runChild(1, ["--batch", "6", "--out", `${dir}/one`]);
      assertEquals(one.code, 0, one.output);
      const out = await new Deno.Command("mpirun.mpich", {
        args: ["-np", "2", Deno.execPath(), "run", "-A", CHILD, "--batch", "3", "--out", `${dir}/two`],
        env: { LP_NUM_THREADS: "1", MEDDIFF_AUTOTUNE: "0" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const [a, r0, r1] = await Promise.all(
        [`${dir}/one/rank0.bin`, `${dir}/two/rank0.bin`, `${dir}/two/rank1.bin`].map(readParams),
      );
      assertEquals(r0, r1, "ranks bit-identical");
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - r0[i]));
      assert(worst < 1e-6, `max |Δ| ${worst}`);
    });
  },
});

skippableTest({
  name: "data parallel: train.batchNormStats average leaves every rank with the mean of the per-rank statistics",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_bn_", async (dir) => {
      for (const d of ["own", "avg"]) {
        await Deno.mkdir(`${dir}/${d}`);
        const r = await runChild(2, [
          "--batch",
          "3",
          "--out",
          `${dir}/${d}`,
          "--bn",
          d === "own" ? "per-rank" : "average",
        ]);
        assertEquals(r.code, 0, r.output);
      }
      const [o0, o1, a0, a1] = await Promise.all(
        ["own/rank0", "own/rank1", "avg/rank0", "avg/rank1"].map((f) => readParams(`${dir}/${f}.bin`)),
      );
      // State order: fc 64→16 (1040), BatchNorm weight, bias (32), running_mean, running_var (32), num_batches
      // (1 int32), fc 16→4 (68).
      const stats = (x: Float32Array) => Array.from(x.subarray(1072, 1104));
      assert(stats(o0).some((v, i) => v !== stats(o1)[i]), "per rank: the statistics differ between ranks");
      assertEquals(Array.from(o0.subarray(0, 1072)), Array.from(o1.subarray(0, 1072)), "the parameters do not");
      assertEquals(a0, a1, "averaged: every rank holds the same state");
      const mean = stats(o0).map((v, i) => (v + stats(o1)[i]) / 2);
      stats(a0).forEach((v, i) => assert(Math.abs(v - mean[i]) <= 1e-6 * Math.max(1, Math.abs(mean[i])), `stat ${i}`));
    });
  },
});

skippableTest({
  name: "data parallel: a launched process without a loadable MPI library fails with an error naming what to install",
  skip: needsMpi,
  fn: async () => {
    await withTempDir("dp_nolib_", async (dir) => {
      const r = await runChild(2, ["--batch", "3", "--out", dir], { MEDDIFF_MPI_LIB: `${dir}/libmpi.so.40` });
      assert(r.code !== 0, "the job fails");
      assert(r.output.includes("no MPI library could be loaded"), r.output);
      assert(r.output.includes("apt-get install openmpi-bin libopenmpi3"), r.output);
    });
  },
});
