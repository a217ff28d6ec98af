"""Time dark's CPU random draws against PyTorch's in the same run, after the same seed (the same
numbers): randn(10**7) and rand(10**7) (float32), randn(10**7) in float64, and
randperm(60000) (a DataLoader epoch's shuffle). Prints the median of repeats (dark and torch
timed in turn, so that a busy machine slows both alike) and dark / torch.

Two passes: both libraries with their default threads (a large float32 randn of dark's
transforms its passes on dark's threads, the draws staying in order; torch's CPU draws are
serial kernels, its generator locked for the whole draw), then both held to one thread
(``set_num_threads(1)``). ``--threads N`` runs one pass with both held to N threads."""
import argparse
import os
import time

import numpy as np
import torch

import dark

N = 10 ** 7
CASES = {
    "randn(10**7)": lambda L: L.randn(N),
    "rand(10**7)": lambda L: L.rand(N),
    "randn(10**7, float64)": lambda L: L.randn(N, dtype=L.float64),
    "randperm(60000)": lambda L: L.randperm(60000),
}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run(threads, repeats: int) -> dict:
    """{draw: (dark's median, torch's median)} with both at ``threads`` (None: defaults)."""
    if threads:
        torch.set_num_threads(threads)
        dark.set_num_threads(threads)
    results = {}
    for name, draw in CASES.items():
        dark.manual_seed(0)
        torch.manual_seed(0)
        draw(dark), draw(torch)  # warm: buffers, first-call costs
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(timed(lambda draw=draw: draw(dark)))
            theirs.append(timed(lambda draw=draw: draw(torch)))
        results[name] = (float(np.median(ours)), float(np.median(theirs)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="one pass, dark and torch held to this many threads")
    args = parser.parse_args()
    passes = [args.threads] if args.threads else [None, 1]
    print(f"{os.cpu_count()} cores; default threads: dark {dark.get_num_threads()}, torch "
          f"{torch.get_num_threads()}; median of {args.repeats}")
    for threads in passes:
        results = run(threads, args.repeats)
        label = "default threads" if threads is None else f"{threads} thread(s)"
        print(f"{'draw (' + label + ')':32s} {'dark s':>9s} {'torch s':>9s} {'ratio':>6s}")
        for name, (ours, theirs) in results.items():
            print(f"{name:32s} {ours:9.4f} {theirs:9.4f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
