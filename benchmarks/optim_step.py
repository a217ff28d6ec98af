"""One optimizer step of dark against PyTorch over the parameters of a 784-512-256-10 MLP
(6 tensors, 535,818 floats, random gradients): Adam and SGD with momentum.

    python benchmarks/optim_step.py [--repeats 15] [--device cpu|cuda] [--numexpr]

Prints microseconds per step for dark and torch and the ratio dark/torch, with torch on
one thread (numpy's ufuncs run on one) and on its default thread count. Timings are medians
of repeats after a warm-up. ``--numexpr`` adds the SGD-momentum update done by numexpr (two
precompiled expressions per parameter, each one pass: ``buf * momentum + grad`` into the
buffer, ``param + buf * -lr`` into the parameter) on one thread and on numexpr's default,
beside dark's numpy path (its compiled kernel turned off) and its numba kernel: the
measurement that kept numexpr out of dark."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import dark

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

SHAPES = [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]

OPTIMIZERS = [
    ("Adam", {"lr": 1e-3}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
]


def make(lib, name: str, options: dict, device: str):
    """Parameters with gradients and their optimizer, after one step (state allocated)."""
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        value = rng.standard_normal(shape).astype(np.float32)
        grad = rng.standard_normal(shape).astype(np.float32)
        p = lib.tensor(value, device=device, requires_grad=True)
        p.grad = lib.tensor(grad, device=device)
        params.append(p)
    optimizer = getattr(lib.optim, name)(params, **options)
    optimizer.step()
    return optimizer


def _synchronize(lib, device: str) -> None:
    if device.startswith("cuda"):
        lib.cuda.synchronize()


def _calls_for(optimizer, lib, device) -> int:
    """Warm up, then the number of steps that take about 50 ms (one timed sample)."""
    for _ in range(5):
        optimizer.step()
    _synchronize(lib, device)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        optimizer.step()
        calls += 1
    _synchronize(lib, device)
    return max(calls, 1)


def _sample(optimizer, lib, device, calls: int) -> float:
    _synchronize(lib, device)
    start = time.perf_counter()
    for _ in range(calls):
        optimizer.step()
    _synchronize(lib, device)
    return (time.perf_counter() - start) / calls


def time_steps(runs: dict, repeats: int, device: str) -> dict:
    """Median seconds per step of each run (samples alternate, so all see the same load)."""
    calls = {key: _calls_for(opt, lib, device) for key, (lib, opt) in runs.items()}
    samples = {key: [] for key in runs}
    for _ in range(repeats):
        for key, (lib, opt) in runs.items():
            samples[key].append(_sample(opt, lib, device, calls[key]))
    return {key: statistics.median(values) for key, values in samples.items()}


def run(repeats: int = 15, device: str = "cpu") -> list:
    """Rows (name, dark us, torch 1-thread us, torch default-threads us); torch columns are
    None without torch (or without its CUDA build for device 'cuda')."""
    torch_device = device if torch is not None and (
        device == "cpu" or torch.cuda.is_available()) else None
    default_threads = torch.get_num_threads() if torch is not None else 1
    rows = []
    for name, options in OPTIMIZERS:
        runs = {"dark": (dark, make(dark, name, options, device))}
        if torch_device is not None:
            runs["torch"] = (torch, make(torch, name, options, torch_device))
        if torch is not None:
            torch.set_num_threads(1)
        single = time_steps(runs, repeats, device)
        threaded = None
        if torch_device is not None and default_threads > 1:
            torch.set_num_threads(default_threads)
            threaded = time_steps({"torch": runs["torch"]}, repeats, device)["torch"]
        elif torch_device is not None:
            threaded = single["torch"]
        rows.append((f"{name} {options}", single["dark"], single.get("torch"), threaded))
    if torch is not None:
        torch.set_num_threads(default_threads)
    return rows


def _numexpr_rows(repeats: int) -> list:
    """(name, seconds per SGD-momentum step) of numexpr and of dark's two CPU paths."""
    import numexpr

    from dark._kernels import optim_numba
    rng = np.random.default_rng(0)
    arrays = [[rng.standard_normal(s).astype(np.float32).reshape(-1) for _ in range(3)]
              for s in SHAPES]
    signature = [("a", float), ("b", float), ("c", float)]  # numexpr's 'float': float32
    momentum_pass = numexpr.NumExpr("a * b + c", signature=signature)
    step_pass = numexpr.NumExpr("a + b * c", signature=signature)
    momentum, negative_lr = np.float32(0.9), np.float32(-0.01)

    def numexpr_step():
        for param, grad, buf in arrays:
            momentum_pass(buf, momentum, grad, out=buf, ex_uses_vml=False)
            step_pass(param, buf, negative_lr, out=param, ex_uses_vml=False)

    rows = []
    default = numexpr.get_num_threads()
    for threads in sorted({1, default}):
        numexpr.set_num_threads(threads)
        rows.append((f"numexpr, {threads} thread(s)", _median_seconds(numexpr_step, repeats)))
    numexpr.set_num_threads(default)
    for compiled in (False, True):
        previous = optim_numba.set_enabled(compiled)
        try:
            optimizer = make(dark, "SGD", {"lr": 0.01, "momentum": 0.9}, "cpu")
            label = "dark, numba kernel" if compiled else "dark, numpy path"
            if compiled and optim_numba.sgd_momentum() is None:
                label += " (numba missing: numpy)"
            rows.append((label, _median_seconds(optimizer.step, repeats)))
        finally:
            optim_numba.set_enabled(previous)
    return rows


def _median_seconds(function, repeats: int) -> float:
    for _ in range(5):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(20):
            function()
        samples.append((time.perf_counter() - start) / 20)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--numexpr", action="store_true",
                        help="also time SGD-momentum's update in numexpr (needs numexpr)")
    args = parser.parse_args()
    if args.device == "cuda":
        try:
            dark.zeros(1, device="cuda")
        except RuntimeError as error:  # says why: no CuPy, or no GPU
            parser.exit(1, f"--device cuda: {error}\n")
    threads = torch.get_num_threads() if torch is not None else 0
    print(f"device {args.device}; torch default threads: {threads}")
    header = f"{'optimizer':36s} {'dark us':>9s} {'torch(1) us':>12s} {'ratio':>7s} " \
             f"{f'torch({threads}) us':>13s} {'ratio':>7s}"
    print(header)
    for name, dark_s, single_s, threaded_s in run(args.repeats, args.device):
        line = f"{name:36s} {dark_s * 1e6:9.1f}"
        for torch_s in (single_s, threaded_s):
            if torch_s is None:
                line += f" {'-':>12s} {'-':>7s}"
            else:
                line += f" {torch_s * 1e6:12.1f} {dark_s / torch_s:6.2f}x"
        print(line)
    if args.numexpr:
        print("\nSGD-momentum update of the same parameters, us per step:")
        for name, seconds in _numexpr_rows(args.repeats):
            print(f"{name:36s} {seconds * 1e6:9.1f}")


if __name__ == "__main__":
    main()
