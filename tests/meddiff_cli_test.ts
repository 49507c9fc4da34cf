/** meddiff.ts, the one entry point: its command table matches `deno task`'s names, and its usage. */
import denoJson from "../deno.json" with { type: "json" };
import { COMMANDS } from "../tasks/commands.ts";
import { usage } from "../meddiff.ts";
import { assert, assertEquals } from "./_asserts.ts";

Deno.test("meddiff: every command is a deno task running `meddiff.ts <command>`, and every such task a command", () => {
  const tasks = Object.entries(denoJson.tasks as Record<string, string>)
    .map(([name, line]) => [name, line.match(/meddiff\.ts (\S+)$/)?.[1]] as const)
    .filter(([, sub]) => sub !== undefined);
  for (const [name, sub] of tasks) assertEquals(sub, name, `deno task ${name} runs meddiff.ts ${sub}`);
  assertEquals(tasks.map(([n]) => n).sort(), Object.keys(COMMANDS).sort());
});

Deno.test("meddiff: --help lists every command with its summary and the version", () => {
  const text = usage();
  assert(text.startsWith(`meddiff ${denoJson.version}`));
  for (const [name, c] of Object.entries(COMMANDS)) assert(text.includes(`${name}`) && text.includes(c.summary), name);
});

Deno.test("meddiff: the training and sampling commands share their work under MPI, the others run once", () => {
  const shared = Object.entries(COMMANDS).filter(([, c]) => c.distributed).map(([n]) => n).sort();
  assertEquals(shared, [
    "sample",
    "sample-3d",
    "train",
    "train-classifier",
    "train-dcg",
    "train-diffmic",
    "train-dit3d",
    "train-vae",
  ]);
});
