"""Python operators and in-place method forms (``add_`` ...) of Tensor, built on the ops.

In-place ops follow PyTorch's rules: the result is computed with the usual promotion, then
cast into the tensor's own dtype when PyTorch allows that cast (no float into an integer
tensor, nothing but bool into bool). With no graph to record, add_/sub_/mul_/div_ and
zero_/fill_/copy_ write straight into the tensor's array (ufunc ``out=``), allocating
nothing: optimizers and ``p.data.sub_(lr * p.grad)`` take that path."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..autograd.grad_mode import state as _grad_state
from . import elementwise as E
from ._util import broadcast_shapes, cast, check_scalar, xp_of


def _records(self, args) -> bool:
    return _grad_state.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))


def _into_dtype(function):
    """``function`` with its result cast to the dtype of its first argument, refusing
    casts PyTorch refuses."""

    def compute(self, *args, **kwargs):
        result = function(self, *args, **kwargs)
        if result._data.dtype != self._data.dtype:
            target = self.dtype
            if not E.can_cast(result.dtype, target):
                raise E.cast_error(result.dtype, target)
            result = E.to_dtype(result, target)
        return result

    return compute


def _inplace(function, name=None):
    """``x.name_(...)``: ``function(x, ...)`` written into x's memory (see Tensor._inplace)."""
    compute = _into_dtype(function)

    def method(self, *args, **kwargs):
        return self._inplace(compute, *args, **kwargs)

    method.__name__ = (name or function.__name__) + "_"
    method.__doc__ = f"In-place form of {name or function.__name__}."
    return method


# ----------------------------------------------------------------------------- fast paths

_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide"}


def _fast_arithmetic(name, function):
    """add_/sub_/mul_/div_: in place with ``out=`` when no graph is recorded."""
    slow = _inplace(function, name)
    ufunc_name = _UFUNCS[name]

    def method(self, other, *, alpha=1, rounding_mode=None):
        kwargs = {}
        if alpha != 1:
            kwargs["alpha"] = alpha
        if rounding_mode is not None:
            kwargs["rounding_mode"] = rounding_mode
        if _records(self, (other,)) or rounding_mode is not None or not isinstance(
                other, (Tensor, numbers.Number)):
            return slow(self, other, **kwargs)
        data = self._data
        if isinstance(other, Tensor):
            value = other._data
            if type(value) is not type(data):
                return slow(self, other, **kwargs)
            if value.shape != data.shape and broadcast_shapes(
                    value.shape, data.shape) != data.shape:
                raise RuntimeError(f"output with shape {list(data.shape)} doesn't match the "
                                   f"broadcast shape "
                                   f"{list(broadcast_shapes(value.shape, data.shape))}")
        else:
            value = other
        result = _backend.result_type(self, other)
        if name == "div" and not (result.is_floating_point or result.is_complex):
            result = _backend.get_default_dtype()
        if name == "sub":
            E._check_bool_sub(data, value)
        alpha = E._check_alpha(self, other, alpha)
        if result is not self.dtype and not E.can_cast(result, self.dtype):
            raise E.cast_error(result, self.dtype)
        if not _writable(data):
            raise _overlap_error()
        xp = xp_of(data)
        if alpha != 1:
            value = xp.multiply(value, alpha, dtype=result.np)
        ufunc = getattr(xp, ufunc_name)
        value = E.float_operand(value, result.np)
        try:
            if name == "div" and xp is np:
                with np.errstate(divide="ignore", invalid="ignore"):  # x / 0: inf, nan
                    ufunc(data, value, out=data, dtype=result.np, casting="unsafe")
            else:
                ufunc(data, value, out=data, dtype=result.np, casting="unsafe")
        except OverflowError:  # a python int beyond the dtype wraps around, as in PyTorch
            ufunc(data, E._wrap_int(value, data.dtype), out=data, casting="unsafe")
        self._bump_version()
        return self

    method.__name__ = name + "_"
    method.__doc__ = f"In-place form of {name}."
    return method


def _writable(array) -> bool:
    # CuPy arrays have no writeable flag (they are never read-only)
    return getattr(array.flags, "writeable", True)


def _overlap_error():
    return RuntimeError("unsupported operation: more than one element of the written-to tensor "
                        "refers to a single memory location. Please clone() the tensor before "
                        "performing the operation.")


def _fill_value(value, dtype):
    """A 0-d tensor (cast as torch casts tensors: it may wrap around), or the number checked
    for ``dtype``."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value._data.ndim} dimensions.")
        return value
    if not isinstance(value, numbers.Number):
        raise TypeError(f"fill_(): argument 'value' (position 1) must be Number, not "
                        f"{type(value).__name__}")
    return check_scalar(value, dtype)


def fill_(self, value) -> Tensor:
    """Set every element to ``value`` (a number or a 0-d tensor), cast to this dtype."""
    value = _fill_value(value, self.dtype)
    if _records(self, (value,)):
        return self._inplace(lambda source, v: E.Fill.apply(source, v), value)
    if isinstance(value, Tensor):
        value = value._data if type(value._data) is type(self._data) else np.asarray(
            value.item())
        if value.dtype != self._data.dtype:
            value = cast(value, self._data.dtype)  # inf or wrapped around, silently as torch
        if type(value) is not type(self._data):  # from another device: as a number
            value = value.item()
    if not _writable(self._data):
        raise _overlap_error()
    self._data[...] = value
    self._bump_version()
    return self


def zero_(self) -> Tensor:
    """Set every element to zero."""
    if _records(self, ()):
        return self._inplace(lambda source: E.Zero.apply(source, 0))
    if not _writable(self._data):
        raise _overlap_error()
    self._data[...] = 0
    self._bump_version()
    return self


def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src``'s values into this tensor: broadcast to its shape, cast to its dtype and
    moved to its device."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(src).__name__}")
    shape = self._data.shape
    if src._data.shape != shape:
        broadcast = broadcast_shapes(shape, src._data.shape)
        if broadcast != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast "
                               f"shape {list(broadcast)}")
    if _records(self, (src,)):
        if src.device != self.device:
            src = E.to(src, self.device)
        return self._inplace(lambda source, s: E.Copy.apply(source, s), src)
    value = src._data
    if type(value) is not type(self._data) or src.device != self.device:
        value = _backend.asarray_on(value, self.device)
    if value.dtype != self._data.dtype:
        value = cast(value, self._data.dtype)  # inf or wrapped around, silently as torch
    if not _writable(self._data):
        raise _overlap_error()
    xp_of(self._data).copyto(self._data, value, casting="unsafe")
    self._bump_version()
    return self


# ----------------------------------------------------------------------------- operators

def _binary_operator(function):
    def method(self, other):
        if not isinstance(other, (Tensor, numbers.Number)):
            return NotImplemented
        return function(self, other)

    return method


def _reflected(function):
    def method(self, other):
        if not isinstance(other, (Tensor, numbers.Number)):
            return NotImplemented
        return function(other, self)

    return method


def _matmul(self, other):
    from .linalg import matmul  # noqa: PLC0415 - the linalg family imports this one

    return matmul(self, other)


def _rmatmul(self, other):
    from .linalg import matmul  # noqa: PLC0415

    return matmul(other, self)


def _rtruediv(self, other):
    # as PyTorch: number / x is reciprocal(x) * number (MulBackward0 over ReciprocalBackward0)
    if isinstance(other, Tensor):
        return E.div(other, self)
    if not isinstance(other, numbers.Number):
        return NotImplemented
    return E.mul(E.reciprocal(self), other)


def _invert(self):
    if self._data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return E.bitwise_not(self)


def _inplace_operator(name):
    def method(self, other):
        if not isinstance(other, (Tensor, numbers.Number)):
            return NotImplemented
        return getattr(self, name)(other)

    return method


OPERATORS = {
    "__add__": _binary_operator(E.add),
    "__radd__": _binary_operator(E.add),
    "__sub__": _binary_operator(E.sub),
    "__rsub__": _binary_operator(E.rsub),
    "__mul__": _binary_operator(E.mul),
    "__rmul__": _binary_operator(E.mul),
    "__truediv__": _binary_operator(E.div),
    "__rtruediv__": _rtruediv,
    "__floordiv__": _binary_operator(E.floor_divide),
    "__rfloordiv__": _reflected(E.floor_divide),
    "__mod__": _binary_operator(E.remainder),
    "__rmod__": _reflected(E.remainder),
    "__pow__": _binary_operator(E.pow),
    "__rpow__": _reflected(E.pow),
    "__matmul__": _matmul,
    "__rmatmul__": _rmatmul,
    "__and__": _binary_operator(E.bitwise_and),
    "__rand__": _binary_operator(E.bitwise_and),
    "__or__": _binary_operator(E.bitwise_or),
    "__ror__": _binary_operator(E.bitwise_or),
    "__xor__": _binary_operator(E.bitwise_xor),
    "__rxor__": _binary_operator(E.bitwise_xor),
    "__lshift__": _binary_operator(E.bitwise_left_shift),
    "__rlshift__": _reflected(E.bitwise_left_shift),
    "__rshift__": _binary_operator(E.bitwise_right_shift),
    "__rrshift__": _reflected(E.bitwise_right_shift),
    "__eq__": _binary_operator(E.eq),
    "__ne__": _binary_operator(E.ne),
    "__lt__": _binary_operator(E.lt),
    "__le__": _binary_operator(E.le),
    "__gt__": _binary_operator(E.gt),
    "__ge__": _binary_operator(E.ge),
    "__neg__": E.neg,
    "__pos__": E.positive,
    "__abs__": E.abs,
    "__invert__": _invert,
    "__iadd__": _inplace_operator("add_"),
    "__isub__": _inplace_operator("sub_"),
    "__imul__": _inplace_operator("mul_"),
    "__itruediv__": _inplace_operator("div_"),
    "__ifloordiv__": _inplace_operator("floor_divide_"),
    "__imod__": _inplace_operator("remainder_"),
    "__ipow__": _inplace_operator("pow_"),
    "__iand__": _inplace_operator("bitwise_and_"),
    "__ior__": _inplace_operator("bitwise_or_"),
    "__ixor__": _inplace_operator("bitwise_xor_"),
    "__ilshift__": _inplace_operator("bitwise_left_shift_"),
    "__irshift__": _inplace_operator("bitwise_right_shift_"),
}

_INPLACE_NAMES = (
    "true_divide", "floor_divide", "remainder", "fmod", "pow", "neg", "negative", "reciprocal",
    "square", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin",
    "cos", "tan", "asin", "acos", "atan", "atan2", "arcsin", "arccos", "arctan", "arctan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh",
    "sigmoid", "relu", "erf", "abs", "absolute", "sign", "floor", "ceil", "round", "trunc",
    "fix", "frac", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "nan_to_num",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "eq", "ne",
    "lt", "le", "gt", "ge", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "subtract", "multiply", "divide",
)

INPLACE = {name + "_": _inplace(getattr(E, name), name) for name in _INPLACE_NAMES}
INPLACE.update({name + "_": _fast_arithmetic(name, getattr(E, name))
                for name in ("add", "sub", "mul", "div")})
INPLACE.update({"fill_": fill_, "zero_": zero_, "copy_": copy_})


def install() -> None:
    for name, method in {**OPERATORS, **INPLACE}.items():
        if name not in Tensor.__dict__:
            setattr(Tensor, name, method)
