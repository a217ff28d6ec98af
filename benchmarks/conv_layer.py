"""Forward + backward of a conv layer and a max-pool layer, dark against PyTorch (CPU).

    python benchmarks/conv_layer.py [--repeats 10] [--threads N]

Conv2d(64, 64, 3, padding=1) on a (32, 64, 32, 32) float32 batch, and MaxPool2d(2) on its
output. PyTorch runs with as many threads as numpy's BLAS (``--threads`` sets both when
threadpoolctl is installed, otherwise torch only). Prints milliseconds per call (median of
repeats after a warm-up) and the ratio dark/torch."""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import dark

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

SHAPE = (32, 64, 32, 32)


def blas_threads() -> int:
    """The number of threads numpy's BLAS uses."""
    if threadpoolctl is not None:
        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas":
                return pool["num_threads"]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name):
            return int(os.environ[name])
    return os.cpu_count() or 1


def layer_step(layer, x):
    """Forward, a backward from the sum, and the gradients cleared."""
    out = layer(x)
    out.sum().backward()
    x.grad = None
    for p in layer.parameters():
        p.grad = None


def median_ms(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def build(lib, array):
    conv = lib.nn.Conv2d(64, 64, 3, padding=1)
    pool = lib.nn.MaxPool2d(2)
    x = lib.tensor(array, requires_grad=True)
    with lib.no_grad():
        pool_input = conv(x).detach().requires_grad_(True)
    return conv, pool, x, pool_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads is not None and threadpoolctl is not None:
        threadpoolctl.threadpool_limits(args.threads, user_api="blas")
    threads = args.threads or blas_threads()
    array = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    rows = []
    conv, pool, x, pool_input = build(dark, array)
    dark_times = (median_ms(lambda: layer_step(conv, x), args.repeats),
                  median_ms(lambda: layer_step(pool, pool_input), args.repeats))
    torch_times = (None, None)
    if torch is not None:
        torch.set_num_threads(threads)
        conv, pool, x, pool_input = build(torch, array)
        torch_times = (median_ms(lambda: layer_step(conv, x), args.repeats),
                       median_ms(lambda: layer_step(pool, pool_input), args.repeats))
    names = ("Conv2d(64, 64, 3, padding=1) fwd+bwd", "MaxPool2d(2) fwd+bwd")
    print(f"input {SHAPE} float32, {threads} thread(s) for numpy BLAS and torch")
    print(f"{'layer':40s} {'dark ms':>10s} {'torch ms':>10s} {'ratio':>8s}")
    for name, d, t in zip(names, dark_times, torch_times):
        rows.append((name, d, t))
        ratio = f"{d / t:8.2f}" if t else "       -"
        torch_text = f"{t:10.2f}" if t else "         -"
        print(f"{name:40s} {d:10.2f} {torch_text} {ratio}")


if __name__ == "__main__":
    main()
