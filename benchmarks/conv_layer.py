"""Forward, and forward + backward, of a conv layer and a max-pool layer, dark against
PyTorch.

    python benchmarks/conv_layer.py [--repeats 10] [--threads N] [--device cpu|cuda]

Conv2d(64, 64, 3, padding=1) on a (32, 64, 32, 32) float32 batch (its forward alone, under
no_grad, and forward + backward), and MaxPool2d(2) on its output. PyTorch runs on as many
threads as dark (``dark.get_num_threads()``; ``--threads`` sets both). dark and torch
alternate in blocks of calls, each after a pause (``BLOCK``, ``PAUSE_S``), so a busy machine
slows both alike; prints milliseconds per call (the best and the median of the repeats,
after a warm-up) and the ratio dark/torch of each. With ``--device cuda`` both run on the GPU
(torch only when its build sees it) and every call ends with a synchronize."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import dark
from dark._kernels import passes_numba

try:
    import torch
except ImportError:  # dark alone is still timed
    torch = None

SHAPE = (32, 64, 32, 32)


def layer_step(layer, x, synchronized_lib=None):
    """Forward, a backward from the sum, and the gradients cleared; then, on a GPU, a wait
    for the queued work (``synchronized_lib.cuda.synchronize()``)."""
    out = layer(x)
    out.sum().backward()
    x.grad = None
    for p in layer.parameters():
        p.grad = None
    if synchronized_lib:
        synchronized_lib.cuda.synchronize()


def forward_step(layer, x, lib, synchronized=False):
    """The forward alone, outside autograd (no_grad); on a GPU, then a synchronize."""
    with lib.no_grad():
        layer(x)
    if synchronized:
        lib.cuda.synchronize()


# The libraries alternate in blocks of this many calls, each after a pause: torch's OpenMP
# threads spin-wait after its calls and, on a few cores, take the cores from whatever runs
# next (dark's Conv2d at 2 threads ran clearly slower right after a torch call than alone
# or after a pause), so alternating call by call measures that, not dark.
BLOCK = 5
PAUSE_S = 0.3


def timings_ms(functions, repeats: int) -> list:
    """(best, median) milliseconds of each function's calls, the functions alternating in
    blocks of BLOCK calls, each block after a PAUSE_S pause (a busy machine still slows
    both alike)."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(-(-repeats // BLOCK)):
        for function, record in zip(functions, times):
            time.sleep(PAUSE_S)
            for _ in range(min(BLOCK, repeats - len(record))):
                start = time.perf_counter()
                function()
                record.append(1000 * (time.perf_counter() - start))
    return [(min(record), statistics.median(record)) for record in times]


def build(lib, array, device: str = "cpu"):
    conv = lib.nn.Conv2d(64, 64, 3, padding=1).to(device)
    pool = lib.nn.MaxPool2d(2)
    x = lib.tensor(array, device=device, requires_grad=True)
    with lib.no_grad():
        pool_input = conv(x).detach().requires_grad_(True)
    return conv, pool, x, pool_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=SHAPE[0], help="batch size")
    args = parser.parse_args()
    shape = (args.batch, *SHAPE[1:])
    if args.device == "cuda":
        try:
            dark.zeros(1, device="cuda")
        except RuntimeError as error:  # says why: no CuPy, or no GPU
            parser.exit(1, f"--device cuda: {error}\n")
    on_gpu = args.device == "cuda"
    with_torch = torch is not None and (not on_gpu or torch.cuda.is_available())
    # a long run loads dark's compiled passes (where numba is installed: ReLU, the 2x2 max
    # pool's backward, Winograd's input-gradient tiles) after its first calls: load them
    # before timing (the load, ~0.3 s, would otherwise fall in a timed call)
    passes_numba.max_pool_2x2_backward()
    passes_numba.add_tiles()
    if args.threads is not None:
        dark.set_num_threads(args.threads)  # dark's pool and numpy's BLAS
    threads = dark.get_num_threads()
    array = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    names = ("Conv2d(64, 64, 3, padding=1) fwd", "Conv2d(64, 64, 3, padding=1) fwd+bwd",
             "MaxPool2d(2) fwd+bwd")
    where = f"device {args.device}" + ("" if with_torch else " (dark only)")
    print(f"{where}; input {shape} float32, {threads} thread(s) for dark and torch")
    print(f"{'layer':38s} {'dark best/median ms':>20s} {'torch best/median ms':>21s} "
          f"{'ratio best/median':>18s}")
    conv, pool, x, pool_input = build(dark, array, args.device)
    dark_steps = (lambda: forward_step(conv, x, dark, on_gpu),
                  lambda: layer_step(conv, x, on_gpu and dark),
                  lambda: layer_step(pool, pool_input, on_gpu and dark))
    if with_torch:
        torch.set_num_threads(threads)
        t_conv, t_pool, t_x, t_pool_input = build(torch, array, args.device)
        torch_steps = (lambda: forward_step(t_conv, t_x, torch, on_gpu),
                       lambda: layer_step(t_conv, t_x, on_gpu and torch),
                       lambda: layer_step(t_pool, t_pool_input, on_gpu and torch))
    for index, name in enumerate(names):
        if not with_torch:
            (best, median), = timings_ms([dark_steps[index]], args.repeats)
            print(f"{name:38s} {best:9.1f} /{median:8.1f}")
            continue
        (best, median), (t_best, t_median) = timings_ms([dark_steps[index],
                                                         torch_steps[index]], args.repeats)
        print(f"{name:38s} {best:9.1f} /{median:8.1f} {t_best:10.1f} /{t_median:8.1f} "
              f"{best / t_best:9.2f} /{median / t_median:6.2f}")


if __name__ == "__main__":
    main()
