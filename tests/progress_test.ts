/**
 * Progress bar with an injected clock and writer (no real time): terminal redraws at most every
 * 100 ms, plain periodic lines elsewhere, the smoothed rate and ETA, println above the bar, and
 * the final summary.
 */
import { assert, assertEquals, assertThrows } from "./_asserts.ts";
import { formatDuration, formatNumber, ProgressBar } from "../train/progress.ts";

function fakeIo() {
  let now = 0;
  const writes: string[] = [];
  return {
    writer: { write: (s: string) => void writes.push(s) },
    clock: () => now,
    advance: (ms: number) => void (now += ms),
    writes,
  };
}

Deno.test("formatNumber and formatDuration", () => {
  assertEquals([formatNumber(0.123456), formatNumber(1234.5678), formatNumber(0), formatNumber(3)], [
    "0.1235",
    "1235",
    "0",
    "3",
  ]);
  assertEquals([formatNumber(1e-5), formatNumber(2.5e6), formatNumber(NaN), formatNumber(-0.5)], [
    "1.00e-5",
    "2.50e+6",
    "NaN",
    "-0.5",
  ]);
  assertEquals(
    [formatDuration(0), formatDuration(59.6), formatDuration(61), formatDuration(3725), formatDuration(-1)],
    [
      "0:00",
      "0:59",
      "1:01",
      "1:02:05",
      "?",
    ],
  );
});

Deno.test("ProgressBar on a terminal: one line redrawn with \\r, at most every 100 ms, with bar, loss, rate and ETA", () => {
  const io = fakeIo();
  const bar = new ProgressBar({
    total: 100,
    label: "train",
    itemsPerStep: 32,
    epoch: 2,
    epochs: 5,
    writer: io.writer,
    clock: io.clock,
    tty: true,
    columns: 120,
  });
  for (let i = 0; i < 10; i++) {
    io.advance(20); // 20 ms per step: 50 steps/s, 1600 img/s
    bar.update(1, { loss: 1 / (i + 1) });
  }
  // 10 updates over 200 ms: drawn at the first one (20 ms), then not before 100 ms later (120 ms).
  assertEquals(io.writes.length, 2);
  const line = io.writes[1];
  assert(line.startsWith("\r") && line.endsWith("\x1b[K") && !line.includes("\n"), JSON.stringify(line));
  assertEquals(
    line,
    "\rtrain epoch 2/5 [#.............................]   6% 6/100 loss 0.1667 | 1600 img/s | 0:00<0:01\x1b[K",
  );
  assert(Math.abs(bar.rate! - 1600) < 1e-9, `rate ${bar.rate}`);
  assert(Math.abs(bar.eta! - 90 / 50) < 1e-9, `eta ${bar.eta}`);
  assertEquals(bar.current, 10);
  assertEquals(bar.items, 320);
  // println puts a line above the bar and redraws the bar.
  bar.println("checkpoint saved");
  assertEquals(io.writes[2], "\r\x1b[Kcheckpoint saved\n");
  assert(io.writes[3].startsWith("\rtrain epoch 2/5"));
  io.advance(1800);
  bar.update(90, { loss: 0.05, lr: 1e-4 });
  bar.finish();
  const last = io.writes.at(-1)!;
  assertEquals(
    last,
    "\rtrain epoch 2/5 [##############################] 100% 100/100 loss 0.05 | lr 1.00e-4 | 1600 img/s | in 0:02\x1b[K\n",
  );
  bar.finish(); // idempotent
  assertEquals(io.writes.at(-1), last);
  assertThrows(() => bar.update(1), Error, "after finish");
});

Deno.test("ProgressBar elsewhere: plain lines every 10% or every 10 s, no control characters", () => {
  const io = fakeIo();
  const bar = new ProgressBar({ total: 50, label: "eval", writer: io.writer, clock: io.clock, tty: false });
  for (let i = 0; i < 50; i++) {
    io.advance(100);
    bar.update(1);
  }
  assertEquals(io.writes.length, 10, io.writes.join(""));
  assert(io.writes.every((w) => w.endsWith("\n") && !w.includes("\r") && !w.includes("\x1b")));
  assertEquals(io.writes[0], "eval  10% 5/50 10 it/s | 0:00<0:04\n");
  assertEquals(io.writes[9], "eval 100% 50/50 10 it/s | 0:05<0:00\n");
  bar.finish();
  assertEquals(io.writes.at(-1), "eval 100% 50/50 10 it/s | in 0:05\n");

  // Slow, with an unknown total: a line every plainMillis.
  const io2 = fakeIo();
  const slow = new ProgressBar({ label: "gen", writer: io2.writer, clock: io2.clock, tty: false, plainMillis: 10_000 });
  for (let i = 0; i < 25; i++) {
    io2.advance(1000);
    slow.update(1, { items: 4 });
  }
  assertEquals(io2.writes, ["gen 10 4 img/s | 0:10<?\n", "gen 20 4 img/s | 0:20<?\n"]);
  assertEquals(slow.eta, undefined);
});

Deno.test("ProgressBar: the rate is a moving average of recent speed (it follows a slow-down)", () => {
  const io = fakeIo();
  const bar = new ProgressBar({ total: 1000, itemsPerStep: 1, writer: io.writer, clock: io.clock, tty: true });
  for (let i = 0; i < 20; i++) {
    io.advance(100);
    bar.update(10); // 100 items/s
  }
  assert(Math.abs(bar.rate! - 100) < 1e-9, `rate ${bar.rate}`);
  for (let i = 0; i < 20; i++) {
    io.advance(100);
    bar.update(5); // 50 items/s
  }
  const r = bar.rate!;
  assert(Math.abs(r - 50) < 0.1, `rate ${r} should have moved to 50 (the overall average is 75)`);
  io.advance(100);
  bar.update(5);
  assert(bar.eta! > 0 && Math.abs(bar.eta! - (1000 - 305) / 5 / 10) < 0.1, `eta ${bar.eta}`);
  assertEquals(bar.elapsed, 4.1);
});

Deno.test("ProgressBar: argument errors, and a narrow terminal drops the bar and clips the line", () => {
  assertThrows(() => new ProgressBar({ total: -1 }), TypeError, "total");
  assertThrows(() => new ProgressBar({ smoothing: 0, tty: false }), TypeError, "smoothing");
  const io = fakeIo();
  const bar = new ProgressBar({ total: 10, label: "x", writer: io.writer, clock: io.clock, tty: true, columns: 30 });
  assertThrows(() => bar.update(-1), TypeError, "n must be");
  io.advance(200);
  bar.update(1, { loss: 2, note: "warmup" });
  const line = io.writes[0];
  assert(!line.includes("[#") && !line.includes("[."), line);
  assert(line.length <= "\r".length + 29 + "\x1b[K".length, JSON.stringify(line));
});
