"""Raw-array kernels: numpy (CPU) or CuPy (GPU) arrays in, arrays out, no Tensor and no
autograd, so each can be tested on its own. They import only numpy, ``dark._backend`` and
``dark._parallel``; the ops (``dark.ops``, ``dark.nn.functional``) wrap them in Op classes.

- ``matmul`` (here): ``a @ b`` through dark's threads on the CPU, the one product of them all
  (x @ W.T of a few rows as (W @ x.T).T, the layout OpenBLAS packs faster);
- ``quiet`` (here): numpy's floating-point warnings off around a computation;
- ``elementwise``: ReLU's passes and the masked select of pooling's and threshold's
  backward, in parts in dark's threads;
- ``windows``: sliding-window views of padded arrays (conv and pooling);
- ``conv``: im2col, col2im, the flat shifts of stride-1 2-D convolutions, and the choice of
  path; ``conv_fourier``: the Fourier path's transforms; ``conv_winograd``: Winograd's
  F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1 convolutions;
- ``pooling``: max (with its argmax), average and adaptive pooling, and their adjoints;
- ``resample``: separable resampling along axes (pad's modes, interpolate's filters);
- ``optim_numba``: the optimizers' compiled updates (SGD's momentum step in one pass), used
  where numba is installed, the same bits as the numpy path.
- ``passes_numba``: ReLU, its backward, the 2x2 max pool's backward and Winograd's
  input-gradient overlap-add, each in one compiled pass where numba is installed, the same
  bits as the numpy paths."""
from __future__ import annotations

import contextlib

import numpy as np

from .. import _parallel
from .._backend import array_module


def matmul(a, b, out=None):
    """``a @ b`` of raw arrays (into ``out`` when given): on the CPU through dark's threads
    (``_parallel.matmul``), on the GPU by CuPy. A few rows times a transposed matrix (x @
    W.T, F.linear's product) is ``(W @ x.T).T``, see ``_transposes_product``."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        if _transposes_product(a, b):
            product = _parallel.matmul(b.T, a.T)
            if out is None:
                out = np.empty(product.shape[::-1], product.dtype)
            np.copyto(out, product.T)
            return out
        return _parallel.matmul(a, b, out)
    return array_module(a).matmul(a, b, out=out)


def _transposes_product(a, b) -> bool:
    """Whether ``a @ b``, b the transpose of a C matrix (x @ W.T: F.linear's product, W (n, k)
    held (out, in)), runs faster as ``(b.T @ a.T).T``: both float32 or both float64 matrices,
    a of 2 to 128 rows, the product of at least 100**3 multiply-adds (below that OpenBLAS's
    small-matrix kernels take x @ W.T without packing), 2 rows / k + rows / n <= 0.6,
    numpy's BLAS an OpenBLAS running its AVX-512 kernels (``_parallel.blas_core``), and the
    product not split over dark's threads (each part would pack the whole of x.T: the MNIST
    CNN's fc1, (64, 9216) @ (9216, 128) in two parts, took 1228 us that way against 1124).

    numpy hands OpenBLAS x @ W.T with the weight transposed, and OpenBLAS packs a
    transposed operand slower than a plain one (its SkylakeX kernels, which it runs on AVX-512
    CPUs, ~0.3 ns an entry more): with few rows, packing the weight is a good part of the
    product. W @ x.T packs the weight as it lies and x (the small one) transposed; the
    transposed copy of its (n, rows) result costs ~0.6 ns an entry. The rule weighs the two
    (benchmarks/linear_layout.py; one thread, 784 -> 512: 16 rows 311 -> 174 us, 64 rows 667
    -> 561 us, 128 rows 1150 -> 1084 us; from 256 rows on the two are even). Each entry of
    the result is the same dot product, summed in the same order of k (the same bits in
    every case benchmarks/linear_layout.py measured)."""
    if a.ndim != 2 or b.ndim != 2:
        return False
    rows, k = a.shape
    n = b.shape[1]
    if rows * n * k < 1_000_000:  # first: the cheap test that small products fail
        return False
    return (2 <= rows <= 128 and 2 * rows / k + rows / n <= 0.6 and a.dtype == b.dtype
            and a.dtype in _BLAS_FLOATS and b.flags.f_contiguous and not b.flags.c_contiguous
            and _parallel.blas_core() in _PACKS_TRANSPOSED_SLOWER
            and not _parallel.splits_products(rows * n * k))


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# OpenBLAS's AVX-512 kernel sets, whose transposed packing is the slower; with its AVX2 ones
# (haswell, zen: OPENBLAS_CORETYPE=Haswell here) x @ W.T is as fast as (W @ x.T).T or faster
_PACKS_TRANSPOSED_SLOWER = ("skylakex", "cooperlake", "sapphirerapids")


def quiet(xp):
    """A context with numpy's floating-point warnings off (an exp that overflows in a discarded
    branch, a log of 0), as PyTorch is silent; nothing to silence on CuPy."""
    return np.errstate(all="ignore") if xp is np else contextlib.nullcontext()
