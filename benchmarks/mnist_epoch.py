"""One MNIST training epoch of the example's MLP and CNN, dark against PyTorch.

    python benchmarks/mnist_epoch.py [--batches 200] [--rounds 4] [--models mlp,cnn]
                                     [--batch-sizes 64,256] [--threads N] [--profile MODEL]
                                     [--device cpu|cuda]

Same model (torch gets dark's initial weights), Adam lr 1e-3, cross-entropy, the same
batches of the real MNIST training images (normalised float32, preloaded in memory, so no
data loading is timed). Each configuration runs `--batches` training steps (zero_grad,
forward, loss, backward, step, loss.item()) in `--rounds` blocks per library; seconds per
epoch are extrapolated from the median block to the 60,000 images of an epoch. The two
libraries' blocks alternate, a pause before each (torch's OpenMP threads spin-wait after
work, and running the two at once on a few cores slows both), so that both see the same
machine; "paired" is the median over the rounds of dark's block time over torch's block
right after it, which a machine whose speed drifts during the run (a shared host) disturbs
less than the ratio of the two medians. torch runs on as many threads as dark
(`dark.get_num_threads()`; `--threads` sets both). With `--device cuda` the models, the
optimizer state and the preloaded batches live on the GPU (torch's too, when its build sees
the GPU; otherwise only dark is timed), and each block is timed between two synchronizes.
`--profile mlp` (or cnn) runs cProfile on dark's steps instead and prints the top costs."""
from __future__ import annotations

import argparse
import cProfile
import gzip
import math
import os
import pathlib
import pstats
import statistics
import time

import numpy as np

import dark
from dark._kernels import optim_numba, passes_numba, random_numba

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

REPO = pathlib.Path(__file__).resolve().parents[1]
EPOCH = 60000


def load_mnist(root: str) -> tuple:
    """The training images, normalised as in the example, (60000, 1, 28, 28) float32, and
    the labels (60000,) int64, read straight from the IDX files."""
    raw = pathlib.Path(root, "MNIST", "raw")
    with gzip.open(raw / "train-images-idx3-ubyte.gz") as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(raw / "train-labels-idx1-ubyte.gz") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8).astype(np.int64)
    images = (images.astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    return images, labels


def build(lib, name: str):
    """The example's models (examples/mnist.py) as Sequentials, so one definition serves
    both libraries."""
    nn = lib.nn
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    return nn.Sequential(  # pytorch/examples' Net
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))


class Trainer:
    """A model, its Adam optimizer and the batches of one library; `run(k)` trains k steps."""

    def __init__(self, lib, model, images: np.ndarray, labels: np.ndarray, batch_size: int,
                 device: str = "cpu"):
        self.lib, self.model, self.device = lib, model.to(device), device
        self.optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
        self.criterion = lib.nn.CrossEntropyLoss()
        self.batches = [(lib.from_numpy(images[i:i + batch_size]).to(device),
                         lib.from_numpy(labels[i:i + batch_size]).to(device))
                        for i in range(0, len(images) - batch_size + 1, batch_size)]
        self.position = 0
        model.train()

    def run(self, steps: int) -> float:
        """Seconds for `steps` training steps."""
        self.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            data, target = self.batches[self.position % len(self.batches)]
            self.position += 1
            self.optimizer.zero_grad()
            loss = self.criterion(self.model(data), target)
            loss.backward()
            self.optimizer.step()
            loss.item()
        self.synchronize()
        return time.perf_counter() - start

    def synchronize(self) -> None:
        if self.device != "cpu":
            self.lib.cuda.synchronize()


def torch_runs_on(device: str) -> bool:
    return torch is not None and (device == "cpu" or torch.cuda.is_available())


def trainers(name: str, batch_size: int, images, labels, batches: int,
             device: str = "cpu") -> tuple:
    """dark's and torch's (None without torch, or without its CUDA for 'cuda') trainers,
    torch starting from dark's weights."""
    count = min(len(images), (batches + 1) * batch_size)
    images, labels = images[:count], labels[:count]
    dark.manual_seed(0)
    model = build(dark, name)
    torch_model = None
    if torch_runs_on(device):
        torch_model = build(torch, name)
        torch_model.load_state_dict({key: torch.from_numpy(value.numpy().copy())
                                     for key, value in model.state_dict().items()})
    dark_trainer = Trainer(dark, model, images, labels, batch_size, device)
    if torch_model is None:
        return dark_trainer, None
    return dark_trainer, Trainer(torch, torch_model, images, labels, batch_size, device)


def profile(name: str, batch_size: int, images, labels, batches: int,
            device: str = "cpu") -> None:
    dark_trainer, _ = trainers(name, batch_size, images, labels, batches, device)
    dark_trainer.run(2)
    profiler = cProfile.Profile()
    profiler.enable()
    dark_trainer.run(batches)
    profiler.disable()
    print(f"cProfile of {batches} dark training steps, {name}, batch {batch_size}:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="timed steps per library")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn, net")
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--profile", choices=("mlp", "cnn", "net"))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--data-root", default=os.environ.get("DARK_DATA")
                        or str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    # a long run loads dark's compiled optimizer kernels, backward selects and dropout's
    # Bernoulli draws (where numba is installed) after its first steps (the draws after about
    # 140 steps of the Net at batch 64, by dark.random's _NUMBA_SAVES): load them before
    # timing
    optim_numba.sgd_momentum()
    optim_numba.adam()
    random_numba.bernoulli()
    passes_numba.relu_backward()
    passes_numba.max_pool_2x2_backward()
    if args.device == "cuda":
        try:
            dark.zeros(1, device="cuda")
        except RuntimeError as error:  # says why: no CuPy, or no GPU
            parser.exit(1, f"--device cuda: {error}\n")
    if args.threads is not None:
        dark.set_num_threads(args.threads)  # dark's pool and numpy's BLAS
    threads = dark.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    images, labels = load_mnist(args.data_root)
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    if args.profile:
        profile(args.profile, batch_sizes[0], images, labels, args.batches, args.device)
        return
    where = f"device {args.device}" + ("" if torch_runs_on(args.device) else " (dark only)")
    print(f"{where}; {threads} thread(s) for dark and torch; {args.batches} steps "
          f"per library in {args.rounds} blocks, extrapolated to {EPOCH} images")
    print(f"{'model':6s} {'batch':>5s} {'dark s/epoch':>13s} {'torch s/epoch':>14s} "
          f"{'dark/torch':>11s} {'paired':>7s}")
    block = max(1, args.batches // args.rounds)
    for name in args.models.split(","):
        for batch_size in batch_sizes:
            dark_trainer, torch_trainer = trainers(name, batch_size, images, labels,
                                                   args.batches, args.device)
            pair = [dark_trainer] + ([torch_trainer] if torch_trainer else [])
            for trainer in pair:
                trainer.run(2)
            times = [[] for _ in pair]
            for _ in range(args.rounds):  # the libraries' blocks alternate
                for record, trainer in zip(times, pair):
                    time.sleep(0.5)  # let the other library's spinning threads go idle
                    record.append(trainer.run(block))
            steps_per_epoch = math.ceil(EPOCH / batch_size)
            epoch = [statistics.median(record) / block * steps_per_epoch for record in times]
            line = f"{name:6s} {batch_size:5d} {epoch[0]:13.1f}"
            if torch_trainer:
                paired = statistics.median(d / t for d, t in zip(*times))
                line += f" {epoch[1]:14.1f} {epoch[0] / epoch[1]:11.2f} {paired:7.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
