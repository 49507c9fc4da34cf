/**
 * Containers: `ModuleList` (children named "0", "1", …), `Sequential` (a ModuleList whose
 * forward chains its children) and `ModuleDict` (children by key, in insertion order).
 * Children live in an ordered list, not in fields, so any key order is kept as given.
 */
import type { Tensor } from "../tensor.ts";
import { identity } from "../ops/elementwise.ts";
import { Module } from "./module.ts";

function checkModule(owner: string, m: unknown, where: string): Module {
  if (!(m instanceof Module)) {
    throw new TypeError(`${owner}: ${where} must be a Module, got ${m === null ? "null" : typeof m}`);
  }
  return m;
}

function checkKey(owner: string, key: string): string {
  if (typeof key !== "string" || key === "" || key.includes(".")) {
    throw new RangeError(`${owner}: child names must be non-empty strings without ".", got ${JSON.stringify(key)}`);
  }
  return key;
}

/**
 * A list of modules registered as children "0", "1", …; index it with `list[i]` or `at(i)`.
 * It has no `forward` of its own.
 */
export class ModuleList extends Module {
  /** The i-th child. */
  readonly [index: number]: Module;
  #items: [string, Module][] = [];

  /** A list holding `modules` in order. */
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Children by name, then any fields a subclass adds. */
  protected override ownEntries(): [string, unknown][] {
    return [...this.#items, ...super.ownEntries()];
  }

  /** Replaces the children (names as given), refreshing the numeric index properties. */
  protected setItems(items: [string, Module][]): void {
    for (let i = 0; i < this.#items.length; i++) delete (this as Record<number, unknown>)[i];
    this.#items = items;
    items.forEach((_, i) => {
      Object.defineProperty(this, i, { get: () => this.#items[i][1], configurable: true, enumerable: false });
    });
  }

  /** Names and children, in order. */
  protected items(): [string, Module][] {
    return this.#items;
  }

  /** Number of children. */
  get length(): number {
    return this.#items.length;
  }

  /** The child at `index` (negative counts from the end). */
  at<M extends Module = Module>(index: number): M {
    const n = this.#items.length;
    const i = index < 0 ? index + n : index;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`${this.constructor.name}.at: index ${index} is out of range for ${n} children`);
    }
    return this.#items[i][1] as M;
  }

  /** Adds a child named by its position; returns `this`. */
  append(module: Module): this {
    checkModule(this.constructor.name, module, "append's argument");
    this.setItems([...this.#items, [String(this.#items.length), module]]);
    return this;
  }

  /** Appends each module; returns `this`. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Inserts a child before `index`; children are renumbered. */
  insert(index: number, module: Module): this {
    checkModule(this.constructor.name, module, "insert's argument");
    const n = this.#items.length;
    const i = index < 0 ? Math.max(0, index + n) : Math.min(index, n);
    const mods = this.#items.map(([, m]) => m);
    mods.splice(i, 0, module);
    this.setItems(mods.map((m, j) => [String(j), m]));
    return this;
  }

  /** Registers `module` under `name` (a position, as PyTorch's `add_module` on a list). */
  override registerModule<M extends Module | null>(name: string, module: M): M {
    checkKey(this.constructor.name, name);
    if (module === null) throw new TypeError(`${this.constructor.name}.registerModule: module must not be null`);
    checkModule(this.constructor.name, module, `"${name}"`);
    const items = [...this.#items];
    const at = items.findIndex(([n]) => n === name);
    if (at >= 0) items[at] = [name, module];
    else items.push([name, module]);
    this.setItems(items);
    return module;
  }

  /** Iterates over the children. */
  *[Symbol.iterator](): Iterator<Module> {
    for (const [, m] of this.#items) yield m;
  }
}

/**
 * Chains its children: `forward(x)` = last(…(first(x))). Children are named "0", "1", … or,
 * built from a record/Map, by its keys (PyTorch's OrderedDict form).
 *
 * @example
 * ```ts
 * const mlp = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
 * Object.keys(mlp.stateDict()); // ["0.weight", "0.bias", "2.weight", "2.bias"]
 * ```
 */
export class Sequential extends ModuleList {
  /** Chains `modules`, or the values of one record/Map (named by its keys). */
  constructor(...modules: Module[] | [Record<string, Module> | ReadonlyMap<string, Module>]) {
    super();
    const first = modules[0] as unknown;
    if (modules.length === 1 && !(first instanceof Module)) {
      if (first === null || typeof first !== "object") {
        throw new TypeError(`Sequential: expected modules or a record of modules, got ${first}`);
      }
      const entries = first instanceof Map ? [...first] : Object.entries(first as Record<string, Module>);
      this.setItems(entries.map(([k, m]) => [checkKey("Sequential", k), checkModule("Sequential", m, `"${k}"`)]));
    } else {
      modules.forEach((m, i) => checkModule("Sequential", m, `argument ${i}`));
      this.setItems((modules as Module[]).map((m, i) => [String(i), m]));
    }
  }

  /** Feeds `x` through every child in order (see `chain`). */
  override forward(x: Tensor): Tensor {
    const h = chain(x, ...this.items().map(([, m]) => m));
    return h === x ? identity(x) : h;
  }
}

/** One stage of a `chain`: a module (run through `call`) or a function of the running tensor. */
export type ChainStage = Module | ((h: Tensor) => Tensor);

/**
 * Runs `stages` one after another on `x` (`last(…(first(x)))`; modules through `call`), as
 * `Sequential` does with its children, and returns the last output. Each intermediate output is
 * freed as soon as the next stage has read it, so a chain of n layers holds two activations at
 * a time rather than n until the caller's scope ends (tensors autograd saved for backward stay
 * alive either way). `x` itself is left alone. A norm layer followed by an activation layer it can
 * apply in its own kernels (`acceptsActivation`, `fusibleActivation`: batch or group norm, then
 * ReLU or SiLU) runs as one: the same values, one pass fewer each way.
 *
 * @example
 * ```ts
 * const y = chain(x, this.conv1, this.bn1, (h) => add(h, shift), this.relu); // relu(bn1(conv1 x) + shift)
 * ```
 */
export function chain(x: Tensor, ...stages: ChainStage[]): Tensor {
  let h = x;
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i], after = stages[i + 1];
    // A norm followed by an activation it can apply itself (BatchNorm → ReLU): one fused layer.
    const act = after instanceof Module ? after.fusibleActivation : undefined;
    const fused = act !== undefined && s instanceof Module && s.acceptsActivation(act);
    const next = fused ? s.call(h, act) as Tensor : s instanceof Module ? s.call(h) as Tensor : s(h);
    if (fused) i++;
    // Freed here rather than at the end of the caller's scope: this caps a chain's peak memory.
    if (h !== x && next !== h) h.dispose();
    h = next;
  }
  return h;
}

/** Children by string key, in insertion order (PyTorch's `nn.ModuleDict`). */
export class ModuleDict extends Module {
  #map = new Map<string, Module>();

  /** A dict holding `modules` (a record or key–module pairs), in order. */
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules
      ? [...(modules as Iterable<[string, Module]>)]
      : Object.entries(modules as Record<string, Module>);
    for (const [k, m] of entries) this.set(k, m);
  }

  /** Children by key, then any fields a subclass adds. */
  protected override ownEntries(): [string, unknown][] {
    return [...this.#map, ...super.ownEntries()];
  }

  /** Adds or replaces the child under `key`; returns `this`. */
  set(key: string, module: Module): this {
    checkKey("ModuleDict", key);
    this.#map.set(key, checkModule("ModuleDict", module, `"${key}"`));
    return this;
  }

  /** The child under `key` (throws when absent). */
  get<M extends Module = Module>(key: string): M {
    const m = this.#map.get(key);
    if (!m) throw new RangeError(`ModuleDict: no child "${key}" (keys: ${[...this.#map.keys()].join(", ")})`);
    return m as M;
  }

  /** Whether a child is registered under `key`. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Removes and returns the child under `key` (undefined when absent). */
  pop(key: string): Module | undefined {
    const m = this.#map.get(key);
    this.#map.delete(key);
    return m;
  }

  /** Registers `module` under `name` (same as `set`). */
  override registerModule<M extends Module | null>(name: string, module: M): M {
    if (module === null) throw new TypeError("ModuleDict.registerModule: module must not be null");
    this.set(name, module);
    return module;
  }

  /** Number of children. */
  get size(): number {
    return this.#map.size;
  }

  /** Keys in insertion order. */
  keys(): string[] {
    return [...this.#map.keys()];
  }

  /** Children in insertion order. */
  values(): Module[] {
    return [...this.#map.values()];
  }

  /** Key–child pairs in insertion order. */
  entries(): [string, Module][] {
    return [...this.#map];
  }
}
