"""dark's two CPU paths for a stride-1 2-D convolution, im2col and Fourier, against each other
and against PyTorch: the measurements behind the choice in dark/_kernels/conv.py (``fourier``).

    python benchmarks/conv_paths.py [--repeats 7] [--threads N]

For each convolution (batch, C_in, H = W, C_out, kernel, padding), a training step's work:
forward with bias, backward from a fixed gradient into the input, the weight and the bias.
Each is timed by im2col (FOURIER_MARGIN = 0), by the Fourier path (FOURIER_MARGIN = inf), by
dark's own choice, and by torch, in blocks (all of one before the next: torch's OpenMP
threads spin after work and slow whatever runs beside them). Prints the median milliseconds,
the ratio Fourier / im2col, whether dark's choice took the faster path, and dark / torch."""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import dark
import dark._kernels.conv as conv_ops
import dark._kernels.conv_fourier as conv_fourier

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
]


def median_ms(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def step(lib, arrays, padding):
    """A function running forward and backward of conv2d on lib's tensors of the arrays."""
    x, weight, bias, grad = (lib.tensor(a, requires_grad=k < 3) for k, a in enumerate(arrays))

    def run():
        out = lib.nn.functional.conv2d(x, weight, bias, padding=padding)
        out.backward(grad)
        x.grad = weight.grad = bias.grad = None
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        dark.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(dark.get_num_threads())
    print(f"{dark.get_num_threads()} thread(s); median ms of {args.repeats} forward+backward "
          "steps, float32")
    print(f"{'batch, C_in, H, C_out, k, pad':<30}{'im2col':>8}{'fourier':>9}{'f/i':>6}"
          f"{'choice':>8}{'torch':>8}{'dark/torch':>11}")
    rng = np.random.default_rng(0)
    wins = 0
    for n, c_in, size, c_out, kernel, padding in CONVOLUTIONS:
        out_size = size + 2 * padding - kernel + 1
        arrays = [rng.standard_normal((n, c_in, size, size)).astype(np.float32),
                  (rng.standard_normal((c_out, c_in, kernel, kernel))
                   / math.sqrt(c_in * kernel * kernel)).astype(np.float32),
                  rng.standard_normal(c_out).astype(np.float32),
                  rng.standard_normal((n, c_out, out_size, out_size)).astype(np.float32)]
        run = step(dark, arrays, padding)
        times = {}
        default = conv_fourier.FOURIER_MARGIN
        try:
            for name, margin in (("im2col", 0.0), ("fourier", math.inf)):
                conv_fourier.FOURIER_MARGIN = margin
                times[name] = median_ms(run, args.repeats)
        finally:
            conv_fourier.FOURIER_MARGIN = default
        chosen = conv_ops.fourier(arrays[0].shape, arrays[1].shape, (1, 1), (padding,) * 2,
                                  (1, 1), 1, np.float32, np) is not None
        dark_ms = times["fourier" if chosen else "im2col"]
        wins += (times["fourier"] < times["im2col"]) == chosen
        torch_ms = median_ms(step(torch, arrays, padding), args.repeats) if torch else None
        ratio = times["fourier"] / times["im2col"]
        shape = ", ".join(map(str, (n, c_in, size, c_out, kernel, padding)))
        print(f"{shape:<30}{times['im2col']:>8.2f}{times['fourier']:>9.2f}{ratio:>6.2f}"
              f"{'fourier' if chosen else 'im2col':>8}"
              + (f"{torch_ms:>8.2f}{dark_ms / torch_ms:>11.2f}" if torch_ms else ""))
    print(f"dark's choice was the faster path for {wins} of {len(CONVOLUTIONS)}")


if __name__ == "__main__":
    main()
