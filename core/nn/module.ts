/**
 * `Module` and `Parameter`: the PyTorch `nn.Module` shape. A module's state is found by
 * looking at its own fields in declaration order — `Parameter` fields are parameters,
 * `Module` fields are children, and tensors registered with `registerBuffer` are buffers —
 * so state-dict keys come out as PyTorch spells and orders them (`layer1.0.conv1.weight`): per
 * module its own parameters, then its buffers, then each child's entries, in field order.
 */
import { noGrad } from "../autograd.ts";
import { storageType } from "../dtype.ts";
import { keep, scope } from "../scope.ts";
import { fmtShape, sameShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { cast, contiguous } from "../ops/elementwise.ts";
import { runMap } from "../ops/map.ts";

/**
 * A float32 leaf tensor that a module owns and an optimizer updates: `requiresGrad` is set
 * and no scope ever frees it (free it with the module's `dispose()`).
 *
 * The constructor consumes `data`: the parameter takes over its storage (converted to a dense
 * float32 copy first when needed) and the `data` handle is disposed.
 *
 * @example
 * ```ts
 * const w = new Parameter(randn([3, 4]));
 * ```
 */
export class Parameter extends Tensor {
  /** Wraps `data` (consumed) as a parameter; `requiresGrad` defaults to true. */
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new TypeError(`Parameter: data must be a Tensor, got ${typeof data}`);
    data.assertLive("Parameter");
    const dense = noGrad(() => {
      const f = data.dtype === "float32" ? data : cast(data, "float32");
      if (f.isContiguous) return f;
      const c = contiguous(f);
      if (f !== data) f.dispose();
      return c;
    });
    super(dense.storage.retain(), dense.shape, "float32", dense.strides, dense.offset);
    keep(this);
    if (dense !== data) dense.dispose();
    data.dispose();
    this.requiresGrad = requiresGrad;
  }
}

/** A state dict: names (PyTorch's dot paths) to tensors, as a record or a Map. */
export type StateDict = Record<string, Tensor> | ReadonlyMap<string, Tensor>;

/** Options of `Module.loadStateDict`. */
export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Shapes must match either way. */
  strict?: boolean;
}

/** What `Module.loadStateDict` did not match (only non-empty when `strict` is false). */
export interface LoadStateDictResult {
  /** Keys the module has but the dict lacks. */
  missingKeys: string[];
  /** Keys the dict has but the module lacks. */
  unexpectedKeys: string[];
}

/** Options of `Module.registerBuffer`. */
export interface BufferOptions {
  /** Whether the buffer is part of `stateDict()` (default true). */
  persistent?: boolean;
}

function checkName(owner: Module, name: string, what: string): void {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`${owner.constructor.name}.${what}: the name must be a non-empty string`);
  }
  if (name.includes(".")) {
    throw new RangeError(`${owner.constructor.name}.${what}: the name "${name}" must not contain "."`);
  }
}

/**
 * Base class of every layer and model. Subclasses assign parameters, child modules and
 * buffers to fields and implement `forward`; `call(...)` runs `forward` with its types, in a
 * scope that frees the intermediates `forward` made (so `forward` reads like PyTorch: no
 * `dispose()`). State a `forward` stores on the module must be registered (`registerBuffer`)
 * or `keep`-ed, else the scope frees it.
 *
 * @example
 * ```ts
 * class Mlp extends Module {
 *   fc1 = new Linear(4, 8);
 *   fc2 = new Linear(8, 2);
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.call(this.fc1.call(x).relu());
 *   }
 * }
 * const net = new Mlp();
 * Object.keys(net.stateDict()); // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 * ```
 */
export class Module {
  /** Training mode (dropout active, batch norm uses batch statistics); see `train`/`eval`. */
  training = true;
  // Names of fields registered as buffers → whether they are persistent.
  #buffers = new Map<string, boolean>();

  /** The computation; subclasses override it with their own signature. */
  forward(..._args: unknown[]): unknown {
    throw new Error(`${this.constructor.name}: forward() is not implemented`);
  }

  /**
   * An activation layer that a norm right before it can apply in the norm's own kernels gives
   * its name here ("relu", "silu"); `chain` and `Sequential` then run the pair as one layer.
   */
  get fusibleActivation(): string | undefined {
    return undefined;
  }

  /** Whether `forward(x, activation)` applies `activation` after this layer itself (the norms). */
  acceptsActivation(_activation: string): boolean {
    return false;
  }

  /**
   * Runs `forward` (the typed equivalent of calling a PyTorch module) inside a `scope`: every
   * tensor `forward` creates and does not return is freed when it returns, so layers need no
   * `dispose()`. What it returns (tensors, or arrays/objects of them) survives into the
   * caller's scope together with its autograd graph; tensors the graph saved for backward are
   * separate handles that no scope frees, so freeing intermediates never breaks `backward()`.
   * Nested calls nest scopes. Call `forward` directly to skip the scope.
   */
  call<M extends Module>(this: M, ...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    return scope(() => (this.forward as (...a: unknown[]) => unknown)(...args)) as ReturnType<M["forward"]>;
  }

  /**
   * This module's own fields, in registration order. Containers override this to list
   * children kept outside fields.
   */
  protected ownEntries(): [string, unknown][] {
    return Object.entries(this);
  }

  /** Assigns a parameter (or `null`, for an absent optional parameter) to the field `name`. */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    checkName(this, name, "registerParameter");
    if (param !== null && !(param instanceof Parameter)) {
      throw new TypeError(`${this.constructor.name}.registerParameter: "${name}" must be a Parameter or null`);
    }
    this.#buffers.delete(name);
    (this as Record<string, unknown>)[name] = param;
    return param;
  }

  /**
   * Assigns a buffer (state that is not trained, e.g. running statistics) to the field `name`.
   * Non-persistent buffers are left out of `stateDict()`. The tensor is kept out of scopes.
   */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, opts: BufferOptions = {}): T {
    checkName(this, name, "registerBuffer");
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new TypeError(`${this.constructor.name}.registerBuffer: "${name}" must be a Tensor or null`);
    }
    if (tensor instanceof Parameter) {
      throw new TypeError(`${this.constructor.name}.registerBuffer: "${name}" is a Parameter; use registerParameter`);
    }
    if (tensor) keep(tensor);
    this.#buffers.set(name, opts.persistent ?? true);
    (this as Record<string, unknown>)[name] = tensor;
    return tensor;
  }

  /** Assigns a child module (or `null`) to the field `name`. */
  registerModule<M extends Module | null>(name: string, module: M): M {
    checkName(this, name, "registerModule");
    if (module !== null && !(module instanceof Module)) {
      throw new TypeError(`${this.constructor.name}.registerModule: "${name}" must be a Module or null`);
    }
    this.#buffers.delete(name);
    (this as Record<string, unknown>)[name] = module;
    return module;
  }

  /** Own parameters (not recursing), in order. */
  #ownParameters(): [string, Parameter][] {
    return this.ownEntries().filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  /** Own buffers (not recursing), in order, with their persistence. */
  #ownBuffers(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [name, v] of this.ownEntries()) {
      const persistent = this.#buffers.get(name);
      if (persistent !== undefined && v instanceof Tensor && !(v instanceof Parameter)) out.push([name, v, persistent]);
    }
    return out;
  }

  /** Direct children with their field names, in order. */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [name, v] of this.ownEntries()) {
      if (v instanceof Module && !seen.has(v)) {
        seen.add(v);
        out.push([name, v]);
      }
    }
    return out;
  }

  /** Direct children, in order. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant (each once), depth first, with dot-path names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [name, child] of m.ownEntries()) {
        if (child instanceof Module) walk(child, path ? `${path}.${name}` : name);
      }
    };
    walk(this, prefix);
    return out;
  }

  /** This module and every descendant, depth first. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every entry of every module with its dot path; shared modules are visited once. */
  #collect<T>(
    pick: (m: Module) => [string, T][],
    prefix: string,
    recurse: boolean,
    removeDuplicate: boolean,
  ): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<T>();
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [path, m] of mods) {
      for (const [name, v] of pick(m)) {
        if (removeDuplicate) {
          if (seen.has(v)) continue;
          seen.add(v);
        }
        out.push([path ? `${path}.${name}` : name, v]);
      }
    }
    return out;
  }

  /** Parameters with their dot paths (`layer1.0.conv1.weight`); a shared parameter is listed once. */
  namedParameters(prefix = "", recurse = true): [string, Parameter][] {
    return this.#collect((m) => m.#ownParameters(), prefix, recurse, true);
  }

  /** All parameters (each once), in state-dict order. */
  parameters(recurse = true): Parameter[] {
    return this.namedParameters("", recurse).map(([, p]) => p);
  }

  /** Buffers (persistent or not) with their dot paths. */
  namedBuffers(prefix = "", recurse = true): [string, Tensor][] {
    return this.#collect((m) => m.#ownBuffers().map(([n, t]) => [n, t] as [string, Tensor]), prefix, recurse, true);
  }

  /** All buffers (each once). */
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers("", recurse).map(([, t]) => t);
  }

  /** Total number of parameter elements (shared parameters counted once). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  /** Sets training mode on this module and every descendant; returns `this`. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (`train(false)`); returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /** Turns gradient tracking of every parameter on or off (freezing); returns `this`. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** Frees every parameter's gradient and sets it to null. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Calls `fn` on every descendant (children first) and then on this module; returns `this`. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Parameters and persistent buffers by dot path in PyTorch's order (per module: parameters,
   * buffers, then children; shared tensors under every name, as PyTorch does). The values are new handles on the module's storage (they
   * see later updates); the caller owns them — create them inside a `scope` or dispose them.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of this.#stateEntries()) out[name] = t.detach();
    return out;
  }

  /** Live state tensors by dot path (parameters, then persistent buffers, per module). */
  #stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      const at = (n: string) => (path ? `${path}.${n}` : n);
      for (const [n, p] of m.#ownParameters()) out.push([at(n), p]);
      for (const [n, t, persistent] of m.#ownBuffers()) if (persistent) out.push([at(n), t]);
      for (const [n, c] of m.ownEntries()) if (c instanceof Module) walk(c, at(n));
    };
    walk(this, "");
    return out;
  }

  /**
   * Copies tensors from `dict` into this module's parameters and persistent buffers (values are
   * converted to each target's dtype). Everything is checked first — missing keys and
   * unexpected keys (when `strict`), shape mismatches (always) — and one error lists every
   * problem; nothing is copied unless all checks pass.
   */
  loadStateDict(dict: StateDict, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const given = new Map<string, Tensor>(dict instanceof Map ? dict : Object.entries(dict));
    const own = this.#stateEntries();
    const ownNames = new Set(own.map(([n]) => n));
    const missingKeys = own.map(([n]) => n).filter((n) => !given.has(n));
    const unexpectedKeys = [...given.keys()].filter((n) => !ownNames.has(n));
    const problems: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [name, target] of own) {
      const src = given.get(name);
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) {
        problems.push(`"${name}" is not a Tensor (got ${src === null ? "null" : typeof src})`);
      } else if (src.isDisposed) {
        problems.push(`"${name}" was disposed`);
      } else if (!sameShape(src.shape, target.shape)) {
        problems.push(
          `size mismatch for "${name}": the module expects shape ${fmtShape(target.shape)}, the dict has ${
            fmtShape(src.shape)
          }`,
        );
      } else copies.push([src, target]);
    }
    const keyProblems: string[] = [];
    if (strict && missingKeys.length) {
      keyProblems.push(`missing key(s): ${missingKeys.map((k) => `"${k}"`).join(", ")}`);
    }
    if (strict && unexpectedKeys.length) {
      keyProblems.push(`unexpected key(s): ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}`);
    }
    problems.unshift(...keyProblems);
    if (problems.length) {
      throw new Error(
        `Error(s) in loading state dict for ${this.constructor.name} (nothing was loaded):\n  ${problems.join("\n  ")}`,
      );
    }
    for (const [src, dst] of copies) {
      if (src.storage === dst.storage && src.offset === dst.offset && sameShape(src.strides, dst.strides)) continue;
      runMap({
        op: "loadStateDict",
        expr: "x",
        inputs: [src],
        names: ["x"],
        load: [storageType[dst.dtype]],
        out: dst.dtype,
        into: dst,
      });
    }
    return { missingKeys, unexpectedKeys };
  }

  /** Frees every parameter (and its gradient) and buffer of this module and its descendants. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
      p.dispose();
    }
    for (const b of this.buffers()) b.dispose();
  }

  /** `using net = new Net()` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Extra text for `toString()` (e.g. `in_features=4, out_features=8`). */
  extraRepr(): string {
    return "";
  }

  /** A PyTorch-style tree description of the module. */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!children.length) return `${head})`;
    const lines = children.map(([n, c]) => `  (${n}): ${String(c).replaceAll("\n", "\n  ")}`);
    return `${head}\n${lines.join("\n")}\n)`;
  }
}
