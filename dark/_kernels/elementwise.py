"""Elementwise passes in parts in dark's threads: ReLU's forward and backward, and the
masked select (``where_or_zero``) of pooling's and threshold's backward; and the fused
multiply-add (``fma32``, ``fma64``: one rounding, as the compiler fuses PyTorch's kernels)
that the random draws and linspace need to give torch's bits."""
from __future__ import annotations

import numpy as np

from .. import _parallel
from . import passes_numba
from .numba_jit import FLOATS


def where_or_zero(xp, keep, values, out=None):
    """``values`` where ``keep``, else 0 (a NaN or inf in ``values`` where not kept gives 0,
    as PyTorch's threshold/pooling backward). On numpy it is an integer product of values'
    bits with keep: np.where branches per element and runs several times slower on the
    irregular masks of ReLU and max pooling. ``out``: an array of values' shape and dtype to
    write into."""
    if xp is np and values.dtype.kind in "fiu" and values.shape == keep.shape:
        bits = np.dtype(f"i{values.dtype.itemsize}")
        target = np.empty(values.shape, dtype=bits) if out is None else out.view(bits)

        def select(keep, values, out):  # the bits times 0 or 1: one pass, out written once
            np.multiply(values, keep, out=out)

        in_parts(select, target, keep, values.view(bits))
        return target.view(values.dtype) if out is None else out
    result = xp.where(keep, values, xp.zeros((), dtype=values.dtype))
    if out is None:
        return result
    out[...] = result
    return out


def positive_or_zero(xp, output, grad):
    """``grad`` where not ``output`` <= 0, else 0: ReLU's backward (PyTorch's
    threshold_backward, which passes the gradient of a NaN output), in parts in dark's
    threads on the CPU. ``output`` is a ReLU's, never below zero, so "not <= 0" is "!= 0";
    the select is an integer product of grad's bits with that mask: two passes, and a NaN or
    inf gradient where the output is 0 still gives 0. Where numba's kernel is loaded
    (passes_numba), one compiled pass with the same bits."""
    if xp is not np or grad.dtype.kind != "f" or grad.shape != output.shape:
        return where_or_zero(xp, ~(output <= 0), grad)
    if output.dtype == grad.dtype and grad.dtype in FLOATS and output.flags.c_contiguous \
            and grad.flags.c_contiguous:
        kernel = passes_numba.relu_backward(grad.size)
        if kernel is not None:  # one compiled pass, the same bits
            out = np.empty(grad.shape, dtype=grad.dtype)
            in_parts(lambda output, grad, out: kernel(output, grad, out), out.reshape(-1),
                     output.reshape(-1), grad.reshape(-1))
            return out
    bits = np.dtype(f"i{grad.dtype.itemsize}")
    target = np.empty(grad.shape, dtype=bits)
    if grad.size < _ELEMENTWISE_PART_ENTRIES:  # whole: no parts to hand out
        np.multiply(grad.view(bits), np.not_equal(output, 0), out=target)
        return target.view(grad.dtype)

    def select(output, grad, out):
        np.multiply(grad, np.not_equal(output, 0), out=out)

    in_parts(select, target, output, grad.view(bits))
    return target.view(grad.dtype)


def relu_forward(xp, a):
    """max(a, 0), in parts in dark's threads on the CPU (a float array against a block of
    zeros: numpy's maximum of an array and a scalar runs about 3x slower than of two
    arrays)."""
    if xp is not np:
        return xp.maximum(a, 0)
    out = np.empty(a.shape, dtype=a.dtype if a.dtype.kind == "f" else np.result_type(a, 0))
    if a.dtype in FLOATS and a.flags.c_contiguous and a.size >= _ZERO_BLOCK:
        kernel = passes_numba.relu(a.size)
        if kernel is not None:  # one compiled pass, numpy's bits
            in_parts(lambda a, out: kernel(a, out), out.reshape(-1), a.reshape(-1))
            return out
    if a.size < _ZERO_BLOCK:  # small: one call (Python's costs dominate)
        np.maximum(a, 0, out=out)
        return out
    if a.dtype.kind != "f" or not a.flags.c_contiguous:
        in_parts(lambda a, out: np.maximum(a, 0, out=out), out, a)
    elif a.size < _ELEMENTWISE_PART_ENTRIES:
        maximum_zero(a.reshape(-1), out.reshape(-1))
    else:
        in_parts(maximum_zero, out, a)
    return out


# numpy's binary loops are vectorized for two contiguous operands, not for an operand and a
# scalar: max(a, 0) runs against rows of this many zeros
_ZERO_BLOCK = 8192
_zero_blocks: dict = {}


def maximum_zero(a, out) -> None:
    """``numpy.maximum(a, 0, out=out)`` of a flat float array, NaN and -0.0 as numpy gives
    them (the same ufunc), against a block of zeros."""
    zeros = _zero_blocks.get(a.dtype)
    if zeros is None:
        zeros = _zero_blocks[a.dtype] = np.zeros(_ZERO_BLOCK, dtype=a.dtype)
        zeros.flags.writeable = False
    n = a.size
    full = n - n % _ZERO_BLOCK
    if full:
        np.maximum(a[:full].reshape(-1, _ZERO_BLOCK), zeros,
                   out=out[:full].reshape(-1, _ZERO_BLOCK))
    if full < n:
        np.maximum(a[full:], zeros[:n - full], out=out[full:])


# A few elementwise passes are bound by the memory's bandwidth, which a second thread barely
# raises: below this many entries the handoffs to the threads cost about what they save, and
# the pass runs whole (benchmarks/mnist_epoch.py times the steps where it matters).
_ELEMENTWISE_PART_ENTRIES = 1 << 20


def in_parts(function, out, *arrays) -> None:
    """``function(*arrays, out=out)`` of an elementwise numpy function, on ranges of the
    flattened arrays in dark's threads when all are C-contiguous and large (a whole call
    otherwise)."""
    if out.size < _ELEMENTWISE_PART_ENTRIES or not (
            out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays)):
        function(*arrays, out=out)
        return
    flat_out = out.reshape(-1)
    flat = [a.reshape(-1) for a in arrays]
    _parallel.map_ranges(lambda start, stop: function(*(a[start:stop] for a in flat),
                                                       out=flat_out[start:stop]),
                         _parallel.split(flat_out.size, flat_out.size,
                                         _ELEMENTWISE_PART_ENTRIES))


def fma32(a, b, c):
    """float32 a * b + c rounded once (the product is exact in float64)."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


def _split(a):
    """Veltkamp's split of float64 ``a`` into two 26-bit halves."""
    c = a * 134217729.0
    high = c - (c - a)
    return high, a - high


def fma64(a, b, c):
    """float64 a * b + c with one rounding (as the compiler fuses it): the exact product
    (Dekker's two-product) and sum (Knuth's two-sum), their errors added last."""
    product = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(np.asarray(b, dtype=np.float64))
    product_error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) \
        + a_low * b_low
    total = product + c
    back = total - product
    sum_error = (product - (total - back)) + (c - back)
    return total + (sum_error + product_error)
