"""Complex tensors' parts and views, as torch has them: ``real`` / ``imag`` (properties and
functions), ``view_as_real``, ``view_as_complex``, ``complex``, ``conj``, ``angle``, ``polar``.

Gradients follow torch's convention for complex numbers: the gradient of a real loss L with
respect to z = x + iy is dL/dx + i dL/dy (the conjugate Wirtinger derivative, times 2), so
that a gradient-descent step z - lr * grad lowers L. A complex gradient reaching a real
input keeps its real part (dark._backend.cast)."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._backend import array_module
from .._tensor import Tensor, install_methods, tensor_method
from ..autograd.function import Op

__all__ = ["angle", "complex", "conj", "imag", "polar", "real", "view_as_complex",
           "view_as_real"]


def _complex_of(np_dtype) -> np.dtype:
    """The complex dtype with parts of ``np_dtype``'s precision (complex64 below float64)."""
    if np_dtype.kind == "c":
        return np_dtype
    return np.dtype(np.complex128) if np_dtype == np.float64 else np.dtype(np.complex64)


def _real_of(np_dtype) -> np.dtype:
    return np.dtype(np.float64) if np_dtype == np.complex128 else np.dtype(np.float32)


class Real(Op):
    node_name = "RealBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a):
        ctx.dtype = a.dtype
        return a.real

    @staticmethod
    def backward(ctx, grad):
        return grad.to(_backend.from_numpy_dtype(ctx.dtype))


class Imag(Op):
    node_name = "ImagBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a):
        ctx.dtype = a.dtype
        return a.imag

    @staticmethod
    def backward(ctx, grad):
        return grad.to(_backend.from_numpy_dtype(ctx.dtype)) * 1j


class ViewAsReal(Op):
    node_name = "ViewAsRealBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        if not a.flags.c_contiguous:
            a = xp.ascontiguousarray(a)
        return a.reshape(-1).view(_real_of(a.dtype)).reshape(a.shape + (2,))

    @staticmethod
    def backward(ctx, grad):
        return ViewAsComplex.apply(grad)


class ViewAsComplex(Op):
    node_name = "ViewAsComplexBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        if not a.flags.c_contiguous:
            a = xp.ascontiguousarray(a)
        return a.reshape(-1).view(_complex_of(a.dtype)).reshape(a.shape[:-1])

    @staticmethod
    def backward(ctx, grad):
        return ViewAsReal.apply(grad)


class Complex(Op):
    node_name = "ComplexBackward0"

    @staticmethod
    def forward(ctx, re, im):
        xp = array_module(re)
        result = xp.empty(np.broadcast_shapes(re.shape, im.shape), dtype=_complex_of(re.dtype))
        result.real = re
        result.imag = im
        return result

    @staticmethod
    def backward(ctx, grad):
        return (Real.apply(grad) if ctx.needs_input_grad[0] else None,
                Imag.apply(grad) if ctx.needs_input_grad[1] else None)


class Conj(Op):
    node_name = "ConjBackward0"

    @staticmethod
    def forward(ctx, a):
        return array_module(a).conj(a) if a.dtype.kind == "c" else a

    @staticmethod
    def backward(ctx, grad):
        return Conj.apply(grad)


class Angle(Op):
    node_name = "AngleBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        ctx.save_for_backward(a)
        if a.dtype.kind == "c":
            return xp.angle(a)
        if a.dtype.kind not in "f":
            a = a.astype(_backend.get_default_dtype().np)
        return xp.where(a < 0, np.pi, 0.0).astype(a.dtype) + xp.where(xp.isnan(a), a, 0)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        if not z.is_complex():
            return grad * 0
        # L = g angle(z): dL/dx + i dL/dy = g (-y + ix) / |z|^2 = g i z / |z|^2 (0 at 0)
        magnitude2 = Real.apply(z) ** 2 + Imag.apply(z) ** 2
        zero = magnitude2 == 0
        safe = magnitude2 + zero.to(magnitude2.dtype)
        scale = grad / safe * (1 - zero.to(safe.dtype))
        return scale.to(z.dtype) * z * 1j


def _check(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def real(input: Tensor) -> Tensor:
    """The real part (a view) of a complex tensor; a real tensor itself."""
    _check("real", input)
    return Real.apply(input) if input.is_complex() else input


def imag(input: Tensor) -> Tensor:
    """The imaginary part (a view) of a complex tensor."""
    _check("imag", input)
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor (*) as a real one (*, 2) of its parts, sharing memory."""
    _check("view_as_real", input)
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A real tensor (*, 2) as a complex one (*), sharing memory."""
    _check("view_as_complex", input)
    if input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {input.dtype.scalar_name}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return ViewAsComplex.apply(input)


def complex(real: Tensor, imag: Tensor, *, out=None) -> Tensor:
    """The complex tensor real + i imag (float32 parts give complex64, float64 complex128)."""
    _check("complex", real)
    if real._data.dtype not in (np.float32, np.float64) or imag._data.dtype != real._data.dtype:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{real.dtype.scalar_name} and {imag.dtype.scalar_name}")
    result = Complex.apply(real, imag)
    if out is not None:
        out.copy_(result)
        return out
    return result


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (the tensor itself when real)."""
    _check("conj", input)
    return Conj.apply(input) if input.is_complex() else input


@tensor_method("angle")
def angle(input: Tensor, *, out=None) -> Tensor:
    """The argument of each complex number (0 or pi for real numbers)."""
    _check("angle", input)
    result = Angle.apply(input)
    if out is not None:
        out.copy_(result)
        return out
    return result


def polar(abs: Tensor, angle: Tensor, *, out=None) -> Tensor:
    """The complex tensor abs * (cos(angle) + i sin(angle))."""
    return complex(abs * angle.cos(), abs * angle.sin(), out=out)


install_methods({
    "real": property(real, doc="The real part (a view); the tensor itself when real."),
    "imag": property(imag, doc="The imaginary part (a view) of a complex tensor."),
    "conj": conj,
    "resolve_conj": lambda self: self,
    "is_conj": lambda self: False,
})
