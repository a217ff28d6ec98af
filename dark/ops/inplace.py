"""In-place ops, in one place: the machinery that writes an op's result into a tensor's
memory (``Tensor._inplace`` and its checks), in-place ops on views replayed on their base
(``rebase_view``, ``refresh_views``), and the Tensor methods built on it: the in-place forms
(``add_`` ...), ``fill_``/``zero_``/``copy_`` and the python operators.

In-place ops follow PyTorch's rules: the result is computed with the usual promotion, then
cast into the tensor's own dtype when PyTorch allows that cast (no float into an integer
tensor, nothing but bool into bool). When a graph is recorded the tensor takes the result's
history (a view's base takes a CopySlices node and its live views new view nodes), as in
PyTorch. With no graph to record, add_/sub_/mul_/div_ and zero_/fill_/copy_ write straight
into the tensor's array (ufunc ``out=``), allocating nothing: optimizers and
``p.data.sub_(lr * p.grad)`` take that path."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._backend import array_module, broadcast_shapes, cast
from .._tensor import Tensor, install_methods
from ..autograd.grad_mode import state as _grad_state
from . import elementwise as E
from .indexing import _NO_GRAD_VIEW, AsStrided, CopySlices, _flat

# ----------------------------------------------------------------------------- the machinery


def _check_inplace(self: Tensor) -> None:
    if self._requires_grad and self.grad_fn is None and _grad_state.enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def _inplace(self: Tensor, function, *args, **kwargs) -> Tensor:
    """Compute ``function(self, *args)`` and write the result into this tensor's memory.

    When a graph is recorded the tensor takes the result's history (and a view's base
    takes a CopySlices node), as PyTorch does."""
    record = _grad_state.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if not record:
        result = function(self, *args, **kwargs)
        _write(self, result._data, result.dtype)
        return self
    _check_inplace(self)
    source = Tensor._make(self._data.copy(), self._requires_grad, self.grad_fn,
                          self._output_nr)
    result = function(source, *args, **kwargs)
    _check_result(self, result._data, result.dtype)
    base = self._base
    if base is not None and (base._requires_grad or result._requires_grad):
        rebase_view(self, result)
        return self
    _write(self, result._data, result.dtype)
    self.grad_fn = result.grad_fn
    self._requires_grad = result._requires_grad
    if result._output_nr or self._output_nr:
        self._output_nr = result._output_nr
    if "_views" in self.__dict__:
        refresh_views(self)
    return self


def _check_result(self: Tensor, array, result_dtype) -> None:
    if array.shape != self._data.shape:
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the "
                           f"broadcast shape {list(array.shape)}")
    mine = self.dtype
    if result_dtype is not mine and not _backend.can_cast(result_dtype, mine):
        raise RuntimeError(f"result type {result_dtype.scalar_name} can't be cast to the "
                           f"desired output type {mine.scalar_name}")


def _write(self: Tensor, array, result_dtype) -> None:
    """Write ``array`` (of dtype ``result_dtype``, checked to fit) into this tensor."""
    _check_result(self, array, result_dtype)
    if array is not self._data:
        _backend.array_module(self._data).copyto(self._data, array, casting="unsafe")
    self._bump_version()


# ----------------------------------------------------------------------------- views

def _location_of(view: Tensor, base: Tensor, writing: bool = False):
    """Where ``view`` lies in its base, as a (view, key) location: its recorded getter, or
    else (views made by other ops: reshape, transpose ...) the flat positions given by its
    strides into the C-contiguous base."""
    getter = view.__dict__.get("_view_getter")
    if getter is _NO_GRAD_VIEW:
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. "
            "You can clarify your code by moving both the view and the inplace either both "
            "inside the no_grad block (if you don't want the inplace to be tracked) or both "
            "outside (if you want the inplace to be tracked).")
    if getter is not None:
        return getter, None
    array = view._data
    if not base._data.flags.c_contiguous:
        raise RuntimeError("an in-place operation on a view of a non-contiguous tensor that "
                           "requires grad is not supported; use an out-of-place operation")
    item = array.dtype.itemsize
    strides = tuple(s // item for s in array.strides)
    if writing and any(s == 0 and n > 1 for s, n in zip(strides, array.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    xp = array_module(array)
    offset = (view.data_ptr() - base.data_ptr()) // item
    positions = xp.arange(base._data.size, dtype=np.int64)[offset:]
    positions = xp.lib.stride_tricks.as_strided(
        positions, array.shape, tuple(s * positions.itemsize for s in strides))
    return _flat, (positions,)


def rebase_view(view: Tensor, result: Tensor) -> None:
    """Write ``result`` (the outcome of an in-place op on ``view``) into the base's memory,
    give the base a CopySlices history and the view a new history as a view of it."""
    base = view._base
    if base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    region, key = _location_of(view, base, writing=True)
    updated = CopySlices.apply(base, result, view=region, key=key, copy=False)
    _take_history(base, updated)
    base._bump_version()
    refresh_views(base, view)


def _take_history(target: Tensor, source: Tensor) -> None:
    target.grad_fn = source.grad_fn
    target._requires_grad = source._requires_grad
    target.__dict__.pop("_output_nr", None)


def refresh_views(base: Tensor, *more: Tensor) -> None:
    """After ``base`` took a new history in place, give its live views (and ``more``) the
    history of a view of the new base, as PyTorch regenerates view grad_fns."""
    if not base._requires_grad:
        return
    views = dict(base.__dict__.get("_views", {}).items())
    views.update((id(view), view) for view in more)
    for view in views.values():
        if view.__dict__.get("_view_getter", None) is _NO_GRAD_VIEW:
            continue
        region, key = _location_of(view, base)
        fresh = AsStrided.apply(base, view=region, key=key)
        _take_history(view, fresh)


# ----------------------------------------------------------------------------- in-place forms

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


def _inplace_form(function, name=None):
    """``x.name_(...)``: ``function(x, ...)`` written into x's memory (see Tensor._inplace)."""
    compute = _into_dtype(function)

    def method(self, *args, **kwargs):
        return self._inplace(compute, *args, **kwargs)

    method.__name__ = (name or function.__name__) + "_"
    method.__doc__ = f"In-place form of {name or function.__name__}."
    return method


# ----------------------------------------------------------------------------- fast paths

_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide"}
_EXACT = 2 ** 53  # python ints up to this are exact as float64 (and the fast path's numbers)
_quiet_enter, _quiet_exit = _backend.quiet_enter, _backend.quiet_exit


def _fast_arithmetic(name, function):
    """add_/sub_/mul_/div_: in place with ``out=`` when no graph is recorded."""
    slow = _inplace_form(function, name)
    ufunc_name = _UFUNCS[name]
    np_ufunc = getattr(np, ufunc_name)
    divide = name == "div"

    def method(self, other, *, alpha=1, rounding_mode=None):
        data = self._data
        if (type(data) is np.ndarray and data.dtype in _backend.TORCH_EXACT_FLOATS and alpha == 1
                and type(alpha) is int and rounding_mode is None and data.flags.writeable):
            # the common case of optimizer code, p.sub_(g) / p.mul_(0.9) outside a graph: a
            # float32/64 numpy tensor and a tensor of its dtype and shape or a python number
            # (the general path below, each of its answers known)
            if isinstance(other, Tensor):
                value = other._data
                fast = (type(value) is np.ndarray and value.dtype is data.dtype
                        and value.shape == data.shape and not (
                            _grad_state.enabled and (self._requires_grad or other._requires_grad)))
            else:
                value = E.float_operand(other, data.dtype) if type(other) is float else other
                fast = (type(other) is float or type(other) is int and -_EXACT <= other <= _EXACT
                        ) and not (_grad_state.enabled and self._requires_grad)
            if fast:
                if divide:
                    token = _quiet_enter()
                    try:
                        np_ufunc(data, value, out=data)
                    finally:
                        _quiet_exit(token)
                else:
                    np_ufunc(data, value, out=data)
                self._bump_version()
                return self
        kwargs = {}
        if alpha != 1:
            kwargs["alpha"] = alpha
        if rounding_mode is not None:
            kwargs["rounding_mode"] = rounding_mode
        if _records(self, (other,)) or rounding_mode is not None or not isinstance(
                other, (Tensor, numbers.Number)) or self._data.dtype.kind == "V" or (
                    name in ("mul", "div") and type(other) is float
                    and self._data.dtype == np.float16):
            # bfloat16 (kind V) computes in float32 in the op dispatch, as torch: a python
            # float stays a float32 for mul_/div_, is rounded to bfloat16 for add_/sub_;
            # float16's mul_/div_ with a python float compute in float32 too (E.mul, E.div)
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
        xp = array_module(data)
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


def _fill_value(value, dtype, numel: int = 0, on_cpu: bool = False):
    """A 0-d tensor (cast as torch casts tensors: it may wrap around), or the number checked
    for ``dtype`` (unchecked for one float16/bfloat16 element on the CPU, as torch)."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value._data.ndim} dimensions.")
        return value
    if not isinstance(value, numbers.Number):
        raise TypeError(f"fill_(): argument 'value' (position 1) must be Number, not "
                        f"{type(value).__name__}")
    return _backend.fill_scalar(value, dtype, numel, on_cpu)


def fill_(self, value) -> Tensor:
    """Set every element to ``value`` (a number or a 0-d tensor), cast to this dtype."""
    value = _fill_value(value, self.dtype, self._data.size, type(self._data) is np.ndarray)
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
    array_module(self._data).copyto(self._data, value, casting="unsafe")
    self._bump_version()
    return self


# ----------------------------------------------------------------------------- operators

_OPERANDS = frozenset((float, int, Tensor))  # checked first: numbers.Number's check is slow


def _binary_operator(function):
    def method(self, other):
        if type(other) not in _OPERANDS and not isinstance(other, (Tensor, numbers.Number)):
            return NotImplemented
        return function(self, other)

    return method


def _reflected(function):
    def method(self, other):
        if type(other) not in _OPERANDS and not isinstance(other, (Tensor, numbers.Number)):
            return NotImplemented
        return function(other, self)

    return method


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

INPLACE = {name + "_": _inplace_form(getattr(E, name), name) for name in _INPLACE_NAMES}
INPLACE.update({name + "_": _fast_arithmetic(name, getattr(E, name))
                for name in ("add", "sub", "mul", "div")})
INPLACE.update({"addcmul_": _inplace_form(E.addcmul), "addcdiv_": _inplace_form(E.addcdiv)})
INPLACE.update({name: E.scale_first_method(INPLACE[name], name)  # x.add_(-0.5, y) ...
                for name in ("add_", "sub_", "addcmul_", "addcdiv_")})
INPLACE.update({"fill_": fill_, "zero_": zero_, "copy_": copy_})


install_methods({"_check_inplace": _check_inplace, "_inplace": _inplace,
                 "_check_result": _check_result, "_write": _write, **OPERATORS, **INPLACE})
