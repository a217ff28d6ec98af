"""The discrete Fourier transforms of ``torch.fft``: three ops, as ATen has them, and the
public functions composed of them.

- ``FftC2C``: complex to complex over several dims (fft, ifft, fft2, fftn, ...);
- ``FftR2C``: real to the onesided half spectrum over one dim (rfft);
- ``FftC2R``: a half spectrum to real over one dim (irfft).

The forward is the array module's FFT (numpy.fft on the CPU, cupy.fft on a GPU), in the
precision of the input (float32 / complex64 stay single precision). The backward is ATen's
(fft_c2c_backward, fft_r2c_backward, fft_c2r_backward): the adjoint transform, whose
normalization swaps 'backward' and 'forward' ('ortho' is its own adjoint), under torch's
convention for complex gradients (the gradient of a real loss is dL/dx + i dL/dy; a real
input keeps the real part). Inputs cropped or zero-padded to ``n`` / ``s`` get their
gradient cropped or padded back."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._backend import array_module, wrap_dim
from .._tensor import Tensor
from ..autograd.function import Op
from .complex import Real, _complex_of, conj
from .creation import finish, on_device
from .shape import cat

__all__ = []

_NORMS = ("backward", "ortho", "forward")
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _resize(t: Tensor, dims, sizes) -> Tensor:
    """``t`` cropped or zero-padded at the end of each dim in ``dims`` to ``sizes``."""
    for dim, size in zip(dims, sizes):
        current = t.shape[dim]
        if current > size:
            t = t.narrow(dim, 0, size)
        elif current < size:
            shape = list(t.shape)
            shape[dim] = size - current
            t = cat([t, t.new_zeros(tuple(shape))], dim)
    return t


class FftC2C(Op):
    node_name = "FftC2CBackward0"

    @staticmethod
    def forward(ctx, x, s, dims, norm, forward):
        xp = array_module(x)
        ctx.spec = (tuple(x.shape[d] for d in dims), dims, norm, forward)
        x = x.astype(_complex_of(x.dtype), copy=False)
        transform = xp.fft.fftn if forward else xp.fft.ifftn
        out = transform(x, s=s, axes=dims, norm=norm)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        sizes, dims, norm, forward = ctx.spec
        out_sizes = tuple(grad.shape[d] for d in dims)
        result = FftC2C.apply(grad, s=out_sizes, dims=dims, norm=_SWAP[norm],
                              forward=not forward)
        return _resize(result, dims, sizes)


class FftR2C(Op):
    node_name = "FftR2CBackward0"

    @staticmethod
    def forward(ctx, x, n, dim, norm):
        xp = array_module(x)
        ctx.spec = (x.shape[dim], n, dim, norm)
        out = xp.fft.rfft(x, n=n, axis=dim, norm=norm)
        return out.astype(_complex_of(x.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        size, n, dim, norm = ctx.spec
        # the adjoint of taking the first n // 2 + 1 outputs of the full transform:
        # zero-pad to the full length, transform back, keep the real part (the input is real)
        full = _resize(grad, (dim,), (n,))
        result = Real.apply(FftC2C.apply(full, s=(n,), dims=(dim,), norm=_SWAP[norm],
                                         forward=False))
        return _resize(result, (dim,), (size,))


class FftC2R(Op):
    node_name = "FftC2RBackward0"

    @staticmethod
    def forward(ctx, x, n, dim, norm):
        xp = array_module(x)
        ctx.spec = (x.shape[dim], n, dim, norm)
        x = x.astype(_complex_of(x.dtype), copy=False)
        out = xp.fft.irfft(x, n=n, axis=dim, norm=norm)
        return out.astype(x.real.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        size, n, dim, norm = ctx.spec
        result = FftR2C.apply(grad, n=n, dim=dim, norm=_SWAP[norm])
        # the entries the Hermitian extension uses twice count twice
        half = result.shape[dim]
        twice = n - half
        if twice > 0:
            weights = np.ones(half, dtype=np.float64)
            weights[1:1 + twice] = 2
            shape = [1] * result.ndim
            shape[dim] = half
            xp = array_module(result._data)
            result = result * Tensor._make(xp.asarray(weights.reshape(shape),
                                                      dtype=result._data.real.dtype))
        return _resize(result, (dim,), (size,))


# ----------------------------------------------------------------------------- arguments

def _norm(norm) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _check_input(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def _as_float(input: Tensor) -> Tensor:
    """Integers and bools transform in the default float dtype, as torch's."""
    if input._data.dtype.kind in "biu":
        return input.to(_backend.get_default_dtype())
    return input


def _check_n(n) -> None:
    if n is not None and n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _dims_and_sizes(input: Tensor, s, dim, default_all: bool):
    """The dims transformed and their output sizes, from ``s`` and ``dim`` as torch's fftn
    reads them: ``dim`` None means the last len(s) dims (all dims when s is None too)."""
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if s is not None and isinstance(s, numbers.Integral):
        s = (s,)
    if dim is not None:
        dims = tuple(wrap_dim(d, input.ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > input.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                               f"{input.ndim} dimensions.")
        dims = tuple(range(input.ndim - len(s), input.ndim))
    else:
        dims = tuple(range(input.ndim)) if default_all else ()
    sizes = tuple(input.shape[d] if s is None or s[i] == -1 else int(s[i])
                  for i, d in enumerate(dims))
    for size in sizes:
        _check_n(size)
    return dims, sizes


def _c2c(name, input, s, dim, norm, forward, default_all=True):
    _check_input(name, input)
    input = _as_float(input)
    dims, sizes = _dims_and_sizes(input, s, dim, default_all)
    return FftC2C.apply(input, s=sizes, dims=dims, norm=_norm(norm), forward=forward)


def _out(result: Tensor, out):
    if out is None:
        return result
    out.copy_(result)
    return out


# ----------------------------------------------------------------------------- one dim

def fft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The one-dimensional discrete Fourier transform along ``dim`` (the input cropped or
    zero-padded to ``n``)."""
    _check_n(n)
    return _out(_c2c("fft", input, None if n is None else (n,), (dim,), norm, True), out)


def ifft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The inverse of fft along ``dim``."""
    _check_n(n)
    return _out(_c2c("ifft", input, None if n is None else (n,), (dim,), norm, False), out)


def rfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The transform of a real signal along ``dim``: the n // 2 + 1 non-negative
    frequencies."""
    _check_input("rfft", input)
    if input.is_complex():
        raise RuntimeError(f"rfft expects a real input tensor, but got "
                           f"{input.dtype.scalar_name}")
    _check_n(n)
    input = _as_float(input)
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if n is None else int(n)
    return _out(FftR2C.apply(input, n=n, dim=d, norm=_norm(norm)), out)


def irfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The inverse of rfft: a real signal of length ``n`` (default 2 (m - 1) for m input
    frequencies) from its half spectrum along ``dim``."""
    _check_input("irfft", input)
    _check_n(n)
    input = _as_float(input)
    d = wrap_dim(dim, input.ndim)
    n = 2 * (input.shape[d] - 1) if n is None else int(n)
    _check_n(n)
    return _out(FftC2R.apply(input, n=n, dim=d, norm=_norm(norm)), out)


def hfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The transform of a Hermitian-symmetric signal given by its first half: a real
    result of length ``n`` (default 2 (m - 1))."""
    _check_input("hfft", input)
    _check_n(n)
    input = _as_float(input)
    d = wrap_dim(dim, input.ndim)
    n = 2 * (input.shape[d] - 1) if n is None else int(n)
    _check_n(n)
    return _out(FftC2R.apply(conj(input), n=n, dim=d, norm=_SWAP[_norm(norm)]), out)


def ihfft(input: Tensor, n=None, dim: int = -1, norm=None, *, out=None) -> Tensor:
    """The inverse of hfft: the half spectrum of a real signal, conjugated."""
    _check_input("ihfft", input)
    if input.is_complex():
        raise RuntimeError(f"ihfft expects a real input tensor, but got "
                           f"{input.dtype.scalar_name}")
    _check_n(n)
    input = _as_float(input)
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if n is None else int(n)
    return _out(conj(FftR2C.apply(input, n=n, dim=d, norm=_SWAP[_norm(norm)])), out)


# ----------------------------------------------------------------------------- several dims

def fft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """fft over the two dims ``dim``."""
    return _out(_c2c("fft2", input, s, dim, norm, True), out)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """ifft over the two dims ``dim``."""
    return _out(_c2c("ifft2", input, s, dim, norm, False), out)


def fftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """fft over ``dim`` (all dims, or the last len(s), by default)."""
    return _out(_c2c("fftn", input, s, dim, norm, True), out)


def ifftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """ifft over ``dim`` (all dims, or the last len(s), by default)."""
    return _out(_c2c("ifftn", input, s, dim, norm, False), out)


def _real_nd(name, input, s, dim, norm):
    _check_input(name, input)
    if input.is_complex():
        raise RuntimeError(f"{name} expects a real-valued input tensor, but got "
                           f"{input.dtype.scalar_name}")
    input = _as_float(input)
    dims, sizes = _dims_and_sizes(input, s, dim, True)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    return input, dims, sizes, _norm(norm)


def rfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """rfft over the last of ``dim``, then fft over the others."""
    input, dims, sizes, norm = _real_nd("rfftn", input, s, dim, norm)
    result = FftR2C.apply(input, n=sizes[-1], dim=dims[-1], norm=norm)
    if len(dims) > 1:
        result = FftC2C.apply(result, s=sizes[:-1], dims=dims[:-1], norm=norm, forward=True)
    return _out(result, out)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """rfftn over the two dims ``dim``."""
    return rfftn(input, s, dim, norm, out=out)


def _half_nd(name, input, s, dim, norm):
    _check_input(name, input)
    input = _as_float(input)
    dims, sizes = _dims_and_sizes(input, s, dim, True)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = sizes[-1] if s is not None else 2 * (input.shape[dims[-1]] - 1)
    _check_n(last)
    return input, dims, sizes, last, _norm(norm)


def irfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of rfftn: ifft over all of ``dim`` but the last, then irfft over it."""
    input, dims, sizes, last, norm = _half_nd("irfftn", input, s, dim, norm)
    if len(dims) > 1:
        input = FftC2C.apply(input, s=sizes[:-1], dims=dims[:-1], norm=norm, forward=False)
    return _out(FftC2R.apply(input, n=last, dim=dims[-1], norm=norm), out)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    """irfftn over the two dims ``dim``."""
    return irfftn(input, s, dim, norm, out=out)


def hfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The n-dimensional hfft: a real result from the half spectrum of a Hermitian signal."""
    input, dims, sizes, last, norm = _half_nd("hfftn", input, s, dim, norm)
    input = conj(input)
    if len(dims) > 1:
        input = FftC2C.apply(input, s=sizes[:-1], dims=dims[:-1], norm=_SWAP[norm],
                             forward=False)
    return _out(FftC2R.apply(input, n=last, dim=dims[-1], norm=_SWAP[norm]), out)


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    return hfftn(input, s, dim, norm, out=out)


def ihfftn(input: Tensor, s=None, dim=None, norm=None, *, out=None) -> Tensor:
    """The inverse of hfftn."""
    input, dims, sizes, norm = _real_nd("ihfftn", input, s, dim, norm)
    result = FftR2C.apply(input, n=sizes[-1], dim=dims[-1], norm=_SWAP[norm])
    if len(dims) > 1:
        result = FftC2C.apply(result, s=sizes[:-1], dims=dims[:-1], norm=_SWAP[norm],
                              forward=True)
    return _out(conj(result), out)


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:
    return ihfftn(input, s, dim, norm, out=out)


# ----------------------------------------------------------------------------- helpers

def fftfreq(n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an n-point transform: [0, 1, ..., n/2-1, -n/2, ..., -1] /
    (d n)."""
    dtype = _backend.to_dtype(dtype) if dtype is not None else _backend.get_default_dtype()
    result = finish(on_device(_backend.to_device(device), lambda xp: (
        xp.fft.fftfreq(n, d).astype(dtype.np))), out, requires_grad)
    return result


def rfftfreq(n: int, d: float = 1.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of an n-point rfft: [0, ..., n // 2] / (d n)."""
    dtype = _backend.to_dtype(dtype) if dtype is not None else _backend.get_default_dtype()
    return finish(on_device(_backend.to_device(device), lambda xp: (
        xp.fft.rfftfreq(n, d).astype(dtype.np))), out, requires_grad)


def _shift(input: Tensor, dim, inverse: bool) -> Tensor:
    dims = range(input.ndim) if dim is None else (
        (dim,) if isinstance(dim, numbers.Integral) else dim)
    dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    shifts = tuple(((input.shape[d] + 1) // 2) if inverse else input.shape[d] // 2
                   for d in dims)
    if not dims:
        return input
    return input.roll(shifts, dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero frequency to the centre (a roll by n // 2 over ``dim``, all dims by
    default)."""
    return _shift(input, dim, False)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of fftshift."""
    return _shift(input, dim, True)
