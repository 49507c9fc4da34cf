/**
 * Run folders and the files in them: unique folder names, openRunDir's checks, no-clobber
 * writes, JSON Lines metrics, the logger, and Ctrl-C handling (with a fake signal
 * source, and with a real SIGINT sent to a child process when --allow-run is granted).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_asserts.ts";
import { createRunDir, JsonlWriter, openRunDir, readJsonl, runTimestamp, writeNew } from "../train/run_dir.ts";
import { baseName, dirName, joinPath } from "../util/path.ts";
import { Logger, logTimestamp } from "../train/logger.ts";
import { InterruptController, type SignalHost } from "../train/signals.ts";
import { withTempDir } from "./_util.ts";
import { WriteError } from "../util/errors.ts";
import { NEEDS_SIGNALS, skippableTest } from "./_skip.ts";

Deno.test("path helpers", () => {
  assertEquals(joinPath("runs/", "/a", "b.txt"), "runs/a/b.txt");
  assertEquals(joinPath("", "a"), "a");
  assertEquals(dirName("a/b/c.txt"), "a/b");
  assertEquals(dirName("c.txt"), ".");
  assertEquals(dirName("/c"), "/");
  assertEquals(baseName("runs/x-1/"), "x-1");
  assertEquals(runTimestamp(new Date(2026, 0, 5, 7, 3, 9)), "20260105-070309");
});

Deno.test("createRunDir: layout, unique names that never reuse a folder, name checks", async () => {
  await withTempDir("rundir_", async (root) => {
    const now = new Date(2026, 0, 5, 14, 30, 12);
    const a = await createRunDir(`${root}/runs`, "ddpm", { now });
    assertEquals(a.path, `${root}/runs/ddpm-20260105-143012`);
    assertEquals(a.name, "ddpm-20260105-143012");
    const entries = [...Deno.readDirSync(a.path)].map((e) => `${e.name}${e.isDirectory ? "/" : ""}`).sort();
    assertEquals(entries, ["checkpoints/", "metrics.jsonl", "samples/", "train.log"]);
    assertEquals(a.configPath, `${a.path}/config.yaml`);
    assertEquals(a.checkpointsDir, `${a.path}/checkpoints`);
    const b = await createRunDir(`${root}/runs`, "ddpm", { now });
    const c = await createRunDir(`${root}/runs`, "ddpm", { now });
    assertEquals([b.path, c.path], [`${a.path}-1`, `${a.path}-2`]);
    // Several at once still get distinct folders.
    const many = await Promise.all(Array.from({ length: 6 }, () => createRunDir(`${root}/runs`, "par", { now })));
    assertEquals(new Set(many.map((r) => r.path)).size, 6);
    await assertRejects(() => createRunDir(root, "../evil"), TypeError, "name must start with a letter or digit");
    await assertRejects(() => createRunDir(root, ""), TypeError, "name");
    await assertRejects(() => createRunDir(root, "x", { now: new Date(NaN) }), TypeError, "opts.now");
  });
});

Deno.test("openRunDir: needs an existing folder with config.yaml; recreates missing sub-folders", async () => {
  await withTempDir("openrun_", async (root) => {
    await assertRejects(() => openRunDir(`${root}/nope`), Error, "run folder " + `${root}/nope does not exist`);
    await Deno.writeTextFile(`${root}/file`, "x");
    await assertRejects(() => openRunDir(`${root}/file`), Error, "is not a folder");
    const run = await createRunDir(root, "cls", { now: new Date(2026, 1, 2, 3, 4, 5) });
    await assertRejects(() => openRunDir(run.path), Error, "has no config.yaml");
    await Deno.writeTextFile(run.configPath, "seed: 1\n");
    await Deno.remove(run.samplesDir);
    const opened = await openRunDir(run.path + "/");
    assertEquals(opened, run);
    assert(Deno.statSync(run.samplesDir).isDirectory);
  });
});

Deno.test("writeNew: writes whole files, never replaces one, leaves no temporary file; one racer wins", async () => {
  await withTempDir("writenew_", async (dir) => {
    assertEquals(await writeNew(`${dir}/b.txt`, "first"), true);
    assertEquals(await writeNew(`${dir}/b.txt`, "second"), false);
    assertEquals(await Deno.readTextFile(`${dir}/b.txt`), "first");
    assertEquals(await writeNew(`${dir}/bytes.bin`, new Uint8Array([1, 2, 3])), true);
    assertEquals([...await Deno.readFile(`${dir}/bytes.bin`)], [1, 2, 3]);
    // Racing writers of one name: exactly one wins, and its content is the file's.
    const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => writeNew(`${dir}/c.txt`, `w${i}`)));
    assertEquals(wins.filter(Boolean).length, 1);
    assertEquals(await Deno.readTextFile(`${dir}/c.txt`), `w${wins.indexOf(true)}`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["b.txt", "bytes.bin", "c.txt"]);
    await assertRejects(() => writeNew(`${dir}/missing/x.txt`, "x"), WriteError, `${dir}/missing/x.txt: cannot write`);
    await assertRejects(() => writeNew("", "x"), TypeError, "path must be a non-empty string");
    assertEquals([...Deno.readDirSync(dir)].length, 3);
  });
});

Deno.test("JsonlWriter / readJsonl: one object per line, written at once, NaN and Infinity kept, torn last line skipped", async () => {
  await withTempDir("jsonl_", async (dir) => {
    const p = `${dir}/metrics.jsonl`;
    const w = new JsonlWriter(p);
    w.write({ step: 1, loss: 0.5 });
    assertEquals(await Deno.readTextFile(p), '{"step":1,"loss":0.5}\n', "visible before close");
    w.write({ step: 2, loss: NaN, grad: Infinity, low: -Infinity, tag: "a\nb", nested: { x: [1, 2] } });
    w.sync();
    w.close();
    assertThrows(() => w.write({ step: 3 }), Error, "write after close");
    const w2 = new JsonlWriter(p); // appends
    w2.write({ step: 3 });
    assertThrows(() => w2.write([1] as unknown as Record<string, unknown>), TypeError, "plain object");
    w2.close();
    const text = await Deno.readTextFile(p);
    assertEquals(text.split("\n").length, 4);
    const rows = await readJsonl(p);
    assertEquals(rows.length, 3);
    assertEquals(rows[1].loss, NaN);
    assertEquals([rows[1].grad, rows[1].low, rows[1].tag, rows[1].nested], [Infinity, -Infinity, "a\nb", {
      x: [1, 2],
    }]);
    await Deno.writeTextFile(p, '{"step":4,"lo', { append: true }); // a crash mid-write
    assertEquals((await readJsonl(p)).length, 3);
    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"a":1}\nnot json\n{"a":2}\n');
    await assertRejects(() => readJsonl(`${dir}/bad.jsonl`), Error, "bad.jsonl line 2 is not JSON");
    assertThrows(() => new JsonlWriter(`${dir}/no/such/dir/m.jsonl`), WriteError, "m.jsonl: cannot write JSON lines");
  });
});

Deno.test("Logger: timestamped lines in train.log and on the console sink, levels, multi-line messages", async () => {
  await withTempDir("logger_", async (dir) => {
    const run = await createRunDir(dir, "log", { now: new Date(2026, 0, 1) });
    const lines: string[] = [];
    let t = new Date(2026, 4, 6, 7, 8, 9, 12);
    const log = new Logger(run, { console: { println: (l) => lines.push(l) }, clock: () => t });
    log.info("started");
    log.debug("details");
    t = new Date(2026, 4, 6, 7, 8, 10, 500);
    log.warn("two\nlines");
    log.console = null;
    log.error("quiet");
    log.close();
    assertThrows(() => log.info("late"), Error, "after close");
    const file = await Deno.readTextFile(run.logPath);
    assertEquals(
      file,
      [
        "2026-05-06 07:08:09.012 INFO  started",
        "2026-05-06 07:08:09.012 DEBUG details",
        "2026-05-06 07:08:10.500 WARN  two",
        "2026-05-06 07:08:10.500 WARN  lines",
        "2026-05-06 07:08:10.500 ERROR quiet",
        "",
      ].join("\n"),
    );
    assertEquals(lines, [
      "2026-05-06 07:08:09.012 INFO  started",
      "2026-05-06 07:08:10.500 WARN  two",
      "2026-05-06 07:08:10.500 WARN  lines",
    ]);
    const log2 = new Logger(run.path, { console: null, consoleLevel: "debug" });
    log2.info("appended");
    log2.close();
    assert((await Deno.readTextFile(run.logPath)).trimEnd().endsWith("INFO  appended"));
    assertEquals(logTimestamp(new Date(2026, 11, 31, 23, 59, 59, 1)), "2026-12-31 23:59:59.001");
    assertThrows(() => new Logger(dir, { consoleLevel: "loud" as "info" }), TypeError, "consoleLevel");
  });
});

/** A fake signal source: `fire()` delivers SIGINT to the installed listeners. */
function fakeHost() {
  const listeners = new Set<() => void>();
  const exits: number[] = [];
  const messages: string[] = [];
  const host: SignalHost = {
    addListener: (l) => listeners.add(l),
    removeListener: (l) => listeners.delete(l),
    exit: (code) => exits.push(code),
    message: (m) => messages.push(m),
  };
  const fire = () => [...listeners].forEach((l) => l());
  return { host, listeners, exits, messages, fire };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("InterruptController: first Ctrl-C runs handlers newest first then exits 130; the listener exists only with handlers", async () => {
  const f = fakeHost();
  const c = new InterruptController(f.host);
  assertEquals(f.listeners.size, 0);
  const order: string[] = [];
  const h1 = () => void order.push("h1");
  const h2 = async () => {
    await tick();
    order.push("h2");
  };
  c.add(h1);
  c.add(h2);
  assertEquals(f.listeners.size, 1);
  assert(!c.requested);
  f.fire();
  assert(c.requested);
  assertEquals(f.exits, [], "no exit before the handlers finish");
  await tick();
  await tick();
  assertEquals(order, ["h2", "h1"]);
  assertEquals(f.exits, [130]);
  assert(f.messages[0].includes("press Ctrl-C again to exit immediately"), f.messages[0]);
  // remove() takes the listener away after the last handler.
  assert(c.remove(h1) && c.remove(h2));
  assert(!c.remove(h1));
  assertEquals(f.listeners.size, 0);
  assertThrows(() => c.add(42 as unknown as () => void), TypeError, "handler must be a function");
});

Deno.test("InterruptController: a second Ctrl-C exits at once; exit:false handlers let the loop stop itself; errors are reported", async () => {
  const f = fakeHost();
  const c = new InterruptController(f.host);
  let release!: () => void;
  const slow = () => new Promise<void>((r) => (release = r));
  c.add(slow);
  f.fire();
  await tick();
  assertEquals(f.exits, []);
  f.fire(); // while the slow handler still runs
  assertEquals(f.exits, [130]);
  assert(f.messages.at(-1)!.includes("exiting now"));
  release();
  await tick();
  assertEquals(f.exits, [130, 130]); // the real Deno.exit would not have returned

  const g = fakeHost();
  const d = new InterruptController(g.host);
  let stop = false;
  const flag = () => void (stop = true);
  d.add(flag, { exit: false });
  d.add(() => {
    throw new Error("disk full");
  }, { exit: false });
  g.fire();
  await tick();
  assert(stop && d.requested);
  assertEquals(g.exits, []);
  assert(g.messages.some((m) => m.includes("An interrupt handler failed: disk full")), g.messages.join("|"));
  assert(g.messages[0].includes("stopping at the next step"), g.messages[0]);
  d.reset();
  assert(!d.requested);
});

skippableTest({
  name: "onInterrupt: a real SIGINT to a child process runs its handler, then it exits with 130",
  skip: NEEDS_SIGNALS,
  async fn() {
    await withTempDir("sigint_", async (dir) => {
      const lib = new URL("../train/signals.ts", import.meta.url).href;
      const script = `${dir}/child.ts`;
      await Deno.writeTextFile(
        script,
        `import { onInterrupt } from "${lib}";
onInterrupt(async () => { await Deno.writeTextFile("${dir}/saved.txt", "checkpoint"); });
setInterval(() => {}, 1000);
console.log("ready");
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", `--allow-write=${dir}`, `--allow-read=${dir}`, script],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.getReader();
      const first = await reader.read();
      assertEquals(new TextDecoder().decode(first.value).trim(), "ready");
      reader.releaseLock();
      child.kill("SIGINT");
      const [status, , err] = await Promise.all([
        child.status,
        child.stdout.pipeTo(new WritableStream()),
        new Response(child.stderr).text(),
      ]);
      assertEquals(status.code, 130, err);
      assertEquals(await Deno.readTextFile(`${dir}/saved.txt`), "checkpoint");
      assert(err.includes("Interrupted"), err);
    });
  },
});
