/** Memory-bound kernels: GB/s of a 16M-element elementwise add and a 16M-element sum. */
import { initGpu, randn, synchronize } from "../mod.ts";
import { runAdd, runSum, STREAM_ELEMENTS } from "./_common.ts";
import { atEnd, bestOf, timed } from "./_record.ts";

await initGpu();

const x = randn([STREAM_ELEMENTS]), y = randn([STREAM_ELEMENTS]);
await synchronize();
const bytes = STREAM_ELEMENTS * 4;

Deno.bench({ name: "add 16M f32", n: 10, warmup: 2 }, timed("add", () => runAdd(x, y)));
Deno.bench({ name: "sum 16M f32", n: 10, warmup: 2 }, timed("sum", () => runSum(x)));

atEnd(() => {
  const gbs = (b: number, ms?: number) => (ms ? (b / ms / 1e6).toFixed(2) : "—");
  return [
    "",
    `add: ${gbs(3 * bytes, bestOf("add"))} GB/s (2 reads + 1 write), sum: ${gbs(bytes, bestOf("sum"))} GB/s (best run)`,
  ];
});
