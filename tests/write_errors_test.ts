/**
 * Writers on a full disk or a blocked path (issue #13): TensorBoard events, metrics.jsonl,
 * train.log, atomic writes (checkpoints, configs, PNGs) and run folders all fail with a
 * WriteError naming the file and what was being written. A full disk is /dev/full where one
 * exists, and a 64 KiB tmpfs where this process may mount one (root with --allow-run).
 */
import { resolveConfig } from "../train/config.ts";
import { ddpmSchema } from "../tasks/ddpm/config.ts";
import { Logger } from "../train/logger.ts";
import { createRunDir, JsonlWriter, writeNew } from "../train/run_dir.ts";
import { WriteError } from "../util/errors.ts";
import { SummaryWriter } from "../util/formats/tfevents.ts";
import { writeFileAtomic, writeFileAtomicSync } from "../util/io.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { skippableTest } from "./_skip.ts";

const DEV_FULL = "/dev/full";
const hasDevFull = (() => {
  try {
    return Deno.statSync(DEV_FULL).isCharDevice === true;
  } catch {
    return false;
  }
})();

async function inTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "write_errors_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(cmd: string, ...args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false; // no --allow-run, or no such command
  }
}

/** Whether a 64 KiB tmpfs can be mounted here (root, with --allow-run). */
const canMount = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "write_errors_probe_" });
  const ok = await run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir);
  if (ok) await run("umount", dir);
  await Deno.remove(dir);
  return ok;
})();

/** The WriteError `fn` throws: it names `file` and says what was written. */
function expectWriteError(e: unknown, file: string, what: string): void {
  assert(e instanceof WriteError, `a WriteError, got ${e}`);
  assertEquals(e.file, file);
  assert(e.message.startsWith(`${file}: cannot write ${what} (`), e.message);
}

skippableTest({
  name: "writers on a full device (/dev/full): train.log and metrics.jsonl name the file",
  skip: !hasDevFull && "/dev/full",
  fn: () => {
    const log = new Logger("unused", { file: DEV_FULL, console: null });
    expectWriteError(assertThrows(() => log.info("step 1")), DEV_FULL, "the log");
    log.close();
    const metrics = new JsonlWriter(DEV_FULL);
    expectWriteError(assertThrows(() => metrics.write({ step: 1, loss: 0.5 })), DEV_FULL, "JSON lines");
    metrics.close();
  },
});

Deno.test("writers on a blocked path (a file where a folder should be) name the file", async () => {
  await inTempDir(async (dir) => {
    const blocker = `${dir}/blocker`;
    await Deno.writeTextFile(blocker, "a file, not a folder");
    const under = `${blocker}/x`;
    expectWriteError(assertThrows(() => new SummaryWriter(under)), under, "the folder of the TensorBoard events");
    expectWriteError(assertThrows(() => new Logger(under)), `${under}/train.log`, "the log");
    expectWriteError(assertThrows(() => new JsonlWriter(`${under}.jsonl`)), `${under}.jsonl`, "JSON lines");
    expectWriteError(await assertRejects(() => writeFileAtomic(`${under}.png`, "x")), `${under}.png`, "the file");
    expectWriteError(assertThrows(() => writeFileAtomicSync(`${under}.json`, "x")), `${under}.json`, "the file");
    expectWriteError(await assertRejects(() => writeNew(`${under}.txt`, "x")), `${under}.txt`, "the file");
    expectWriteError(await assertRejects(() => createRunDir(under, "run")), under, "the folder of the runs");
    const loaded = resolveConfig(ddpmSchema);
    expectWriteError(
      await assertRejects(() => loaded.saveResolvedConfig(under)),
      `${under}/config.yaml`,
      "the resolved configuration",
    );
  });
});

skippableTest({
  name: "writers on a full disk (64 KiB tmpfs): TensorBoard events, log, metrics and atomic writes name the file",
  skip: !canMount && "root and --allow-run (to mount a tmpfs)",
  fn: async () => {
    await inTempDir(async (dir) => {
      assert(await run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir), "mounted");
      try {
        const tb = new SummaryWriter(dir, { flushMillis: 1e9 });
        const log = new Logger(dir, { console: null });
        const metrics = new JsonlWriter(`${dir}/metrics.jsonl`);
        // Fill the disk: the write stops with ENOSPC once every block is taken.
        await Deno.writeFile(`${dir}/filler`, new Uint8Array(256 << 10)).catch(() => {});
        const big = "x".repeat(32 << 10);
        tb.addText("config", big, 1);
        expectWriteError(assertThrows(() => tb.flush()), tb.path, "TensorBoard events");
        tb.close();
        expectWriteError(assertThrows(() => log.info(big)), log.path, "the log");
        log.close();
        expectWriteError(assertThrows(() => metrics.write({ note: big })), metrics.path, "JSON lines");
        metrics.close();
        const ckpt = `${dir}/ckpt-000001.safetensors`;
        expectWriteError(
          await assertRejects(() => writeFileAtomic(ckpt, new Uint8Array(64 << 10), { what: "the checkpoint" })),
          ckpt,
          "the checkpoint",
        );
        const left = [...Deno.readDirSync(dir)].map((e) => e.name);
        assert(!left.some((n) => n.endsWith(".tmp")), `no temporary file left: ${left}`);
      } finally {
        await run("umount", dir);
      }
    });
  },
});
