/** Shared checks for PyTorch fixture cases: outputs, then the gradients of Σ_i (outputs[i] · w_i).sum(). */
import { type Tensor, tensor } from "../mod.ts";
import { assertClose } from "./_util.ts";
import { assertEquals } from "./_asserts.ts";

/** One stored tensor. */
export interface EncodedTensor {
  /** Shape. */
  shape: number[];
  /** Row-major values. */
  data: number[];
  /** Element type (float32 when absent). */
  dtype?: string;
}

/** What a fixture case stores besides its inputs. */
export interface FixtureExpectations {
  /** Expected outputs in order. */
  outputs: EncodedTensor[];
  /** Projection weight per output (null or missing: no gradient through it). */
  weights: (EncodedTensor | null)[];
  /** Expected gradient per input name. */
  grads: Record<string, EncodedTensor>;
}

/** Tolerances of values and gradients. */
export interface FixtureTolerance {
  /** Values: absolute. */
  atol: number;
  /** Values: relative. */
  rtol: number;
  /** Gradients: absolute. */
  gradAtol: number;
  /** Gradients: relative. */
  gradRtol: number;
}

/**
 * Compares `outs` with the case's outputs (int32 outputs exactly), back-propagates the
 * weighted sum and compares each input's gradient; every input named in `grads` must get one.
 */
export async function checkFixtureCase(
  name: string,
  c: FixtureExpectations,
  inputs: Record<string, Tensor>,
  outs: Tensor[],
  tol: FixtureTolerance,
): Promise<void> {
  assertEquals(outs.length, c.outputs.length, `${name}: number of outputs`);
  let loss: Tensor | null = null;
  for (let i = 0; i < outs.length; i++) {
    const exp = c.outputs[i];
    assertEquals([...outs[i].shape], exp.shape, `${name} output ${i} shape`);
    const got = await outs[i].data();
    if (exp.dtype === "int32") assertEquals(Array.from(got), exp.data, `${name} output ${i} indices`);
    else assertClose(got, exp.data, { atol: tol.atol, rtol: tol.rtol, msg: `${name} output ${i}` });
    const w = c.weights[i];
    if (!w || !outs[i].requiresGrad) continue;
    const term = outs[i].mul(tensor(Float32Array.from(w.data), w.shape)).sum();
    loss = loss ? loss.add(term) : term;
  }
  const gradNames = Object.keys(c.grads);
  if (gradNames.length === 0) return;
  if (!loss) throw new Error(`${name}: no output requires grad, but the fixture expects gradients`);
  loss.backward();
  for (const k of gradNames) {
    const g = inputs[k].grad;
    if (!g) throw new Error(`${name}: input ${k} got no gradient`);
    assertClose(await g.data(), c.grads[k].data, {
      atol: tol.gradAtol,
      rtol: tol.gradRtol,
      msg: `${name} grad of ${k}`,
    });
    g.dispose();
    inputs[k].grad = null;
  }
}
