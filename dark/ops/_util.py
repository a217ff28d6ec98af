"""Helpers shared by the op families: dtype promotion on raw arrays, dim normalisation."""
from __future__ import annotations

import numpy as np

from .. import _backend, _parallel
from .._backend import array_module as xp_of  # noqa: F401 - re-exported for the ops
from .._backend import broadcast_shapes, wrap_dim, wrap_dims  # noqa: F401


def matmul(a, b, out=None):
    """``a @ b`` of raw arrays (into ``out`` when given): on the CPU through dark's threads
    (``_parallel.matmul``), on the GPU by CuPy."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return _parallel.matmul(a, b, out)
    return xp_of(a).matmul(a, b, out=out)


def promote(a, b):
    """Cast two raw operands (arrays or python scalars) to PyTorch's result dtype.

    Python scalars stay python scalars (numpy treats them as weak, as PyTorch does)."""
    a_array = hasattr(a, "dtype")
    b_array = hasattr(b, "dtype")
    if a_array and b_array and a.dtype == b.dtype:
        return a, b, a.dtype
    np_dtype = _backend.result_type(a, b).np
    if a_array and a.dtype != np_dtype:
        a = a.astype(np_dtype)
    if b_array and b.dtype != np_dtype:
        b = b.astype(np_dtype)
    return a, b, np_dtype


def float_dtype_for(array):
    """The dtype of a float result from ``array`` (ints and bools become the default dtype)."""
    if array.dtype.kind in "fc":
        return array.dtype
    return _backend.get_default_dtype().np


def where_or_zero(xp, keep, values, out=None):
    """``values`` where ``keep``, else 0 (a NaN or inf in ``values`` where not kept gives 0,
    as PyTorch's threshold/pooling backward). On numpy it is an integer product of values'
    bits with keep: np.where branches per element and on the irregular masks of ReLU and max
    pooling runs 5x slower. ``out``: an array of values' shape and dtype to write into."""
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
    inf gradient where the output is 0 still gives 0."""
    if xp is not np or grad.dtype.kind != "f" or grad.shape != output.shape:
        return where_or_zero(xp, ~(output <= 0), grad)
    bits = np.dtype(f"i{grad.dtype.itemsize}")
    target = np.empty(grad.shape, dtype=bits)

    def select(output, grad, out):
        np.multiply(grad, np.not_equal(output, 0), out=out)

    in_parts(select, target, output, grad.view(bits))
    return target.view(grad.dtype)


def relu_forward(xp, a):
    """max(a, 0), in parts in dark's threads on the CPU."""
    if xp is not np:
        return xp.maximum(a, 0)
    out = np.empty(a.shape, dtype=np.result_type(a, 0))
    in_parts(lambda a, out: np.maximum(a, 0, out=out), out, a)
    return out


# A few elementwise passes are bound by the memory's bandwidth, which a second thread barely
# raises here: ReLU's forward and backward on 400K entries took 590 us whole and 770 us in two
# threads (the handoffs), on 800K 1180 and 1150 us, on 3.2M 4330 and 3010 us.
_ELEMENTWISE_PART_ENTRIES = 1 << 20


def in_parts(function, out, *arrays) -> None:
    """``function(*arrays, out=out)`` of an elementwise numpy function, on ranges of the
    flattened arrays in dark's threads when all are C-contiguous and large (a whole call
    otherwise)."""
    if not (out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays)):
        function(*arrays, out=out)
        return
    flat_out = out.reshape(-1)
    flat = [a.reshape(-1) for a in arrays]
    _parallel.map_ranges(lambda start, stop: function(*(a[start:stop] for a in flat),
                                                       out=flat_out[start:stop]),
                         _parallel.split(flat_out.size, flat_out.size,
                                         _ELEMENTWISE_PART_ENTRIES))
