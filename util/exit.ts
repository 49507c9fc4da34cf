/**
 * Ends the process at once with `code`, skipping the native libraries' exit-time destructors.
 *
 * Why: a core dump of the occasional abort at exit ("double free or corruption (out)", exit code
 * 134, issue #12) shows the main thread inside libEGL's destructor (`_dl_fini`, Mesa's GL stack
 * under WebGPU's GL backend) while Mesa's worker threads exit and free their thread-specific data
 * from the same malloc arena: a race inside the native libraries, after our work is done. A
 * command that has written and closed everything can skip those destructors with `_exit(2)`;
 * where FFI is not permitted it falls back to `Deno.exit`.
 * @module
 */

/** `_exit(code)` from libc (no exit handlers, no library destructors), or `Deno.exit(code)` without FFI. */
export function exitNow(code: number): never {
  if (Deno.build.os !== "windows" && Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
    try {
      const libc = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
        _exit: { parameters: ["i32"], result: "void" },
      });
      libc.symbols._exit(code);
    } catch {
      // no libc to bind: the ordinary exit below
    }
  }
  Deno.exit(code);
}
