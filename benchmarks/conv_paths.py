"""dark's three CPU paths for a stride-1 2-D convolution, im2col, Fourier and Winograd (3x3
kernels), against each other and against PyTorch: the measurements behind the choice in
dark/_kernels/conv.py (``fourier``, ``winograd``, ``_transform_path``).

    python benchmarks/conv_paths.py [--repeats 7] [--threads N] [--clock wall|cpu] [--fit]
                                    [--only 3x3]

For each convolution (batch, C_in, H = W, C_out, kernel, padding), a training step's work:
forward with bias, backward from a fixed gradient into the input, the weight and the bias.
Each is timed by im2col (both margins 0), by the Fourier path (FOURIER_MARGIN = inf), by the
Winograd path where it applies (WINOGRAD_MARGIN = inf, its F(m x m, 3 x 3) by the channels),
and by torch, in blocks (all of one before the next: torch's OpenMP threads spin after work
and slow whatever runs beside them). Prints the median milliseconds, the ratios Fourier /
im2col and Winograd / im2col, dark's choice and whether it was the fastest of the three,
and dark / torch. ``--clock cpu`` times the process's CPU time instead of the wall clock (on
a machine shared with other work, at one thread, it is the steadier measure of the work
itself). ``--fit`` prints, for the 3x3 rows, how many choices between im2col and Winograd
each value of conv_winograd.TRANSFORM_PASS would get right (the input gradient by its
estimated way).

Float32 accuracy of each path against float64 (Conv2d(64, 64, 3, padding=1) with its initial
weights on unit-normal inputs; the largest error over the largest entry of output, input
gradient, weight gradient): torch 5e-7, 3e-7, 3-4e-6; im2col 6e-7, 2e-7, 6e-7; Fourier 3e-7,
3e-7, 3e-7; Winograd F(2x2) 4e-7, 3e-7, 9e-7; F(4x4) 2.5e-6, 2.2e-6, 3.4e-6 (see
dark/_kernels/conv_winograd.py)."""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import dark
import dark._kernels.conv as conv_ops
import dark._kernels.conv_fourier as conv_fourier
import dark._kernels.conv_winograd as conv_winograd

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

CONVOLUTIONS = [  # (batch, C_in, H = W, C_out, kernel, padding)
    (64, 16, 14, 32, 5, 2),  # the MNIST example's CNN, conv2
    (256, 16, 14, 32, 5, 2),
    (64, 1, 28, 16, 5, 2),  # its conv1
    (64, 1, 28, 32, 3, 0),  # pytorch/examples' MNIST Net, conv1 and conv2
    (64, 32, 26, 64, 3, 0),
    (16, 64, 32, 64, 3, 1),
    (32, 3, 32, 16, 3, 1),
    (32, 16, 32, 32, 3, 1),
    (8, 64, 56, 64, 3, 1),
    (16, 32, 16, 64, 5, 2),
    (64, 6, 14, 16, 5, 0),  # LeNet-5's conv2
    (8, 128, 28, 128, 3, 1),
    (32, 32, 8, 64, 3, 1),
    (32, 16, 28, 32, 5, 2),
    (16, 32, 32, 64, 5, 2),
    (64, 32, 14, 64, 5, 2),
    (8, 128, 14, 128, 5, 2),
    (32, 20, 12, 50, 5, 0),  # Caffe's LeNet conv2
    (64, 64, 8, 128, 5, 2),
    (32, 3, 32, 32, 5, 2),
    (16, 64, 32, 64, 5, 2),
    (16, 16, 28, 32, 7, 3),
    (64, 16, 14, 32, 3, 1),
    (32, 64, 32, 64, 3, 1),  # issue 22's Conv2d(64, 64, 3, padding=1)
    (16, 128, 16, 128, 3, 1),
    (8, 256, 14, 256, 3, 1),  # F(2x2): more than 128 channels
    (8, 32, 56, 32, 3, 1),
    (64, 8, 28, 8, 3, 1),
    (16, 3, 64, 32, 3, 1),
]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def median_ms(function, repeats: int, clock=time.perf_counter) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(1000 * (clock() - start))
    return statistics.median(times)


def step(lib, arrays, padding):
    """A function running forward and backward of conv2d on lib's tensors of the arrays."""
    x, weight, bias, grad = (lib.tensor(a, requires_grad=k < 3) for k, a in enumerate(arrays))

    def run():
        out = lib.nn.functional.conv2d(x, weight, bias, padding=padding)
        out.backward(grad)
        x.grad = weight.grad = bias.grad = None
    return run


PATHS = {  # the margins that force each path
    "im2col": (0.0, 0.0),
    "fourier": (math.inf, 0.0),
    "winograd": (0.0, math.inf),
}


def path_times(run, arrays, padding, repeats, clock) -> dict:
    """Milliseconds of ``run`` on each path that applies (Winograd: 3x3 kernels)."""
    times = {}
    defaults = conv_fourier.FOURIER_MARGIN, conv_winograd.WINOGRAD_MARGIN
    thin = conv_ops._SAMPLE_ROWS  # a thin convolution takes neither transform by default
    x_shape, w_shape = arrays[0].shape, arrays[1].shape
    applies = conv_winograd.geometry(x_shape, w_shape, (1, 1), (padding,) * 2, (1, 1), 1,
                                     np.float32, np) is not None
    try:
        for name, (fourier, winograd) in PATHS.items():
            if name == "winograd" and not applies:
                continue
            conv_fourier.FOURIER_MARGIN, conv_winograd.WINOGRAD_MARGIN = fourier, winograd
            conv_ops._SAMPLE_ROWS = thin if name == "im2col" else 0
            times[name] = median_ms(run, repeats, clock)
    finally:
        conv_fourier.FOURIER_MARGIN, conv_winograd.WINOGRAD_MARGIN = defaults
        conv_ops._SAMPLE_ROWS = thin
    return times


def choice(arrays, padding) -> tuple:
    """dark's path for this convolution, and its label (Winograd's with its tile m)."""
    plan = conv_ops._transform_path(arrays[0].shape, arrays[1].shape, (1, 1), (padding,) * 2,
                                    (1, 1), 1, np.float32, np)
    if plan is None:
        return "im2col", "im2col"
    if isinstance(plan, conv_fourier.Fourier):
        return "fourier", "fourier"
    return "winograd", f"F{plan.m}x{plan.m}"


def fit(rows) -> None:
    """For each TRANSFORM_PASS tried, how many of the 3x3 rows' choices between im2col and
    Winograd (estimate below WINOGRAD_MARGIN times im2col's) match the faster measured."""
    default = conv_winograd.TRANSFORM_PASS
    print("TRANSFORM_PASS: choices right of", len(rows))
    try:
        for value in (8, 16, 24, 32, 48, 64, 96, 128, 192, 256):
            conv_winograd.TRANSFORM_PASS = value
            right = 0
            for arrays, padding, times in rows:
                plan = conv_winograd.geometry(arrays[0].shape, arrays[1].shape, (1, 1),
                                              (padding,) * 2, (1, 1), 1, np.float32, np)
                chosen = plan.cost() < conv_winograd.WINOGRAD_MARGIN * plan.direct_cost()
                right += chosen == (times["winograd"] < times["im2col"])
            print(f"{value:>6}: {right}")
    finally:
        conv_winograd.TRANSFORM_PASS = default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--only", choices=("3x3",), default=None,
                        help="only the 3x3 convolutions")
    args = parser.parse_args()
    if args.threads:
        dark.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(dark.get_num_threads())
    clock = CLOCKS[args.clock]
    print(f"{dark.get_num_threads()} thread(s); median ms ({args.clock} clock) of "
          f"{args.repeats} forward+backward steps, float32")
    print(f"{'batch, C_in, H, C_out, k, pad':<30}{'im2col':>8}{'fourier':>9}{'f/i':>6}"
          f"{'winograd':>9}{'w/i':>6}{'choice':>8}{'best':>5}{'torch':>8}{'dark/torch':>11}")
    rng = np.random.default_rng(0)
    wins = 0
    rows = []
    convolutions = [c for c in CONVOLUTIONS if args.only is None or c[4] == 3]
    for n, c_in, size, c_out, kernel, padding in convolutions:
        out_size = size + 2 * padding - kernel + 1
        arrays = [rng.standard_normal((n, c_in, size, size)).astype(np.float32),
                  (rng.standard_normal((c_out, c_in, kernel, kernel))
                   / math.sqrt(c_in * kernel * kernel)).astype(np.float32),
                  rng.standard_normal(c_out).astype(np.float32),
                  rng.standard_normal((n, c_out, out_size, out_size)).astype(np.float32)]
        times = path_times(step(dark, arrays, padding), arrays, padding, args.repeats, clock)
        chosen, label = choice(arrays, padding)
        dark_ms = times[chosen]
        fastest = min(times, key=times.get)
        wins += fastest == chosen
        if "winograd" in times:
            rows.append((arrays, padding, times))
        torch_ms = (median_ms(step(torch, arrays, padding), args.repeats, clock)
                    if torch else None)
        shape = ", ".join(map(str, (n, c_in, size, c_out, kernel, padding)))
        winograd = (f"{times['winograd']:>9.2f}{times['winograd'] / times['im2col']:>6.2f}"
                    if "winograd" in times else f"{'-':>9}{'-':>6}")
        print(f"{shape:<30}{times['im2col']:>8.2f}{times['fourier']:>9.2f}"
              f"{times['fourier'] / times['im2col']:>6.2f}{winograd}{label:>8}"
              f"{'yes' if fastest == chosen else 'no':>5}"
              + (f"{torch_ms:>8.2f}{dark_ms / torch_ms:>11.2f}" if torch_ms else ""),
              flush=True)
    print(f"dark's choice was the fastest path for {wins} of {len(convolutions)}")
    if args.fit:
        fit(rows)


if __name__ == "__main__":
    main()
