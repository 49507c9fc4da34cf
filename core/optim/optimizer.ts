/**
 * The optimizer base class (torch.optim.Optimizer's shape): parameter groups with their own
 * hyper-parameters, per-parameter state in GPU tensors kept out of scopes, `step()` that
 * updates parameters in place with fused kernels, several parameter tensors per dispatch,
 * `zeroGrad()`, and JSON-able state dicts.
 */
import { dispatch, gpu, grid1d, pipeline } from "../device.ts";
import { noGrad } from "../autograd.ts";
import { keep } from "../scope.ts";
import { contiguousStrides, fmtShape } from "../shape.ts";
import { zeros } from "../ops/creation.ts";
import { Tensor } from "../tensor.ts";
import { clone, contiguous } from "../ops/elementwise.ts";
import { runMap } from "../ops/map.ts";
import { elementwiseBuffers, type UpdateKernel, updateMetaWords, updateSource } from "../kernels/optim.ts";
import { WG } from "../kernels/wgsl.ts";

/** Hyper-parameters every group has (schedulers change `lr`). */
export interface BaseHyper {
  /** Learning rate. */
  lr: number;
  /** Learning rate a scheduler started from (set by the first scheduler attached). */
  initialLr?: number;
}

/** A parameter group: its parameters plus its hyper-parameters. */
export type ParamGroup<H extends BaseHyper> = H & {
  /** Parameters updated with these hyper-parameters. */
  params: Tensor[];
};

/** A parameter group as passed in: hyper-parameters left out take the optimizer's defaults. */
export type ParamGroupInput<H extends BaseHyper> = Partial<H> & {
  /** Parameters of the group. */
  params: Iterable<Tensor>;
};

/** What optimizers accept: parameters, or PyTorch-style parameter groups. */
export type ParamsInput<H extends BaseHyper> = Iterable<Tensor> | readonly ParamGroupInput<H>[];

/** Per-parameter state: GPU tensors (moments, buffers) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

/** JSON-able value of a hyper-parameter. */
export type HyperValue = number | boolean | string | number[] | null;

/**
 * An optimizer's state as plain data: `state` keyed by the parameter's index over all groups
 * (tensors are the optimizer's live buffers, not copies), `paramGroups` with the parameter
 * indices in place of the parameters.
 */
export interface OptimizerStateDict {
  /** Per-parameter state by parameter index. */
  state: Record<string, ParamState>;
  /** Hyper-parameters of each group, with `params` as indices. */
  paramGroups: ({ params: number[] } & Record<string, HyperValue | number[]>)[];
}

/** Throws a RangeError naming `name` unless `value` is a finite number ≥ 0. */
export function checkNonNegative(op: string, name: string, value: number): void {
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${op}: invalid ${name} ${value}; expected a finite number >= 0`);
  }
}

/** Throws unless `p` is a live, dense float32 tensor an optimizer can update in place. */
export function checkParam(op: string, p: unknown, where: string): asserts p is Tensor {
  if (!(p instanceof Tensor)) {
    throw new TypeError(`${op}: ${where} is ${p === null ? "null" : typeof p}; expected a Tensor`);
  }
  p.assertLive(op);
  if (p.dtype !== "float32") {
    throw new TypeError(`${op}: ${where} has dtype ${p.dtype}; only float32 parameters can be optimized`);
  }
  if (!p.isContiguous) {
    throw new TypeError(
      `${op}: ${where} of shape ${fmtShape(p.shape)} is a non-contiguous view; parameters are updated in place ` +
        `and must be dense (use a contiguous tensor as the parameter)`,
    );
  }
}

/**
 * The gradient of `p` as a dense tensor: a non-contiguous gradient (a broadcast view, say) is
 * replaced by a dense copy in `p.grad`, so that kernels may read and write it directly.
 */
export function denseGrad(p: Tensor): Tensor | null {
  const g = p.grad;
  if (!g || g.isDisposed) return null;
  if (g.isContiguous) return g;
  const dense = keep(contiguous(g));
  g.dispose();
  p.grad = dense;
  return dense;
}

/** Most tensor groups one update dispatch takes (more makes the shader long for little gain). */
const MAX_GROUPS = 8;

/**
 * Collects fused update launches and issues them with several tensor groups per dispatch (the
 * multi-tensor "foreach" updates of PyTorch's optimizers): consecutive launches of the same
 * kernel with the same scalars and flags share a dispatch, as many as the adapter's storage
 * bindings allow (16 on llvmpipe). A buffer that every group of the dispatch finds in one storage
 * (an optimizer's state packed by {@linkcode Optimizer}) is bound once: AdamW with packed moments
 * fits 7 parameters per dispatch instead of 4. A launch whose written elements overlap elements
 * another launch of the dispatch touches (or that reads elements one writes) starts a new one.
 * Call `flush()` before anything reads what the launches write.
 */
export class UpdateBatch {
  #op = "";
  #kernel: UpdateKernel | null = null;
  #key = "";
  #groups: Tensor[][] = [];
  #scalars: readonly number[] = [];
  #flags: readonly boolean[] = [];
  /** Per kernel buffer: every group so far binds the same storage there. */
  #shared: boolean[] = [];
  /** Element ranges the groups so far touch, per storage. */
  #touched = new Map<GPUBuffer, { lo: number; hi: number; write: boolean }[]>();

  /** Adds one group: `tensors[i]` is the kernel's buffer i (each a dense float32 view). */
  add(
    op: string,
    kernel: UpdateKernel,
    tensors: readonly Tensor[],
    scalars: readonly number[],
    flags: readonly boolean[] = [],
  ): void {
    if (tensors.length !== kernel.buffers.length || scalars.length !== kernel.scalars.length) {
      throw new Error(`internal: ${op} expects ${kernel.buffers.length} tensors and ${kernel.scalars.length} scalars`);
    }
    const buffers = tensors.map((t) => t.storage.buffer);
    kernel.buffers.forEach((b, i) => {
      if (b.write && buffers.some((o, j) => j !== i && o === buffers[i])) {
        throw new Error(`${op}: the tensor bound as '${b.name}' shares its GPU storage with another operand`);
      }
    });
    if (tensors[0].size === 0) return;
    const key = `${op}|${scalars.join(",")}|${flags.join(",")}`;
    const clash = kernel.buffers.some((b, i) =>
      (this.#touched.get(buffers[i]) ?? []).some((r) =>
        (b.write || r.write) && r.lo < tensors[i].offset + tensors[i].size && tensors[i].offset < r.hi
      )
    );
    const first = this.#groups[0];
    const shared = kernel.buffers.map((_, i) => !first || (this.#shared[i] && first[i].storage.buffer === buffers[i]));
    const G = this.#groups.length + 1;
    const bindings = shared.reduce((n, s) => n + (s ? 1 : G), 0);
    const full = bindings > gpu().limits.maxStorageBuffersPerShaderStage || this.#groups.length >= MAX_GROUPS;
    if (key !== this.#key || kernel !== this.#kernel || clash || full) this.flush();
    if (this.#groups.length === 0) {
      [this.#op, this.#kernel, this.#key, this.#scalars, this.#flags] = [op, kernel, key, scalars, flags];
      this.#shared = kernel.buffers.map(() => true);
    } else this.#shared = shared;
    this.#groups.push([...tensors]);
    kernel.buffers.forEach((b, i) => {
      const ranges = this.#touched.get(buffers[i]) ?? [];
      ranges.push({ lo: tensors[i].offset, hi: tensors[i].offset + tensors[i].size, write: b.write });
      this.#touched.set(buffers[i], ranges);
    });
  }

  /** Issues what was added. */
  flush(): void {
    const kernel = this.#kernel, groups = this.#groups, shared = this.#shared;
    this.#groups = [];
    this.#touched.clear();
    if (!kernel || groups.length === 0) return;
    const B = kernel.buffers.length, G = groups.length;
    // Four elements per thread when every group and its element-wise views are aligned to 4.
    const wide = elementwiseBuffers(kernel);
    const isWide = kernel.buffers.map((b) => wide.has(b.name));
    const vec4 = groups.every((ts) => ts[0].size % 4 === 0 && ts.every((t, i) => !isWide[i] || t.offset % 4 === 0));
    const lanes = vec4 ? 4 : 1;
    const meta = new Uint32Array(updateMetaWords(kernel, G));
    const f = new Float32Array(meta.buffer);
    let total = 0;
    groups.forEach((ts, g) => {
      meta[1 + g] = total += ts[0].size / lanes;
      ts.forEach((t, i) => (meta[1 + G + g * B + i] = isWide[i] ? t.offset / lanes : t.offset));
    });
    meta[0] = total;
    let w = 1 + G * (1 + B);
    for (const s of this.#scalars) f[w++] = s;
    for (const b of this.#flags) meta[w++] = b ? 1 : 0;
    const mask = G > 1 ? `/${shared.map((s) => (s ? 1 : 0)).join("")}` : "";
    dispatch({
      op: this.#op,
      pipeline: pipeline(`${this.#op}×${G}${mask}`, updateSource(kernel, G, vec4, G > 1 ? shared : [])),
      bindings: groups.flatMap((ts, g) => ts.filter((_, i) => g === 0 || !shared[i]).map((t) => t.storage.buffer)),
      uniforms: meta,
      workgroups: grid1d(Math.ceil(total / WG)),
    });
  }
}

/** Fills a tensor's elements with zeros in place. */
export function zeroInPlace(t: Tensor): void {
  runMap({ op: "zero_", expr: "0.0", inputs: [], names: [], out: "float32", into: t });
}

function isJsonHyper(v: unknown): v is HyperValue {
  return v === null || ["number", "boolean", "string"].includes(typeof v) ||
    (Array.isArray(v) && v.every((x) => typeof x === "number"));
}

/**
 * Base class of optimizers; subclasses implement `updateParam` by adding one fused kernel launch
 * to the step's {@linkcode UpdateBatch}, which issues several parameters per dispatch.
 */
export abstract class Optimizer<H extends BaseHyper> {
  /** Default hyper-parameters for groups that leave them out. */
  readonly defaults: Readonly<H>;
  /** Parameter groups; schedulers and users may change hyper-parameters between steps. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Per-parameter state (GPU tensors kept out of scopes, and step counts). */
  readonly state: Map<Tensor, ParamState> = new Map();
  /** Name used in error messages. */
  protected readonly name: string;
  /** State tensors that are views of a packed storage. */
  readonly #packed = new WeakSet<Tensor>();

  /** Builds the groups from `params` (tensors or groups), filling in `defaults`. */
  constructor(name: string, params: ParamsInput<H>, defaults: H) {
    this.name = name;
    this.defaults = Object.freeze({ ...defaults });
    this.checkHyper(defaults);
    if (params instanceof Tensor || params === null || typeof params !== "object" || !(Symbol.iterator in params)) {
      throw new TypeError(`${name}: params must be an iterable of Tensors or of parameter groups, got ${params}`);
    }
    const items = [...(params as Iterable<Tensor | ParamGroupInput<H>>)];
    if (items.length === 0) throw new RangeError(`${name}: got an empty parameter list`);
    const groups = items.every((x) => x instanceof Tensor)
      ? [{ params: items as Tensor[] } as unknown as ParamGroupInput<H>]
      : (items as ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Validates a group's hyper-parameters (throws a RangeError naming the bad one). */
  protected abstract checkHyper(h: H): void;

  /** Updates one parameter in place from its dense gradient: one fused launch added to `updates`. */
  protected abstract updateParam(
    p: Tensor,
    grad: Tensor,
    group: ParamGroup<H>,
    state: ParamState,
    updates: UpdateBatch,
  ): void;

  /** Adds a parameter group; missing hyper-parameters come from `defaults`. */
  addParamGroup(group: ParamGroupInput<H>): void {
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new TypeError(`${this.name}: a parameter group must be an object with 'params'`);
    }
    const params = group.params instanceof Tensor ? [group.params] : [...group.params];
    const index = this.paramGroups.length;
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      checkParam(this.name, p, `parameter ${i} of group ${index}`);
      if (seen.has(p)) throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
      seen.add(p);
    });
    const full = { ...this.defaults, ...group, params } as ParamGroup<H>;
    this.checkHyper(full);
    this.paramGroups.push(full);
  }

  /** Performs one optimization step; parameters without a gradient are skipped. No GPU readback. */
  step(): void {
    const updates = new UpdateBatch();
    noGrad(() => {
      const live: { p: Tensor; grad: Tensor; group: ParamGroup<H>; st: ParamState }[] = [];
      for (const group of this.paramGroups) {
        this.checkHyper(group);
        for (const p of group.params) {
          const grad = denseGrad(p);
          if (!grad) continue;
          checkParam(this.name, p, `a parameter of shape ${fmtShape(p.shape)}`);
          if (grad.size !== p.size) {
            throw new RangeError(
              `${this.name}: the gradient of a parameter of shape ${fmtShape(p.shape)} has shape ${
                fmtShape(grad.shape)
              }`,
            );
          }
          let st = this.state.get(p);
          if (!st) this.state.set(p, st = {});
          live.push({ p, grad, group, st });
        }
      }
      this.#packState(live);
      for (const { p, grad, group, st } of live) this.updateParam(p, grad, group, st, updates);
      updates.flush();
    });
  }

  /**
   * Keys of the zero-initialised state tensors `updateParam` uses for a parameter of `group`.
   * `step()` keeps them packed: one storage per key holds every parameter's tensor, in parameter
   * order, so the fused update binds it once for several parameters (see {@linkcode UpdateBatch}).
   */
  protected packedStateKeys(_group: ParamGroup<H>): readonly string[] {
    return [];
  }

  /**
   * Gives the parameters of `live` their packed state tensors where they lack them: new ones zero,
   * others (a loaded state, or one packed with a different set of parameters) copied in.
   */
  #packState(live: readonly { p: Tensor; group: ParamGroup<H>; st: ParamState }[]): void {
    const { maxStorageBufferBindingSize, maxBufferSize } = gpu().limits;
    const cap = Math.floor(Math.min(maxStorageBufferBindingSize, maxBufferSize) / 4);
    const keyed = live.map((e) => ({ ...e, keys: this.packedStateKeys(e.group) }));
    for (const key of new Set(keyed.flatMap((e) => e.keys))) {
      const todo = keyed.filter((e) => e.keys.includes(key) && !this.#packed.has(e.st[key] as Tensor));
      const aligned = (e: { p: Tensor }) => Math.ceil(e.p.size / 4) * 4; // vec4 updates need aligned views
      for (let i = 0; i < todo.length;) {
        let total = aligned(todo[i]), end = i + 1;
        while (end < todo.length && total + aligned(todo[end]) <= cap) total += aligned(todo[end++]);
        const storage = zeros([total]);
        let offset = 0;
        for (const { p, st } of todo.slice(i, end)) {
          const view = keep(storage.viewAs(p.shape, contiguousStrides(p.shape), offset));
          const old = st[key];
          if (old instanceof Tensor && !old.isDisposed) {
            runMap({ op: "optimizer.packState", expr: "x", inputs: [old], names: ["x"], out: "float32", into: view });
            old.dispose();
          }
          st[key] = view;
          this.#packed.add(view);
          offset += aligned({ p });
        }
        storage.dispose();
        i = end;
      }
    }
  }

  /** Clears gradients: disposes them (`setToNone`, the default) or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        if (setToNone || p.grad.isDisposed) {
          p.grad.dispose();
          p.grad = null;
        } else zeroInPlace(p.grad);
      }
    }
  }

  /** The state as plain data plus tensors (the optimizer's live buffers; save them before the next step). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const out: Record<string, HyperValue | number[]> = {};
      for (const [k, v] of Object.entries(g)) {
        if (k !== "params" && isJsonHyper(v)) out[k] = Array.isArray(v) ? [...v] : v;
      }
      const ids = g.params.map((p) => {
        index.set(p, index.size);
        return index.size - 1;
      });
      return { ...out, params: ids };
    });
    const state: Record<string, ParamState> = {};
    for (const [p, st] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[String(i)] = { ...st };
    }
    return { state, paramGroups };
  }

  /** Loads hyper-parameters and state (tensors are copied) from `stateDict()` output. */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || !Array.isArray(sd.paramGroups) || typeof sd.state !== "object") {
      throw new TypeError(`${this.name}.loadStateDict: expected {state, paramGroups}`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `${this.name}.loadStateDict: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`,
      );
    }
    const params: Tensor[] = [];
    sd.paramGroups.forEach((sg, gi) => {
      const g = this.paramGroups[gi];
      if (sg.params.length !== g.params.length) {
        throw new RangeError(
          `${this.name}.loadStateDict: group ${gi} has ${sg.params.length} parameters in the state, ${g.params.length} here`,
        );
      }
      sg.params.forEach((idx, j) => (params[idx] = g.params[j]));
    });
    const loaded = new Map<Tensor, ParamState>();
    for (const [key, st] of Object.entries(sd.state)) {
      const p = params[Number(key)];
      if (!p) throw new RangeError(`${this.name}.loadStateDict: state for unknown parameter index ${key}`);
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st)) {
        if (v instanceof Tensor) {
          if (v.size !== p.size) {
            throw new RangeError(
              `${this.name}.loadStateDict: state '${k}' of parameter ${key} has shape ${fmtShape(v.shape)}, ` +
                `the parameter ${fmtShape(p.shape)}`,
            );
          }
          const r = v.reshape([...p.shape]);
          copy[k] = keep(noGrad(() => clone(r)));
          if (r !== v) r.dispose();
        } else copy[k] = v;
      }
      loaded.set(p, copy);
    }
    sd.paramGroups.forEach((sg, gi) => {
      const g = this.paramGroups[gi] as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(sg)) if (k !== "params") g[k] = Array.isArray(v) ? [...v] : v;
      this.checkHyper(this.paramGroups[gi]);
    });
    this.disposeState();
    for (const [p, st] of loaded) this.state.set(p, st);
  }

  /** Frees the state tensors (the optimizer starts afresh on the next step). */
  disposeState(): void {
    for (const st of this.state.values()) {
      for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }

  /** Frees the state tensors (parameters and gradients are not touched). */
  dispose(): void {
    this.disposeState();
  }

  /** A state tensor, created (zero-filled or uninitialised) and kept on first use. */
  protected stateTensor(st: ParamState, key: string, p: Tensor, init: (p: Tensor) => Tensor): Tensor {
    const v = st[key];
    if (v instanceof Tensor && !v.isDisposed) return v;
    const t = keep(init(p));
    st[key] = t;
    return t;
  }
}
