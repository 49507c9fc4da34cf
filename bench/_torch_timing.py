"""Timing shared by the PyTorch CPU peers of the benchmarks: one warm-up call, then `reps`
timed calls; results print as a Markdown table row (best and median, milliseconds)."""
import time


def time_ms(fn, reps):
    """Milliseconds of each of `reps` calls of fn, after one untimed warm-up call."""
    fn()  # warm-up (allocations, optimizer state)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def row(label, times):
    """A BENCHMARKS.md table row: | label | best … ms | median … ms |."""
    return f"| {label} | best {min(times):.0f} ms | median {sorted(times)[len(times) // 2]:.0f} ms |"
