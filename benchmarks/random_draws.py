"""Time dark's CPU random draws against PyTorch's in the same run, after the same seed (the same
numbers): randn, rand, normal(0.5, 2), randperm, randint(0, 1000) and bernoulli (tensor p) at
each size of ``--sizes`` (10**3 and 10**6 by default), and the issue's large draws:
randn(10**7) and rand(10**7) (float32), randn(10**7) in float64, and randperm(60000) (a
DataLoader epoch's shuffle). dark is timed twice: on its numpy paths (as with
``DARK_NUMBA=0``, or without numba) and with its compiled numba kernels (where numba is
installed; "-" otherwise). Prints the best of repeats (torch and both dark paths timed in
turn; a busy machine only adds time, so the best is the least disturbed; a repeat of a fast
draw loops it for at least 10 ms) and dark / torch.

Two passes: both libraries with their default threads (a large float32 randn of dark's numpy
path transforms its passes on dark's threads, the draws staying in order; torch's CPU draws
are serial kernels, its generator locked for the whole draw), then both held to one thread
(``set_num_threads(1)``). ``--threads N`` runs one pass with both held to N threads."""
import argparse
import os
import time

import numpy as np
import torch

import dark
from dark._kernels import random_numba

DRAWS = {
    "randn": lambda L, n, p: L.randn(n),
    "rand": lambda L, n, p: L.rand(n),
    "normal": lambda L, n, p: L.normal(0.5, 2.0, size=(n,)),
    "randperm": lambda L, n, p: L.randperm(n),
    "randint": lambda L, n, p: L.randint(0, 1000, (n,)),
    "bernoulli": lambda L, n, p: L.bernoulli(p),
}
LARGE = [  # (name, draw, size)
    ("randn(10**7)", DRAWS["randn"], 10 ** 7),
    ("rand(10**7)", DRAWS["rand"], 10 ** 7),
    ("randn(10**7, float64)", lambda L, n, p: L.randn(n, dtype=L.float64), 10 ** 7),
    ("randperm(60000)", DRAWS["randperm"], 60000),
]


def timed(function) -> float:
    """Seconds per call of ``function``: one call, or a loop of calls lasting 10 ms or more."""
    start = time.perf_counter()
    function()
    elapsed = time.perf_counter() - start
    if elapsed >= 1e-2:
        return elapsed
    loops = int(1e-2 / max(elapsed, 1e-7)) + 1
    start = time.perf_counter()
    for _ in range(loops):
        function()
    return (time.perf_counter() - start) / loops


def run(cases, threads, repeats: int, compiled: bool) -> list:
    """[(name, torch's best, dark numpy's, dark numba's or None)] with both libraries at
    ``threads`` (None: defaults)."""
    if threads:
        torch.set_num_threads(threads)
        dark.set_num_threads(threads)
    rows = []
    for name, draw, n in cases:
        ours, theirs = dark.full((n,), 0.3), torch.full((n,), 0.3)  # bernoulli's p
        variants = {"torch": lambda draw=draw, n=n, p=theirs: draw(torch, n, p)}
        for label, use in (("numpy", False), ("numba", True)) if compiled else (("numpy", 0),):
            def mine(use=use, draw=draw, n=n, p=ours):
                previous = random_numba.set_enabled(use)
                try:
                    return draw(dark, n, p)
                finally:
                    random_numba.set_enabled(previous)
            variants[label] = mine
        dark.manual_seed(0)
        torch.manual_seed(0)
        for function in variants.values():
            function()  # warm: buffers, first-call costs (numba's compile or cache load)
        times = {label: [] for label in variants}
        for _ in range(repeats):
            for label, function in variants.items():
                times[label].append(timed(function))
        best = {label: min(t) for label, t in times.items()}
        rows.append((name, best["torch"], best["numpy"], best.get("numba")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="one pass, dark and torch held to this many threads")
    parser.add_argument("--sizes", default="1e3,1e6",
                        help="comma-separated sizes of the per-draw rows (default 1e3,1e6)")
    parser.add_argument("--no-large", action="store_true", help="skip the 10**7 rows")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    cases = [(f"{name}({n:.0e})", draw, n) for name, draw in DRAWS.items() for n in sizes]
    if not args.no_large:
        cases += LARGE
    # loaded up front, so that the numba column takes the kernels at every size
    kernels = [random_numba.normal_draw32(), random_numba.randperm(), random_numba.integers32(),
               random_numba.uniform(np.float32), random_numba.uniform(np.float64)]
    compiled = all(kernel is not None for kernel in kernels)
    passes = [args.threads] if args.threads else [None, 1]
    print(f"{os.cpu_count()} cores; default threads: dark {dark.get_num_threads()}, torch "
          f"{torch.get_num_threads()}; best of {args.repeats}; numba "
          f"{'on' if compiled else 'not installed (or DARK_NUMBA=0): numpy paths only'}")
    for threads in passes:
        rows = run(cases, threads, args.repeats, compiled)
        label = "default threads" if threads is None else f"{threads} thread(s)"
        print(f"\n{'draw (' + label + ')':24s} {'torch s':>10s} {'numpy s':>10s} "
              f"{'numba s':>10s} {'numpy/t':>8s} {'numba/t':>8s}")
        for name, theirs, plain, fast in rows:
            fast_s = f"{fast:10.2e}" if fast is not None else f"{'-':>10s}"
            ratio = f"{fast / theirs:8.2f}" if fast is not None else f"{'-':>8s}"
            print(f"{name:24s} {theirs:10.2e} {plain:10.2e} {fast_s} {plain / theirs:8.2f} "
                  f"{ratio}")


if __name__ == "__main__":
    main()
