/** `nearestNeighbours`: exact k-NN of feature rows on the GPU (memorisation checks, manifold radii). */
import { dispatch, loopBudget, MAX_WORKGROUPS_X, pipeline } from "../device.ts";
import { KNN_MAX_K, KNN_META_WORDS, KNN_UNROLL, KNN_WG, knnSource } from "../kernels/knn.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { empty } from "./map.ts";

function meta(n: number, m: number, d: number, k: number, skipSelf: boolean, qOff: number, rOff: number) {
  const u = new Uint32Array(KNN_META_WORDS);
  u.set([n, m, d, k, skipSelf ? 1 : 0, qOff, rOff]);
  return u;
}

/**
 * References one dispatch may walk within the loop budget (`loopBudget`): each costs its
 * distance loop, the loop's rest and up to k insertion steps (plus an exit test per loop); the
 * lists' load and store cost 3k.
 */
function refsPerDispatch(d: number, k: number, op: string): number {
  const perRef = Math.floor(d / KNN_UNROLL) + KNN_UNROLL + k + 4;
  const fit = Math.floor((loopBudget() - 3 * KNN_MAX_K) / perRef);
  if (fit < 1) {
    throw new RangeError(
      `${op}: rows of ${d} features are too long for this adapter's shader loop limit (${loopBudget()} ` +
        `iterations, about ${KNN_UNROLL * loopBudget()} features): reduce the features first`,
    );
  }
  return fit;
}

/** Options of {@linkcode nearestNeighbours}. */
export interface NearestNeighboursOptions {
  /** Neighbours per query, 1 to 16 (default 1). */
  k?: number;
  /** The queries are the references: skip each row's own index (default false). */
  excludeSelf?: boolean;
}

/** The k nearest references of each query: indices (int32) and squared distances (float32), nearest first. */
export interface NearestNeighbours {
  /** Reference row indices, [n, k]. */
  indices: Tensor;
  /** Squared Euclidean distances, [n, k]. */
  distances: Tensor;
}

/**
 * The `k` nearest rows of `refs` [m, d] to every row of `queries` [n, d], by squared Euclidean
 * distance summed in float32, by brute force (exact; ties keep the lower index). Flatten images
 * to rows first (`x.flatten(1)`). Not differentiable.
 *
 * @example
 * ```ts
 * const { indices, distances } = nearestNeighbours(generated.flatten(1), training.flatten(1));
 * ```
 */
export function nearestNeighbours(
  queries: Tensor,
  refs: Tensor,
  options: NearestNeighboursOptions = {},
): NearestNeighbours {
  const op = "nearestNeighbours";
  for (const [name, t] of [["queries", queries], ["refs", refs]] as const) {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeof t}`);
    t.assertLive(op);
    if (t.dtype !== "float32" || t.ndim !== 2) {
      throw new TypeError(
        `${op}: ${name} must be a 2-D float32 tensor [rows, features], got ${t.dtype} ${fmtShape(t.shape)}`,
      );
    }
  }
  const [n, d] = queries.shape, [m, dr] = refs.shape;
  if (d !== dr) throw new RangeError(`${op}: queries have ${d} features per row, refs ${dr}`);
  const k = options.k ?? 1;
  const excludeSelf = options.excludeSelf ?? false;
  if (!Number.isInteger(k) || k < 1 || k > KNN_MAX_K) {
    throw new RangeError(`${op}: k must be an integer in [1, ${KNN_MAX_K}], got ${k}`);
  }
  if (excludeSelf && n !== m) {
    throw new RangeError(`${op}: excludeSelf needs queries and refs of one set (${n} vs ${m} rows)`);
  }
  const available = excludeSelf ? m - 1 : m;
  if (k > available) throw new RangeError(`${op}: k = ${k} but only ${available} reference rows can be neighbours`);
  const q = queries.contiguous(), r = refs.contiguous();
  const indices = empty([n, k], "int32", op), distances = empty([n, k], "float32", op);
  try {
    const groups = Math.ceil(n / KNN_WG);
    if (n > 0 && d > 0) {
      const gx = Math.min(groups, MAX_WORKGROUPS_X);
      const step = refsPerDispatch(d, k, op);
      for (let j0 = 0; j0 < m; j0 += step) {
        const u = meta(n, m, d, k, excludeSelf, q.offset, r.offset);
        u.set([j0, Math.min(m, j0 + step)], 7);
        dispatch({
          op,
          pipeline: pipeline(op, knnSource()),
          bindings: [q.storage.buffer, r.storage.buffer, indices.storage.buffer, distances.storage.buffer],
          uniforms: u,
          workgroups: [gx, Math.ceil(groups / gx)],
        });
      }
    } else if (n > 0) throw new RangeError(`${op}: rows need at least one feature, got ${fmtShape(queries.shape)}`);
  } finally {
    if (q !== queries) q.dispose();
    if (r !== refs) r.dispose();
  }
  return { indices, distances };
}
