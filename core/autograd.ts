/**
 * Reverse-mode autograd: every differentiable op records a `Node` with its inputs, the
 * tensors it saved and a backward closure; `backward()` walks one topological order.
 */
import { type GraphNode, keep, trackNode } from "./scope.ts";
import type { Tensor } from "./tensor.ts";
import { fmtShape, sameShape } from "./shape.ts";

let gradEnabled = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (sync or async). */
export function noGrad<R>(fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = false;
  let r: R;
  try {
    r = fn();
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
  if (r instanceof Promise) {
    return r.finally(() => {
      gradEnabled = prev;
    }) as R;
  }
  gradEnabled = prev;
  return r;
}

/**
 * Gradient function of one op: returns one gradient (or null) per input. `pending` offers the
 * gradients other consumers already gave its inputs, for ops that can add one into theirs.
 */
export type BackwardFn = (
  grad: Tensor,
  saved: Tensor[],
  pending: PendingGrads,
) => (Tensor | WindowGrad | null | undefined)[];

/**
 * The gradients an op's inputs have already received from their other consumers, offered to the
 * op's backward function: where its kernel can add `get(i)` into the gradient it computes for
 * input i (one pass instead of a separate sum afterwards), it does so and calls `claim(i)`, and
 * the engine then takes that result as input i's whole gradient so far.
 */
export interface PendingGrads {
  /** Input i's gradient so far, dense (null when it has none yet, or when the op cannot be given it). */
  get(i: number): Tensor | null;
  /** Says the gradient returned for input i includes `get(i)`. */
  claim(i: number): void;
}

/**
 * A gradient that is zero outside one window of its input: a slice's, `grad` holding the
 * window (every `step`-th index from `start` along `dim` of an input of `shape`). The engine
 * keeps such gradients apart until the input's gradient is needed, so that windows tiling an
 * input (q, k and v cut from one product) are joined in one pass instead of each being padded
 * with zeros and the paddings summed.
 */
export class WindowGrad {
  constructor(
    readonly grad: Tensor,
    readonly shape: readonly number[],
    readonly dim: number,
    readonly start: number,
    readonly step: number,
    /** Joins window gradients of one input (this one among them) into its dense gradient, owned by the caller. */
    readonly join: (windows: readonly WindowGrad[]) => Tensor,
  ) {}
}

/** A recorded op in the graph. */
export class Node implements GraphNode {
  #saved: Tensor[];
  #released = false;
  /**
   * Which inputs needed gradients when the op ran (PyTorch's edges are fixed then too): a
   * parameter frozen for one forward — an adversarial generator term reading a discriminator —
   * gets no gradient from it, even if it is trainable again before `backward()`.
   */
  readonly needsGrad: readonly boolean[];

  constructor(
    /** Op name, for error messages. */
    readonly name: string,
    /** The op's inputs (only those needing gradients are followed). */
    readonly inputs: readonly Tensor[],
    readonly backwardFn: BackwardFn,
    saved: Tensor[],
    /** Output shape, to check incoming gradients. */
    readonly outShape: readonly number[],
  ) {
    this.#saved = saved;
    this.needsGrad = inputs.map((t) => t.requiresGrad);
  }

  /** Saved tensors, or an error if the graph was already freed. */
  saved(): Tensor[] {
    if (this.#released) {
      throw new Error(
        `backward through '${this.name}': its saved tensors were already freed — the graph was used by an ` +
          `earlier backward() (pass {retainGraph: true} to keep it) or its scope ended before backward() ran`,
      );
    }
    return this.#saved;
  }

  /** Frees the saved tensors (idempotent). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const t of this.#saved) t.dispose();
    this.#saved = [];
  }

  /** Whether `release()` ran. */
  get isReleased(): boolean {
    return this.#released;
  }

  *parents(): Iterable<Node> {
    for (const t of this.inputs) if (t.gradFn) yield t.gradFn;
  }
}

/**
 * Attaches a graph node to `out` when grad mode is on and an input needs gradients.
 * `save` lists tensors the backward closure needs; they are kept alive (as aliases that
 * share storage) until backward has used them, even if the caller disposes the originals.
 */
export function record(
  name: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backwardFn: BackwardFn,
  save: readonly Tensor[] = [],
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  const saved = save.map((t) => keep(t.alias()));
  const node = new Node(name, inputs, backwardFn, saved, [...out.shape]);
  trackNode(node);
  out.gradFn = node;
  out.requiresGrad = true;
  return out;
}

/** Options for `backward`. */
export interface BackwardOptions {
  /** Keep saved tensors so the graph can be walked again. */
  retainGraph?: boolean;
}

function topoOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, boolean][] = [[root, false]];
  while (stack.length) {
    const [n, done] = stack.pop()!;
    if (done) {
      order.push(n);
      continue;
    }
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push([n, true]);
    for (const p of n.parents()) if (!seen.has(p)) stack.push([p, false]);
  }
  return order.reverse(); // root first
}

/**
 * Back-propagates from `root`. Gradients of leaves (tensors with `requiresGrad` and no
 * `gradFn`) accumulate into their `.grad`, which no scope frees.
 */
export function backward(
  root: Tensor,
  grad: Tensor | undefined,
  opts: BackwardOptions,
  ones: (like: Tensor) => Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
): void {
  root.assertLive("backward");
  if (!root.requiresGrad) {
    throw new Error(`backward(): the tensor of shape ${fmtShape(root.shape)} does not require grad and has no gradFn`);
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(
        `backward(): gradient can be implicitly created only for scalar outputs; this tensor has shape ${
          fmtShape(root.shape)
        } — pass a gradient of that shape`,
      );
    }
  } else if (!sameShape(grad.shape, root.shape)) {
    throw new RangeError(
      `backward(): gradient shape ${fmtShape(grad.shape)} does not match the tensor's shape ${fmtShape(root.shape)}`,
    );
  }
  noGrad(() => {
    const seed = grad ?? ones(root);
    if (!root.gradFn) {
      accumulateLeaf(root, seed, add, grad === undefined);
      return;
    }
    // An input's gradient so far: dense, or the windows of its slices (see WindowGrad).
    const grads = new Map<Node, Tensor | WindowGrad[]>();
    const dense = (v: Tensor | WindowGrad[]): Tensor => {
      if (!Array.isArray(v)) return v;
      const t = v[0].join(v);
      for (const w of v) w.grad.dispose();
      return t;
    };
    grads.set(root.gradFn, seed);
    for (const node of topoOrder(root.gradFn)) {
      const pending = grads.get(node);
      grads.delete(node);
      if (!pending) continue;
      const g = dense(pending);
      const offered = new Map<number, Tensor>(), claimed = new Set<number>();
      const inGrads = node.backwardFn(g, node.saved(), {
        get: (i) => {
          const input = node.inputs[i], fn = input?.gradFn;
          // An input the op reads twice has one pending gradient for both: offer it to neither.
          if (
            !fn || !input.requiresGrad || !node.needsGrad[i] || node.inputs.some((o, j) => j !== i && o.gradFn === fn)
          ) {
            return null;
          }
          const prev = grads.get(fn);
          if (!prev) return null;
          const d = dense(prev);
          grads.set(fn, d);
          offered.set(i, d);
          return d;
        },
        claim: (i) => {
          if (!offered.has(i)) throw new Error(`internal: backward of '${node.name}' claimed a gradient never offered`);
          claimed.add(i);
        },
      });
      if (g !== grad) g.dispose();
      if (!opts.retainGraph) node.release();
      node.inputs.forEach((input, i) => {
        if (claimed.has(i)) {
          const out = inGrads[i];
          if (!out || out instanceof WindowGrad) {
            throw new Error(`internal: backward of '${node.name}' claimed input ${i} but gave no dense gradient`);
          }
          grads.set(input.gradFn!, out);
          offered.get(i)!.dispose();
          return;
        }
        const out = inGrads[i];
        if (!out) return;
        const window = out instanceof WindowGrad ? out : null;
        if (!input.requiresGrad || !node.needsGrad[i]) {
          (window?.grad ?? out as Tensor).dispose();
          return;
        }
        const shape = window ? window.shape : (out as Tensor).shape;
        if (!sameShape(shape, input.shape)) {
          throw new Error(
            `internal: backward of '${node.name}' produced a gradient of shape ${fmtShape(shape)} for an input ` +
              `of shape ${fmtShape(input.shape)}`,
          );
        }
        if (input.gradFn) {
          const prev = grads.get(input.gradFn);
          if (window && (!prev || Array.isArray(prev))) grads.set(input.gradFn, [...(prev ?? []), window]);
          else if (prev) {
            const a = dense(prev), b = dense(window ? [window] : out as Tensor);
            grads.set(input.gradFn, add(a, b));
            a.dispose();
            b.dispose();
          } else grads.set(input.gradFn, out as Tensor);
        } else accumulateLeaf(input, dense(window ? [window] : out as Tensor), add, true, grad);
      });
    }
  });
}

function accumulateLeaf(
  leaf: Tensor,
  g: Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
  owned: boolean,
  callerGrad?: Tensor,
): void {
  if (leaf.grad && !leaf.grad.isDisposed) {
    const sum = keep(add(leaf.grad, g));
    leaf.grad.dispose();
    if (owned) g.dispose();
    leaf.grad = sum;
  } else if (owned && !(passedThrough.has(g) && g.storage.refs > 1) && g.storage !== callerGrad?.storage) {
    leaf.grad = keep(g);
  } else {
    // A gradient that is not ours, one passed through unchanged while another tensor still holds
    // the same elements, or a view of the caller's own gradient tensor is copied: optimizers,
    // clipping and loss scaling update `.grad` in place.
    leaf.grad = keep(g.clone());
    if (owned) g.dispose();
  }
}

/** Gradients made by {@linkcode passThroughGrad}: views that may share their elements with others. */
const passedThrough = new WeakSet<Tensor>();

/**
 * The gradient of an input that receives the output's gradient `g` unchanged (add, sub's first
 * input): a view of `g`'s storage instead of a copy. Gradients are never written in place while
 * backward runs, and a leaf keeps such a view only as a copy while others still hold it.
 */
export function passThroughGrad(g: Tensor): Tensor {
  const v = g.viewAs(g.shape, g.strides, g.offset);
  passedThrough.add(v);
  return v;
}
