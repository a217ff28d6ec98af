"""Time dark's CPU random draws against PyTorch's in the same run, after the same seed (the same
numbers): randn(10**7) and rand(10**7) (float32), randn(10**7) in float64, and
randperm(60000) (a DataLoader epoch's shuffle). Prints the median of repeats (dark and torch
timed in turn, so that a busy machine slows both alike) and dark / torch.

dark is timed twice: on one thread, and with its default threads (``dark.get_num_threads()``:
a large float32 randn transforms its passes on them, the draws staying in order). torch's
CPU draws are serial kernels (the generator is locked for the whole draw), so torch is timed
once, with its default threads; ``--threads 1`` holds both to one thread throughout."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="hold dark and torch to this many threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        dark.set_num_threads(args.threads)
    default_threads = dark.get_num_threads()
    print(f"{os.cpu_count()} cores; threads: dark {default_threads}, torch "
          f"{torch.get_num_threads()}; median of {args.repeats}")
    header = f"{'draw':24s} {'dark s':>9s} {'dark 1t s':>10s} {'torch s':>9s} {'ratio':>6s} " \
             f"{'1t ratio':>8s}"
    print(header)
    for name, draw in CASES.items():
        dark.manual_seed(0)
        torch.manual_seed(0)
        draw(dark), draw(torch)  # warm: buffers, first-call costs
        ours, ours_one, theirs = [], [], []
        for _ in range(args.repeats):
            dark.set_num_threads(default_threads)
            ours.append(timed(lambda draw=draw: draw(dark)))
            theirs.append(timed(lambda draw=draw: draw(torch)))
            dark.set_num_threads(1)
            ours_one.append(timed(lambda draw=draw: draw(dark)))
        dark.set_num_threads(default_threads)
        ours, ours_one, theirs = (float(np.median(t)) for t in (ours, ours_one, theirs))
        print(f"{name:24s} {ours:9.4f} {ours_one:10.4f} {theirs:9.4f} {ours / theirs:6.2f} "
              f"{ours_one / theirs:8.2f}")


if __name__ == "__main__":
    main()
