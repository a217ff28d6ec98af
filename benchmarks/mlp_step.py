"""The MLP training step of issue 22 broken into its parts, dark against PyTorch in one run.

    python benchmarks/mlp_step.py [--threads 2,1] [--batch 128] [--repeats 15]

The model is 784-512-256-10 (Linear, ReLU, Linear, ReLU, Linear), cross-entropy, SGD with
momentum 0.9, on random inputs of the MNIST shape; torch starts from dark's weights. For each
library and thread count it times, in milliseconds per call (medians of ``--repeats``
samples of about 50 ms; each round times every part of dark, a pause (torch's OpenMP threads
spin-wait after work), then every part of torch, so both libraries see the same machine: on
a shared host, spells of a few seconds run everything up to 1.7x slower):

- step: one training step (zero_grad, forward, loss, backward, optimizer step, loss.item());
- inference: the forward under no_grad;
- products: the step's eight matrix products alone, on raw arrays in the layouts the step
  uses (dark: numpy's matmul as dark's ops call it; torch: torch.mm);
- elementwise: the other passes over the activations, raw, as each library's kernels do
  them: the bias adds (torch's addmm takes its bias inside the product, so its row here is
  an upper bound), ReLU forward and backward (the mask and the select), the bias gradients'
  column sums;
- loss: cross_entropy forward and backward on a (batch, 10) leaf (API calls, autograd
  included);
- update: optimizer.step() alone;
- overhead: step less the four parts above: the graph, the dispatch, the allocations.

The last rows give samples/s of training and inference and the step's time against its
products' time (issue 22 asks for at most 1.15x). Measure on a quiet machine: on a loaded
one the threaded products (OpenBLAS's or torch's OpenMP threads) lose their cores to other
processes, and the numbers say more about the load than the libraries."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import dark
from dark._kernels import elementwise as dark_elementwise
from dark._kernels import matmul as dark_matmul
from dark._kernels import optim_numba, passes_numba

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

SIZES = (784, 512, 256, 10)
PARTS = ("step", "inference", "products", "elementwise", "loss", "update")


def build(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


class Workload:
    """One library's model, optimizer, batch and the raw operands of its parts."""

    def __init__(self, lib, model, batch: int):
        rng = np.random.default_rng(0)
        self.lib, self.model = lib, model
        self.optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        self.criterion = lib.nn.CrossEntropyLoss()
        self.data = lib.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32))
        self.target = lib.from_numpy(rng.integers(0, 10, batch))
        self.logits = lib.from_numpy(rng.standard_normal((batch, 10)).astype(np.float32))
        self.logits.requires_grad_(True)
        # raw operands: weights (out, in), activations (batch, n), gradients (batch, n)
        weights = [layer.weight.detach() for layer in model if hasattr(layer, "weight")]
        self.biases = [layer.bias.detach() for layer in model if hasattr(layer, "bias")]
        self.weights = weights
        self.acts = [self.data] + [lib.from_numpy(np.abs(rng.standard_normal(
            (batch, n))).astype(np.float32) * (rng.random((batch, n)) < 0.5))
            for n in SIZES[1:]]
        self.grads = [None] + [lib.from_numpy(rng.standard_normal((batch, n)).astype(
            np.float32)) for n in SIZES[1:]]
        model.train()
        for _ in range(5):
            self.step()

    def step(self):
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(self.data), self.target)
        loss.backward()
        self.optimizer.step()
        loss.item()

    def inference(self):
        with self.lib.no_grad():
            self.model(self.data)

    def loss(self):
        self.logits.grad = None
        self.lib.nn.functional.cross_entropy(self.logits, self.target).backward()

    def update(self):
        self.optimizer.step()


class DarkWorkload(Workload):
    def __init__(self, model, batch):
        super().__init__(dark, model, batch)
        self.raw_weights = [w._data for w in self.weights]
        self.raw_biases = [b._data for b in self.biases]
        self.raw_acts = [a._data for a in self.acts]
        self.raw_grads = [None] + [g._data for g in self.grads[1:]]

    def products(self):
        w, a, g = self.raw_weights, self.raw_acts, self.raw_grads
        for i in range(3):  # forward: x @ W.T
            dark_matmul(a[i], w[i].T)
        for i in (2, 1):  # input gradients: g @ W
            dark_matmul(g[i + 1], w[i])
        for i in range(3):  # weight gradients: g.T @ x, in the weight's layout
            dark_matmul(g[i + 1].T, a[i])

    def elementwise(self):
        a, g = self.raw_acts, self.raw_grads
        for i in range(3):
            out = a[i + 1]
            np.add(out, self.raw_biases[i], out=out)  # Addmm's bias add
            g[i + 1].sum(0)  # the bias gradient
        for i in (1, 2):
            dark_elementwise.relu_forward(np, g[i])
            dark_elementwise.positive_or_zero(np, a[i], g[i])


class TorchWorkload(Workload):
    def __init__(self, model, batch):
        super().__init__(torch, model, batch)
        self.relu_backward = torch.ops.aten.threshold_backward

    def products(self):
        w, a, g = self.weights, self.acts, self.grads
        for i in range(3):
            torch.mm(a[i], w[i].t())
        for i in (2, 1):
            torch.mm(g[i + 1], w[i])
        for i in range(3):
            torch.mm(g[i + 1].t(), a[i])

    def elementwise(self):
        a, g = self.acts, self.grads
        with torch.no_grad():
            for i in range(3):
                a[i + 1].add_(self.biases[i])
                g[i + 1].sum(0)
            for i in (1, 2):
                torch.relu(g[i])
                self.relu_backward(g[i], a[i], 0)


def _calls(function) -> int:
    """How many calls take about 50 ms (one sample), after a warm-up."""
    for _ in range(3):
        function()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        function()
        calls += 1
    return max(calls, 1)


# between one library's parts and the other's: torch's OpenMP threads spin-wait after work
PAUSE = 0.2


def time_parts(workloads: dict, repeats: int) -> dict:
    """Median seconds per call of each part of each workload ({library: workload}): each
    round times every part of one library, a pause, then every part of the next, so that
    all see the same machine (a slow spell of a shared host falls on both)."""
    functions = {name: {part: getattr(workload, part) for part in PARTS}
                 for name, workload in workloads.items()}
    calls = {name: {part: _calls(function) for part, function in parts.items()}
             for name, parts in functions.items()}
    samples = {name: {part: [] for part in PARTS} for name in workloads}
    for _ in range(repeats):
        for name, parts in functions.items():
            time.sleep(PAUSE)
            for part, function in parts.items():
                start = time.perf_counter()
                for _ in range(calls[name][part]):
                    function()
                samples[name][part].append((time.perf_counter() - start) / calls[name][part])
    return {name: {part: statistics.median(values) for part, values in parts.items()}
            for name, parts in samples.items()}


def report(threads: int, batch: int, results: dict) -> None:
    names = list(results)
    print(f"\n{threads} thread(s), batch {batch}: ms per call")
    print(f"{'part':12s}" + "".join(f"{name:>10s}" for name in names)
          + ("   dark/torch" if len(names) == 2 else ""))
    rows = {}
    for name, parts in results.items():
        rows[name] = dict(parts)
        rows[name]["overhead"] = parts["step"] - sum(parts[p] for p in
                                                     ("products", "elementwise", "loss",
                                                      "update"))
    for part in PARTS + ("overhead",):
        line = f"{part:12s}" + "".join(f"{rows[n][part] * 1e3:10.3f}" for n in names)
        if len(names) == 2 and rows[names[1]][part] > 0:
            line += f"   {rows[names[0]][part] / rows[names[1]][part]:9.2f}x"
        print(line)
    print(f"{'step/products':12s}" + "".join(
        f"{rows[n]['step'] / rows[n]['products']:9.2f}x" for n in names))
    for part, label in (("step", "train/s"), ("inference", "infer/s")):
        line = f"{label:12s}" + "".join(f"{batch / rows[n][part]:10.0f}" for n in names)
        if len(names) == 2:
            line += f"   {rows[names[1]][part] / rows[names[0]][part]:9.2f}x"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2,1", help="comma-separated thread counts")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    # a long run loads dark's compiled optimizer kernels and backward selects (where numba
    # is installed) after its first steps: load them before timing
    optim_numba.sgd_momentum()
    optim_numba.adam()
    passes_numba.relu_backward()
    print("dark/torch: the ratio of times (of throughputs on the last two rows: above 1 is "
          "dark ahead)")
    for threads in (int(t) for t in args.threads.split(",")):
        dark.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        dark.manual_seed(0)
        model = build(dark)
        workloads = {"dark": DarkWorkload(model, args.batch)}
        if torch is not None:
            torch_model = build(torch)
            torch_model.load_state_dict({key: torch.from_numpy(value.numpy().copy())
                                         for key, value in model.state_dict().items()})
            workloads["torch"] = TorchWorkload(torch_model, args.batch)
        report(threads, args.batch, time_parts(workloads, args.repeats))
        time.sleep(PAUSE)


if __name__ == "__main__":
    main()
