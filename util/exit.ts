/**
 * Process exit without the native libraries' exit-time destructors.
 *
 * Why: a core dump of the occasional abort at exit ("double free or corruption (out)", exit code
 * 134, now and then a segmentation fault, 139; issue #12) shows the main thread inside libEGL's
 * destructor (`exit` → `_dl_fini`, Mesa's GL stack under WebGPU's GL backend) while Mesa's worker
 * threads exit and free their thread-specific data from the same malloc arena: a race inside the
 * native libraries, after our work is done. Skipping those destructors removes it. Nothing of ours
 * depends on them: Deno flushes its own output before it calls `exit`, and every file we write is
 * closed (or renamed into place) before that.
 * @module
 */

let registered = false;

/**
 * Makes every later exit of this process end in `_exit(status)` before the native libraries'
 * destructors run: `Deno.exit`, the end of the main module, and the exits `deno test` and
 * `deno bench` make after printing their summaries (which no JavaScript runs after). It registers
 * libc's own `_exit` with glibc's `on_exit`, which passes the exit status on; exit handlers run
 * last-registered first, so calling this after the GPU libraries are loaded (the device module
 * does, once it has a device) also skips their `atexit` handlers. Returns whether it is in place:
 * false without FFI permission, off Linux, or without glibc's `on_exit` (the ordinary exit then).
 */
export function skipNativeTeardownAtExit(): boolean {
  if (registered) return true;
  if (Deno.build.os !== "linux" || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
      on_exit: { parameters: ["pointer", "pointer"], result: "i32" },
    });
    // dlsym(RTLD_DEFAULT, "_exit"); on_exit calls it as handler(status, arg), and _exit reads only
    // its first argument (the System V calling conventions pass arguments in registers).
    const exitFn = libc.symbols.dlsym(null, new TextEncoder().encode("_exit\0"));
    registered = exitFn !== null && libc.symbols.on_exit(exitFn, null) === 0;
  } catch {
    // not glibc (no on_exit, or dlsym outside libc.so.6): the ordinary exit
  }
  return registered;
}

/** Ends the process at once with `code`, skipping the native libraries' exit-time destructors where it can. */
export function exitNow(code: number): never {
  skipNativeTeardownAtExit();
  Deno.exit(code);
}
