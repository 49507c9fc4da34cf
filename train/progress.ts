/**
 * A progress bar for long loops: step count, percentage, loss and other metrics, a smoothed
 * rate (images/s when the items per step are known) and the time left.
 *
 * On a terminal it redraws one line in place (`\r`), at most every `redrawMillis` (100 ms);
 * elsewhere (a log file, CI) it prints a plain line every `plainMillis` (10 s) or every
 * `plainPercent` (10 %) of the total, whichever comes first.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar({ total: steps, label: "train", itemsPerStep: batchSize, epoch: 1, epochs: 10 });
 * for (let s = 0; s < steps; s++) { …; bar.update(1, { loss }); }
 * bar.finish();
 * ```
 *
 * @module
 */

/** Where text goes (default: stdout). */
export interface TextSink {
  /** Writes `text` as is (no newline added). */
  write(text: string): void;
}

/** Something that prints whole lines; {@linkcode ProgressBar} is one (it keeps its bar below them). */
export interface LineSink {
  /** Prints `line` followed by a newline. */
  println(line: string): void;
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** Number of steps in all (omit when unknown: no percentage or ETA). */
  total?: number;
  /** Text at the start of the line, e.g. `train`. */
  label?: string;
  /** Items (images) per step, for the rate; `update(n, { items })` overrides it per call. */
  itemsPerStep?: number;
  /** Name of an item in the rate (default `img`). */
  unit?: string;
  /** Current epoch (1-based), shown as `epoch 3/10`. */
  epoch?: number;
  /** Number of epochs. */
  epochs?: number;
  /** Where the bar is written (default stdout). */
  writer?: TextSink;
  /** Clock in milliseconds (default `performance.now`). */
  clock?: () => number;
  /** Redraw one line in place (default: whether stdout is a terminal). */
  tty?: boolean;
  /** Line width on a terminal (default: the terminal's width, or 100). */
  columns?: number;
  /** Least time between two redraws on a terminal, ms (default 100). */
  redrawMillis?: number;
  /** Most time between two plain lines, ms (default 10000). */
  plainMillis?: number;
  /** A plain line is also printed each time this percentage of the total is passed (default 10). */
  plainPercent?: number;
  /** Weight of the newest rate sample in the moving average, in (0, 1] (default 0.3). */
  smoothing?: number;
}

/** Values shown after the counts; `items` (not shown) counts the images in this update. */
export interface ProgressInfo {
  /** Training loss, shown as `loss 0.1234`. */
  loss?: number;
  /** Current epoch (1-based). */
  epoch?: number;
  /** Items (images) processed by this update, for the rate. */
  items?: number;
  /** Any other value to show, as `name value`. */
  [key: string]: number | string | undefined;
}

/** Formats a number compactly: 4 significant digits, exponent form when very large or small. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Formats seconds (rounded down) as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function stdoutSink(): TextSink {
  const enc = new TextEncoder();
  return {
    write(text: string): void {
      const b = enc.encode(text);
      for (let done = 0; done < b.length;) done += Deno.stdout.writeSync(b.subarray(done));
    },
  };
}

function terminalColumns(): number {
  try {
    const cols = Deno.consoleSize().columns;
    return cols >= 20 ? cols : 100; // a pseudo-terminal may report 0
  } catch {
    return 100;
  }
}

/** Exponential moving average with bias correction (the first samples are not pulled toward 0). */
class Ema {
  #value = 0;
  #weight = 0;
  constructor(readonly smoothing: number) {}
  add(x: number): void {
    this.#value = this.smoothing * x + (1 - this.smoothing) * this.#value;
    this.#weight = this.smoothing + (1 - this.smoothing) * this.#weight;
  }
  get value(): number | undefined {
    return this.#weight > 0 ? this.#value / this.#weight : undefined;
  }
}

/** A progress bar; see the module documentation. */
export class ProgressBar implements LineSink {
  /** Steps done so far. */
  current = 0;
  /** Items (images) done so far. */
  items = 0;
  readonly #total: number | undefined;
  readonly #label: string;
  readonly #unit: string;
  readonly #itemsPerStep: number | undefined;
  readonly #epochs: number | undefined;
  #epoch: number | undefined;
  readonly #writer: TextSink;
  readonly #clock: () => number;
  readonly #tty: boolean;
  readonly #columns: number;
  readonly #redrawMillis: number;
  readonly #plainMillis: number;
  readonly #plainPercent: number;
  readonly #start: number;
  #info: Record<string, number | string> = {};
  #itemRate: Ema;
  #stepRate: Ema;
  #sampleTime: number;
  #sampleSteps = 0;
  #sampleItems = 0;
  #lastDraw = -Infinity;
  #lastPlain: number;
  #lastBucket = 0;
  #drawn = false;
  #finished = false;
  #countsItems: boolean;

  /** A bar starting now at step 0. */
  constructor(opts: ProgressOptions = {}) {
    if (opts.total !== undefined && !(Number.isFinite(opts.total) && opts.total >= 0)) {
      throw new TypeError(`ProgressBar: total must be a non-negative number, got ${opts.total}`);
    }
    const smoothing = opts.smoothing ?? 0.3;
    if (!(smoothing > 0 && smoothing <= 1)) {
      throw new TypeError(`ProgressBar: smoothing must be in (0, 1], got ${smoothing}`);
    }
    this.#total = opts.total;
    this.#label = opts.label ?? "";
    this.#unit = opts.unit ?? "img";
    this.#itemsPerStep = opts.itemsPerStep;
    this.#countsItems = opts.itemsPerStep !== undefined;
    this.#epoch = opts.epoch;
    this.#epochs = opts.epochs;
    this.#writer = opts.writer ?? stdoutSink();
    this.#clock = opts.clock ?? (() => performance.now());
    this.#tty = opts.tty ?? Deno.stdout.isTerminal();
    this.#columns = opts.columns ?? (this.#tty ? terminalColumns() : 100);
    this.#redrawMillis = opts.redrawMillis ?? 100;
    this.#plainMillis = opts.plainMillis ?? 10000;
    this.#plainPercent = opts.plainPercent ?? 10;
    this.#itemRate = new Ema(smoothing);
    this.#stepRate = new Ema(smoothing);
    this.#start = this.#clock();
    this.#sampleTime = this.#start;
    this.#lastPlain = this.#start;
  }

  /** Smoothed rate in items (images) per second, or steps per second when items are not counted. */
  get rate(): number | undefined {
    return this.#countsItems ? this.#itemRate.value : this.#stepRate.value;
  }

  /** Estimated seconds left (undefined without a total or before the first rate sample). */
  get eta(): number | undefined {
    const r = this.#stepRate.value;
    if (this.#total === undefined || r === undefined || !(r > 0)) return undefined;
    return Math.max(0, this.#total - this.current) / r;
  }

  /** Seconds since the bar was made. */
  get elapsed(): number {
    return (this.#clock() - this.#start) / 1000;
  }

  /** Advances by `n` steps and records the values in `info`; redraws or prints when due. */
  update(n = 1, info: ProgressInfo = {}): void {
    if (this.#finished) throw new Error(`ProgressBar ${this.#label}: update() after finish()`);
    if (!(Number.isFinite(n) && n >= 0)) {
      throw new TypeError(`ProgressBar.update: n must be a non-negative number, got ${n}`);
    }
    const items = info.items ?? (this.#itemsPerStep !== undefined ? n * this.#itemsPerStep : undefined);
    if (info.items !== undefined) this.#countsItems = true;
    this.current += n;
    this.items += items ?? 0;
    if (info.epoch !== undefined) this.#epoch = info.epoch;
    for (const [k, v] of Object.entries(info)) if (v !== undefined && k !== "items" && k !== "epoch") this.#info[k] = v;
    const now = this.#clock();
    this.#sample(now, false);
    if (this.#tty) {
      if (now - this.#lastDraw >= this.#redrawMillis) this.#draw(now);
    } else {
      const pct = this.#total ? (100 * this.current) / this.#total : 0;
      const bucket = this.#plainPercent > 0 ? Math.floor(pct / this.#plainPercent + 1e-9) : 0;
      if (now - this.#lastPlain >= this.#plainMillis || (this.#total && bucket > this.#lastBucket)) {
        this.#lastPlain = now;
        this.#lastBucket = bucket;
        this.#writer.write(this.#line(now, false) + "\n");
      }
    }
  }

  /** Sets the epoch shown (1-based). */
  setEpoch(epoch: number): void {
    this.#epoch = epoch;
  }

  #sample(now: number, force: boolean): void {
    const dt = (now - this.#sampleTime) / 1000;
    if (dt <= 0 || (!force && dt * 1000 < Math.min(this.#redrawMillis, 1000))) return;
    this.#stepRate.add((this.current - this.#sampleSteps) / dt);
    this.#itemRate.add((this.items - this.#sampleItems) / dt);
    this.#sampleTime = now;
    this.#sampleSteps = this.current;
    this.#sampleItems = this.items;
  }

  #line(now: number, done: boolean): string {
    const parts: string[] = [];
    if (this.#label) parts.push(this.#label);
    if (this.#epoch !== undefined) {
      parts.push(`epoch ${this.#epoch}${this.#epochs !== undefined ? `/${this.#epochs}` : ""}`);
    }
    const total = this.#total;
    const frac = total ? Math.min(1, this.current / total) : undefined;
    const counts = total !== undefined ? `${this.current}/${total}` : `${this.current}`;
    const pct = frac !== undefined ? `${(100 * frac).toFixed(0).padStart(3)}%` : "";
    const tail: string[] = [];
    const show = (k: string, v: number | string) => tail.push(`${k} ${typeof v === "number" ? formatNumber(v) : v}`);
    if (this.#info.loss !== undefined) show("loss", this.#info.loss);
    for (const [k, v] of Object.entries(this.#info)) if (k !== "loss") show(k, v);
    const elapsedS = (now - this.#start) / 1000;
    let rate: number | undefined;
    if (done) rate = elapsedS > 0 ? (this.#countsItems ? this.items : this.current) / elapsedS : undefined;
    else rate = this.rate;
    const unit = this.#countsItems ? `${this.#unit}/s` : "it/s";
    tail.push(rate !== undefined ? `${formatNumber(rate)} ${unit}` : `? ${unit}`);
    if (done) tail.push(`in ${formatDuration(elapsedS)}`);
    else {
      const eta = this.eta;
      tail.push(`${formatDuration(elapsedS)}<${eta !== undefined ? formatDuration(eta) : "?"}`);
    }
    const head = parts.join(" ");
    const right = `${pct ? pct + " " : ""}${counts} ${tail.join(" | ")}`;
    if (!this.#tty || frac === undefined) return [head, right].filter(Boolean).join(" ");
    // On a terminal: a bar fills the room left, between 10 and 30 cells.
    const room = this.#columns - 1 - head.length - right.length - 4;
    const cells = Math.max(0, Math.min(30, room));
    if (cells < 10) return [head, right].filter(Boolean).join(" ").slice(0, this.#columns - 1);
    const full = Math.floor(frac * cells);
    const bar = "[" + "#".repeat(full) + ".".repeat(cells - full) + "]";
    return [head, bar, right].filter(Boolean).join(" ");
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    this.#drawn = true;
    this.#writer.write("\r" + this.#line(now, false) + "\x1b[K");
  }

  /** Prints a line of text above the bar (on a terminal the bar is redrawn below it). */
  println(line: string): void {
    if (this.#tty && this.#drawn && !this.#finished) {
      this.#writer.write("\r\x1b[K" + line + "\n");
      this.#draw(this.#clock());
    } else this.#writer.write(line + "\n");
  }

  /** Ends the bar with a summary line: the counts, the average rate and the total time. Idempotent. */
  finish(info: ProgressInfo = {}): void {
    if (this.#finished) return;
    for (const [k, v] of Object.entries(info)) if (v !== undefined && k !== "items" && k !== "epoch") this.#info[k] = v;
    const now = this.#clock();
    this.#finished = true;
    const line = this.#line(now, true);
    this.#writer.write(this.#tty ? "\r" + line + "\x1b[K\n" : line + "\n");
  }
}
