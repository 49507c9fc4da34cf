/** Convolutions against PyTorch (tests/fixtures/conv.json, from scripts/make_conv_fixtures.py): values and gradients. */
import { assertClose, gpuTest } from "./_util.ts";
import { assertEquals } from "./_asserts.ts";
import { conv1d, conv2d, conv3d, convTranspose2d, convTranspose3d } from "../core/ops/conv.ts";
import { type Tensor, tensor } from "../mod.ts";
import { CONV_VARIANTS } from "../core/backend/conv.ts";

interface Arr {
  shape: number[];
  data: number[];
}
interface FixtureCase {
  name: string;
  op: string;
  opts: Record<string, unknown>;
  x: Arr;
  weight: Arr;
  bias: Arr | null;
  w: number[];
  out: Arr;
  grads: { x: number[]; weight: number[]; bias?: number[] };
}

const OPS: Record<string, (x: Tensor, w: Tensor, b: Tensor | null, o: never) => Tensor> = {
  conv1d,
  conv2d,
  conv3d,
  conv_transpose2d: convTranspose2d,
  conv_transpose3d: convTranspose3d,
};

const fixtures = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/conv.json", import.meta.url)),
) as { cases: FixtureCase[] };

for (const v of CONV_VARIANTS) {
  gpuTest(`conv ops match PyTorch: values and gradients (${v})`, async () => {
    Deno.env.set("MEDDIFF_CONV", v);
    try {
      for (const c of fixtures.cases) {
        const mk = (a: Arr) => tensor(Float32Array.from(a.data), a.shape, { requiresGrad: true });
        const x = mk(c.x), w = mk(c.weight), b = c.bias ? mk(c.bias) : null;
        const y = OPS[c.op](x, w, b, c.opts as never);
        assertEquals([...y.shape], c.out.shape, `${c.name}: shape`);
        assertClose(await y.data(), c.out.data, { atol: 1e-4, rtol: 1e-4, msg: `${c.name} [${v}] out` });
        y.mul(tensor(Float32Array.from(c.w), c.out.shape)).sum().backward();
        const pairs: [string, Tensor | null, number[] | undefined][] = [
          ["x", x, c.grads.x],
          ["weight", w, c.grads.weight],
          ["bias", b, c.grads.bias],
        ];
        for (const [name, t, want] of pairs) {
          if (!t || !want) continue;
          assertClose(await t.grad!.data(), want, { atol: 1e-4, rtol: 1e-4, msg: `${c.name} [${v}] grad ${name}` });
          t.grad!.dispose();
        }
      }
    } finally {
      Deno.env.delete("MEDDIFF_CONV");
    }
  });
}
