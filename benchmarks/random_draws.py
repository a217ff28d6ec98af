"""Time dark's CPU random draws against PyTorch's in the same run (both on one thread of
this machine's CPU): randn(10**7) and rand(10**7) after the same seed (the same numbers), and
randperm(60000) (a DataLoader epoch's shuffle). Prints the median of repeats and dark/torch."""
import time

import numpy as np
import torch

import dark

N = 10 ** 7
REPEATS = 5


def median_time(function) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    torch.set_num_threads(1)
    dark.set_num_threads(1)
    cases = {
        "randn(10**7)": lambda L: L.randn(N),
        "rand(10**7)": lambda L: L.rand(N),
        "randn(10**7, float64)": lambda L: L.randn(N, dtype=L.float64),
        "randperm(60000)": lambda L: L.randperm(60000),
    }
    print(f"{'draw':24s} {'dark s':>9s} {'torch s':>9s} {'ratio':>7s}")
    for name, draw in cases.items():
        dark.manual_seed(0)
        torch.manual_seed(0)
        ours = median_time(lambda draw=draw: draw(dark))
        theirs = median_time(lambda draw=draw: draw(torch))
        print(f"{name:24s} {ours:9.4f} {theirs:9.4f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
