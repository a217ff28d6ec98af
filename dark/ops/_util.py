"""Helpers shared by the op families: dtype promotion on raw arrays, dim normalisation."""
from __future__ import annotations

from .. import _backend
from .._backend import array_module as xp_of  # noqa: F401 - re-exported for the ops
from .._backend import (  # noqa: F401 - the ops import them from here
    broadcast_shapes,
    cast,
    check_scalar,
    wrap_dim,
    wrap_dims,
    wrapped_int,
)


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
