"""Helpers shared by the op families: dtype promotion on raw arrays, dim normalisation."""
from __future__ import annotations

import math

import numpy as np

from .. import _backend
from .._backend import array_module as xp_of  # noqa: F401 - re-exported for the ops
from .._backend import broadcast_shapes, wrap_dim, wrap_dims  # noqa: F401
from .._kernels import matmul  # noqa: F401 - re-exported for ops.linalg
from .._kernels.elementwise import (  # noqa: F401 - re-exported for ops.elementwise
    positive_or_zero,
    relu_forward,
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


# ----------------------------------------------------------------------------- numbers in a dtype

# The C++ type names of PyTorch's "value cannot be converted to type ... without overflow"
# for a Scalar argument: c10's own spellings, not quite dtype.cpp_name ("int8_t", not "signed
# char"). torch.tensor's data names the dtype instead ("int32").
_OVERFLOW_NAMES = {"bool": "bool", "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t",
                   "int32": "int", "int64": "int64_t", "float16": "c10::Half",
                   "float32": "float", "float64": "double", "complex64": "c10::complex<float>",
                   "complex128": "c10::complex<double>"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UNPACK_ERROR = "Overflow when unpacking long long"
# the lowest and largest value of each dtype (a complex dtype's parts'), looked up once
_RANGES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
           for t in (np.uint8, np.int8, np.int16, np.int32, np.int64)}
_RANGES.update({np.dtype(t): (-float(np.finfo(t).max), float(np.finfo(t).max))
                for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128)})


def _fits(value, np_dtype) -> bool:
    """c10's ``not overflows<To>(value)``: an int within an integer dtype's range (an unsigned
    one also takes -max..-1, which wrap around: -1 is 255 in uint8); a float within the range
    (NaN fits no integer dtype, +-inf any floating one); a complex number fits a real dtype
    only with no imaginary part, and a complex dtype part by part."""
    kind = np_dtype.kind
    if kind == "b":
        return True
    if isinstance(value, complex):
        if kind != "c":
            return value.imag == 0 and _fits(value.real, np_dtype)
        return _fits(value.real, np_dtype) and _fits(value.imag, np_dtype)
    low, high = _RANGES[np_dtype]
    if kind in "fc":
        infinite = isinstance(value, float) and math.isinf(value)
        return infinite or not (value < low or value > high)  # NaN fits
    if isinstance(value, float):
        return float(low) <= value <= float(high)
    return (-high if kind == "u" else low) <= value <= high


def check_scalar(value, dtype, how: str = "scalar"):
    """The python number ``value`` (or numpy scalar) as PyTorch stores it in a tensor of
    ``dtype`` (a dark or numpy dtype), or PyTorch's error when it does not fit. ``how`` is the
    way the number goes in torch:

    - "scalar": an op's Scalar argument (full, fill_, masked_fill, clamp's bounds, alpha ...):
      checked for every dtype, the error naming the C++ type ("int", "c10::Half"); an int
      outside [-2**63, 2**64) makes no Scalar at all;
    - "scalar_tensor": a Scalar made a 0-d tensor (scalar_tensor, where): as "scalar", but a
      float16 value is checked as a double only (a large one becomes inf);
    - "index": ``x[i] = v``: as "scalar_tensor", with an int that must be an int64;
    - "tensor": an item of torch.tensor's data: only integer dtypes are checked (floats
      overflow to inf), the error naming the dtype ("int32"); an int must be an int64 and a
      complex number cannot be a real dtype's.

    The result is what numpy then stores without an error or a warning: an int for an integer
    dtype (a float truncated, a negative int wrapped around an unsigned dtype as PyTorch's
    cast does: -1 is 255 in uint8), a bool for bool, a real number for a real dtype, +-inf
    for a float beyond an unchecked float dtype's range."""
    if isinstance(value, np.generic):
        value = value.item()
    np_dtype = np.dtype(getattr(dtype, "np", dtype))
    kind = np_dtype.kind
    checked = np_dtype
    if how == "tensor":
        if isinstance(value, complex) and kind in "iuf":
            raise TypeError("must be real number, not complex" if kind == "f"
                            else "'complex' object cannot be interpreted as an integer")
        if kind in "iu" and isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(_UNPACK_ERROR)
        if kind not in "iu":
            checked = None
    else:
        if isinstance(value, int):
            if how == "index" and not _INT64[0] <= value <= _INT64[1]:
                raise ValueError(_UNPACK_ERROR)
            _check_scalar_int(value)
        if how != "scalar" and np_dtype == np.float16:
            checked = np.dtype(np.float64)
    if checked is not None and not _fits(value, checked):
        name = checked.name if how == "tensor" else _OVERFLOW_NAMES[checked.name]
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")
    if kind == "b":
        return bool(value)
    if isinstance(value, complex) and kind != "c":
        value = value.real
    if kind in "iu":
        low = _RANGES[np_dtype][0]
        return (int(value) - low) % (1 << 8 * np_dtype.itemsize) + low
    if kind == "f" and not _fits(value, np_dtype):  # rounds to the largest value or to inf
        with np.errstate(over="ignore"):
            return float(np_dtype.type(value))
    return value


def _check_scalar_int(value: int) -> None:
    """PyTorch's error for a python int that makes no Scalar (int64 or uint64)."""
    if value >= 1 << 64:
        raise OverflowError("int too big to convert")
    if value < _INT64[0]:
        raise OverflowError("can't convert negative int to unsigned")


def wrapped_int(value: int, np_dtype) -> int:
    """The python int ``value`` as an integer dtype holds it after C's cast, wrapped around
    (300 is 44 in int8): how PyTorch takes a python int operand of an integer tensor's
    arithmetic and comparisons (no overflow check there)."""
    low, high = _RANGES[np.dtype(np_dtype)]
    if low <= value <= high:
        return value
    _check_scalar_int(value)
    return (value - low) % (high - low + 1) + low


def cast(array, np_dtype):
    """``array.astype(np_dtype)`` (a copy) as PyTorch casts between tensors: a float beyond
    the new dtype's range is inf, or wraps around an integer dtype, without numpy's overflow
    and invalid-value warnings (which only a float narrowed or made an integer, or an integer
    made a float16, raises)."""
    source, target = array.dtype, np.dtype(np_dtype)
    narrowed = source.kind in "fc" and (target.kind in "iub"
                                        or _part_size(target) < _part_size(source))
    if type(array) is np.ndarray and (narrowed or source.kind in "iu" and target == np.float16):
        with np.errstate(over="ignore", invalid="ignore"):
            return array.astype(target)
    return array.astype(target)


def _part_size(np_dtype) -> int:
    """The bytes of a real number of the dtype (a complex one's parts')."""
    return np_dtype.itemsize // 2 if np_dtype.kind == "c" else np_dtype.itemsize
