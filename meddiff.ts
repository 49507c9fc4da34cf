/**
 * `meddiff <command> [arguments]`: the one entry point of every workflow (see tasks/commands.ts);
 * `deno task <command>` runs it, and `deno task compile` makes it the standalone `dist/meddiff`
 * for cluster nodes. `meddiff --help` lists the commands, `meddiff <command> --help` their
 * options, `meddiff --version` the version.
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { COMMANDS } from "./tasks/commands.ts";
import { runTask } from "./tasks/lib/args.ts";
import { launchedWorld } from "./util/mpi.ts";

/** The usage text `meddiff --help` prints. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    `meddiff ${denoJson.version}: GPU-native diffusion and classification for medical imaging (WebGPU)`,
    "",
    "usage: meddiff <command> [--help] [arguments]",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    'Under mpirun / srun, training commands train data-parallel and sample splits its batches (README, "Clusters").',
  ].join("\n");
}

if (import.meta.main) {
  const [name, ...rest] = Deno.args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
  } else if (name === "--version" || name === "-V") {
    console.log(`meddiff ${denoJson.version} (Deno ${Deno.version.deno})`);
  } else if (!(name in COMMANDS)) {
    console.error(`meddiff: unknown command "${name}"\n\n${usage()}`);
    Deno.exit(2);
  } else {
    const command = COMMANDS[name], launched = launchedWorld();
    if (!command.distributed && launched && launched.size > 1) {
      // One copy does the work; N would repeat it and write the same files.
      if (launched.rank > 0) Deno.exit(0);
      console.error(`meddiff ${name} runs on one process: ranks 1–${launched.size - 1} of this launch exit at once`);
    }
    await runTask(() => command.run(rest), { argv: rest });
  }
}
