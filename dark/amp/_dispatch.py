"""The op dispatch of mixed precision: one function, set as every built-in op's ``apply``
(dark.autograd.function.set_op_dispatch) only while it has work to do, that

- under autocast casts the floating inputs of the ops on torch's lists (autocast_mode.py)
  to the lower precision dtype or to float32, as torch's Autocast dispatch key does;
- runs an op on bfloat16 tensors as torch's CPU kernels do: the bfloat16 inputs are made
  float32, the op computes in float32, and its float results are rounded to bfloat16 (round
  to nearest even) when torch's promotion gives bfloat16. The op's node is the op's own
  (its grad_fn name is torch's); its backward gets float32 gradients and the engine rounds
  the input gradients to bfloat16.

While no bfloat16 tensor was ever made and autocast was never entered, ops run without it:
the cost of mixed precision to float32 programs is nothing."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..autograd import function as _function
from ..autograd.function import FunctionMeta, plain_op_apply
from ..ops.elementwise import ToCopy

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


class _NotLoaded:
    """Stands for the bfloat16 numpy dtype until ml_dtypes is loaded (no array has it)."""


_bf16 = _NotLoaded()

# Ops that run on bfloat16 arrays as they are: pure data movement (views are too).
_NATIVE = frozenset({"ToCopy", "Copy", "Fill", "Zero", "Clone"})
# Ops whose python number operands torch rounds to bfloat16 first (TensorIterator's common
# dtype casts the wrapped number; pow's exponent and base are made bfloat16 Scalars); mul and
# div use the number unrounded (their CPU kernels read the original scalar as a float32, the
# opmath type). (Fill and Zero are _NATIVE: their value is rounded in dispatch, see
# _bf16_scalar.)
_ROUND_SCALARS = frozenset({"Add", "Sub", "Rsub", "RsubScalar", "ClampScalar", "ClampMin",
                            "ClampMax", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Where",
                            "MaskedFill", "RemainderScalar", "FmodScalar", "Pow", "PowScalar"})

# Ops whose other-dtype tensor operands torch casts to bfloat16 first (TensorIterator's
# common dtype: an int64 257 is 256); mul and div keep a 0-d one's value (a CPU scalar,
# read as a float32) and cast only tensors with dimensions.
_ROUND_TENSORS = frozenset({"Add", "Sub", "Rsub", "Mul", "Div", "Remainder", "Fmod", "Atan2",
                            "Where", "Eq", "Ne", "Lt", "Le", "Gt", "Ge"})
_KEEP_0D = frozenset({"Mul", "Div"})
_NUMBERS = (float, int)  # python numbers rounded (not bool: True stays True)
_shadows: dict = {}


def _is_bf16_array(value) -> bool:
    return getattr(value, "dtype", None) is _bf16


def _round_array(array):
    """A float32 array rounded to bfloat16, silently (overflow is inf, as in torch)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return array.astype(_bf16)


def _bf16_scalar(value) -> float:
    """A python float or int rounded to bfloat16 as torch's c10::BFloat16 does: to float32
    first, then to bfloat16 (both round to nearest even; the direct rounding differs where
    the float32 lands on a bfloat16 midpoint, e.g. 1 + 2**-8 + 2**-30 is 1.0 in torch)."""
    return float(_bf16.type(_backend.bfloat16_scalar(value)))


def _to_float32(array):
    """A bfloat16 array as float32 (exact: its bits are a float32's top half); a shift of
    the bits, several times faster than ml_dtypes' cast."""
    if type(array) is not np.ndarray:
        return array.astype(_F32)
    return (array.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


def _make_shadow(cls):
    """``cls`` computing in float32 on bfloat16 inputs, with ``cls``'s node name."""
    forward, backward = cls.forward, cls.backward
    round_scalars = cls.__name__ in _ROUND_SCALARS
    round_tensors = cls.__name__ in _ROUND_TENSORS
    min_ndim = 1 if cls.__name__ in _KEEP_0D else 0

    def convert(value, rounded):
        if _is_bf16_array(value):
            return _to_float32(value)
        if not rounded:
            return value
        if round_scalars and type(value) in _NUMBERS:
            return _bf16_scalar(value)
        if round_tensors and getattr(value, "ndim", -1) >= min_ndim and \
                value.dtype.kind in "iuf":
            return _to_float32(_backend.cast(value, _bf16))
        return value

    def bf16_forward(ctx, *arrays, **kwargs):
        explicit = kwargs.get("np_dtype")
        if explicit is not None:
            rounded = explicit == _bf16
            if rounded:
                kwargs["np_dtype"] = _F32
        else:
            operands = [a for a in arrays if hasattr(a, "dtype") and hasattr(a, "ndim")]
            operands += [v for v in kwargs.values()
                         if hasattr(v, "dtype") and hasattr(v, "ndim")]
            rounded = bool(operands) and _backend.result_type(*operands) is _backend.bfloat16
        converted = [convert(a, rounded) for a in arrays]
        for key, value in kwargs.items():
            kwargs[key] = convert(value, rounded)
        out = forward(ctx, *converted, **kwargs)
        if not rounded:
            return out
        if type(out) is tuple:
            return tuple(_round_array(o) if getattr(o, "dtype", None) == _F32 else o
                         for o in out)
        if getattr(out, "dtype", None) == _F32:
            return _round_array(out)
        return out

    def bf16_backward(ctx, *grads):
        grads = [ToCopy.apply(g, np_dtype=_F32)
                 if isinstance(g, Tensor) and g._data.dtype is _bf16 else g for g in grads]
        return backward(ctx, *grads)

    node_name = cls._backward_cls.__name__
    shadow = FunctionMeta(cls.__name__, (cls,), {
        "node_name": node_name, "_raw": True, "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "forward": staticmethod(bf16_forward), "backward": staticmethod(bf16_backward)})
    _shadows[cls] = shadow
    return shadow


def _has_bf16(args, kwargs) -> bool:
    for a in args:
        if isinstance(a, Tensor) and a._data.dtype is _bf16:
            return True
    if kwargs:
        if kwargs.get("np_dtype") is _bf16:
            return True
        for v in kwargs.values():
            if isinstance(v, Tensor) and v._data.dtype is _bf16:
                return True
    return False


def dispatch(cls, *args, **kwargs):
    """Every op's apply while mixed precision is in use (see the module's docstring)."""
    if autocast_state.active:
        args, kwargs = autocast_state.cast_inputs(cls, args, kwargs)
    if cls.view_of is None and _has_bf16(args, kwargs):
        if cls.__name__ in _NATIVE:
            _check_bf16_device(cls, kwargs)
            if cls.__name__ in ("Fill", "Zero") and type(args[1]) in _NUMBERS and \
                    args[0]._data.dtype is _bf16:
                args = (args[0], _bf16_scalar(args[1]))
            return plain_op_apply(cls, *args, **kwargs)
        shadow = _shadows.get(cls) or _make_shadow(cls)
        return plain_op_apply(shadow, *args, **kwargs)
    if cls is ToCopy and kwargs.get("np_dtype") is _bf16:
        _check_bf16_device(cls, kwargs)
    return plain_op_apply(cls, *args, **kwargs)


def _check_bf16_device(cls, kwargs) -> None:
    device = kwargs.get("device")
    if cls is ToCopy and device is not None and device.type == "cuda":
        raise RuntimeError("bfloat16 tensors cannot be moved to CUDA in dark: CuPy has no "
                           "bfloat16 dtype (use float16 on the GPU: autocast('cuda', "
                           "dtype=dark.float16))")


class _AutocastHooks:
    """What the dispatch asks of autocast (set by autocast_mode): whether any autocast is
    enabled, and the cast of one op's inputs."""

    active = False

    @staticmethod
    def cast_inputs(cls, args, kwargs):
        return args, kwargs


autocast_state = _AutocastHooks()
_installed = False


def update() -> None:
    """Set the dispatch while bfloat16 was loaded or autocast is enabled; else the plain
    path."""
    global _installed
    wanted = autocast_state.active or not isinstance(_bf16, _NotLoaded)
    if wanted != _installed:
        _function.set_op_dispatch(dispatch if wanted else None)
        _installed = wanted


def _on_bfloat16_load(np_dtype) -> None:
    global _bf16
    _bf16 = np_dtype
    update()


_backend.on_bfloat16_load.append(_on_bfloat16_load)
try:  # loaded before dark.amp was imported
    _on_bfloat16_load(_backend.bfloat16._np_slot.__get__(_backend.bfloat16))
except AttributeError:
    pass
