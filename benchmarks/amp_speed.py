"""One MLP training step in float32 against bfloat16 autocast (with a GradScaler), dark and
PyTorch's CPU autocast, in one run.

    python benchmarks/amp_speed.py [--batch 128] [--steps 30] [--rounds 5] [--threads N]

The model is examples/mnist.py's MLP (784-512-256-10, ReLU) on random MNIST-shaped batches;
a step is zero_grad, forward and cross-entropy (under ``autocast('cpu', dtype=bfloat16)`` in
the AMP runs), ``scaler.scale(loss).backward()``, ``scaler.step(optimizer)``,
``scaler.update()`` (the float32 runs: backward and step). Prints milliseconds per step
(median of rounds) for each of the four and the bfloat16/float32 ratio of each library.
dark's bfloat16 ops convert to float32, compute, and round back to bfloat16 (numpy has no
bfloat16 arithmetic): on a CPU this costs time rather than saves it. torch runs on as many
threads as dark."""
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


def build(lib):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                         nn.ReLU(), nn.Linear(256, 10))


def make_step(lib, model, amp: bool):
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
    scaler = lib.amp.GradScaler("cpu") if amp else None

    def step(x, y):
        optimizer.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=amp):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        if amp:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return loss.item()

    return step


def time_steps(step, batches, rounds: int) -> float:
    """Median milliseconds per step over ``rounds`` passes through ``batches``."""
    for x, y in batches[:3]:
        step(x, y)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for x, y in batches:
            step(x, y)
        samples.append((time.perf_counter() - start) / len(batches) * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        dark.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.steps, args.batch, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, (args.steps, args.batch))
    results = {}
    libraries = [("dark", dark)] + ([("torch", torch)] if torch is not None else [])
    for name, lib in libraries:
        if lib is torch:
            torch.set_num_threads(dark.get_num_threads())
        batches = [(lib.tensor(x), lib.tensor(y)) for x, y in zip(images, labels)]
        for amp in (False, True):
            if lib is torch:
                torch.manual_seed(0)
            model = build(lib)
            results[name, amp] = time_steps(make_step(lib, model, amp), batches, args.rounds)
    print(f"MLP 784-512-256-10, batch {args.batch}, {dark.get_num_threads()} threads, "
          "ms per training step (median):")
    print(f"{'':8}{'float32':>10}{'bf16 AMP':>10}{'ratio':>8}")
    for name, _ in libraries:
        f32, bf16 = results[name, False], results[name, True]
        print(f"{name:8}{f32:10.2f}{bf16:10.2f}{bf16 / f32:8.2f}")


if __name__ == "__main__":
    main()
