/**
 * `kill -9` during a checkpoint save: a real `deno task train` child process is killed while an
 * atomic write is half-way (its temporary file exists); the next run removes the leftover,
 * resumes from the last complete checkpoint and ends bit-identical to an uninterrupted run.
 */
import { trainCommand } from "../tasks/ddpm/commands.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { skippableTest } from "./_skip.ts";
import { assertSameState, withTempDir } from "./_util.ts";

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
  skip: Deno.permissions.querySync({ name: "run" }).state === "granted" && Deno.build.os !== "windows"
    ? null
    : "--allow-run",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTempDir("kill_save_", async (root) => {
      const straight = await trainCommand([...ARGS, `--output.root=${root}/straight`], true);
      assert(straight);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../tasks/train.ts", import.meta.url).pathname,
          ...ARGS,
          `--output.root=${root}/cut`,
        ],
        env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
        stdout: "null",
        stderr: "null",
      }).spawn();
      const waitForRun = async (): Promise<string> => {
        for (;;) {
          try {
            const [e] = [...Deno.readDirSync(`${root}/cut`)];
            if (e) return `${root}/cut/${e.name}`;
          } catch { /* not made yet */ }
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const run = await waitForRun();
      const tmp = await firstTemporary(`${run}/checkpoints`, child.status);
      child.kill("SIGKILL");
      const status = await child.status;
      assert(tmp !== null, "the child finished before a save was caught half-way");
      assertEquals(status.signal, "SIGKILL");
      const left = [...Deno.readDirSync(`${run}/checkpoints`)].map((e) => e.name);
      assert(left.some((n) => n.endsWith(".tmp")), `the killed save left its temporary file (${left.join(", ")})`);

      const resumed = await trainCommand(["--resume", run, "--no-sample"], true);
      assert(resumed);
      assertEquals(resumed.result.step, straight.result.step);
      assertEquals([...Deno.readDirSync(`${run}/checkpoints`)].filter((e) => e.name.endsWith(".tmp")), []);
      assert((await Deno.readTextFile(`${run}/train.log`)).includes("unfinished file(s)"), "the cleanup is logged");
      await assertSameState(straight.result.unet, resumed.result.unet, "after kill -9 during a save and a resume");
    }),
});
