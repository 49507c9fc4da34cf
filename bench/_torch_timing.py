"""Timing shared by the PyTorch peers of the benchmarks: one warm-up call, then `reps` timed
calls; results print as a Markdown table row (best and median, milliseconds).

`--device cpu` (the default) runs on 2 threads; `--device cuda` runs in fp32 (TF32 off for
matmuls and cuDNN) and waits for the GPU (`torch.cuda.synchronize()`) inside each timed call.
When `$BENCH_FIGURES` names a file, `figure()` appends `torch-<device><TAB>key<TAB>ms` lines to it
under the keys the meddiff benches use (`bench/_record.ts`), for `bench/gpu_check.sh`."""
import os
import time


def add_device_arg(ap):
    """Adds `--device {cpu,cuda}` (default cpu) to an argparse parser."""
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")


def setup(device):
    """Prepares torch for `device` ("cpu": 2 threads; "cuda": fp32, TF32 off); returns the
    torch.device and a function that waits for the device."""
    import torch

    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch.cuda.is_available() is False")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.device("cuda"), torch.cuda.synchronize
    torch.set_num_threads(2)
    return torch.device("cpu"), lambda: None


def describe(device):
    """One line: torch version and threads (cpu) or GPU, CUDA and cuDNN versions (cuda)."""
    import torch

    if device == "cuda":
        return (f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
                f"{torch.cuda.get_device_name()}, fp32 (TF32 off)")
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def label(device):
    """"PyTorch CPU" or "PyTorch CUDA", for table rows."""
    return f"PyTorch {device.upper()}"


def time_ms(fn, reps, sync=lambda: None):
    """Milliseconds of each of `reps` calls of fn, after one untimed warm-up call; `sync` (e.g.
    torch.cuda.synchronize) runs before each call and inside each timed region, after it."""
    fn()  # warm-up (allocations, optimizer state)
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def row(label, times):
    """A BENCHMARKS.md table row: | label | best … ms | median … ms |."""
    return f"| {label} | best {min(times):.0f} ms | median {sorted(times)[len(times) // 2]:.0f} ms |"


def figure(device, key, ms):
    """Appends `torch-<device><TAB>key<TAB>ms` to `$BENCH_FIGURES` when that is set."""
    path = os.environ.get("BENCH_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(f"torch-{device}\t{key}\t{ms:.4f}\n")
