/**
 * The exit without native destructors (util/exit.ts, issue #12): once a process has a WebGPU
 * device, its exits end in `_exit` before the native libraries' destructors, whose race with
 * Mesa's exiting threads aborted a process now and then after all its work. What must survive:
 * the exit code, and every byte written before the exit.
 */
import { skipNativeTeardownAtExit } from "../util/exit.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { CAN_RUN, skippableTest } from "./_skip.ts";
import { gpuTest } from "./_util.ts";

const CORE = new URL("../core/mod.ts", import.meta.url).href;

gpuTest("exit: with a device, the process exits through _exit (glibc's on_exit holds it)", () => {
  if (Deno.build.os !== "linux") return;
  assert(skipNativeTeardownAtExit(), "registered when the device was acquired (Linux, FFI granted)");
});

/** Runs `body` in a child Deno that has acquired a device and put work on it. */
async function child(body: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `import { initGpu, randn } from ${JSON.stringify(CORE)};
await initGpu();
await randn([8, 8]).matmul(randn([8, 8])).toArray();
${body}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { MEDDIFF_AUTOTUNE: "0", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

skippableTest({
  name: "exit: a child with a device keeps its exit code and all its output, however it ends",
  skip: !CAN_RUN && "--allow-run",
  fn: async () => {
    const line = "x".repeat(999) + "\n";
    const exited = await child(`for (let i = 0; i < 1000; i++) console.log(${JSON.stringify(line.trimEnd())});
await Deno.stderr.write(new TextEncoder().encode("last words\\n"));
Deno.exit(7);`);
    assertEquals(exited.code, 7, exited.stderr);
    assertEquals(exited.stdout.length, 1000 * line.length, "a megabyte written just before Deno.exit arrives whole");
    assert(exited.stderr.endsWith("last words\n"), exited.stderr);

    const ended = await child(`console.log("done");`);
    assertEquals([ended.code, ended.stdout], [0, "done\n"], ended.stderr);

    const failed = await child(`throw new Error("boom");`);
    assertEquals(failed.code, 1);
    assert(failed.stderr.includes("boom"), failed.stderr);
  },
});
