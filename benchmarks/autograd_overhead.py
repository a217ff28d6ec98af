"""Per-op Python overhead of dark's autograd against PyTorch (CPU), on tensors so small that
the arithmetic costs nothing: what is timed is graph recording and the backward engine.

    python benchmarks/autograd_overhead.py [--repeats 15]

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


def _calls_for(function, lib, x) -> int:
    """Warm up, then the number of calls that take about 20 ms (one timed sample)."""
    for _ in range(20):
        function(lib, x)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.02:
        function(lib, x)
        calls += 1
    return calls


def _sample(function, lib, x, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function(lib, x)
    return (time.perf_counter() - start) / calls


def run(repeats: int = 15) -> list:
    """Time every benchmark; return rows (name, dark us/op, torch us/op or None). dark and
    torch samples alternate, so that both see the same machine load."""
    if torch is not None:
        torch.set_num_threads(1)
    rows = []
    for name, function, size, ops in BENCHMARKS:
        libs = {"dark": (dark, dark.linspace(0.1, 1.0, size).requires_grad_())}
        if torch is not None:
            libs["torch"] = (torch, torch.linspace(0.1, 1.0, size).requires_grad_())
        calls = {key: _calls_for(function, lib, x) for key, (lib, x) in libs.items()}
        samples = {key: [] for key in libs}
        for _ in range(repeats):
            for key, (lib, x) in libs.items():
                samples[key].append(_sample(function, lib, x, calls[key]))
        per_op = {key: statistics.median(values) / ops * 1e6 for key, values in samples.items()}
        rows.append((name, per_op["dark"], per_op.get("torch")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{'benchmark':42s} {'dark us/op':>11s} {'torch us/op':>12s} {'dark/torch':>11s}")
    for name, dark_us, torch_us in run(args.repeats):
        if torch_us is None:
            print(f"{name:42s} {dark_us:11.2f} {'-':>12s} {'-':>11s}")
        else:
            print(f"{name:42s} {dark_us:11.2f} {torch_us:12.2f} {dark_us / torch_us:10.2f}x")


if __name__ == "__main__":
    main()
