/**
 * Training checkpoints: a model, its optimizer, EMA, LR scheduler, step counters and the
 * random generator's state in ONE safetensors file, so that a run stopped and resumed
 * continues exactly as if it had not stopped.
 *
 * Layout: tensors under `model.<state-dict name>`, `optim.<parameter index>.<state key>` and
 * `ema.<name>`; everything else is JSON in the `__metadata__` strings (`format`, `version`,
 * `step`, `epoch`, `fingerprint`, `optimizer`, `ema`, `scheduler`, `rng`, `extra`). The
 * architecture fingerprint is the sorted list of state-dict names with their shapes.
 *
 * Saving reads every tensor back from the GPU before a byte is written, then writes a temporary
 * file in the same folder and renames it over the target; the file carries the CRC-32C of its
 * tensor data (`meddiff.crc32c`, see util/formats/safetensors.ts). Loading verifies it and
 * validates the whole file against the objects passed in before it changes any of them; every
 * problem with the file is a DatasetError naming it.
 */
import { writeFileAtomic } from "../util/io.ts";
import { fmtShape, sameShape } from "../core/shape.ts";
import { scope } from "../core/scope.ts";
import type { Tensor } from "../core/tensor.ts";
import { tensor } from "../core/ops/creation.ts";
import { defaultGenerator, type RngState } from "../core/ops/random.ts";
import type { EMA, EMAStateDict } from "../core/optim/ema.ts";
import type { LRScheduler, SchedulerStateDict } from "../core/optim/lr_scheduler.ts";
import type { BaseHyper, HyperValue, Optimizer, OptimizerStateDict, ParamState } from "../core/optim/optimizer.ts";
import type { Module } from "../core/nn/module.ts";
import { encodeSafetensors, type HostTensor, readSafetensorsFile } from "../util/formats/safetensors.ts";
import { DatasetError } from "../util/errors.ts";

/** Value of the `format` metadata entry of every checkpoint. */
export const CHECKPOINT_FORMAT = "meddiff.checkpoint";
/** Version of the checkpoint layout written by `saveCheckpoint`. */
export const CHECKPOINT_VERSION = 1;

/** JSON-able values (for `extra`). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What `saveCheckpoint` stores. */
export interface CheckpointState {
  /** The model: its parameters and persistent buffers are saved. */
  model: Module;
  /** Optimizer whose hyper-parameters and per-parameter state are saved. */
  optimizer?: Optimizer<BaseHyper>;
  /** Exponential moving average whose counters and shadow weights are saved. */
  ema?: EMA;
  /** Learning-rate scheduler whose position is saved. */
  scheduler?: LRScheduler;
  /** Global step (number of optimizer steps taken), a non-negative integer. */
  step: number;
  /** Epoch, when the run counts them. */
  epoch?: number;
  /** Anything else JSON-able (best metric, data-loader position, config…). */
  extra?: Record<string, JsonValue>;
  /** Refuse to write a file holding a NaN or infinity (a {@linkcode NonFiniteError} names the tensor). */
  requireFinite?: boolean;
}

/** Training produced a NaN or infinity (in a loss, a gradient, a metric or the weights). */
export class NonFiniteError extends Error {
  /** Makes the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

/** "tensor <name> holds <value> at index <i>" for the first non-finite float, or null. */
function firstNonFinite(host: Record<string, HostTensor>): string | null {
  for (const [name, t] of Object.entries(host)) {
    if (!(t.data instanceof Float32Array)) continue;
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) return `tensor ${name} holds ${d[i]} at index ${i}`;
    }
  }
  return null;
}

/** What `loadCheckpoint` restores into (everything passed must be present in the file). */
export interface CheckpointTargets {
  /** Model to load the weights into (architecture must match the checkpoint's). */
  model: Module;
  /** Optimizer to restore (same type and parameter layout as when saved). */
  optimizer?: Optimizer<BaseHyper>;
  /** EMA to restore (same tracked names and shapes). */
  ema?: EMA;
  /** Scheduler to restore (same type). */
  scheduler?: LRScheduler;
  /** Restore the default random generator's state (default true). */
  restoreRng?: boolean;
}

/** What `loadCheckpoint` returns: the counters and extras stored with the tensors. */
export interface CheckpointInfo {
  /** The step saved. */
  step: number;
  /** The epoch saved, or null. */
  epoch: number | null;
  /** The `extra` record saved (empty when none). */
  extra: Record<string, JsonValue>;
  /** The random generator's state saved. */
  rng: RngState;
  /** Layout version of the file. */
  version: number;
  /** `verified`: the tensor data matched its checksum; `absent`: the file has none (written before checksums). */
  checksum: "verified" | "absent";
}

/** One fingerprint entry: a state-dict name and its shape. */
export type FingerprintEntry = [name: string, shape: number[]];

interface OptimizerMeta {
  type: string;
  paramGroups: OptimizerStateDict["paramGroups"];
  /** Per parameter index: its shape and (when it belongs to the model) its name. */
  params: { shape: number[]; name: string | null }[];
  /** Per parameter index with state: the numeric entries. */
  numbers: Record<string, Record<string, number>>;
  /** Per parameter index with state: the names of the tensor entries. */
  tensors: Record<string, string[]>;
}

/** The EMA's counters as stored in the metadata, with the names of its shadow tensors. */
type EmaMeta = Omit<EMAStateDict, "shadow"> & { names: string[] };

interface SchedulerMeta extends SchedulerStateDict {
  type: string;
}

/** The architecture fingerprint of `model`: state-dict names (sorted) with their shapes. */
export function modelFingerprint(model: Module): FingerprintEntry[] {
  const sd = liveStateDict(model, "modelFingerprint");
  const out: FingerprintEntry[] = Object.entries(sd).map(([name, t]) => [name, [...t.shape]]);
  for (const t of Object.values(sd)) t.dispose();
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** `model.stateDict()` (new handles, the caller disposes them), after checking that no tensor was disposed. */
function liveStateDict(model: Module, op: string): Record<string, Tensor> {
  for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) {
    if (t.isDisposed) throw new Error(`${op}: the model's tensor "${name}" was disposed`);
  }
  return model.stateDict();
}

/** The first difference between two sorted fingerprints, in words, or null when they agree. */
export function fingerprintDifference(saved: FingerprintEntry[], current: FingerprintEntry[]): string | null {
  let i = 0, j = 0;
  while (i < saved.length || j < current.length) {
    const a = saved[i], b = current[j];
    if (a && b && a[0] === b[0]) {
      if (!sameShape(a[1], b[1])) {
        return `"${a[0]}" has shape ${fmtShape(a[1])} in the checkpoint but ${fmtShape(b[1])} in the model`;
      }
      i++, j++;
    } else if (b === undefined || (a !== undefined && a[0] < b[0])) {
      return `"${a[0]}" is in the checkpoint but not in the model`;
    } else {
      return `"${b[0]}" is in the model but not in the checkpoint`;
    }
  }
  return null;
}

function checkCount(op: string, name: string, v: unknown): void {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Starts reading every tensor back (all copies are recorded now, before the first wait, so the
 * result is the state at this call) and resolves to the host copies.
 */
function startReads(tensors: Map<string, Tensor>, op: string): Promise<Record<string, HostTensor>> {
  for (const [name, t] of tensors) if (t.isDisposed) throw new Error(`${op}: "${name}" was disposed`);
  const names = [...tensors.keys()];
  const meta = names.map((n) => ({ dtype: tensors.get(n)!.dtype, shape: [...tensors.get(n)!.shape] }));
  const reads = names.map((n) => tensors.get(n)!.data());
  return Promise.all(reads).then((data) => {
    const out: Record<string, HostTensor> = {};
    names.forEach((n, i) => (out[n] = { ...meta[i], data: data[i] }));
    return out;
  });
}

function toPath(path: string | URL, op: string): string {
  if (path instanceof URL) {
    if (path.protocol !== "file:") throw new TypeError(`${op}: only file: URLs are supported, got ${path}`);
    return decodeURIComponent(path.pathname);
  }
  if (typeof path !== "string" || path === "") throw new TypeError(`${op}: path must be a non-empty string`);
  return path;
}

/**
 * Saves a training checkpoint to `path` (one safetensors file, written atomically): the
 * model's state dict, the optimizer's hyper-parameters and state, the EMA, the scheduler, the
 * step/epoch counters, `extra`, and the default random generator's state.
 *
 * Every tensor is copied back from the GPU before anything is written, and the copies are
 * recorded when this is called, so the checkpoint is the state at the call even if training
 * goes on before the promise settles. On failure an existing file at `path` is left intact.
 *
 * @example
 * ```ts
 * await saveCheckpoint(`runs/a/ckpt-${String(step).padStart(6, "0")}.safetensors`, {
 *   model, optimizer, ema, scheduler, step, epoch,
 * });
 * ```
 */
export async function saveCheckpoint(path: string | URL, state: CheckpointState): Promise<void> {
  const file = toPath(path, "saveCheckpoint");
  const op = `saveCheckpoint ${file}`;
  if (!state || typeof state !== "object" || !state.model) throw new TypeError(`${op}: state.model is required`);
  checkCount(op, "step", state.step);
  if (state.epoch !== undefined) checkCount(op, "epoch", state.epoch);
  const { model, optimizer, ema, scheduler } = state;
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    step: String(state.step),
    epoch: state.epoch === undefined ? "null" : String(state.epoch),
    rng: JSON.stringify(defaultGenerator.getState()),
  };
  try {
    meta.extra = JSON.stringify(state.extra ?? {});
  } catch (e) {
    throw new TypeError(`${op}: extra is not JSON-serialisable (${e instanceof Error ? e.message : e})`);
  }
  const tensors = new Map<string, Tensor>();
  meta.fingerprint = JSON.stringify(modelFingerprint(model));
  const handles = liveStateDict(model, op);
  let reads: Promise<Record<string, HostTensor>>;
  try {
    for (const [name, t] of Object.entries(handles)) tensors.set(`model.${name}`, t);
    if (optimizer) meta.optimizer = JSON.stringify(optimizerMeta(optimizer, model, tensors));
    if (ema) {
      const { shadow, ...counters } = ema.stateDict();
      for (const [name, t] of Object.entries(shadow)) tensors.set(`ema.${name}`, t);
      meta.ema = JSON.stringify({ ...counters, names: Object.keys(shadow) } satisfies EmaMeta);
    }
    if (scheduler) {
      meta.scheduler = JSON.stringify({ type: scheduler.constructor.name, ...scheduler.stateDict() });
    }
    reads = startReads(tensors, op);
  } finally {
    // The copies are recorded; the state-dict handles are no longer needed.
    for (const t of Object.values(handles)) t.dispose();
  }
  const host = await reads;
  if (state.requireFinite) {
    const bad = firstNonFinite(host);
    if (bad) throw new NonFiniteError(`${op}: not written: ${bad} (the last good checkpoint is left as it was)`);
  }
  await writeFileAtomic(file, encodeSafetensors(host, meta), { what: "the checkpoint" });
}

function optimizerMeta(opt: Optimizer<BaseHyper>, model: Module, tensors: Map<string, Tensor>): OptimizerMeta {
  const sd = opt.stateDict();
  const names = new Map<Tensor, string>(model.namedParameters().map(([n, p]) => [p, n]));
  const params = opt.paramGroups.flatMap((g) => g.params).map((p) => ({
    shape: [...p.shape],
    name: names.get(p) ?? null,
  }));
  const numbers: OptimizerMeta["numbers"] = {};
  const tensorKeys: OptimizerMeta["tensors"] = {};
  for (const [idx, st] of Object.entries(sd.state)) {
    numbers[idx] = {};
    tensorKeys[idx] = [];
    for (const [k, v] of Object.entries(st)) {
      if (typeof v === "number") numbers[idx][k] = v;
      else {
        tensorKeys[idx].push(k);
        tensors.set(`optim.${idx}.${k}`, v);
      }
    }
  }
  return { type: opt.constructor.name, paramGroups: sd.paramGroups, params, numbers, tensors: tensorKeys };
}

/** Parses a JSON metadata entry, naming it on failure. */
function metaJson<T>(meta: Record<string, string>, key: string, fail: (m: string) => never): T | undefined {
  const s = meta[key];
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    fail(`the "${key}" metadata is not valid JSON`);
  }
}

/**
 * Loads a checkpoint written by `saveCheckpoint` into `targets` and restores the default random
 * generator's state. The whole file is validated against the targets first — architecture
 * (the first differing parameter is named), optimizer type and parameter layout, EMA names,
 * scheduler type — and nothing is changed unless every check passes. A truncated or corrupt
 * file, or one whose data does not match its checksum, fails with a DatasetError naming it; a
 * checkpoint written before checksums loads with `checksum: "absent"` (and a note on the console).
 *
 * @example
 * ```ts
 * const last = await latestCheckpoint("runs/a");
 * const { step } = last ? await loadCheckpoint(last, { model, optimizer, ema, scheduler }) : { step: 0 };
 * ```
 */
export async function loadCheckpoint(path: string | URL, targets: CheckpointTargets): Promise<CheckpointInfo> {
  const file = toPath(path, "loadCheckpoint");
  if (!targets || typeof targets !== "object" || !targets.model) {
    throw new TypeError(`loadCheckpoint ${file}: targets.model is required`);
  }
  const { tensors: host, metadata: meta, checksum } = await readSafetensorsFile(file);
  let checked: Checked;
  try {
    checked = checkCheckpoint(file, meta, host, targets);
  } catch (e) {
    // Metadata of the right JSON syntax but the wrong shape (the checksum covers the data only).
    if (e instanceof TypeError) throw new DatasetError(file, `malformed checkpoint metadata (${e.message})`);
    throw e;
  }
  const { step, epochRaw, extra, rng, version, saved, optMeta, emaMeta, schedMeta } = checked;
  const { model, optimizer: opt, ema, scheduler: sched } = targets;

  // ---- everything checked: apply ----
  scope(() => {
    const gpuOf = (name: string): Tensor => {
      const h = host[name];
      return tensor(h.data, h.shape, { dtype: h.dtype });
    };
    const sd = new Map(saved.map(([name]) => [name, gpuOf(`model.${name}`)]));
    model.loadStateDict(sd);
    if (opt && optMeta) {
      const state: Record<string, ParamState> = {};
      for (const [idx, nums] of Object.entries(optMeta.numbers)) {
        state[idx] = { ...nums };
        for (const k of optMeta.tensors[idx] ?? []) state[idx][k] = gpuOf(`optim.${idx}.${k}`);
      }
      opt.loadStateDict({ state, paramGroups: optMeta.paramGroups });
    }
    if (ema && emaMeta) {
      const { names, ...counters } = emaMeta;
      ema.loadStateDict({ ...counters, shadow: Object.fromEntries(names.map((n) => [n, gpuOf(`ema.${n}`)])) });
    }
    if (sched && schedMeta) {
      const { type: _type, ...sd } = schedMeta;
      sched.loadStateDict(sd);
    }
  });
  if (targets.restoreRng ?? true) defaultGenerator.setState(rng);
  return { step, epoch: epochRaw, extra, rng, version, checksum };
}

/** What {@linkcode checkCheckpoint} found valid, ready to apply. */
interface Checked {
  step: number;
  epochRaw: number | null;
  extra: Record<string, JsonValue>;
  rng: RngState;
  version: number;
  saved: FingerprintEntry[];
  optMeta?: OptimizerMeta;
  emaMeta?: EmaMeta;
  schedMeta?: SchedulerMeta;
}

function isFingerprintEntry(e: unknown): e is FingerprintEntry {
  return Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && Array.isArray(e[1]) &&
    e[1].every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Validates a checkpoint's metadata and tensors against `targets` without changing anything. */
function checkCheckpoint(
  file: string,
  meta: Record<string, string>,
  host: Record<string, HostTensor>,
  targets: CheckpointTargets,
): Checked {
  const fail = (m: string): never => {
    throw new DatasetError(file, m);
  };
  // ---- header ----
  if (meta.format !== CHECKPOINT_FORMAT) {
    fail(
      `not a meddiff checkpoint (metadata "format" is ${JSON.stringify(meta.format ?? null)}); ` +
        `plain weights load with loadSafetensors + Module.loadStateDict`,
    );
  }
  const version = Number(meta.version);
  if (!Number.isInteger(version) || version < 1 || version > CHECKPOINT_VERSION) {
    fail(`unsupported checkpoint version ${meta.version} (this reader handles 1…${CHECKPOINT_VERSION})`);
  }
  const step = Number(meta.step);
  if (!Number.isSafeInteger(step) || step < 0) fail(`bad "step" metadata ${JSON.stringify(meta.step)}`);
  const epochRaw = metaJson<number | null>(meta, "epoch", fail) ?? null;
  if (epochRaw !== null && !Number.isSafeInteger(epochRaw)) fail(`bad "epoch" metadata ${meta.epoch}`);
  const extra = metaJson<Record<string, JsonValue>>(meta, "extra", fail) ?? {};
  if (extra === null || typeof extra !== "object" || Array.isArray(extra)) fail(`bad "extra" metadata ${meta.extra}`);
  const rng = metaJson<RngState>(meta, "rng", fail) ?? fail(`the "rng" metadata is missing`);
  if (
    typeof rng !== "object" || !Number.isSafeInteger(rng.seed) || rng.seed < 0 || !Number.isSafeInteger(rng.offset) ||
    rng.offset < 0
  ) {
    fail(`bad "rng" metadata ${meta.rng}`);
  }

  // ---- model ----
  const { model } = targets;
  const saved = metaJson<FingerprintEntry[]>(meta, "fingerprint", fail) ??
    fail(`the "fingerprint" metadata is missing`);
  if (!Array.isArray(saved) || !saved.every(isFingerprintEntry)) fail(`the "fingerprint" metadata is malformed`);
  const diff = fingerprintDifference(saved, modelFingerprint(model));
  if (diff) fail(`the checkpoint is for a different architecture (${model.constructor.name}): ${diff}`);
  for (const [name, shape] of saved) {
    const h = host[`model.${name}`];
    if (!h || !sameShape(h.shape, shape)) fail(`tensor "model.${name}" is missing or does not match the fingerprint`);
  }

  // ---- optimizer ----
  const opt = targets.optimizer;
  let optMeta: OptimizerMeta | undefined;
  if (opt) {
    optMeta = metaJson<OptimizerMeta>(meta, "optimizer", fail) ??
      fail(`an optimizer was passed but the checkpoint has no optimizer state`);
    checkOptimizer(opt, optMeta, model, host, fail);
  }

  // ---- EMA ----
  const ema = targets.ema;
  let emaMeta: EmaMeta | undefined;
  if (ema) {
    emaMeta = metaJson<EmaMeta>(meta, "ema", fail) ?? fail(`an EMA was passed but the checkpoint has no EMA state`);
    const have = [...ema.shadow.keys()].sort(), want = [...emaMeta.names].sort();
    const missing = have.find((n) => !want.includes(n)), unexpected = want.find((n) => !have.includes(n));
    if (missing) fail(`the EMA tracks "${missing}", which the checkpoint's EMA lacks`);
    if (unexpected) fail(`the checkpoint's EMA has "${unexpected}", which this EMA does not track`);
    for (const name of have) {
      const h = host[`ema.${name}`];
      const s = ema.shadow.get(name)!;
      if (!h) fail(`tensor "ema.${name}" is missing`);
      if (!sameShape(h.shape, s.shape)) {
        fail(`EMA shadow "${name}" has shape ${fmtShape(h.shape)} in the checkpoint but ${fmtShape(s.shape)} here`);
      }
    }
  }

  // ---- scheduler ----
  const sched = targets.scheduler;
  let schedMeta: SchedulerMeta | undefined;
  if (sched) {
    schedMeta = metaJson<SchedulerMeta>(meta, "scheduler", fail) ??
      fail(`a scheduler was passed but the checkpoint has no scheduler state`);
    if (schedMeta.type !== sched.constructor.name) {
      fail(`the checkpoint's scheduler is a ${schedMeta.type}, the one passed a ${sched.constructor.name}`);
    }
    if (!Array.isArray(schedMeta.baseLrs) || schedMeta.baseLrs.length !== sched.optimizer.paramGroups.length) {
      fail(
        `the checkpoint's scheduler has ${schedMeta.baseLrs?.length} base learning rates, the optimizer ` +
          `${sched.optimizer.paramGroups.length} parameter groups`,
      );
    }
  }

  return { step, epochRaw, extra, rng, version, saved, optMeta, emaMeta, schedMeta };
}

function checkOptimizer(
  opt: Optimizer<BaseHyper>,
  m: OptimizerMeta,
  model: Module,
  host: Record<string, HostTensor>,
  fail: (m: string) => never,
): void {
  if (m.type !== opt.constructor.name) {
    fail(`the checkpoint's optimizer is a ${m.type}, the one passed a ${opt.constructor.name}`);
  }
  if (!Array.isArray(m.paramGroups) || m.paramGroups.length !== opt.paramGroups.length) {
    fail(
      `the checkpoint's optimizer has ${m.paramGroups?.length} parameter groups, this one ${opt.paramGroups.length}`,
    );
  }
  m.paramGroups.forEach((g, gi) => {
    if (!Array.isArray(g.params) || g.params.length !== opt.paramGroups[gi].params.length) {
      fail(
        `parameter group ${gi} has ${g.params?.length} parameters in the checkpoint, ` +
          `${opt.paramGroups[gi].params.length} in the optimizer`,
      );
    }
    for (const [k, v] of Object.entries(g)) {
      if (k !== "params" && !isHyper(v)) fail(`parameter group ${gi}: hyper-parameter "${k}" is not plain data`);
    }
  });
  const names = new Map<Tensor, string>(model.namedParameters().map(([n, p]) => [p, n]));
  const params = opt.paramGroups.flatMap((g) => g.params);
  if (!Array.isArray(m.params) || m.params.length !== params.length) fail(`the optimizer's parameter list is corrupt`);
  params.forEach((p, i) => {
    const s = m.params[i];
    const here = names.get(p) ?? null;
    const label = here ? `"${here}"` : `#${i}`;
    if (s.name !== null && here !== null && s.name !== here) {
      fail(`optimizer parameter ${i} was "${s.name}" when saved but is "${here}" here (different parameter order)`);
    }
    if (!sameShape(s.shape, p.shape)) {
      fail(
        `optimizer parameter ${label} has shape ${fmtShape(s.shape)} in the checkpoint but ${fmtShape(p.shape)} here`,
      );
    }
  });
  for (const [idx, keys] of Object.entries(m.tensors ?? {})) {
    const p = params[Number(idx)];
    if (!p || typeof m.numbers?.[idx] !== "object") fail(`optimizer state for unknown parameter index ${idx}`);
    for (const k of keys) {
      const h = host[`optim.${idx}.${k}`];
      if (!h) fail(`tensor "optim.${idx}.${k}" is missing`);
      if (!sameShape(h.shape, p.shape)) {
        fail(`optimizer state "optim.${idx}.${k}" has shape ${fmtShape(h.shape)}, its parameter ${fmtShape(p.shape)}`);
      }
    }
  }
}

function isHyper(v: unknown): v is HyperValue {
  return v === null || ["number", "boolean", "string"].includes(typeof v) ||
    (Array.isArray(v) && v.every((x) => typeof x === "number"));
}

/** Options of `checkpointPath` and `latestCheckpoint`. */
export interface CheckpointNameOptions {
  /** File-name prefix (default `"ckpt-"`). */
  prefix?: string;
  /** Zero-padded width of the step (default 6). */
  digits?: number;
}

/** The conventional file name of step `step` in `dir`: `dir/ckpt-000123.safetensors`. */
export function checkpointPath(dir: string, step: number, opts: CheckpointNameOptions = {}): string {
  checkCount("checkpointPath", "step", step);
  const name = `${opts.prefix ?? "ckpt-"}${String(step).padStart(opts.digits ?? 6, "0")}.safetensors`;
  return dir === "" ? name : `${dir.replace(/[/\\]+$/, "")}/${name}`;
}

/**
 * The checkpoint in `dir` with the highest step in its name (`<prefix><digits>.safetensors`),
 * or undefined when there is none (or the folder does not exist). Temporary files of
 * unfinished saves are ignored.
 */
export async function latestCheckpoint(dir: string, opts: CheckpointNameOptions = {}): Promise<string | undefined> {
  const prefix = opts.prefix ?? "ckpt-";
  let best: { step: number; name: string } | undefined;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.startsWith(prefix) || !e.name.endsWith(".safetensors")) continue;
      const digits = e.name.slice(prefix.length, -".safetensors".length);
      if (!/^\d+$/.test(digits)) continue;
      const step = Number(digits);
      if (!best || step > best.step) best = { step, name: e.name };
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`latestCheckpoint ${dir}: cannot list the folder (${e instanceof Error ? e.message : e})`);
  }
  return best ? `${dir.replace(/[/\\]+$/, "")}/${best.name}` : undefined;
}
