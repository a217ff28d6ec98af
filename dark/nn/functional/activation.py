"""Activation functions of dark.nn.functional: the ReLU family, ELU/SELU/CELU, GELU, SiLU,
Mish, softplus and the log-sigmoid, the hard (piecewise linear) activations, shrinkage,
GLU, PReLU/RReLU, and softmax/log_softmax/softmin with torch's legacy implicit dim.

Each hot activation is one Op whose forward works on the raw array and whose backward is
written with Tensor ops (so create_graph gives second derivatives); the rarely used ones are
compositions of Tensor ops, as in torch's own Python. ``inplace=True`` goes through
``Tensor._inplace``."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..._backend import array_module, check_scalar, wrap_dim
from ..._kernels import quiet
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import state as _grad_state
from ...ops import elementwise as _elementwise
from ...ops.elementwise import erf, erf_array, exp, sigmoid, tanh, where
from ...ops.elementwise import relu as _relu
from ...ops.reduction import log_softmax as _log_softmax
from ...ops.reduction import softmax as _softmax

# ----------------------------------------------------------------------------- helpers


def _check_float(input: Tensor, kernel: str) -> None:
    """torch's kernels for smooth activations refuse integer and bool tensors."""
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{input.dtype.scalar_name}'")


def _typed(out, like):
    """``out`` in ``like``'s dtype (numpy may widen when a python float meets a 0-d array)."""
    return out if out.dtype == like.dtype else out.astype(like.dtype)


class _Activation(Op):
    """An elementwise activation: ``compute(xp, a, **params)`` on the raw array,
    ``derivative(grad, input, **params)`` on Tensors. Backward uses the input only, so the
    output may be overwritten in place."""

    @classmethod
    def forward(cls, ctx, a, **params):
        xp = array_module(a)
        with quiet(xp):
            out = _typed(cls.compute(xp, a, **params), a)
        ctx.params = params
        ctx.save_for_backward(a)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        (a,) = ctx.saved_tensors
        return cls.derivative(grad, a, **ctx.params)


def _inplace_or(function, input: Tensor, inplace: bool, *args) -> Tensor:
    return input._inplace(function, *args) if inplace else function(input, *args)


# ----------------------------------------------------------------------------- ReLU family


class LeakyRelu(_Activation):
    @staticmethod
    def compute(xp, a, negative_slope):
        return xp.where(a > 0, a, a * negative_slope)

    @staticmethod
    def derivative(grad, a, negative_slope):
        return where(a > 0, grad, grad * negative_slope)


class Hardtanh(_Activation):
    @staticmethod
    def compute(xp, a, min_val, max_val):
        return xp.clip(a, min_val, max_val)

    @staticmethod
    def derivative(grad, a, min_val, max_val):
        return where((a > min_val) & (a < max_val), grad, 0.0)


class Threshold(_Activation):
    @staticmethod
    def compute(xp, a, threshold, value):
        return xp.where(a > threshold, a, xp.asarray(value, dtype=a.dtype))

    @staticmethod
    def derivative(grad, a, threshold, value):
        return where(a > threshold, grad, 0.0)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0) elementwise."""
    return _inplace_or(_relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place relu."""
    return input._inplace(_relu)


def _leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    _check_float(input, "leaky_relu_cpu")
    return LeakyRelu.apply(input, negative_slope=negative_slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where positive, else ``negative_slope * input``."""
    return _inplace_or(_leaky_relu, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def _hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """input clamped to [min_val, max_val]; the gradient is zero outside the open interval."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input._data.dtype == np.uint8 and (min_val < 0 or max_val < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    # the limits in the input's dtype, as torch takes them (PyTorch's error when they do not fit)
    min_val, max_val = check_scalar(min_val, input.dtype), check_scalar(max_val, input.dtype)
    return _inplace_or(_hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def _threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    return Threshold.apply(input, threshold=threshold, value=value)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """input where input > threshold, else ``value``."""
    return _inplace_or(_threshold, input, inplace, *_threshold_numbers(input, threshold, value))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return input._inplace(_threshold, *_threshold_numbers(input, threshold, value))


def _threshold_numbers(input: Tensor, threshold, value):
    """``value`` checked for the input's dtype, as torch; ``threshold`` too for an integer
    dtype (torch compares a float16 input with it in float32)."""
    if input._data.dtype.kind in "iu":
        threshold = check_scalar(threshold, input.dtype)
    return threshold, check_scalar(value, input.dtype)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Leaky ReLU with a learned slope per channel (dim 1; one slope may serve all)."""
    if weight._data.ndim > 1:
        raise RuntimeError("prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight._data.ndim}")
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{input.dtype.scalar_name} and {weight.dtype.scalar_name}")
    count = weight.numel()
    if count != 1:
        channels = input.shape[1] if input.dim() >= 2 else 1
        if count != channels:
            raise RuntimeError("Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {count} and channel size = {channels}.")
        weight = weight.reshape((count,) + (1,) * (input.dim() - 2))
    elif weight.dim() == 1 and input.dim() == 0:
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training, each negative element gets a slope drawn
    uniformly from [lower, upper]; in evaluation the slope is (lower + upper) / 2."""
    if not training:
        _check_float(input, "leaky_relu_cpu")
        return leaky_relu(input, (lower + upper) / 2, inplace)
    _check_float(input, "rrelu_with_noise_out_cpu")
    return _inplace_or(_rrelu_train, input, inplace, lower, upper)


def _rrelu_train(input: Tensor, lower: float, upper: float) -> Tensor:
    # as torch's CPU kernel: per element <= 0, in C order, one uniform_real_distribution<double>
    # draw u * (upper - lower) + lower (not fused, unlike uniform_'s kernel; the bounds first
    # rounded to the op's math type: float32 for float16/32), the slope rounded to the math
    # type; other elements keep slope 1, also the gradient torch's saved noise gives
    array = input._data
    xp = array_module(array)
    drawn = array <= 0
    math_dtype = xp.dtype(xp.float32) if array.dtype == xp.float16 else array.dtype
    low, high = float(math_dtype.type(lower)), float(math_dtype.type(upper))
    unit = Tensor._make(xp.empty((int(drawn.sum()),), dtype=xp.float64)).uniform_()._data
    slopes = xp.ones(array.shape, dtype=math_dtype)
    slopes[drawn] = (unit * (high - low) + low).astype(math_dtype)
    if math_dtype == array.dtype:
        return input * Tensor._make(slopes)
    return (input.float() * Tensor._make(slopes)).to(input.dtype)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


# ----------------------------------------------------------------------------- ELU family

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class Elu(_Activation):
    """scale * x for x > 0, else scale * alpha * (exp(x * input_scale) - 1); ELU, SELU and
    CELU are its three parameterisations, as in torch."""

    @staticmethod
    def compute(xp, a, alpha, scale, input_scale):
        negative = xp.expm1(xp.minimum(a, 0) * input_scale) * (alpha * scale)
        return xp.where(a > 0, a * scale, negative)

    @staticmethod
    def derivative(grad, a, alpha, scale, input_scale):
        negative = exp(a * input_scale) * (alpha * scale * input_scale)
        return where(a > 0, grad * scale, grad * negative)


class Celu(Elu):
    pass


def _elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    _check_float(input, "elu_cpu")
    return Elu.apply(input, alpha=alpha, scale=1.0, input_scale=1.0)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """input for input > 0, else alpha * (exp(input) - 1)."""
    return _inplace_or(_elu, input, inplace, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def _selu(input: Tensor) -> Tensor:
    _check_float(input, "elu_cpu")
    return Elu.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(input, alpha) with the self-normalising constants."""
    return _inplace_or(_selu, input, inplace)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def _celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    _check_float(input, "elu_cpu")
    return Celu.apply(input, alpha=alpha, scale=1.0, input_scale=1.0 / alpha)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, input) + min(0, alpha * (exp(input / alpha) - 1))."""
    return _inplace_or(_celu, input, inplace, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


# ----------------------------------------------------------------------------- smooth gates

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class Gelu(Op):
    """x * Phi(x). The exact form keeps Phi(x) from forward for a plain backward (erf is the
    costly part); under create_graph the derivative is rebuilt from Tensor ops."""

    @staticmethod
    def forward(ctx, a, approximate):
        xp = array_module(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = (a + a * a * a * _GELU_CUBIC) * _SQRT_2_OVER_PI
            ctx.save_for_backward(a, None)
            return _typed(a * (xp.tanh(inner) + 1) * 0.5, a)
        cdf = _typed((erf_array(a * _SQRT1_2) + 1) * 0.5, a)
        ctx.save_for_backward(a, cdf)
        return a * cdf

    @staticmethod
    def backward(ctx, grad):
        a, cdf = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = tanh((a + a * a * a * _GELU_CUBIC) * _SQRT_2_OVER_PI)
            inner_grad = (a * a * (3 * _GELU_CUBIC) + 1) * _SQRT_2_OVER_PI
            return grad * ((t + 1) * 0.5 + a * (1 - t * t) * inner_grad * 0.5)
        pdf = exp(a * a * -0.5) * _INV_SQRT_2PI
        if _grad_state.enabled:
            cdf = (erf(a * _SQRT1_2) + 1) * 0.5
        return grad * (cdf + a * pdf)


class Silu(_Activation):
    @staticmethod
    def compute(xp, a):
        return a * _elementwise._sigmoid(xp, a)

    @staticmethod
    def derivative(grad, a):
        s = sigmoid(a)
        return grad * (s * (a * (1 - s) + 1))


def _softplus_array(xp, a, beta, threshold):
    scaled = a * beta
    smooth = (xp.log1p(xp.exp(-xp.abs(scaled))) + xp.maximum(scaled, 0)) / beta
    return xp.where(scaled > threshold, a, smooth)


class Softplus(_Activation):
    @staticmethod
    def compute(xp, a, beta, threshold):
        return _softplus_array(xp, a, beta, threshold)

    @staticmethod
    def derivative(grad, a, beta, threshold):
        scaled = a * beta
        return where(scaled > threshold, grad, grad * sigmoid(scaled))


class Mish(_Activation):
    @staticmethod
    def compute(xp, a):
        return a * xp.tanh(_softplus_array(xp, a, 1.0, 20.0))

    @staticmethod
    def derivative(grad, a):
        t = tanh(softplus(a))
        return grad * (t + a * (1 - t * t) * sigmoid(a))


class LogSigmoid(_Activation):
    @staticmethod
    def compute(xp, a):
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    @staticmethod
    def derivative(grad, a):
        return grad * sigmoid(-a)


class Hardsigmoid(_Activation):
    @staticmethod
    def compute(xp, a):
        return xp.clip(a / 6 + 0.5, 0, 1)

    @staticmethod
    def derivative(grad, a):
        return where((a > -3) & (a < 3), grad / 6, 0.0)


class Hardswish(_Activation):
    @staticmethod
    def compute(xp, a):
        return a * xp.clip(a + 3, 0, 6) / 6

    @staticmethod
    def derivative(grad, a):
        return where(a < -3, 0.0, where(a <= 3, grad * (a / 3 + 0.5), grad))


def _float_only(op, kernel: str):
    """``op`` (an activation without parameters) behind torch's check that the input is
    floating; ``kernel`` is the name torch's error gives."""

    def apply(input: Tensor) -> Tensor:
        _check_float(input, kernel)
        return op.apply(input)

    return apply


_silu = _float_only(Silu, "silu_cpu")
_mish = _float_only(Mish, "mish_cpu")
_hardsigmoid = _float_only(Hardsigmoid, "hardsigmoid_cpu")
_hardswish = _float_only(Hardswish, "hardswish_cpu")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """input * Phi(input) (Phi: the standard normal CDF, by erf); ``approximate='tanh'``
    uses the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _check_float(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """input * sigmoid(input) (swish)."""
    return _inplace_or(_silu, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """input * tanh(softplus(input))."""
    return _inplace_or(_mish, input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * input)) / beta, and input itself where beta * input > threshold."""
    _check_float(input, "softplus_cpu")
    return Softplus.apply(input, beta=beta, threshold=threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(input)), computed without overflow."""
    _check_float(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(input + 3) / 6."""
    return _inplace_or(_hardsigmoid, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """input * relu6(input + 3) / 6."""
    return _inplace_or(_hardswish, input, inplace)


def softsign(input: Tensor) -> Tensor:
    """input / (1 + |input|)."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """input - tanh(input)."""
    return input - input.tanh()


# ----------------------------------------------------------------------------- shrinkage


class Softshrink(_Activation):
    @staticmethod
    def compute(xp, a, lambd):
        return xp.where(a > lambd, a - lambd, xp.where(a < -lambd, a + lambd, 0))

    @staticmethod
    def derivative(grad, a, lambd):
        return where((a > lambd) | (a < -lambd), grad, 0.0)


class Hardshrink(_Activation):
    @staticmethod
    def compute(xp, a, lambd):
        return xp.where((a >= -lambd) & (a <= lambd), 0, a)

    @staticmethod
    def derivative(grad, a, lambd):
        return where((a >= -lambd) & (a <= lambd), 0.0, grad)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """input - lambd above lambd, input + lambd below -lambd, 0 between."""
    _check_float(input, "softshrink_check")
    if lambd < 0:
        limit = np.finfo(input._data.dtype).max
        raise RuntimeError(f"lambda must be in range [0, {limit:g}] for input dtype "
                           f"{input.dtype.scalar_name}, but found {lambd:g}")
    return Softshrink.apply(input, lambd=lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """input where |input| > lambd, else 0."""
    _check_float(input, "hardshrink_cpu")
    return Hardshrink.apply(input, lambd=lambd)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _check_float(input, "glu_cpu")
    axis = wrap_dim(dim, input.dim())
    size = input.shape[axis]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size "
                           f"{size}")
    first, second = input.split(size // 2, axis)
    return first * sigmoid(second)


# ----------------------------------------------------------------------------- softmax


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch's legacy rule for a missing dim: 0 for 0-, 1- and 3-d inputs, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                  "call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(input) normalised to sum to 1 along ``dim``."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """log(softmax(input, dim)), computed directly."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-input, dim)."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    return _softmax(-input, dim, dtype=dtype)


__all__ = [
    "celu", "celu_", "elu", "elu_", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "log_softmax", "logsigmoid", "mish",
    "prelu", "relu", "relu6", "relu_", "rrelu", "rrelu_", "selu", "selu_", "sigmoid", "silu",
    "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh", "tanhshrink",
    "threshold", "threshold_",
]
