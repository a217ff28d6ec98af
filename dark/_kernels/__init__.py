"""Raw-array kernels: numpy (CPU) or CuPy (GPU) arrays in, arrays out, no Tensor and no
autograd, so each can be tested on its own. They import only numpy, ``dark._backend`` and
``dark._parallel``; the ops (``dark.ops``, ``dark.nn.functional``) wrap them in Op classes.

- ``matmul`` (here): ``a @ b`` through dark's threads on the CPU, the one product of them all;
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
    (``_parallel.matmul``), on the GPU by CuPy."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return _parallel.matmul(a, b, out)
    return array_module(a).matmul(a, b, out=out)


def quiet(xp):
    """A context with numpy's floating-point warnings off (an exp that overflows in a discarded
    branch, a log of 0), as PyTorch is silent; nothing to silence on CuPy."""
    return np.errstate(all="ignore") if xp is np else contextlib.nullcontext()
