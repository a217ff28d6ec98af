"""Elementwise ops: arithmetic with broadcasting and PyTorch's type promotion, unary math,
dtype/device conversion. One Op class per op: forward on raw arrays, backward on Tensors."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..autograd.function import Op
from ._registry import tensor_method
from ._util import broadcast_shapes, promote, xp_of


def _shape_of(value):
    return getattr(value, "shape", ())


def _broadcast_error(a, b):
    broadcast_shapes(_shape_of(a), _shape_of(b))
    raise  # noqa: PLE0704 - re-raise numpy's error if the shapes did broadcast


def _check_operands(name, input, other):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    for value in (input, other):
        if not isinstance(value, (Tensor, numbers.Number)):
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not "
                            f"{type(value).__name__}")


# ----------------------------------------------------------------------------- arithmetic

class Add(Op):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        a, b, np_dtype = promote(a, b)
        xp = xp_of(a if hasattr(a, "dtype") else b)
        try:
            if alpha != 1:
                b = xp.multiply(b, alpha, dtype=np_dtype)
            out = xp.add(a, b)
        except ValueError:
            _broadcast_error(a, b)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad * ctx.alpha if ctx.alpha != 1 else grad)


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        a, b, np_dtype = promote(a, b)
        if getattr(a, "dtype", None) == np.bool_ and getattr(b, "dtype", None) == np.bool_:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        xp = xp_of(a if hasattr(a, "dtype") else b)
        try:
            if alpha != 1:
                b = xp.multiply(b, alpha, dtype=np_dtype)
            out = xp.subtract(a, b)
        except ValueError:
            _broadcast_error(a, b)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad * ctx.alpha if ctx.alpha != 1 else -grad


class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        a, b, _ = promote(a, b)
        xp = xp_of(a if hasattr(a, "dtype") else b)
        try:
            return xp.multiply(a, b)
        except ValueError:
            _broadcast_error(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None)


class Div(Op):
    @staticmethod
    def forward(ctx, a, b, rounding_mode=None):
        ctx.save_for_backward(a, b)
        ctx.rounding_mode = rounding_mode
        a, b, np_dtype = promote(a, b)
        xp = xp_of(a if hasattr(a, "dtype") else b)
        float_result = np.dtype(np_dtype).kind in "fc"
        try:
            if rounding_mode is None:
                if not float_result:
                    return xp.true_divide(a, b, dtype=_backend.get_default_dtype().np)
                return xp.true_divide(a, b)
            if rounding_mode == "trunc":
                if float_result:
                    return xp.trunc(xp.true_divide(a, b))
                _check_int_zero_division(xp, b)
                return _int_trunc_divide(xp, a, b)
            if rounding_mode == "floor":
                if float_result:
                    return xp.floor(xp.true_divide(a, b))
                _check_int_zero_division(xp, b)
                return xp.floor_divide(a, b)
        except ValueError:
            _broadcast_error(a, b)
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        if ctx.rounding_mode is not None:
            return (grad * 0 if ctx.needs_input_grad[0] else None,
                    grad * 0 if ctx.needs_input_grad[1] else None)
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def _check_int_zero_division(xp, b):
    if (xp.asarray(b) == 0).any():
        raise ZeroDivisionError("ZeroDivisionError")


def _int_trunc_divide(xp, a, b):
    quotient = xp.floor_divide(a, b)
    remainder = xp.remainder(a, b)
    fix = (remainder != 0) & ((xp.sign(a) * xp.sign(b)) < 0)
    return quotient + fix.astype(quotient.dtype)


class Neg(Op):
    @staticmethod
    def forward(ctx, a):
        if a.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return xp_of(a).negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Op):
    """input ** exponent for a tensor or scalar base and exponent."""

    @staticmethod
    def forward(ctx, a, b):
        a_raw, b_raw = a, b
        a, b, np_dtype = promote(a, b)
        xp = xp_of(a if hasattr(a, "dtype") else b)
        if np.dtype(np_dtype).kind in "iu" and bool(xp.any(xp.asarray(b) < 0)):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        try:
            out = xp.power(a, b)
        except ValueError:
            _broadcast_error(a, b)
        ctx.save_for_backward(a_raw, b_raw, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            if isinstance(b, numbers.Number):
                grad_a = grad * b * a ** (b - 1) if b != 0 else grad * 0
            else:
                grad_a = where(b == 0, 0.0, grad * b * a ** (b - 1))
        if ctx.needs_input_grad[1]:
            if isinstance(a, numbers.Number):
                grad_b = grad * out * float(np.log(a)) if a > 0 else where(
                    (b >= 0) & (out == 0), 0.0, grad * out * float(np.log(complex(a)).real))
            else:
                grad_b = where((a == 0) & (b >= 0), 0.0,
                               grad * out * log(where(a == 0, 1.0, a)))
        return grad_a, grad_b


# ----------------------------------------------------------------------------- unary

class UnaryOp(Op):
    """An elementwise op of one tensor. Subclasses give ``compute(xp, a)`` and
    ``derivative(grad, input, output)``; ``saves`` says which of input/output backward needs;
    ``float_result`` makes int and bool inputs compute in the default float dtype."""

    saves = "input"
    float_result = True

    @classmethod
    def forward(cls, ctx, a):
        if cls.float_result and a.dtype.kind not in "fc":
            a = a.astype(_backend.get_default_dtype().np)
        out = cls.compute(xp_of(a), a)
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
        return cls.derivative(grad, a, out)


def _unary_op(name, compute, derivative, saves="input", float_result=True):
    """Make a UnaryOp subclass named ``name`` (its node is ``<name>Backward0``)."""
    return type(name, (UnaryOp,), {
        "compute": staticmethod(compute), "derivative": staticmethod(derivative),
        "saves": saves, "float_result": float_result})


Exp = _unary_op("Exp", lambda xp, a: xp.exp(a), lambda g, x, y: g * y, saves="output")
Log = _unary_op("Log", lambda xp, a: xp.log(a), lambda g, x, y: g / x)
Sin = _unary_op("Sin", lambda xp, a: xp.sin(a), lambda g, x, y: g * cos(x))
Cos = _unary_op("Cos", lambda xp, a: xp.cos(a), lambda g, x, y: -g * sin(x))
Tanh = _unary_op("Tanh", lambda xp, a: xp.tanh(a), lambda g, x, y: g * (1 - y * y),
                 saves="output")


def _unary_public(op):
    def function(input: Tensor) -> Tensor:
        return op.apply(input)

    return function


exp = tensor_method("exp")(_unary_public(Exp))
log = tensor_method("log")(_unary_public(Log))
sin = tensor_method("sin")(_unary_public(Sin))
cos = tensor_method("cos")(_unary_public(Cos))
tanh = tensor_method("tanh")(_unary_public(Tanh))


# ----------------------------------------------------------------------------- selection

class Where(Op):
    @staticmethod
    def forward(ctx, condition, a, b):
        a, b, _ = promote(a, b)
        xp = xp_of(condition)
        if condition.dtype != np.bool_:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {_backend.from_numpy_dtype(condition.dtype)}")
        try:
            out = xp.where(condition, a, b)
        except ValueError:
            broadcast_shapes(condition.shape, _shape_of(a), _shape_of(b))
            raise
        ctx.save_for_backward(condition)
        return out

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        zero = grad.new_zeros(())
        return (None,
                where(condition, grad, zero) if ctx.needs_input_grad[1] else None,
                where(condition, zero, grad) if ctx.needs_input_grad[2] else None)


@tensor_method()
def where(condition: Tensor, input=None, other=None):
    """Elements of ``input`` where ``condition`` else of ``other``; with one argument, the
    indices of the true elements (as nonzero(as_tuple=True))."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not "
                        f"{type(condition).__name__}")
    return Where.apply(condition, input, other)


# ----------------------------------------------------------------------------- public

@tensor_method()
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcast, with PyTorch's type promotion."""
    _check_operands("add", input, other)
    return _maybe_out(Add.apply(input, other, alpha=alpha), out)


@tensor_method()
def sub(input, other, *, alpha=1, out=None):
    _check_operands("sub", input, other)
    return _maybe_out(Sub.apply(input, other, alpha=alpha), out)


subtract = tensor_method("subtract")(sub)


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None):
    _check_operands("mul", input, other)
    return _maybe_out(Mul.apply(input, other), out)


multiply = mul


@tensor_method("div", "divide")
def div(input, other, *, rounding_mode=None, out=None):
    _check_operands("div", input, other)
    return _maybe_out(Div.apply(input, other, rounding_mode=rounding_mode), out)


divide = div


@tensor_method()
def true_divide(input, other, *, out=None):
    return div(input, other, out=out)


@tensor_method("neg", "negative")
def neg(input, *, out=None):
    return _maybe_out(Neg.apply(input), out)


negative = neg


@tensor_method()
def pow(input, exponent, *, out=None):
    _check_operands("pow", input, exponent)
    return _maybe_out(Pow.apply(input, exponent), out)


def _maybe_out(result: Tensor, out):
    """Honour ``out=``: write the result into ``out`` (resized like PyTorch when empty)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a Tensor, not {type(out).__name__}")
    if out._requires_grad and _grad_enabled():
        raise RuntimeError("the out= argument of a function that records a graph does not "
                           "support automatic differentiation for outputs that require grad")
    if out._data.shape != result._data.shape:
        if out._data.size != 0:
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        out._data = xp_of(out._data).empty(result._data.shape, dtype=out._data.dtype)
    out._write(result._data, result.dtype)
    return out


def _grad_enabled():
    from ..autograd.grad_mode import state  # noqa: PLC0415

    return state.enabled


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
            out = out.astype(np_dtype)
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

__all__ = ['add', 'cos', 'div', 'divide', 'exp', 'log', 'mul', 'multiply', 'neg', 'negative', 'pow', 'sin', 'sub', 'subtract', 'tanh', 'true_divide', 'where']
