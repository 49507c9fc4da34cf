/**
 * Memory scopes: every tensor and graph node created while a scope is open belongs to it;
 * when the scope ends, everything not returned (or `keep`-ed) is freed. Works with async
 * functions (scopes nest on one stack, so concurrent async scopes would share ownership).
 */

/** Anything a scope can free: a tensor or an autograd node. */
export interface Disposable {
  /** Frees GPU memory; safe to call twice. */
  dispose(): void;
  /** True once freed. */
  readonly isDisposed: boolean;
}

/** What a scope needs to know about graph nodes (implemented by autograd). */
export interface GraphNode {
  /** Frees saved tensors (idempotent). */
  release(): void;
  /** Input nodes, for reachability. */
  parents(): Iterable<GraphNode>;
}

interface Frame {
  tensors: Set<Disposable>;
  nodes: Set<GraphNode>;
}

const stack: Frame[] = [];

/** Registers a new tensor with the innermost open scope. */
export function trackTensor(t: Disposable): void {
  stack[stack.length - 1]?.tensors.add(t);
}

/** Registers a new graph node with the innermost open scope. */
export function trackNode(n: GraphNode): void {
  stack[stack.length - 1]?.nodes.add(n);
}

/** Removes a tensor from every open scope so that no scope frees it. */
export function keep<T extends Disposable>(t: T): T {
  for (const f of stack) f.tensors.delete(t);
  return t;
}

/** Collects the tensors (anything disposable with a gradFn or not) inside a returned value. */
function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if (typeof (value as Disposable).dispose === "function" && "isDisposed" in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collect(v, out, depth + 1);
}

function endFrame(frame: Frame, result: unknown): void {
  const kept = new Set<Disposable>();
  collect(result, kept);
  const parent = stack[stack.length - 1];
  // Graph nodes reachable from returned tensors must survive for a later backward(). The walk
  // stays inside this frame: a node made before the frame opened has only older parents, so
  // it cannot lead back in, and stopping there keeps `Module.call`'s scope from rewalking the
  // whole graph recorded so far at every layer.
  const liveNodes = new Set<GraphNode>();
  const todo: GraphNode[] = [];
  for (const t of kept) {
    const fn = (t as { gradFn?: GraphNode | null }).gradFn;
    if (fn && frame.nodes.has(fn)) todo.push(fn);
  }
  while (todo.length) {
    const n = todo.pop()!;
    if (liveNodes.has(n)) continue;
    liveNodes.add(n);
    for (const p of n.parents()) if (frame.nodes.has(p)) todo.push(p);
  }
  for (const n of frame.nodes) {
    if (liveNodes.has(n)) parent?.nodes.add(n);
    else n.release();
  }
  for (const t of frame.tensors) {
    if (kept.has(t)) parent?.tensors.add(t);
    else t.dispose();
  }
}

/**
 * Runs `fn` and frees every tensor and graph node it created, except those reachable
 * from its result. Accepts sync and async functions.
 *
 * @example
 * ```ts
 * const loss = await scope(async () => {
 *   const l = model(x).sub(y).pow(2).mean();
 *   l.backward();
 *   return l; // survives; everything else is freed
 * });
 * ```
 */
export function scope<R>(fn: () => R): R {
  const frame: Frame = { tensors: new Set(), nodes: new Set() };
  stack.push(frame);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    stack.splice(stack.lastIndexOf(frame), 1);
    endFrame(frame, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        stack.splice(stack.lastIndexOf(frame), 1);
        endFrame(frame, v);
        return v;
      },
      (e) => {
        stack.splice(stack.lastIndexOf(frame), 1);
        endFrame(frame, undefined);
        throw e;
      },
    ) as R;
  }
  stack.splice(stack.lastIndexOf(frame), 1);
  endFrame(frame, result);
  return result;
}

/** Alias of `scope`, for TensorFlow.js users. */
export const tidy: typeof scope = scope;
