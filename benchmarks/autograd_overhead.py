"""Per-op Python overhead of dark's autograd against PyTorch (CPU), on tensors so small that
the arithmetic costs nothing: what is timed is graph recording and the backward engine.

    python benchmarks/autograd_overhead.py [--repeats 15] [--clock cpu]

Prints microseconds per op (forward op plus its share of backward) for dark and torch and
the ratio dark/torch; the whole-program rows (LSTM cell, polynomial fit, Adam, MLP) print
microseconds per step, call or module. Timings are medians of repeats after a warm-up;
``--clock cpu`` times this thread's CPU time instead of the wall clock (steadier on a machine
that other work shares: time spent waiting for a core is not counted)."""
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


def _input(lib, size):
    return lib.linspace(0.1, 1.0, size).requires_grad_()


def quadratic(lib, x):
    """2*x**2 + 5 and its backward: 3 ops."""
    y = 2 * x ** 2 + 5
    y.backward()
    x.grad = None


def quadratic_forward(lib, x):
    """2*x**2 + 5, graph recorded, no backward."""
    2 * x ** 2 + 5


def quadratic_step(lib, x):
    """One step of gradient descent on 2*x**2 + 5: forward, backward, in-place update."""
    y = 2 * x ** 2 + 5
    y.backward()
    with lib.no_grad():
        x -= 0.01 * x.grad
    x.grad = None


def _chain_ops(y):
    for _ in range(CHAIN_LENGTH // 5):
        y = (y * 1.01 + 0.1).sin().exp().tanh()
    return y


def chain(lib, x):
    """100 elementwise ops (mul, add, sin, exp, tanh in turn), a sum and the backward."""
    _chain_ops(x).sum().backward()
    x.grad = None


def chain_forward(lib, x):
    """The same 100 ops and the sum, graph recorded, no backward."""
    _chain_ops(x).sum()


def chain_no_grad(lib, x):
    """The same 100 ops without recording a graph."""
    with lib.no_grad():
        _chain_ops(x).sum()


LSTM_STEPS, LSTM_BATCH, LSTM_HIDDEN = 100, 8, 32


def _lstm_setup(lib, size):
    lib.manual_seed(0)
    cell = lib.nn.LSTMCell(LSTM_HIDDEN, LSTM_HIDDEN)
    inputs = lib.randn(LSTM_STEPS, LSTM_BATCH, LSTM_HIDDEN)
    return cell, inputs


def lstm_cell(lib, state):
    """An LSTMCell stepped 100 times over a batch of 8, hidden size 32, and the backward."""
    cell, inputs = state
    h = c = lib.zeros(LSTM_BATCH, LSTM_HIDDEN)
    for step in range(LSTM_STEPS):
        h, c = cell(inputs[step], (h, c))
    h.sum().backward()
    for p in cell.parameters():
        p.grad = None


def _polynomial_setup(lib, size):
    """The tutorials' fit of sin(x) by a cubic (pytorch.org "Learning PyTorch with Examples",
    tensors and autograd): 2000 points, four scalar parameters."""
    x = lib.linspace(-3.141592653589793, 3.141592653589793, 2000)
    params = [lib.full((), value, requires_grad=True) for value in (0.1, -0.2, 0.3, -0.05)]
    return x, lib.sin(x), params


def polynomial_fit(lib, state):
    """One step of the tutorial's loop: forward, loss, backward, a hand-written update."""
    x, y, (a, b, c, d) = state
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    loss.backward()
    with lib.no_grad():
        for p in (a, b, c, d):
            p -= 1e-6 * p.grad
            p.grad = None


ADAM_PARAMETERS = 100


def _adam_setup(lib, size):
    lib.manual_seed(0)
    params = [lib.nn.Parameter(lib.randn(10)) for _ in range(ADAM_PARAMETERS)]
    for p in params:
        p.grad = lib.randn(10)
    return lib.optim.Adam(params, lr=1e-3)


def adam_step(lib, optimizer):
    """Adam's step on a model of 100 parameters of 10 elements (gradients already there)."""
    optimizer.step()


MLP_DEPTH, MLP_WIDTH = 10, 16


def _mlp_setup(lib, size):
    lib.manual_seed(0)
    layers = [lib.nn.Linear(MLP_WIDTH, MLP_WIDTH) for _ in range(MLP_DEPTH)]
    return lib.nn.Sequential(*layers), lib.randn(1, MLP_WIDTH)


def mlp_call(lib, state):
    """A 10-layer MLP of width 16 on one sample, no_grad: Module.__call__ and linear."""
    model, x = state
    with lib.no_grad():
        model(x)


# (name, function, setup(lib, size) -> state, size, ops per call)
BENCHMARKS = [
    ("quadratic 2*x**2+5, 1 element, fwd only", quadratic_forward, _input, 1, 3),
    ("quadratic 2*x**2+5, 1 element, fwd+bwd", quadratic, _input, 1, 3),
    ("quadratic step fwd+bwd+update, us/step", quadratic_step, _input, 1, 1),
    ("chain of 100 ops, 10 elements, fwd only", chain_forward, _input, 10, CHAIN_LENGTH + 1),
    ("chain of 100 ops, 10 elements, fwd+bwd", chain, _input, 10, CHAIN_LENGTH + 1),
    ("chain of 100 ops, 10 elements, no_grad", chain_no_grad, _input, 10, CHAIN_LENGTH + 1),
    ("LSTMCell 100 steps b8 h32 fwd+bwd, us/step", lstm_cell, _lstm_setup, 0, LSTM_STEPS),
    ("polynomial fit (tutorial), us/step", polynomial_fit, _polynomial_setup, 0, 1),
    ("Adam.step, 100 params of 10, us/step", adam_step, _adam_setup, 0, 1),
    ("MLP 10 x Linear(16) no_grad, us/layer", mlp_call, _mlp_setup, 0, MLP_DEPTH),
]


_clock = time.perf_counter


def _calls_for(function, lib, x) -> int:
    """Warm up, then the number of calls that take about 20 ms (one timed sample)."""
    for _ in range(20):
        function(lib, x)
    start = _clock()
    calls = 0
    while _clock() - start < 0.02:
        function(lib, x)
        calls += 1
    return calls


def _sample(function, lib, x, calls: int) -> float:
    start = _clock()
    for _ in range(calls):
        function(lib, x)
    return (_clock() - start) / calls


def run(repeats: int = 15, only=(), clock: str = "wall") -> list:
    """Time every benchmark; return rows (name, dark us/op, torch us/op or None). dark and
    torch samples alternate, so that both see the same machine load. ``clock``: "wall" or
    "cpu" (this thread's CPU time)."""
    global _clock
    _clock = time.thread_time if clock == "cpu" else time.perf_counter
    if torch is not None:
        torch.set_num_threads(1)
    rows = []
    for name, function, setup, size, ops in BENCHMARKS:
        if only and not any(word in name for word in only):
            continue
        libs = {"dark": (dark, setup(dark, size))}
        if torch is not None:
            libs["torch"] = (torch, setup(torch, size))
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
    parser.add_argument("--only", nargs="*", default=(),
                        help="run only the rows whose name contains one of these words")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall clock, or this thread's CPU time (steadier on a busy "
                             "machine)")
    args = parser.parse_args()
    print(f"{'benchmark':44s} {'dark us/op':>11s} {'torch us/op':>12s} {'dark/torch':>11s}")
    for name, dark_us, torch_us in run(args.repeats, args.only, args.clock):
        if torch_us is None:
            print(f"{name:44s} {dark_us:11.2f} {'-':>12s} {'-':>11s}")
        else:
            print(f"{name:44s} {dark_us:11.2f} {torch_us:12.2f} {dark_us / torch_us:10.2f}x")


if __name__ == "__main__":
    main()
