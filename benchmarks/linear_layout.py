"""x @ W.T (F.linear's product) in the two layouts dark can hand OpenBLAS, against PyTorch:
the measurements behind ``dark._kernels._transposes_product``.

    python benchmarks/linear_layout.py [--threads 1] [--rows 1,4,16,32,64,128,256]
                                       [--repeats 7]

For each (rows, in -> out) it times, in microseconds (the best of ``--repeats`` samples of
about 20 ms; the layouts alternate sample by sample, so that a slow spell of a shared host
falls on both): numpy's ``x @ W.T`` (the weight transposed: OpenBLAS packs it transposed),
``(W @ x.T).T`` made C-contiguous (the weight packed as it lies, the result copied
transposed), dark's ``_kernels.matmul`` (the rule's choice) and torch's ``x @ W.T``; then the
ratio of the second to the first, what the rule chose, and whether the two layouts gave the
same bits."""
from __future__ import annotations

import argparse
import time

import numpy as np

import dark
import dark._kernels as kernels

try:
    import torch
except ImportError:  # dark's layouts are still timed
    torch = None

SHAPES = ((784, 512), (512, 256), (256, 10), (9216, 128), (128, 128), (512, 512),
          (1024, 1024), (4096, 1024))


def _seconds(function, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _calls(function) -> int:
    """Calls that take about 20 ms."""
    once = max(_seconds(function, 3), 1e-7)
    return max(1, min(20000, int(0.02 / once)))


def measure(rows: int, k: int, n: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    ways = {"x @ W.T": lambda: x @ w.T,
            "(W @ x.T).T": lambda: np.ascontiguousarray((w @ x.T).T),
            "dark": lambda: kernels.matmul(x, w.T)}
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        ways["torch"] = lambda: tx @ tw.T
    calls = {name: _calls(way) for name, way in ways.items()}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeats):
        for name, way in ways.items():
            best[name] = min(best[name], _seconds(way, calls[name]))
    same = np.array_equal(x @ w.T, np.ascontiguousarray((w @ x.T).T))
    return {"us": {name: 1e6 * value for name, value in best.items()},
            "chosen": kernels._transposes_product(x, w.T), "same bits": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", default="1,4,16,32,64,128,256")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    dark.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s); microseconds, best of {args.repeats}")
    header = f"{'rows':>5} {'in->out':>11} {'x@W.T':>9} {'(W@x.T).T':>10} {'dark':>9}"
    print(header + (f" {'torch':>9}" if torch is not None else "") +
          "  ratio  chosen  same bits")
    for rows in (int(value) for value in args.rows.split(",")):
        for k, n in SHAPES:
            result = measure(rows, k, n, args.repeats)
            us = result["us"]
            line = (f"{rows:>5} {f'{k}->{n}':>11} {us['x @ W.T']:>9.1f} "
                    f"{us['(W @ x.T).T']:>10.1f} {us['dark']:>9.1f}")
            if torch is not None:
                line += f" {us['torch']:>9.1f}"
            ratio = us["(W @ x.T).T"] / us["x @ W.T"]
            print(f"{line}  {ratio:5.2f}  {str(result['chosen']):>6}  {result['same bits']}")


if __name__ == "__main__":
    main()
