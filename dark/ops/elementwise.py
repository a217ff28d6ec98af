"""Elementwise ops: arithmetic with broadcasting and PyTorch's type promotion, unary math,
comparisons and logical/bitwise ops, clamp/where/lerp, dtype/device conversion.

One Op class per op: forward on raw arrays, backward on Tensors (so that create_graph gives
higher derivatives). Class names (or ``node_name``) give PyTorch's grad_fn names."""
from __future__ import annotations

import functools
import math
import numbers
import operator
import warnings

import numpy as np

from .. import _backend
from .._backend import array_module, broadcast_shapes, cast, check_scalar, promote, wrapped_int
from .._kernels.elementwise import fma32, positive_or_zero, relu_forward
from .._tensor import Tensor, install_methods, tensor_method
from ..autograd.function import Op
from ..autograd.grad_mode import state as _grad_state

# ----------------------------------------------------------------------------- helpers


def _shape_of(value):
    return getattr(value, "shape", ())


def _broadcast_error(a, b):
    broadcast_shapes(_shape_of(a), _shape_of(b))
    raise  # noqa: PLE0704 - re-raise numpy's error if the shapes did broadcast


def _wrap_int(value, np_dtype):
    """A python int outside an integer dtype's range wraps around, as PyTorch's C casts do."""
    if type(value) is int and np.dtype(np_dtype).kind in "iu":
        return wrapped_int(value, np_dtype)
    return value


_BFLOAT16_MAX = float.fromhex("0x1.fep127")  # 3.3895313892515355e38
_FLOAT_MAX = {np.dtype(t): float(np.finfo(t).max) for t in (np.float16, np.float32)}


def float_operand(value, np_dtype):
    """A python float operand of an op with a float16/float32 result as numpy casts it, inf
    beyond the dtype's range, without numpy's overflow warning (torch's inf, silently)."""
    top = _FLOAT_MAX.get(np_dtype)
    if top is not None and type(value) is float and not -top <= value <= top:
        return check_scalar(value, np_dtype, "tensor")
    if np_dtype == _FLOAT16 and type(value) is float:
        # torch makes it a float first (c10::Half takes a float): two roundings to nearest even
        return float(np.float32(value))
    return value


_REAL_NUMBERS = frozenset((float, int))
_FLOAT16 = np.dtype(np.float16)


def _binary(compute, a, b, result_dtype=None):
    """``compute(xp, a, b)`` on operands promoted to PyTorch's result dtype; the output is
    cast to ``result_dtype`` (default: the promoted dtype) if the array module chose another."""
    if type(a) is np.ndarray and (type(b) in _REAL_NUMBERS and a.dtype.kind == "f"
                                  or type(b) is np.ndarray and a.dtype is b.dtype):
        # the common cases: a float array and a python int or float (the array's dtype), or
        # two arrays of one dtype
        np_dtype = a.dtype
        xp = np
        if type(b) is float:
            b = float_operand(b, np_dtype)
    else:
        a, b, np_dtype = promote(a, b)
        if type(a) is float or type(b) is float:
            a, b = float_operand(a, np_dtype), float_operand(b, np_dtype)
        xp = array_module(a if hasattr(a, "dtype") else b)
    try:
        out = compute(xp, a, b)
    except ValueError:
        _broadcast_error(a, b)
    except OverflowError:
        out = compute(xp, _wrap_int(a, np_dtype), _wrap_int(b, np_dtype))
    target = np_dtype if result_dtype is None else result_dtype
    if out.dtype != target:
        out = out.astype(target)
    return out


_quiet_enter, _quiet_exit = _backend.quiet_enter, _backend.quiet_exit


def _quiet(compute):
    """``compute`` without numpy's floating-point warnings (log(0), 0/0 ...): PyTorch gives
    inf/nan silently."""
    enter, leave = _backend.quiet_enter, _backend.quiet_exit

    def quiet_compute(xp, *arrays):
        if xp is not np:  # nothing to silence on CuPy
            return compute(xp, *arrays)
        token = enter()
        try:
            return compute(xp, *arrays)
        finally:
            leave(token)

    quiet_compute.loud = compute  # the same without the silencing (see UnaryOp.forward)

    return quiet_compute


def _kind(x, y) -> str:
    """The dtype kind of promoted operands (an array's dtype; a python scalar never changes
    it after promote)."""
    return (x if hasattr(x, "dtype") else y).dtype.kind


def _type_error(name, argument, position, value, expected="Tensor"):
    return TypeError(f"{name}(): argument '{argument}' (position {position}) must be "
                     f"{expected}, not {type(value).__name__}")


_PLAIN_NUMBERS = frozenset((float, int, bool, complex))


def _check_operands(name, input, other):
    """At least one Tensor, the other a Tensor or a python number (as torch.add(2, x))."""
    if isinstance(input, Tensor) and (isinstance(other, Tensor)
                                      or type(other) in _PLAIN_NUMBERS):
        return  # the common case, without the numbers.Number checks
    if not isinstance(input, (Tensor, numbers.Number)):
        raise _type_error(name, "input", 1, input)
    if not isinstance(other, (Tensor, numbers.Number)):
        raise _type_error(name, "other", 2, other, "Tensor or Number")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _type_error(name, "input", 1, input)


def _check_tensor_number(name, input, other):
    if not isinstance(input, Tensor):
        raise _type_error(name, "input", 1, input)
    if not isinstance(other, (Tensor, numbers.Number)):
        raise _type_error(name, "other", 2, other, "Tensor or Number")


def _check_tensors(name, input, other):
    if not isinstance(input, Tensor):
        raise _type_error(name, "input", 1, input)
    if not isinstance(other, Tensor):
        raise _type_error(name, "other", 2, other)


def _zeros_like(tensor: Tensor) -> Tensor:
    if not isinstance(tensor, Tensor):  # a raw array (Op.raw_backward)
        return array_module(tensor).zeros_like(tensor)
    return Tensor._make(array_module(tensor._data).zeros_like(tensor._data))


def _math(name: str, x):
    """``x.<name>()`` of a Tensor, or the array module's ``<name>`` of a raw array: one
    derivative for the Tensor and the raw-array backward (Op.raw_backward)."""
    if isinstance(x, Tensor):
        return getattr(x, name)()
    return getattr(array_module(x), name)(x)


def _default_float():
    return _backend.get_default_dtype().np


def _not_implemented(kernel: str, np_dtype) -> NotImplementedError:
    """PyTorch's error for a kernel that has no version for ``np_dtype``."""
    name = _backend.scalar_name(np_dtype)
    return NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')


can_cast = _backend.can_cast


def cast_error(from_dtype, to_dtype) -> RuntimeError:
    return RuntimeError(f"result type {from_dtype.scalar_name} can't be cast to the desired "
                        f"output type {to_dtype.scalar_name}")


# ----------------------------------------------------------------------------- arithmetic

class Add(Op):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        if alpha == 1:
            return _binary(lambda xp, x, y: xp.add(x, y), a, b)
        return _binary(lambda xp, x, y: xp.add(x, xp.multiply(y, alpha)), a, b)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad * ctx.alpha if ctx.alpha != 1 else grad)


def _check_bool_sub(a, b):
    if getattr(a, "dtype", None) == np.bool_ and getattr(b, "dtype", None) == np.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        _check_bool_sub(a, b)
        ctx.alpha = alpha
        if alpha == 1:
            return _binary(lambda xp, x, y: xp.subtract(x, y), a, b)
        return _binary(lambda xp, x, y: xp.subtract(x, xp.multiply(y, alpha)), a, b)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad * ctx.alpha if ctx.alpha != 1 else -grad)


class Rsub(Op):
    """other - alpha * input, for two tensors (``torch.rsub``)."""

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        return Sub.forward(ctx, b, a, alpha=alpha)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        return (-grad * ctx.alpha if ctx.alpha != 1 else -grad), grad


class RsubScalar(Op):
    """other - alpha * input for a python number ``other`` (``2 - x``)."""

    node_name = "RsubBackward1"

    @staticmethod
    def forward(ctx, a, other=0, alpha=1):
        return Sub.forward(ctx, other, a, alpha=alpha)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        return -grad * ctx.alpha if ctx.alpha != 1 else -grad


class BinaryOp(Op):
    """An elementwise op of two tensors whose backward needs both: subclasses give
    ``compute(xp, x, y)`` (on the promoted arrays) and ``backward``."""

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(cls.compute, a, b)


def _conj(value):
    """The conjugate of a complex operand (Tensor or python number), else the operand."""
    if value is None or type(value) is np.ndarray and value.dtype.kind != "c":
        return value  # no saved value, or a real raw array
    if isinstance(value, Tensor):
        return value.conj() if value.is_complex() else value
    return value.conjugate() if isinstance(value, complex) else value


def _half_scalar(x, y) -> bool:
    """Whether one operand is a float16 array and the other a python float: torch's CPU mul
    and div of float16 read the number as a float32 (its opmath type) and compute in float32,
    not with the number made a float16 first."""
    return (type(y) is float and getattr(x, "dtype", None) == _FLOAT16
            or type(x) is float and getattr(y, "dtype", None) == _FLOAT16)


def _in_float32(ufunc, x, y):
    """``ufunc`` of a float16 array and a python float in float32, rounded once to float16."""
    x, y = ((np.float32(v) if type(v) is float else v.astype(np.float32)) for v in (x, y))
    with np.errstate(all="ignore"):
        return ufunc(x, y).astype(_FLOAT16)


def _multiply(xp, x, y):
    return _in_float32(xp.multiply, x, y) if _half_scalar(x, y) else xp.multiply(x, y)


class Mul(BinaryOp):
    compute = staticmethod(_multiply)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        # complex operands: torch's convention (grad of a real loss) conjugates the other factor
        a, b = _conj(a), _conj(b)
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None)


@_quiet
def _true_divide(xp, x, y):
    if _half_scalar(x, y):
        return _in_float32(xp.true_divide, x, y)
    if x.dtype.kind not in "fc" if hasattr(x, "dtype") else y.dtype.kind not in "fc":
        return xp.true_divide(x, y, dtype=_default_float())
    return xp.true_divide(x, y)


def _float_result(a, b):
    """The dtype of a true division: the promoted dtype, or the default float for ints."""
    promoted = _backend.result_type(a, b)
    return promoted.np if promoted.is_floating_point or promoted.is_complex else _default_float()


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(_true_divide, a, b, _float_result(a, b))

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a, b = _conj(a), _conj(b)
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def _check_int_zero_division(xp, b):
    if hasattr(b, "dtype") and b.dtype.kind in "biu" and bool((b == 0).any()) \
            or isinstance(b, numbers.Integral) and b == 0:
        raise RuntimeError("ZeroDivisionError")


@_quiet
def _trunc_divide(xp, x, y):
    if _half_scalar(x, y):
        return _in_float32(lambda x, y: xp.trunc(xp.true_divide(x, y)), x, y)
    if _kind(x, y) in "fc":
        return xp.trunc(xp.true_divide(x, y))
    _check_int_zero_division(xp, y)
    quotient = xp.floor_divide(x, y)
    fix = (xp.remainder(x, y) != 0) & ((xp.sign(x) * xp.sign(y)) < 0)
    return quotient + fix.astype(quotient.dtype)


@_quiet
def _floor_divide(xp, x, y):
    if _half_scalar(x, y):
        return _in_float32(xp.floor_divide, x, y)
    if _kind(x, y) in "fc":
        return xp.floor_divide(x, y)
    _check_int_zero_division(xp, y)
    return xp.floor_divide(x, y)


class DivMode(Op):
    """Division rounded toward zero ('trunc') or down ('floor'); its gradient is zero."""

    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b, rounding_mode="trunc"):
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        return _binary(_trunc_divide if rounding_mode == "trunc" else _floor_divide, a, b)

    @staticmethod
    def backward(ctx, grad):
        return (_zeros_like(grad) if ctx.needs_input_grad[0] else None,
                _zeros_like(grad) if ctx.needs_input_grad[1] else None)


class FloorDivide(Op):
    """Python's ``//``; PyTorch defines no derivative for it."""

    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, a, b):
        return _binary(_floor_divide, a, b)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class FloorDivideScalar(FloorDivide):
    """tensor // number (the number is not an input of the node, as in PyTorch)."""

    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, a, other=1):
        return _binary(_floor_divide, a, other)


@_quiet
def _remainder(xp, x, y):
    if _kind(x, y) not in "fc":
        _check_int_zero_division(xp, y)
    return xp.remainder(x, y)


@_quiet
def _fmod(xp, x, y):
    if _kind(x, y) not in "fc":
        _check_int_zero_division(xp, y)
    return xp.fmod(x, y)


class Remainder(BinaryOp):
    """Python-style remainder (the sign of the divisor) of two tensors: ``a - b * q`` with
    ``q = a / b`` rounded by ``rounding_mode``, so the derivative in ``b`` is ``-q``.
    Subclasses give ``compute(xp, x, y)`` and ``rounding_mode``."""

    node_name = "RemainderBackward1"
    compute = staticmethod(_remainder)
    rounding_mode = "floor"

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = (-grad * div(a, b, rounding_mode=cls.rounding_mode)
                  if ctx.needs_input_grad[1] else None)
        return grad, grad_b


class RemainderScalar(Op):
    """tensor % number (the number is not an input of the node)."""

    node_name = "RemainderBackward0"
    compute = staticmethod(_remainder)

    @classmethod
    def forward(cls, ctx, a, other=1):
        return _binary(cls.compute, a, other)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Fmod(Remainder):
    """C-style remainder (the sign of the dividend) of two tensors."""

    node_name = "FmodBackward1"
    compute = staticmethod(_fmod)
    rounding_mode = "trunc"


class FmodScalar(RemainderScalar):
    """fmod(tensor, number)."""

    node_name = "FmodBackward0"
    compute = staticmethod(_fmod)


# ----------------------------------------------------------------------------- pow

@_quiet
def _power(xp, x, y):
    """x ** y; an integer to a negative integer power is 0 (or +-1 for a base of +-1). A
    float32/64 tensor squared or cubed is multiplied out, as PyTorch's kernel does (numpy's
    pow is ten times slower there, and its cube can differ by an ulp; float16 keeps pow,
    which rounds once as torch does)."""
    if type(y) in _REAL_NUMBERS and (y == 2 or y == 3) and getattr(x, "dtype", None) is not None \
            and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
        square = xp.multiply(x, x)
        if y == 2:
            return square
        # (numpy gives a 0-d array's square as a scalar, which cannot be an out=)
        return xp.multiply(square, x, out=square) if square.ndim else xp.multiply(square, x)
    if _kind(x, y) in "iu" and hasattr(y, "dtype"):
        negative = y < 0
        if bool(negative.any()):
            out = xp.power(x, xp.abs(y))
            special = xp.where((x == 1) | (x == -1), out, 0).astype(out.dtype)
            return xp.where(negative, special, out)
    return xp.power(x, y)


def _check_negative_int_power(input, exponent):
    if input._data.dtype.kind in "biu" and isinstance(exponent, numbers.Integral) \
            and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")


class Pow(Op):
    """tensor ** number."""

    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, a, exponent=1):
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return _binary(_power, a, exponent)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        a, exponent = _conj(a), _conj(ctx.exponent)
        if exponent == 0:
            return _zeros_like(grad)
        if exponent == 2:
            return grad * (a * 2)
        if not isinstance(a, Tensor):  # a raw array (Op.raw_backward): pow's own kernel
            return grad * (_binary(_power, a, exponent - 1) * exponent)
        return grad * (pow(a, exponent - 1) * exponent)


class PowTensor(Op):
    """tensor ** tensor."""

    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        out = _binary(_power, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = (_conj(t) for t in ctx.saved_tensors)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = where(b == 0, 0.0, grad * (b * pow(a, b - 1)))
        if ctx.needs_input_grad[1]:
            grad_b = grad * where((a == 0) & (b >= 0), 0.0, out * log(a))
        return grad_a, grad_b


class PowScalar(Op):
    """number ** tensor."""

    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, b, base=1):
        out = _binary(_power, base, b)
        ctx.base = base
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = (_conj(t) for t in ctx.saved_tensors)
        base = ctx.base
        if base == 0:
            return grad * where(b >= 0, 0.0, out * -math.inf)
        log_base = math.log(base) if base > 0 else math.nan
        return grad * (out * log_base)


# ----------------------------------------------------------------------------- unary

class UnaryOp(Op):
    """An elementwise op of one tensor. Subclasses give ``compute(xp, a)`` and
    ``derivative(grad, input, output)``; ``saves`` says which of input/output backward needs;
    ``float_result`` makes int and bool inputs compute in the default float dtype."""

    saves = "input"
    float_result = True
    # f(conj z) = conj f(z) (real coefficients): a complex input's gradient is the
    # derivative's conjugate (torch's convention), i.e. the derivative at the conjugates
    holomorphic = True

    @classmethod
    def forward(cls, ctx, a):
        if cls.float_result and a.dtype.kind not in "fc":
            a = a.astype(_default_float())
        compute = cls.compute
        kernel = getattr(compute, "loud", None)  # a _quiet compute's own: silenced here
        if kernel is not None and type(a) is np.ndarray:
            token = _quiet_enter()
            try:
                out = kernel(np, a)
            finally:
                _quiet_exit(token)
        else:
            out = compute(np if type(a) is np.ndarray else array_module(a), a)
        if cls.saves == "input":
            ctx.save_for_backward(a, None)
        elif cls.saves == "output":
            ctx.save_for_backward(None, out)
        elif cls.saves == "both":
            ctx.save_for_backward(a, out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        a, out = ctx.saved_tensors if cls.saves else (None, None)
        if cls.holomorphic:
            a, out = _conj(a), _conj(out)
        return cls.derivative(grad, a, out)


def _unary_op(name, compute, derivative, saves="input", float_result=True):
    """Make a UnaryOp subclass named ``name`` (its node is ``<name>Backward0``). ``compute``:
    ``compute(xp, a)``, or the name of the array module's ufunc that is the whole op (Op.apply
    then calls numpy's ufunc directly on float numpy tensors: see ``Op._ufunc``)."""
    namespace = {"derivative": staticmethod(derivative), "saves": saves,
                 "float_result": float_result}
    if isinstance(compute, str):
        namespace["_ufunc"] = staticmethod(getattr(np, compute))
        compute = _ufunc_compute(compute)
    namespace["compute"] = staticmethod(_quiet(compute) if float_result else compute)
    return type(name, (UnaryOp,), namespace)


def _ufunc_compute(name):
    def compute(xp, a):
        return getattr(xp, name)(a)

    return compute


def _sigmoid(xp, a):
    # exp of -|a| never overflows; the two branches are the same function
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _sign(xp, a):
    if a.dtype == np.bool_:
        return a.copy()
    out = xp.sign(a)
    if a.dtype.kind == "f":
        out = xp.where(xp.isnan(a), 0, out).astype(a.dtype, copy=False)  # PyTorch: sign(nan) = 0
    return out


def _keep_integers(function):
    """Rounding functions leave integer tensors as they are (a copy), as PyTorch does."""
    def compute(xp, a):
        return a.copy() if a.dtype.kind in "biu" else function(xp, a)

    return compute


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Sqrt = _unary_op("Sqrt", "sqrt", lambda g, x, y: g / (y * 2), "output")
def _rsqrt(xp, a):
    """1 / sqrt(a); a float16 one in float32, rounded once, as torch's CPU kernel."""
    if a.dtype == np.float16:
        # asarray: numpy's arithmetic on a 0-d array gives a scalar, and the output must be
        # the array saved for the backward
        return xp.asarray((1 / xp.sqrt(a.astype(np.float32))).astype(np.float16))
    return 1 / xp.sqrt(a)


def _cube(y):
    """``y ** 3`` as torch's pow kernel: a Tensor through pow (multiplied out; a float16 one
    in float32, rounded once), a raw float32/float64 array (a raw backward) multiplied out."""
    return y ** 3 if isinstance(y, Tensor) else y * y * y


# torch's formula: -0.5 * grad * result.pow(3)
Rsqrt = _unary_op("Rsqrt", _rsqrt, lambda g, x, y: (g * -0.5) * _cube(y), "output")
Reciprocal = _unary_op("Reciprocal", "reciprocal",
                       lambda g, x, y: -g * (y * y), "output")
Exp = _unary_op("Exp", "exp", lambda g, x, y: g * y, "output")
def _times(x, constant: float):
    """``x * constant`` on a Tensor (Mul) or an array (a raw backward) alike: a float16 one
    in float32 with the constant a float32, as torch's mul of a Scalar."""
    return x * constant if isinstance(x, Tensor) else _multiply(array_module(x), x, constant)


Exp2 = _unary_op("Exp2", "exp2", lambda g, x, y: g * _times(y, _LN2),
                 "output")
Expm1 = _unary_op("Expm1", "expm1", lambda g, x, y: g * (y + 1), "output")
Log = _unary_op("Log", "log", lambda g, x, y: g / x)
Log1P = _unary_op("Log1P", "log1p", lambda g, x, y: g / (x + 1))
Log2 = _unary_op("Log2", "log2", lambda g, x, y: g / _times(x, _LN2))
Log10 = _unary_op("Log10", "log10", lambda g, x, y: g / _times(x, _LN10))
Sin = _unary_op("Sin", "sin", lambda g, x, y: g * _math("cos", x))
Cos = _unary_op("Cos", "cos", lambda g, x, y: -g * _math("sin", x))
Tan = _unary_op("Tan", "tan", lambda g, x, y: g * (y * y + 1), "output")
Asin = _unary_op("Asin", "arcsin", lambda g, x, y: g * rsqrt(1 - x * x))
Acos = _unary_op("Acos", "arccos", lambda g, x, y: -g * rsqrt(1 - x * x))
Atan = _unary_op("Atan", "arctan", lambda g, x, y: g / (x * x + 1))
Sinh = _unary_op("Sinh", "sinh", lambda g, x, y: g * _math("cosh", x))
Cosh = _unary_op("Cosh", "cosh", lambda g, x, y: g * _math("sinh", x))
Tanh = _unary_op("Tanh", "tanh", lambda g, x, y: g * (1 - y * y), "output")
Asinh = _unary_op("Asinh", "arcsinh", lambda g, x, y: g * rsqrt(x * x + 1))
Acosh = _unary_op("Acosh", "arccosh", lambda g, x, y: g * rsqrt(x * x - 1))
Atanh = _unary_op("Atanh", "arctanh", lambda g, x, y: g / (1 - x * x))
def _sigmoid_op(xp, a):
    """The Sigmoid op's: float32/64 by torch's formula 1 / (1 + exp(-a)), in place, four
    array passes instead of eight (exp overflows to inf where a < -88: 0, as torch; the op
    silences numpy); float16 and complex as _sigmoid (float16's exp overflows at -11)."""
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        return _sigmoid(xp, a)
    if not a.ndim:  # (numpy gives 0-d results as scalars, which cannot be an out=)
        return xp.reciprocal(xp.exp(xp.negative(a)) + 1)
    out = xp.negative(a)
    xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


Sigmoid = _unary_op("Sigmoid", _sigmoid_op, lambda g, x, y: g * (y * (1 - y)), "output")
Erf = _unary_op("Erf", lambda xp, a: erf_array(a),
                lambda g, x, y: g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI))
Abs = _unary_op("Abs", lambda xp, a: xp.abs(a), lambda g, x, y: g * sign(x),
                float_result=False)
Sign = _unary_op("Sign", lambda xp, a: _sign(xp, a),
                 lambda g, x, y: _zeros_like(g), None, False)
Floor = _unary_op("Floor", _keep_integers(lambda xp, a: xp.floor(a)),
                  lambda g, x, y: _zeros_like(g), None, False)
Ceil = _unary_op("Ceil", _keep_integers(lambda xp, a: xp.ceil(a)),
                 lambda g, x, y: _zeros_like(g), None, False)
Trunc = _unary_op("Trunc", _keep_integers(lambda xp, a: xp.trunc(a)),
                  lambda g, x, y: _zeros_like(g), None, False)
Frac = _unary_op("Frac", _quiet(lambda xp, a: a - xp.trunc(a)), lambda g, x, y: g, None, False)
Abs.holomorphic = Sign.holomorphic = False  # |z|: grad * z / |z| as written
# tanh, atan and asinh raise no floating-point flag on any input (inf, nan, subnormals; float16,
# float32 and float64 checked): computed without silencing numpy, which costs as much as they do
for _op in (Tanh, Atan, Asinh):
    _op.compute = staticmethod(_op.compute.loud)
    _op._ufunc_quiet = False

# derivatives written with operators and _math only: they also run on raw arrays
for _op in (Sqrt, Rsqrt, Reciprocal, Exp, Exp2, Expm1, Log, Log1P, Log2, Log10, Sin, Cos,
            Tan, Atan, Sinh, Cosh, Tanh, Atanh, Sigmoid, Frac, Floor, Ceil, Trunc, Sign):
    _op.raw_backward = True


def _relu_grad(g, x, y):
    """threshold_backward: 0 where the output is <= 0, else g (a NaN output passes g, as
    in PyTorch)."""
    if _grad_state.enabled:  # create_graph: differentiable in g
        return where(y <= 0, 0.0, g)
    grad = g._data
    return Tensor._make(positive_or_zero(array_module(grad), y._data, grad))


Relu = _unary_op("Relu", relu_forward, _relu_grad, "output", False)
# the arithmetic of two float32 or two float64 numpy tensors takes Op.apply's _apply_ufunc2
Add._ufunc2, Add._ufunc2_alpha = staticmethod(np.add), True
Sub._ufunc2, Sub._ufunc2_alpha = staticmethod(np.subtract), True
Mul._ufunc2, Mul._ufunc2_saves = staticmethod(np.multiply), True
Div._ufunc2, Div._ufunc2_saves, Div._ufunc2_quiet = staticmethod(np.true_divide), True, True
# sigmoid and relu of a float numpy array are one array function too (Op._ufunc's contract:
# the whole op, array in, array out); relu raises no floating-point flag
Sigmoid._ufunc = staticmethod(functools.partial(_sigmoid_op, np))
Relu._ufunc = staticmethod(functools.partial(relu_forward, np))
Relu._ufunc_quiet = False


class Neg(Op):
    @staticmethod
    def forward(ctx, a):
        if a.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return array_module(a).negative(a)

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Round(Op):
    """Round half to even; with ``decimals`` to that many decimal places."""

    @staticmethod
    def forward(ctx, a, decimals=0):
        if a.dtype.kind in "biu":
            if decimals:
                raise _not_implemented("round_cpu", a.dtype)
            return a.copy()
        return array_module(a).round(a, decimals)

    @staticmethod
    def backward(ctx, grad):
        return _zeros_like(grad)


class RoundDecimals(Round):
    node_name = "RoundBackward1"


class NanToNum(Op):
    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        if a.dtype.kind not in "fc":
            return a.copy()
        ctx.save_for_backward(a)
        return array_module(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return where(isfinite(a), grad, 0.0)


# ----------------------------------------------------------------------------- erf

# Chebyshev series (on [-1, 1]) fitted here to the exact function with mpmath:
# erf(x) / x for t = x*x in [0, 4], and erfc(x) * exp(x*x) for x in [2, 6]; both are
# accurate to a few float64 ulps. Beyond 6, erf rounds to +-1 in float64.
_ERF_SMALL = (
    0.7415552820424018, -0.30107107338659495, 0.06899483068983156, -0.013916271264722188,
    0.0024207995224334636, -0.0003658639685848086, 4.862098443231905e-05,
    -5.749256558035685e-06, 6.113243578434765e-07, -5.8991015312958435e-08,
    5.2070090920686485e-09, -4.23297587996554e-10, 3.188113506648489e-11,
    -2.2361550186737396e-12, 1.4673298127654468e-13, -9.043927412488925e-15,
    5.239765863595342e-16)
_ERFC_LARGE = (
    0.15454893254411423, -0.07674006034821483, 0.01849487416970198, -0.004337233595514166,
    0.0009916839077238056, -0.00022144890703087983, 4.836760032122529e-05,
    -1.034609832664543e-05, 2.1698719431920526e-06, -4.4664937548784355e-07,
    9.031674382673662e-08, -1.7955339488870227e-08, 3.5120800624763815e-09,
    -6.763532420163469e-10, 1.2831846446281522e-10, -2.399702370969988e-11,
    4.425938010048966e-12, -8.054583822885605e-13, 1.446990712176459e-13,
    -2.567169503989327e-14, 4.499558098264158e-15, -7.788416530112745e-16,
    1.2970557746759973e-16)


def _chebyshev(coefficients, z):
    """Clenshaw's recurrence for sum(c_k T_k(z))."""
    b1 = b2 = 0.0
    for c in coefficients[:0:-1]:
        b1, b2 = 2 * z * b1 - b2 + c, b1
    return z * b1 - b2 + coefficients[0]


def erf_array(a):
    """The error function of a float array (numpy: computed in float64, then rounded to the
    input's dtype; CuPy: cupyx.scipy.special.erf)."""
    xp = array_module(a)
    if xp is not np:
        from cupyx.scipy.special import erf as cupy_erf  # noqa: PLC0415 - GPU only

        return cupy_erf(a)
    x = a.astype(np.float64)
    ax = np.abs(x)
    small = np.minimum(ax, 2.0)
    near = x * _chebyshev(_ERF_SMALL, small * small * 0.5 - 1)
    far = np.clip(ax, 2.0, 6.0)
    far = np.copysign(1 - np.exp(-far * far) * _chebyshev(_ERFC_LARGE, far * 0.5 - 2), x)
    return np.where(ax <= 2.0, near, far).astype(a.dtype, copy=False)


# ----------------------------------------------------------------------------- two tensors

class Atan2(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(lambda xp, x, y: xp.arctan2(x, y), a, b, _float_result(a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / (a * a + b * b)
        return (scale * b if ctx.needs_input_grad[0] else None,
                scale * -a if ctx.needs_input_grad[1] else None)


class Maximum(BinaryOp):
    """The larger of two tensors, elementwise: ``compute(xp, x, y)``; an input gets the
    gradient where the other does not ``beat`` it, halved at ties (as PyTorch does).
    Minimum is the same with the smaller value and ``<``."""

    compute = staticmethod(lambda xp, x, y: xp.maximum(x, y))
    beats = staticmethod(operator.gt)

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        shared = where(a == b, grad / 2, grad)
        return (where(cls.beats(b, a), 0.0, shared) if ctx.needs_input_grad[0] else None,
                where(cls.beats(a, b), 0.0, shared) if ctx.needs_input_grad[1] else None)


class Minimum(Maximum):
    compute = staticmethod(lambda xp, x, y: xp.minimum(x, y))
    beats = staticmethod(operator.lt)


def _in_dtype(array, np_dtype):
    """A raw array in ``np_dtype`` (itself when it already is), cast silently as torch."""
    return array if array.dtype == np_dtype else cast(array, np_dtype)


def _clamp_array(a, low, high, np_dtype):
    xp = array_module(a)
    out = _in_dtype(a, np_dtype)
    try:
        if low is not None:
            out = xp.maximum(out, _in_dtype(low, np_dtype) if hasattr(low, "dtype") else low)
        if high is not None:
            out = xp.minimum(out, _in_dtype(high, np_dtype) if hasattr(high, "dtype") else high)
    except ValueError:
        broadcast_shapes(a.shape, _shape_of(low), _shape_of(high))
        raise
    if out is a:
        out = a.copy()
    return out.astype(np_dtype, copy=False)


class ClampScalar(Op):
    """clamp with python-number bounds."""

    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        return _clamp_array(a, min, max, _backend.result_type(a, min, max).np)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        low, high = ctx.bounds
        if low is None:
            inside = a <= high
        elif high is None:
            inside = a >= low
        else:
            inside = logical_and(a >= low, a <= high)
        return where(inside, grad, 0.0)


class ClampMin(ClampScalar):
    node_name = "ClampMinBackward0"


class ClampMax(ClampScalar):
    node_name = "ClampMaxBackward0"


class ClampTensor(Op):
    """clamp with tensor bounds (either may be None); each bound gets the gradient where it
    is the one selected."""

    node_name = "ClampBackward0"

    @staticmethod
    def forward(ctx, a, low, high):
        ctx.save_for_backward(a, low, high)
        operands = [x for x in (a, low, high) if x is not None]
        return _clamp_array(a, low, high, _backend.result_type(*operands).np)

    @staticmethod
    def backward(ctx, grad):
        a, low, high = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_a = grad_low = grad_high = None
        if low is not None and high is not None:
            if needs[0]:
                grad_a = where(logical_and(a >= low, a <= high), grad, 0.0)
            if needs[1]:
                grad_low = where(logical_and(a < low, low < high), grad, 0.0)
            if needs[2]:
                grad_high = where(logical_or(a > high, high < low), grad, 0.0)
        elif low is not None:
            grad_a = where(a >= low, grad, 0.0) if needs[0] else None
            grad_low = where(a < low, grad, 0.0) if needs[1] else None
        else:
            grad_a = where(a <= high, grad, 0.0) if needs[0] else None
            grad_high = where(a > high, grad, 0.0) if needs[2] else None
        return grad_a, grad_low, grad_high


def _lerp_array(start, end, weight):
    # PyTorch's formula: the endpoint nearer to the weight is the exact anchor
    xp = array_module(start)
    if start.dtype == _FLOAT16:
        return _lerp_half(xp, start, end, weight)
    diff = end - start
    try:
        if isinstance(weight, numbers.Number):
            if -0.5 < weight < 0.5:
                return start + weight * diff
            return end - diff * (1 - weight)
        return xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))
    except ValueError:
        broadcast_shapes(start.shape, end.shape, _shape_of(weight))
        raise


def _lerp_half(xp, start, end, weight):
    """float16 lerp as torch's CPU kernel: in float32 (the weight a float32), the anchor's
    product and sum fused (fma(weight, diff, start), or fma(weight - 1, diff, end) where
    |weight| >= 0.5), rounded once to float16."""
    start, end = start.astype(np.float32), end.astype(np.float32)
    weight = np.float32(weight) if isinstance(weight, numbers.Number) else weight.astype(
        np.float32)
    try:
        diff = end - start
        small = xp.abs(weight) < 0.5
        with np.errstate(all="ignore"):
            out = fma32(diff, xp.where(small, weight, weight - np.float32(1)),
                        xp.where(small, start, end))
    except ValueError:
        broadcast_shapes(start.shape, end.shape, _shape_of(weight))
        raise
    return cast(out, _FLOAT16)


class Lerp(Op):
    """start + weight * (end - start) with a python-number weight."""

    @staticmethod
    def forward(ctx, start, end, weight=0.5):
        ctx.weight = weight
        return _lerp_array(start, end, weight)

    @staticmethod
    def backward(ctx, grad):
        weight = ctx.weight
        return grad * (1 - weight), grad * weight


class LerpTensor(Op):
    node_name = "LerpBackward1"

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        return _lerp_array(start, end, weight)

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (grad * (1 - weight) if needs[0] else None,
                grad * weight if needs[1] else None,
                grad * (end - start) if needs[2] else None)


class Where(Op):
    """input where condition else other; the condition is not an input of the node (it is
    passed as a keyword), as in PyTorch's WhereBackward0."""

    @staticmethod
    def forward(ctx, a, b, condition=None):
        np_dtype = _backend.result_type(a, b).np
        xp = array_module(condition)
        a = a.astype(np_dtype, copy=False) if hasattr(a, "dtype") else xp.asarray(a, np_dtype)
        b = b.astype(np_dtype, copy=False) if hasattr(b, "dtype") else xp.asarray(b, np_dtype)
        try:
            out = xp.where(condition, a, b)
        except ValueError:
            broadcast_shapes(condition.shape, a.shape, b.shape)
            raise
        ctx.condition = condition
        return out

    @staticmethod
    def backward(ctx, grad):
        condition = Tensor._make(ctx.condition)
        return (where(condition, grad, 0.0) if ctx.needs_input_grad[0] else None,
                where(condition, 0.0, grad) if ctx.needs_input_grad[1] else None)


class Copy(Op):
    """The values of ``src`` broadcast and cast into the shape and dtype of ``dst``
    (copy_ when a graph is recorded); ``dst``'s old values get a zero gradient."""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, dst, src):
        out = array_module(dst).empty_like(dst)
        out[...] = _in_dtype(src, dst.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        return (_zeros_like(grad) if ctx.needs_input_grad[0] else None,
                grad if ctx.needs_input_grad[1] else None)


class Fill(Op):
    """The shape and dtype of the input filled with one value (a number or a 0-d tensor)."""

    node_name = "FillBackward2"

    @staticmethod
    def forward(ctx, a, value):
        out = array_module(a).empty_like(a)
        out[...] = _in_dtype(value, a.dtype) if hasattr(value, "dtype") else value
        return out

    @staticmethod
    def backward(ctx, grad):
        return (_zeros_like(grad) if ctx.needs_input_grad[0] else None,
                grad.sum() if ctx.needs_input_grad[1] else None)


class Zero(Fill):
    node_name = "ZeroBackward0"


# ----------------------------------------------------------------------------- predicates

class Predicate(Op):
    """A non-differentiable elementwise op giving bool (or integer, for bitwise) results."""

    @classmethod
    def forward(cls, ctx, *arrays):
        if len(arrays) == 1:
            return cls.compute(array_module(arrays[0]), arrays[0])
        return _binary(cls.compute, *arrays, cls.result)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("the derivative of a comparison or logical op is not defined")


def _predicate(name, compute, result=np.bool_):
    return type(name, (Predicate,), {"compute": staticmethod(compute), "result": result})


_COMPARISONS = {
    "eq": lambda xp, x, y: xp.equal(x, y), "ne": lambda xp, x, y: xp.not_equal(x, y),
    "lt": lambda xp, x, y: xp.less(x, y), "le": lambda xp, x, y: xp.less_equal(x, y),
    "gt": lambda xp, x, y: xp.greater(x, y), "ge": lambda xp, x, y: xp.greater_equal(x, y),
}
_COMPARISON_OPS = {name: _predicate(name.capitalize(), fn) for name, fn in _COMPARISONS.items()}


def _comparison(name):
    op = _COMPARISON_OPS[name]

    def function(input, other, *, out=None):
        _check_tensor_number(name, input, other)
        if type(other) is int and input._data.dtype.kind in "iu":
            other = wrapped_int(other, input._data.dtype)  # as torch: int8 < 300 is int8 < 44
        return _maybe_out(op.apply(input, other), out)

    function.__name__ = name
    function.__doc__ = f"Elementwise ``input {name} other`` as a bool tensor (broadcast)."
    return function


eq = tensor_method("eq")(_comparison("eq"))
ne = tensor_method("ne", "not_equal")(_comparison("ne"))
lt = tensor_method("lt", "less")(_comparison("lt"))
le = tensor_method("le", "less_equal")(_comparison("le"))
gt = tensor_method("gt", "greater")(_comparison("gt"))
ge = tensor_method("ge", "greater_equal")(_comparison("ge"))
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

LogicalAnd = _predicate("LogicalAnd", lambda xp, x, y: xp.logical_and(x, y))
LogicalOr = _predicate("LogicalOr", lambda xp, x, y: xp.logical_or(x, y))
LogicalXor = _predicate("LogicalXor", lambda xp, x, y: xp.logical_xor(x, y))
LogicalNot = _predicate("LogicalNot", lambda xp, x: xp.logical_not(x))
IsNan = _predicate("IsNan", lambda xp, x: xp.isnan(x))
IsInf = _predicate("IsInf", lambda xp, x: xp.isinf(x))
IsFinite = _predicate("IsFinite", lambda xp, x: xp.isfinite(x))


def _logical(name, op):
    def function(input, other, *, out=None):
        _check_tensors(name, input, other)
        return _maybe_out(op.apply(input._data.astype(bool, copy=False),
                                   other._data.astype(bool, copy=False)), out)

    function.__name__ = name
    function.__doc__ = f"Elementwise {name} of the truth values (nonzero) of two tensors."
    return function


def _raw(array):
    return Tensor._make(array)


logical_and = tensor_method("logical_and")(_logical("logical_and", LogicalAnd))
logical_or = tensor_method("logical_or")(_logical("logical_or", LogicalOr))
logical_xor = tensor_method("logical_xor")(_logical("logical_xor", LogicalXor))


@tensor_method()
def logical_not(input: Tensor, *, out=None) -> Tensor:
    """Elementwise not of the truth values (nonzero) of ``input``, as bool."""
    return _maybe_out(LogicalNot.apply(input), out)


@tensor_method()
def isnan(input: Tensor) -> Tensor:
    """A bool tensor, True where ``input`` is NaN."""
    return IsNan.apply(input)


@tensor_method()
def isinf(input: Tensor) -> Tensor:
    """A bool tensor, True where ``input`` is +-inf."""
    return IsInf.apply(input)


@tensor_method()
def isfinite(input: Tensor) -> Tensor:
    """A bool tensor, True where ``input`` is neither NaN nor +-inf."""
    return IsFinite.apply(input)


_BITWISE = {
    "bitwise_and": lambda xp, x, y: xp.bitwise_and(x, y),
    "bitwise_or": lambda xp, x, y: xp.bitwise_or(x, y),
    "bitwise_xor": lambda xp, x, y: xp.bitwise_xor(x, y),
    "bitwise_left_shift": lambda xp, x, y: xp.left_shift(x, y),
    "bitwise_right_shift": lambda xp, x, y: xp.right_shift(x, y),
}


class Bitwise(Op):
    @staticmethod
    def forward(ctx, a, b, name="bitwise_and"):
        return _binary(_BITWISE[name], a, b)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("the derivative of a bitwise op is not defined")


def _bitwise(name):
    def function(input, other, *, out=None):
        _check_operands(name, input, other)
        result = _backend.result_type(input, other)
        if result.is_floating_point or result.is_complex:
            raise _not_implemented(f"{name}_cpu", result.np)
        return _maybe_out(Bitwise.apply(input, other, name=name), out)

    function.__name__ = name
    function.__doc__ = f"Elementwise {name} of integer or bool tensors (broadcast)."
    return function


bitwise_and = tensor_method("bitwise_and")(_bitwise("bitwise_and"))
bitwise_or = tensor_method("bitwise_or")(_bitwise("bitwise_or"))
bitwise_xor = tensor_method("bitwise_xor")(_bitwise("bitwise_xor"))
bitwise_left_shift = tensor_method("bitwise_left_shift")(_bitwise("bitwise_left_shift"))
bitwise_right_shift = tensor_method("bitwise_right_shift")(_bitwise("bitwise_right_shift"))
BitwiseNot = _predicate("BitwiseNot", lambda xp, x: xp.logical_not(x) if x.dtype == np.bool_
                        else xp.invert(x))


@tensor_method()
def bitwise_not(input: Tensor, *, out=None) -> Tensor:
    """Elementwise bit inversion of an integer tensor (logical not for bool)."""
    if input._data.dtype.kind not in "biu":
        raise _not_implemented("bitwise_not_cpu", input._data.dtype)
    return _maybe_out(BitwiseNot.apply(input), out)


@_quiet
def _within_tolerance(xp, a, b, rtol, atol):
    return xp.isfinite(b) & (xp.abs(a - b) <= atol + rtol * xp.abs(b))


@tensor_method()
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """A bool tensor: ``|input - other| <= atol + rtol * |other|`` elementwise (infinities
    equal to themselves; NaNs equal when ``equal_nan``)."""
    _check_tensors("isclose", input, other)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{_backend.scalar_name(input._data.dtype)} did not match "
                           f"{_backend.scalar_name(other._data.dtype)}")
    a, b = input._data, other._data
    xp = array_module(a)
    try:
        close = a == b
    except ValueError:
        _broadcast_error(a, b)
    if a.dtype.kind in "fc":
        close = close | _within_tolerance(xp, a.astype(np.float64, copy=False),
                                          b.astype(np.float64, copy=False), rtol, atol)
        if equal_nan:
            close = close | (xp.isnan(a) & xp.isnan(b))
    elif atol or rtol:
        diff = xp.abs(a.astype(np.float64) - b.astype(np.float64))
        close = close | (diff <= atol + rtol * xp.abs(b.astype(np.float64)))
    return _raw(close)


@tensor_method()
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every element of ``input`` is close to ``other`` (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@tensor_method()
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values."""
    _check_tensors("equal", input, other)
    if input._data.shape != other._data.shape:
        return False
    return bool(eq(input, other)._data.all())


# ----------------------------------------------------------------------------- public

@tensor_method()
def add(input, other, *args, alpha=1, out=None):
    """input + alpha * other, broadcast, with PyTorch's type promotion (and torch's deprecated
    ``add(input, alpha, other)``, with its warning)."""
    if args:
        (other,), alpha = scale_first("add", (other, *args), alpha, method=False)
    _check_operands("add", input, other)
    if type(alpha) is not int or alpha != 1:
        alpha = _check_alpha(input, other, alpha)
    if out is None:
        return Add.apply(input, other, alpha=alpha)
    return _maybe_out(Add.apply(input, other, alpha=alpha), out)


def _check_alpha(input, other, alpha):
    """``alpha`` as a number of the result's dtype, or PyTorch's error (its alpha_check, then
    the Scalar's overflow check)."""
    if type(alpha) is int and alpha == 1:
        return alpha
    result = _backend.result_type(input, other)
    if isinstance(alpha, bool) and result is not _backend.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if not (result.is_floating_point or result.is_complex) and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if not result.is_complex and isinstance(alpha, complex):
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a complex "
                           "number.")
    return check_scalar(alpha, result)


@tensor_method("sub")
def sub(input, other, *args, alpha=1, out=None):
    """input - alpha * other, broadcast, with PyTorch's type promotion (and torch's deprecated
    ``sub(input, alpha, other)``, with its warning)."""
    if args:
        (other,), alpha = scale_first("sub", (other, *args), alpha, method=False)
    _check_operands("sub", input, other)
    if type(alpha) is not int or alpha != 1:
        alpha = _check_alpha(input, other, alpha)
    if out is None:
        return Sub.apply(input, other, alpha=alpha)
    return _maybe_out(Sub.apply(input, other, alpha=alpha), out)


@tensor_method()
def subtract(input, other, *, alpha=1, out=None):
    """sub without torch's deprecated scale-first form (torch's subtract never had it)."""
    return sub(input, other, alpha=alpha, out=out)


# ----------------------------------------------------------------------------- scale first

# op: (its scale argument, its tensor operands), as torch's signatures name them
_SCALED = {"add": ("alpha", ("other",)), "sub": ("alpha", ("other",)),
           "addcmul": ("value", ("tensor1", "tensor2")),
           "addcdiv": ("value", ("tensor1", "tensor2"))}


def scale_first(name, args, scale, method):
    """torch's deprecated overloads that put the scale before the tensors (``x.add_(-0.5,
    y)``, ``dark.add(x, 2, y)``, ``x.addcmul_(2, t1, t2)``): (tensors, scale) read from
    ``args`` (the positional arguments after input) with torch's deprecation warning; torch's
    TypeError for any other extra positional argument."""
    scale_name, names = _SCALED[name.rstrip("_")]
    if (len(args) != len(names) + 1 or scale != 1 or isinstance(args[0], Tensor)
            or not isinstance(args[0], numbers.Number)
            or not all(isinstance(a, Tensor) for a in args[1:])):
        given, takes = len(args) + (not method), len(names) + (not method)
        raise TypeError(f"{name}() takes {takes} positional argument{'s' * (takes > 1)} but "
                        f"{given} were given")
    tensors = ", ".join(f"Tensor {n}" for n in names)
    if method:
        old = f"{name}(Number {scale_name}, {tensors})"
        new = f"{name}({tensors}, *, Number {scale_name} = 1)"
    else:
        old = f"{name}(Tensor input, Number {scale_name}, {tensors}, *, Tensor out = None)"
        new = (f"{name}(Tensor input, {tensors}, *, Number {scale_name} = 1, "
               f"Tensor out = None)")
    warnings.warn(f"This overload of {name} is deprecated:\n\t{old}\nConsider using one of "
                  f"the following signatures instead:\n\t{new}", UserWarning, stacklevel=3)
    return args[1:], args[0]


def scale_first_method(function, name):
    """The method ``name`` calling ``function(self, ...)`` that also takes torch's deprecated
    scale-first form (with the method's warning text)."""
    scale_name, names = _SCALED[name.rstrip("_")]

    def method(self, *args, **kwargs):
        if len(args) > len(names):
            args, kwargs[scale_name] = scale_first(name, args, kwargs.pop(scale_name, 1),
                                                   method=True)
        return function(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = function.__doc__
    return method


def _addc(name, input, tensor1, tensor2, value, method):
    """The checks of addcmul / addcdiv; the tensors in the result's dtype and ``value`` as a
    number of it."""
    for argument, position, operand in (("input", 1, input), ("tensor1", 2, tensor1),
                                        ("tensor2", 3, tensor2)):
        if not isinstance(operand, Tensor):
            raise _type_error(name, argument, position - method, operand)
    result = _backend.result_type(input, tensor1, tensor2)
    if result is _backend.bool_:
        raise NotImplementedError(f'"{name}_cpu_out" not implemented for \'Bool\'')
    if name == "addcdiv" and not (tensor1.is_floating_point() or tensor1.is_complex()) and not (
            tensor2.is_floating_point() or tensor2.is_complex()):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * dark.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    if not isinstance(value, numbers.Number):
        raise TypeError(f"{name}(): argument 'value' must be Number, not "
                        f"{type(value).__name__}")
    if not (result.is_floating_point or result.is_complex) and isinstance(value, float):
        value = int(value)  # torch converts the scale to the integer result type
    else:
        value = check_scalar(value, result)
    # the product (quotient) in the result's dtype, as torch's one kernel computes it
    tensor1, tensor2 = (t if t.dtype is result else to(t, result) for t in (tensor1, tensor2))
    return tensor1, tensor2, value


class Addcmul(Op):
    """float16 / bfloat16 ``input + value * tensor1 * tensor2`` as torch's CPU kernel: in
    float32, the scale a float32, the product and sum fused (one rounding, as the compiler's
    fma), rounded once to the dtype; the backward is torch's formula (derivatives.yaml)."""

    @staticmethod
    def forward(ctx, a, t1, t2, value=1):
        ctx.value = value
        ctx.save_for_backward(t1, t2)
        a32, t1, t2 = (_as_float32(x) for x in (a, t1, t2))
        product = t1 if value == 1 else t1 * np.float32(value)
        return cast(fma32(product, t2, a32), a.dtype)

    @staticmethod
    def backward(ctx, grad):
        t1, t2 = ctx.saved_tensors
        value = ctx.value
        grad_t1 = grad_t2 = None
        if ctx.needs_input_grad[1]:
            grad_t1 = grad * (t2 * value)
        if ctx.needs_input_grad[2]:
            grad_t2 = grad * (t1 * value)
        return grad if ctx.needs_input_grad[0] else None, grad_t1, grad_t2


class Addcdiv(Op):
    """float16 / bfloat16 ``input + value * tensor1 / tensor2`` as torch's CPU kernel: in
    float32 (each step rounded to float32), rounded once to the dtype; the backward is torch's
    formula (derivatives.yaml)."""

    @staticmethod
    def forward(ctx, a, t1, t2, value=1):
        ctx.value = value
        ctx.save_for_backward(t1, t2)
        a32, t1, t2 = (_as_float32(x) for x in (a, t1, t2))
        scaled = t1 if value == 1 else t1 * np.float32(value)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return cast(a32 + scaled / t2, a.dtype)

    @staticmethod
    def backward(ctx, grad):
        t1, t2 = ctx.saved_tensors
        value = ctx.value
        grad_t1 = grad_t2 = None
        if ctx.needs_input_grad[1]:
            grad_t1 = grad * (value / t2)
        if ctx.needs_input_grad[2]:
            grad_t2 = -grad * (value * t1 / (t2 * t2))
        return grad if ctx.needs_input_grad[0] else None, grad_t1, grad_t2


def _as_float32(array):
    """A float16 array as float32 (exact); a float32 one (bfloat16 in the op dispatch) as is."""
    return array if array.dtype == np.float32 else array.astype(np.float32)


def _reduced_float(result) -> bool:
    """Whether torch's addcmul/addcdiv computes ``result`` in float32 (float16, bfloat16)."""
    return result is _backend.float16 or result is _backend.bfloat16


def addcmul(input, tensor1, tensor2, *args, value=1, out=None):
    """input + value * tensor1 * tensor2, broadcast, with PyTorch's type promotion (and
    torch's deprecated ``addcmul(input, value, tensor1, tensor2)``, with its warning)."""
    if args:
        (tensor1, tensor2), value = scale_first("addcmul", (tensor1, tensor2, *args), value,
                                                method=False)
    tensor1, tensor2, value = _addc("addcmul", input, tensor1, tensor2, value, method=False)
    if _reduced_float(tensor1.dtype):
        input = input if input.dtype is tensor1.dtype else to(input, tensor1.dtype)
        return _maybe_out(Addcmul.apply(input, tensor1, tensor2, value=value), out)
    product = tensor1 if value == 1 else mul(tensor1, value)
    return _maybe_out(add(input, mul(product, tensor2)), out)


def addcdiv(input, tensor1, tensor2, *args, value=1, out=None):
    """input + value * tensor1 / tensor2, broadcast, with PyTorch's type promotion (and
    torch's deprecated ``addcdiv(input, value, tensor1, tensor2)``, with its warning)."""
    if args:
        (tensor1, tensor2), value = scale_first("addcdiv", (tensor1, tensor2, *args), value,
                                                method=False)
    tensor1, tensor2, value = _addc("addcdiv", input, tensor1, tensor2, value, method=False)
    if _reduced_float(tensor1.dtype):
        input = input if input.dtype is tensor1.dtype else to(input, tensor1.dtype)
        return _maybe_out(Addcdiv.apply(input, tensor1, tensor2, value=value), out)
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return _maybe_out(add(input, div(scaled, tensor2)), out)


def _addc_method(function):
    def method(self, tensor1, tensor2, *, value=1):
        for argument, position, operand in (("tensor1", 1, tensor1), ("tensor2", 2, tensor2)):
            if not isinstance(operand, Tensor):
                raise _type_error(function.__name__, argument, position, operand)
        return function(self, tensor1, tensor2, value=value)

    return scale_first_method(method, function.__name__)


install_methods({"add": scale_first_method(add, "add"), "sub": scale_first_method(sub, "sub"),
                 "addcmul": _addc_method(addcmul), "addcdiv": _addc_method(addcdiv)})


@tensor_method()
def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    _check_operands("rsub", input, other)
    alpha = _check_alpha(input, other, alpha)
    if isinstance(other, Tensor) and isinstance(input, Tensor):
        return Rsub.apply(input, other, alpha=alpha)
    if not isinstance(input, Tensor):
        return Sub.apply(other, input, alpha=alpha)
    return RsubScalar.apply(input, other=other, alpha=alpha)


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None):
    """input * other, broadcast, with PyTorch's type promotion."""
    _check_operands("mul", input, other)
    if out is None:
        return Mul.apply(input, other)
    return _maybe_out(Mul.apply(input, other), out)


multiply = mul


@tensor_method("div", "divide")
def div(input, other, *, rounding_mode=None, out=None):
    """input / other (always a float result), or rounded with ``rounding_mode`` 'trunc'
    (toward zero) or 'floor' (keeping integer dtypes)."""
    _check_operands("div", input, other)
    if rounding_mode is None:
        if out is None:
            return Div.apply(input, other)
        return _maybe_out(Div.apply(input, other), out)
    return _maybe_out(DivMode.apply(input, other, rounding_mode=rounding_mode), out)


divide = div


@tensor_method()
def true_divide(input, other, *, out=None):
    """input / other as a float result (div with no rounding)."""
    return div(input, other, out=out)


def _tensor_or_number(op, number_op, input, other, out):
    """``op`` of two tensors (a python number as ``input`` included), or ``number_op`` of a
    tensor and a python number ``other`` (the number is not an input of the node)."""
    if isinstance(input, Tensor) and not isinstance(other, Tensor):
        return _maybe_out(number_op.apply(input, other=other), out)
    return _maybe_out(op.apply(input, other), out)


@tensor_method()
def floor_divide(input, other, *, out=None):
    """input // other rounded down (not differentiable, as in PyTorch)."""
    _check_operands("floor_divide", input, other)
    return _tensor_or_number(FloorDivide, FloorDivideScalar, input, other, out)


@tensor_method()
def remainder(input, other, *, out=None):
    """Python's modulus: the result has the sign of ``other``."""
    _check_operands("remainder", input, other)
    return _tensor_or_number(Remainder, RemainderScalar, input, other, out)


@tensor_method()
def fmod(input, other, *, out=None):
    """C's fmod: the result has the sign of ``input``."""
    _check_tensor_number("fmod", input, other)
    return _tensor_or_number(Fmod, FmodScalar, input, other, out)


@tensor_method()
def pow(input, exponent, *, out=None):
    """input ** exponent, either of which may be a python number."""
    if not isinstance(input, Tensor):
        if not isinstance(input, numbers.Number):
            raise _type_error("pow", "self", 1, input, "Number")
        if not isinstance(exponent, Tensor):
            raise _type_error("pow", "exponent", 2, exponent)
        return _maybe_out(PowScalar.apply(exponent, base=input), out)
    if isinstance(exponent, Tensor):
        return _maybe_out(PowTensor.apply(input, exponent), out)
    if type(exponent) not in _REAL_NUMBERS and not isinstance(exponent, numbers.Number):
        raise _type_error("pow", "exponent", 2, exponent, "Tensor or Number")
    _check_negative_int_power(input, exponent)
    np_dtype = input._data.dtype
    if not (np_dtype.kind == "f" and np_dtype.itemsize >= 4 and type(exponent) in _REAL_NUMBERS):
        result = _backend.result_type(input, exponent)  # (float32/64 and a real number: itself)
        if result.np.kind in "iu" or result is _backend.float16 or result is _backend.bfloat16:
            # torch's kernel takes the exponent in the dtype (float32/64: as a double), an
            # error beyond its range (3.4e38 for bfloat16)
            exponent = check_scalar(exponent, result)
    if out is None:
        return Pow.apply(input, exponent=exponent)
    return _maybe_out(Pow.apply(input, exponent=exponent), out)


@tensor_method()
def square(input: Tensor, *, out=None) -> Tensor:
    """input ** 2 (ints and bools give int64)."""
    return pow(input, 2, out=out)


@tensor_method("neg", "negative")
def neg(input, *, out=None):
    """-input (not for bool tensors)."""
    return _maybe_out(Neg.apply(input), out)


negative = neg


@tensor_method()
def positive(input: Tensor) -> Tensor:
    """input itself."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def _unary_public(op, name, doc):
    def function(input: Tensor, *, out=None) -> Tensor:
        if not isinstance(input, Tensor):
            raise _type_error(name, "input", 1, input)
        if out is None:
            return op.apply(input)
        return _maybe_out(op.apply(input), out)

    function.__name__ = name
    function.__doc__ = doc
    return function


sqrt = tensor_method("sqrt")(_unary_public(Sqrt, "sqrt", "Square root."))
rsqrt = tensor_method("rsqrt")(_unary_public(Rsqrt, "rsqrt", "1 / sqrt(input)."))
reciprocal = tensor_method("reciprocal")(
    _unary_public(Reciprocal, "reciprocal", "1 / input (a float result)."))
exp = tensor_method("exp")(_unary_public(Exp, "exp", "e ** input."))
exp2 = tensor_method("exp2")(_unary_public(Exp2, "exp2", "2 ** input."))
expm1 = tensor_method("expm1")(_unary_public(Expm1, "expm1", "exp(input) - 1, accurate near 0."))
log = tensor_method("log")(_unary_public(Log, "log", "Natural logarithm."))
log1p = tensor_method("log1p")(_unary_public(Log1P, "log1p", "log(1 + input), accurate near 0."))
log2 = tensor_method("log2")(_unary_public(Log2, "log2", "Base-2 logarithm."))
log10 = tensor_method("log10")(_unary_public(Log10, "log10", "Base-10 logarithm."))
sin = tensor_method("sin")(_unary_public(Sin, "sin", "Sine."))
cos = tensor_method("cos")(_unary_public(Cos, "cos", "Cosine."))
tan = tensor_method("tan")(_unary_public(Tan, "tan", "Tangent."))
asin = tensor_method("asin", "arcsin")(_unary_public(Asin, "asin", "Arcsine."))
acos = tensor_method("acos", "arccos")(_unary_public(Acos, "acos", "Arccosine."))
atan = tensor_method("atan", "arctan")(_unary_public(Atan, "atan", "Arctangent."))
sinh = tensor_method("sinh")(_unary_public(Sinh, "sinh", "Hyperbolic sine."))
cosh = tensor_method("cosh")(_unary_public(Cosh, "cosh", "Hyperbolic cosine."))
tanh = tensor_method("tanh")(_unary_public(Tanh, "tanh", "Hyperbolic tangent."))
asinh = tensor_method("asinh", "arcsinh")(_unary_public(Asinh, "asinh", "Inverse hyperbolic sine."))
acosh = tensor_method("acosh", "arccosh")(
    _unary_public(Acosh, "acosh", "Inverse hyperbolic cosine."))
atanh = tensor_method("atanh", "arctanh")(
    _unary_public(Atanh, "atanh", "Inverse hyperbolic tangent."))
sigmoid = tensor_method("sigmoid")(_unary_public(Sigmoid, "sigmoid", "1 / (1 + exp(-input))."))
erf = tensor_method("erf")(_unary_public(Erf, "erf", "The error function."))
floor = tensor_method("floor")(_unary_public(Floor, "floor", "Round down (integers unchanged)."))
ceil = tensor_method("ceil")(_unary_public(Ceil, "ceil", "Round up (integers unchanged)."))
trunc = tensor_method("trunc", "fix")(
    _unary_public(Trunc, "trunc", "Round toward zero (integers unchanged)."))
sign = tensor_method("sign")(_unary_public(Sign, "sign", "-1, 0 or 1 by the sign of each element."))
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, fix = (asin, acos, atan, asinh, acosh,
                                                            atanh, trunc)


@tensor_method("abs", "absolute")
def abs(input: Tensor, *, out=None) -> Tensor:
    """|input| (integers stay integers; not for bool)."""
    if input._data.dtype == np.bool_:
        raise _not_implemented("abs_cpu", np.bool_)
    return _maybe_out(Abs.apply(input), out)


absolute = abs


@tensor_method()
def frac(input: Tensor, *, out=None) -> Tensor:
    """input - trunc(input) (float tensors only)."""
    if input._data.dtype.kind not in "fc":
        raise _not_implemented("frac_cpu", input._data.dtype)
    return _maybe_out(Frac.apply(input), out)


@tensor_method()
def relu(input: Tensor) -> Tensor:
    """max(input, 0) elementwise."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    return Relu.apply(input)


@tensor_method()
def round(input: Tensor, *, decimals: int = 0, out=None) -> Tensor:
    """Round half to even, to ``decimals`` decimal places (negative: tens, hundreds ...)."""
    if decimals:
        return _maybe_out(RoundDecimals.apply(input, decimals=int(decimals)), out)
    return _maybe_out(Round.apply(input), out)


@tensor_method()
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None, *, out=None) -> Tensor:
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest value), -inf ->
    ``neginf`` (default: the lowest)."""
    kind = input._data.dtype.kind
    if kind in "fcV":  # the numbers are not checked: 1e6 is inf in float16
        nan, posinf, neginf = (None if v is None else check_scalar(v, input.dtype, "tensor")
                               for v in (nan, posinf, neginf))
        if kind == "V":  # bfloat16 (kind V), computed in float32: its own largest value
            posinf = _BFLOAT16_MAX if posinf is None else posinf
            neginf = -_BFLOAT16_MAX if neginf is None else neginf
    return _maybe_out(NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf), out)


@tensor_method("atan2", "arctan2")
def atan2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """The angle of the point (other, input): arctan(input / other) in the right quadrant."""
    _check_tensors("atan2", input, other)
    return _maybe_out(Atan2.apply(input, other), out)


arctan2 = atan2


@tensor_method()
def maximum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise maximum (NaN propagates); ties split the gradient in halves."""
    _check_tensors("maximum", input, other)
    return _maybe_out(Maximum.apply(input, other), out)


@tensor_method()
def minimum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise minimum (NaN propagates); ties split the gradient in halves."""
    _check_tensors("minimum", input, other)
    return _maybe_out(Minimum.apply(input, other), out)


@tensor_method("clamp", "clip")
def clamp(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    """Elementwise ``min(max(input, min), max)``; ``min``/``max`` are numbers or tensors
    (broadcast), either may be None. The gradient passes where min <= input <= max."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    tensors = isinstance(min, Tensor) or isinstance(max, Tensor)
    if tensors:
        for bound in (min, max):
            if bound is not None and not isinstance(bound, Tensor):
                raise TypeError("clamp(): min and max must both be Tensors or both be "
                                f"numbers, got {type(min).__name__} and {type(max).__name__}")
        return _maybe_out(ClampTensor.apply(input, min, max), out)
    for bound in (min, max):
        if bound is not None and not isinstance(bound, numbers.Number):
            raise TypeError(f"clamp(): argument 'min' must be Number or Tensor, not "
                            f"{type(bound).__name__}")
    min, max = _bounds(input, min, max)
    return _maybe_out(ClampScalar.apply(input, min=min, max=max), out)


def _bounds(input, *bounds):
    """clamp's number bounds as numbers of the result's dtype, or PyTorch's overflow error."""
    result = _backend.result_type(input, *bounds)
    return [None if b is None else check_scalar(b, result) for b in bounds]


clip = clamp


def _clamp_one_side(op, input, min=None, max=None) -> Tensor:
    """clamp_min (``op`` ClampMin) or clamp_max (ClampMax): a tensor bound through
    ClampTensor, a number bound as a number of the result's dtype."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return ClampTensor.apply(input, min, max)
    min, max = _bounds(input, min, max)
    return op.apply(input, min=min, max=max)


@tensor_method()
def clamp_min(input: Tensor, min) -> Tensor:
    """max(input, min) elementwise."""
    return _clamp_one_side(ClampMin, input, min=min)


@tensor_method()
def clamp_max(input: Tensor, max) -> Tensor:
    """min(input, max) elementwise."""
    return _clamp_one_side(ClampMax, input, max=max)


@tensor_method()
def lerp(input: Tensor, end: Tensor, weight, *, out=None) -> Tensor:
    """input + weight * (end - input); ``weight`` is a number or a tensor (broadcast)."""
    _check_tensors("lerp", input, end)
    for name, value in (("end", end), ("weight", weight)):
        if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
            raise RuntimeError(f"expected dtype {_dtype_word(input)} for `{name}` but got "
                               f"dtype {_dtype_word(value)}")
    if isinstance(weight, Tensor):
        return _maybe_out(LerpTensor.apply(input, end, weight), out)
    return _maybe_out(Lerp.apply(input, end, weight=weight), out)


def _dtype_word(tensor: Tensor) -> str:
    name = tensor._data.dtype.name
    return {"float32": "float", "float64": "double", "float16": "c10::Half"}.get(name, name)


def where(condition: Tensor, input=None, other=None):
    """Elements of ``input`` where ``condition`` else of ``other`` (broadcast; either may be
    a number); with one argument, the indices of the true elements (nonzero(as_tuple=True))."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise _type_error("where", "condition", 1, condition)
    if condition._data.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                           f"tensor with dtype {_backend.scalar_name(condition._data.dtype)}")
    for value in (input, other):
        if isinstance(value, Tensor) and value.device != condition.device:
            raise RuntimeError("Expected all tensors to be on the same device, but found at "
                               f"least two devices, {condition.device} and {value.device}!")
        if not isinstance(value, (Tensor, numbers.Number)):
            raise _type_error("where", "input", 2, value, "Tensor or Number")
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        result = _backend.result_type(input, other)
        input, other = (v if isinstance(v, Tensor) else check_scalar(v, result, "scalar_tensor")
                        for v in (input, other))
    return Where.apply(input, other, condition=condition._data)


def _where_method(self, condition, other):
    """``x.where(condition, y)`` is ``where(condition, x, y)``."""
    return where(condition, self, other)


install_methods({"where": _where_method})


# ----------------------------------------------------------------------------- out=

def _maybe_out(result: Tensor, out):
    """Honour ``out=``: write the result into ``out`` (resized like PyTorch when empty)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a Tensor, not {type(out).__name__}")
    if out._requires_grad and _grad_state.enabled:
        raise RuntimeError("the out= argument of a function that records a graph does not "
                           "support automatic differentiation for outputs that require grad")
    if out._data.shape != result._data.shape:
        if out._data.size != 0:
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        out._data = array_module(out._data).empty(result._data.shape, dtype=out._data.dtype)
    if result._data.dtype != out._data.dtype:
        if not can_cast(result.dtype, out.dtype):
            raise cast_error(result.dtype, out.dtype)
        result = Tensor._make(result._data.astype(out._data.dtype))
    out._write(result._data, result.dtype)
    return out


# ----------------------------------------------------------------------------- conversion

class ToCopy(Op):
    """A copy in another dtype and/or on another device; the gradient goes back the same
    way."""

    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, np_dtype=None, device=None, copy=False):
        ctx.source = (a.dtype, _backend.device_of(a))
        out = a
        if device is not None and _backend.device_of(a) != device:
            out = _backend.asarray_on(out, device)
        if np_dtype is not None and out.dtype != np_dtype:
            out = cast(out, np_dtype)  # inf or wrapped around, silently as torch
        if copy and out is a:
            out = a.copy()
        return out

    @staticmethod
    def backward(ctx, grad):
        np_dtype, device = ctx.source
        return ToCopy.apply(grad, np_dtype=np_dtype, device=device)


def to_dtype(input: Tensor, dtype) -> Tensor:
    """``input`` in ``dtype`` (the same tensor when it already is)."""
    dtype = _backend.to_dtype(dtype)
    if input._data.dtype == dtype.np:
        return input
    return ToCopy.apply(input, np_dtype=dtype.np)


@tensor_method()
def to(input: Tensor, *args, dtype=None, device=None, non_blocking=False, copy=False,
       memory_format=None):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; returns ``input``
    itself when nothing changes (unless ``copy=True``)."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, _backend.dtype) or arg in (float, int, bool):
            dtype = arg
        elif isinstance(arg, (str, _backend.device, int)):
            device = arg
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {arg!r}")
    np_dtype = _backend.to_dtype(dtype).np if dtype is not None else None
    target = _backend.to_device(device) if device is not None else None
    if target is not None and target.type == "cuda":
        _backend.cupy_module()
        if target.index is None:
            target = _backend.device("cuda", _backend.cuda_index(target))
    same_dtype = np_dtype is None or input._data.dtype == np_dtype
    same_device = target is None or input.device == target
    if same_dtype and same_device and not copy:
        return input
    return ToCopy.apply(input, np_dtype=np_dtype, device=target, copy=copy)


def _dtype_method(name, dtype):
    def method(self, memory_format=None):
        return to(self, dtype)

    method.__name__ = name
    return method


for _name, _dtype in (("float", _backend.float32), ("double", _backend.float64),
                      ("half", _backend.float16), ("long", _backend.int64),
                      ("int", _backend.int32), ("short", _backend.int16),
                      ("char", _backend.int8), ("byte", _backend.uint8),
                      ("bool", _backend.bool_)):
    tensor_method(_name)(_dtype_method(_name, _dtype))


__all__ = [
    "abs", "absolute", "acos", "acosh", "add", "allclose", "arccos", "arccosh", "arcsin",
    "addcdiv", "addcmul",
    "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh",
    "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
    "bitwise_xor", "ceil", "clamp", "clamp_max", "clamp_min", "clip", "cos", "cosh", "div",
    "divide", "eq", "equal", "erf", "exp", "exp2", "expm1", "fix", "floor", "floor_divide",
    "fmod", "frac", "ge", "greater", "greater_equal", "gt", "isclose", "isfinite", "isinf",
    "isnan", "le", "lerp", "less", "less_equal", "log", "log10", "log1p", "log2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "lt", "maximum", "minimum",
    "mul", "multiply", "nan_to_num", "ne", "neg", "negative", "not_equal", "positive", "pow",
    "reciprocal", "relu", "remainder", "round", "rsqrt", "rsub", "sigmoid", "sign", "sin",
    "sinh", "sqrt", "square", "sub", "subtract", "tan", "tanh", "true_divide", "trunc",
    "where",
]
