/**
 * A real SIGTERM stops a training run between two read-backs: a child process trains with
 * logging and validation far apart (no GPU read-back for thousands of steps), receives SIGTERM
 * once its loop runs, and must save a checkpoint and exit with 143 at the next step, not at the
 * next read-back.
 */
import { assert, assertEquals } from "./_asserts.ts";
import { withTempDir } from "./_util.ts";
import { NEEDS_SIGNALS, skippableTest } from "./_skip.ts";

skippableTest({
  name: "training: SIGTERM between read-backs stops the run at the next step (checkpoint, exit 143)",
  skip: NEEDS_SIGNALS,
  async fn() {
    await withTempDir("meddiff-sigterm-", async (dir) => {
      const meddiff = new URL("../meddiff.ts", import.meta.url).pathname;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-ffi",
          "--allow-sys",
          meddiff,
          "train-vae",
          "--model.numChannels=[4,8]",
          "--model.normNumGroups=2",
          "--data.length=100000", // 75,000 training volumes: one epoch is far longer than this test
          "--data.size=8",
          "--train.batchSize=2",
          "--train.logEvery=100000",
          "--train.validateEvery=1000",
          `--output.root=${dir}`,
        ],
        env: { XDG_RUNTIME_DIR: "/tmp", MEDDIFF_AUTOTUNE: "0" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Wait until the run has started its loop (train.log names the model), then a few seconds more.
      const deadline = Date.now() + 120_000;
      const started = async () => {
        for (const e of Deno.readDirSync(dir)) {
          const text = await Deno.readTextFile(`${dir}/${e.name}/train.log`).catch(() => "");
          if (text.includes("optimizer steps")) return true;
        }
        return false;
      };
      while (!(await started()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      await new Promise((r) => setTimeout(r, 4000));
      child.kill("SIGTERM");
      const err = new Response(child.stderr).text();
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const status = await child.status;
      clearTimeout(timer);
      const seen = await err;
      assertEquals(status.code, 143, `exit ${status.code}; stderr tail: ${seen.slice(-500)}`);
      const run = [...Deno.readDirSync(dir)][0].name;
      const log = await Deno.readTextFile(`${dir}/${run}/train.log`);
      assert(log.includes("interrupted (SIGTERM)"), log.slice(-400));
    });
  },
});
