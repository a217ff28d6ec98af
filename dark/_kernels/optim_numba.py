"""Compiled (numba) kernels of the optimizers' CPU updates, optional: ``sgd_momentum()``
returns the compiled kernel of SGD's momentum step (``buf = buf * momentum + grad``, then
``param = param + buf * -lr``: one pass over the three arrays where numpy makes four) and
``adam()`` Adam's and AdamW's step without amsgrad (one pass where numpy makes about a
dozen), or None when numba is not installed or the kernels are turned off, and the
optimizer then takes its numpy path, which gives the same bits: numba compiles without
fast-math, so LLVM neither contracts a multiply and an add into a fused one nor reorders
anything, and every operation is a plain one of the arrays' float type, as numpy's ufuncs
are.

numexpr, the other candidate, was measured and lost: on a Zen 4 its one fused pass over a
float32 array ran slower than numpy's four (the update of the 784-512-256-10 MLP took
longer in numexpr than in numpy at one and at two threads; benchmarks/optim_step.py
``--numexpr``), so dark has no numexpr path.

numba is imported (about a second, with the kernels read from numba's on-disk cache, or
compiled the first time) once updates of parameters of at least ``MIN_ENTRIES`` entries have
streamed ``LOAD_AFTER_ENTRIES`` entries in all (about 30 steps of a 784-512-256-10 MLP): a
short program never pays for it, and as the bits are the numpy path's, the switch does not
show. A kernel that cannot be
built leaves the optimizers on their numpy path, with a warning. ``set_enabled(False)`` (or
``DARK_NUMBA=0`` in the environment at import) keeps them on it."""
from __future__ import annotations

import numpy as np

from .. import _parallel
from .numba_jit import Kernels

# below this many entries a parameter's update stays on numpy: the passes are in cache and
# the call's overhead is what counts
MIN_ENTRIES = 1 << 14

# entries updated (by parameters of MIN_ENTRIES or more) before numba is loaded
LOAD_AFTER_ENTRIES = 1 << 24


def _sgd_momentum(param, grad, buf, momentum, negative_lr):  # pragma: no cover - compiled
    """SGD's momentum step on flat arrays of one float dtype, ``momentum`` and
    ``negative_lr`` scalars of it: sgd._sgd_update's operations in its order."""
    for i in range(param.size):
        b = buf[i] * momentum
        b = b + grad[i]
        buf[i] = b
        param[i] = param[i] + b * negative_lr


def _adam(param, grad, exp_avg, exp_avg_sq, decoupled, decay_factor, maximize, l2,
          weight_decay, lerp_small, weight, complement, beta2, one_minus_beta2,
          bias_correction2_sqrt, eps, step_size):  # pragma: no cover - compiled
    """Adam's (AdamW's with ``decoupled``) step without amsgrad on flat arrays of one float
    dtype, the scalars of it: adam._adam_update's operations in its order (the gradient of
    _effective_grad, _lerp_'s two formulas, _addcmul_, the denominator, _addcdiv_). The
    common cases (Adam's and AdamW's defaults) run as loops without branches, which LLVM
    vectorizes; any other combination runs the general loop."""
    if not maximize and not l2 and lerp_small:
        if decoupled:
            for i in range(param.size):
                p = param[i] * decay_factor
                g = grad[i]
                m = exp_avg[i]
                m = m + (g - m) * weight
                exp_avg[i] = m
                v = exp_avg_sq[i] * beta2
                v = v + g * one_minus_beta2 * g
                exp_avg_sq[i] = v
                param[i] = p + m * step_size / (np.sqrt(v) / bias_correction2_sqrt + eps)
        else:
            for i in range(param.size):
                g = grad[i]
                m = exp_avg[i]
                m = m + (g - m) * weight
                exp_avg[i] = m
                v = exp_avg_sq[i] * beta2
                v = v + g * one_minus_beta2 * g
                exp_avg_sq[i] = v
                param[i] = param[i] + m * step_size / (np.sqrt(v) / bias_correction2_sqrt
                                                       + eps)
        return
    for i in range(param.size):
        p = param[i]
        if decoupled:
            p = p * decay_factor
        g = grad[i]
        if maximize:
            g = -g
        if l2:
            g = g + p * weight_decay
        m = exp_avg[i]
        d = g - m
        if lerp_small:
            m = m + d * weight
        else:
            m = g - d * complement
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2
        v = v + g * one_minus_beta2 * g
        exp_avg_sq[i] = v
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p + m * step_size / denom


_SOURCES = {"sgd_momentum": _sgd_momentum, "adam": _adam}
_SIGNATURES = {
    "sgd_momentum": "void({t}[::1], {t}[::1], {t}[::1], {t}, {t})",
    "adam": "void({t}[::1], {t}[::1], {t}[::1], {t}[::1], boolean, {t}, boolean, boolean, {t}, "
            "boolean, {t}, {t}, {t}, {t}, {t}, {t}, {t})",
}


# compiled for both float types (C-contiguous 1-D arrays, scalars); numpy's division and
# square root (inf, NaN), not Python's exceptions, whose checks would keep LLVM from
# vectorizing
_KERNELS = Kernels(_SOURCES, _SIGNATURES, {"sgd_momentum": (1,), "adam": (1,)},
                   LOAD_AFTER_ENTRIES, fastmath=False, error_model="numpy")
set_enabled = _KERNELS.set_enabled
_kernel = _KERNELS.get


# entries per part below which an update runs whole in the calling thread
PART_ENTRIES = 1 << 18


def run(kernel, arrays: tuple, *scalars) -> None:
    """``kernel(*arrays, *scalars)`` of flat arrays of one size, in parts over dark's threads
    where the pool is in use already (a program with parallel ops: a convolutional network)
    and the arrays are large: the kernels release the GIL and each entry's update reads only
    its own entries, so parts give the same bits. Elsewhere whole: the first parallel_map
    would hold the BLAS to one thread for the next second (``_parallel.matmul``), which costs
    an MLP's products more than its update gains."""
    size = arrays[0].size
    ranges = _parallel.split(size, size, PART_ENTRIES)
    if len(ranges) < 2 or not _parallel.pool_in_use():
        kernel(*arrays, *scalars)
        return
    _parallel.map_ranges(lambda start, stop: kernel(*(a[start:stop] for a in arrays),
                                                    *scalars), ranges)


def sgd_momentum(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_sgd_momentum`` for an update of ``entries`` entries, or None (no
    numba, turned off, or not loaded yet)."""
    return _kernel("sgd_momentum", entries)


def adam(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_adam`` for an update of ``entries`` entries, or None (no numba,
    turned off, or not loaded yet)."""
    return _kernel("adam", entries)
