/**
 * Parameters of several layers side by side in one storage, so that a model that multiplies
 * them at once (q, k and v; every residual block's time projection) concatenates them with
 * `cat(…, 0, { share: true })` as a view instead of a copy in every forward pass. Names, shapes,
 * values, state dicts and optimizers see the same parameters as before; only their storage is shared.
 * @module
 */
import { noGrad } from "../autograd.ts";
import { cat } from "../ops/join.ts";
import { reshape } from "../ops/view.ts";
import { scope } from "../scope.ts";
import { contiguousStrides } from "../shape.ts";
import { type Module, Parameter } from "./module.ts";

/**
 * Replaces the parameter `name` of each of `modules` by a view of one new storage holding them
 * in that order (values kept, gradients dropped): their concatenation along dim 0 is then dense.
 */
export function packParameters(modules: readonly Module[], name: string): void {
  const params = modules.map((m) => {
    const p = (m as unknown as Record<string, unknown>)[name];
    if (!(p instanceof Parameter)) {
      throw new TypeError(`packParameters: a ${m.constructor.name} has no parameter "${name}"`);
    }
    return p;
  });
  if (new Set(params).size !== params.length) throw new RangeError(`packParameters: a "${name}" appears twice`);
  if (params.length < 2) return;
  const flat = noGrad(() => scope(() => cat(params.map((p) => reshape(p, [p.size])), 0)));
  let at = flat.offset;
  modules.forEach((m, i) => {
    const p = params[i];
    m.registerParameter(name, new Parameter(flat.viewAs(p.shape, contiguousStrides(p.shape), at), p.requiresGrad));
    at += p.size;
    p.grad?.dispose();
    p.dispose();
  });
  flat.dispose();
}
