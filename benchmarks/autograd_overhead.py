"""Per-op Python overhead of dark's autograd against PyTorch (CPU), on tensors so small that
the arithmetic costs nothing: what is timed is graph recording and the backward engine.

    python benchmarks/autograd_overhead.py [--repeats 7]

Prints microseconds per op (forward op plus its share of backward) for dark and torch and
the ratio dark/torch. Timings are medians of repeats after a warm-up."""
from __future__ import annotations

import argparse
import statistics
import time

import dark

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

CHAIN_LENGTH = 100


def quadratic(lib, x):
    """2*x**2 + 5 and its backward: 3 ops."""
    y = 2 * x ** 2 + 5
    y.backward()
    x.grad = None


def chain(lib, x):
    """100 elementwise ops (mul, add, sin, exp, tanh in turn), a sum and the backward."""
    y = x
    for _ in range(CHAIN_LENGTH // 5):
        y = (y * 1.01 + 0.1).sin().exp().tanh()
    y.sum().backward()
    x.grad = None


def chain_no_grad(lib, x):
    """The same 100 ops without recording a graph."""
    with lib.no_grad():
        y = x
        for _ in range(CHAIN_LENGTH // 5):
            y = (y * 1.01 + 0.1).sin().exp().tanh()
        y.sum()


BENCHMARKS = [
    ("quadratic 2*x**2+5, 1 element, fwd+bwd", quadratic, 1, 3),
    ("chain of 100 ops, 10 elements, fwd+bwd", chain, 10, CHAIN_LENGTH + 1),
    ("chain of 100 ops, 10 elements, no_grad", chain_no_grad, 10, CHAIN_LENGTH + 1),
]


def time_per_call(function, lib, x, repeats: int) -> float:
    """Median seconds per call, each repeat long enough (about 50 ms) to time reliably."""
    for _ in range(20):
        function(lib, x)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        function(lib, x)
        calls += 1
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function(lib, x)
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def run(repeats: int = 7) -> list:
    """Time every benchmark; return rows (name, dark us/op, torch us/op or None)."""
    rows = []
    for name, function, size, ops in BENCHMARKS:
        dark_x = dark.linspace(0.1, 1.0, size).requires_grad_()
        dark_us = time_per_call(function, dark, dark_x, repeats) / ops * 1e6
        torch_us = None
        if torch is not None:
            torch.set_num_threads(1)
            torch_x = torch.linspace(0.1, 1.0, size).requires_grad_()
            torch_us = time_per_call(function, torch, torch_x, repeats) / ops * 1e6
        rows.append((name, dark_us, torch_us))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'benchmark':42s} {'dark us/op':>11s} {'torch us/op':>12s} {'dark/torch':>11s}")
    for name, dark_us, torch_us in run(args.repeats):
        if torch_us is None:
            print(f"{name:42s} {dark_us:11.2f} {'-':>12s} {'-':>11s}")
        else:
            print(f"{name:42s} {dark_us:11.2f} {torch_us:12.2f} {dark_us / torch_us:10.2f}x")


if __name__ == "__main__":
    main()
