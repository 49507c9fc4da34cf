/**
 * `kill -9` during a checkpoint save: a real `deno task train` child process is killed while an
 * atomic write is half-way (its temporary file exists); the next run removes the leftover,
 * resumes from the last complete checkpoint and ends bit-identical to an uninterrupted run.
 * Every run is a fresh process with fixed kernel choices (`MEDDIFF_AUTOTUNE=0`), so that the
 * kernels this test process has tuned do not enter the comparison.
 */
import { parseSafetensors } from "../util/formats/safetensors.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { NEEDS_SIGNALS, skippableTest } from "./_skip.ts";
import { withTempDir } from "./_util.ts";

/** `deno run meddiff.ts train args…` as a child process (output discarded). */
function trainProcess(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../meddiff.ts", import.meta.url).pathname, "train", ...args],
    env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** The only run folder under `root`, once it exists. */
async function runFolder(root: string): Promise<string> {
  for (;;) {
    try {
      const [e] = [...Deno.readDirSync(root)];
      if (e) return `${root}/${e.name}`;
    } catch { /* not made yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The model tensors of a run's last periodic checkpoint. */
async function finalWeights(run: string): Promise<Map<string, number[]>> {
  const last = [...Deno.readDirSync(`${run}/checkpoints`)].map((e) => e.name).filter((n) => n.startsWith("ckpt-"))
    .sort().at(-1)!;
  const { tensors } = parseSafetensors(await Deno.readFile(`${run}/checkpoints/${last}`));
  return new Map(
    Object.entries(tensors).filter(([k]) => k.startsWith("model.")).map(([k, t]) => [k, Array.from(t.data)]),
  );
}

const ARGS = [
  "--data.length=48",
  "--data.imageSize=8",
  "--data.valFraction=0.25",
  "--model.baseChannels=32", // ≈ 11 MB checkpoints: a save takes long enough to be caught half-way
  "--model.channelMults=[1,2]",
  "--model.attentionResolutions=[4]",
  "--model.numHeads=2",
  "--train.batchSize=12",
  "--train.epochs=2",
  "--train.checkpointEverySteps=1",
  "--train.keepCheckpoints=0",
  "--no-sample",
];

/** The first `.tmp` file seen in `dir` beside a complete checkpoint (polled), or null when `done` resolves first. */
async function firstTemporary(dir: string, done: Promise<unknown>): Promise<string | null> {
  let finished = false;
  done.then(() => (finished = true));
  while (!finished) {
    try {
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      const tmp = names.find((n) => n.endsWith(".tmp"));
      if (tmp && names.some((n) => n.endsWith(".safetensors"))) return tmp;
    } catch { /* the folder is not made yet */ }
    await new Promise((r) => setTimeout(r, 1));
  }
  return null;
}

skippableTest({
  name: "kill -9 during a checkpoint save: the next run cleans up and resumes exactly",
  skip: NEEDS_SIGNALS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTempDir("kill_save_", async (root) => {
      assertEquals((await trainProcess([...ARGS, `--output.root=${root}/straight`]).status).code, 0);
      const child = trainProcess([...ARGS, `--output.root=${root}/cut`]);
      const run = await runFolder(`${root}/cut`);
      const tmp = await firstTemporary(`${run}/checkpoints`, child.status);
      child.kill("SIGKILL");
      const status = await child.status;
      assert(tmp !== null, "the child finished before a save was caught half-way");
      assertEquals(status.signal, "SIGKILL");
      const left = [...Deno.readDirSync(`${run}/checkpoints`)].map((e) => e.name);
      assert(left.some((n) => n.endsWith(".tmp")), `the killed save left its temporary file (${left.join(", ")})`);

      assertEquals((await trainProcess(["--resume", run, "--no-sample"]).status).code, 0);
      assertEquals([...Deno.readDirSync(`${run}/checkpoints`)].filter((e) => e.name.endsWith(".tmp")), []);
      assert((await Deno.readTextFile(`${run}/train.log`)).includes("unfinished file(s)"), "the cleanup is logged");
      const want = await finalWeights(await runFolder(`${root}/straight`)), got = await finalWeights(run);
      assertEquals([...got.keys()], [...want.keys()]);
      for (const [k, v] of want) assertEquals(got.get(k), v, `${k} equal after kill -9 during a save and a resume`);
    }),
});
