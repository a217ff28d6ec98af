"""PyTorch's quickstart (examples/fashion_mnist.py, the tutorial ported by its imports) run for
one epoch by dark and by torch from the same seed, its loss lines side by side.

    DARK_DATA=... python scripts/quickstart_parity.py [--seed 0] [--epochs 1]

torch 2.13 seeds its generator from the operating system at start-up, so the tutorial as
published prints different numbers on every run; with ``manual_seed(seed)`` first, both
libraries draw the same initial weights (dark's CPU generator is torch's), and the lines show
how far the two runs agree as float32 BLAS summation orders drift apart. dark reads
FashionMNIST through its own dataset, DataLoader and ToTensor, exactly as the example; torch
gets the same images (scaled by 1/255 as ToTensor does) through a TensorDataset, since
torchvision is not needed for that."""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

import dark
from dark.data import datasets
from dark.data.transforms import ToTensor
from dark.utils.data import DataLoader

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import fashion_mnist  # noqa: E402 - the example itself, for dark's side

try:
    import torch
except ImportError:
    torch = None


def dark_losses(root: str, seed: int, epochs: int) -> list:
    dark.manual_seed(seed)
    data = datasets.FashionMNIST(root=root, train=True, download=False, transform=ToTensor())
    loader = DataLoader(data, batch_size=64)
    model = fashion_mnist.NeuralNetwork()
    loss_fn = dark.nn.CrossEntropyLoss()
    optimizer = dark.optim.SGD(model.parameters(), lr=1e-3)
    return [loss for _ in range(epochs) for loss in _train(loader, model, loss_fn, optimizer)]


def torch_losses(root: str, seed: int, epochs: int) -> list:
    from torch import nn

    torch.manual_seed(seed)
    data = datasets.FashionMNIST(root=root, train=True, download=False)
    images = torch.from_numpy(np.asarray(data.data, dtype=np.float32) / 255).unsqueeze(1)
    labels = torch.from_numpy(np.asarray(data.targets, dtype=np.int64))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=64)

    class NeuralNetwork(nn.Module):  # the tutorial's, as examples/fashion_mnist.py
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    model = NeuralNetwork()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return [loss for _ in range(epochs) for loss in _train(loader, model, loss_fn, optimizer)]


def _train(loader, model, loss_fn, optimizer):
    """The tutorial's train(): the loss every 100 batches."""
    model.train()
    for batch, (X, y) in enumerate(loader):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 100 == 0:
            yield batch, loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data-root", default=os.environ.get("DARK_DATA") or "data")
    args = parser.parse_args()
    if torch is None:
        sys.exit("quickstart_parity.py needs torch (pip install torch==2.13.0)")
    dark.set_num_threads(torch.get_num_threads())
    ours = dark_losses(args.data_root, args.seed, args.epochs)
    theirs = torch_losses(args.data_root, args.seed, args.epochs)
    print(f"seed {args.seed}, {dark.get_num_threads()} thread(s)")
    print("batch    dark loss    torch loss   |difference|  equal to 4 decimals")
    for (batch, a), (_, b) in zip(ours, theirs):
        print(f"{batch:5d}  {a:>11f}  {b:>11f}  {abs(a - b):12.2e}  "
              f"{'yes' if f'{a:.4f}' == f'{b:.4f}' else 'no'}")


if __name__ == "__main__":
    main()
