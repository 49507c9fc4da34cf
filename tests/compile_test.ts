/**
 * `deno task compile`: the standalone binary runs every command. `deno compile` needs Deno's
 * runtime (denort) for this platform, which it downloads from dl.deno.land or takes from
 * `DENORT_BIN`; where neither works (our build machines have no route to dl.deno.land) the test
 * is skipped and says so.
 */
import { CAN_RUN, skippableTest } from "./_skip.ts";
import { assert, assertEquals } from "./_asserts.ts";
import { withTempDir } from "./_util.ts";

/** Where deno compile finds its runtime without a download, or null. */
function localRuntime(): string | null {
  const given = Deno.env.get("DENORT_BIN");
  if (given) return given;
  const dir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const zip = `${dir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  try {
    Deno.statSync(zip);
    return zip;
  } catch {
    return null;
  }
}

skippableTest({
  name: "deno compile: dist/meddiff answers --version and --help and runs a command's --help",
  skip: !CAN_RUN
    ? "--allow-run"
    : !localRuntime() && "Deno's runtime for deno compile (denort: no route to dl.deno.land here; set DENORT_BIN)",
  fn: async () => {
    await withTempDir("meddiff_compile_", async (dir) => {
      const root = new URL("..", import.meta.url).pathname;
      const compiled = await new Deno.Command(Deno.execPath(), {
        args: [
          "compile",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-ffi",
          "--allow-sys=hostname,systemMemoryInfo",
          "--output",
          `${dir}/meddiff`,
          `${root}meddiff.ts`,
        ],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(compiled.success, new TextDecoder().decode(compiled.stderr));
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(`${dir}/meddiff`, { args, stdout: "piped", stderr: "piped" }).output();
        return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
      };
      const version = await run("--version");
      assertEquals(version.code, 0, version.text);
      assert(/^meddiff \d+\.\d+\.\d+/.test(version.text), version.text);
      const help = await run("--help");
      assert(help.text.includes("train-classifier"), help.text);
      const sub = await run("train", "--help");
      assertEquals(sub.code, 0, sub.text);
      assert(sub.text.includes("--config"), sub.text);
    });
  },
});
