"""Reductions over dims (int, tuple, negative; keepdim), and the sum-to-shape that undoes
broadcasting in the engine."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..autograd.function import Op
from ._registry import tensor_method
from ._util import wrap_dims, xp_of


def _sum_dtype(array, np_dtype):
    if np_dtype is not None:
        return np_dtype
    if array.dtype.kind in "biu":
        return np.int64
    return array.dtype


class Sum(Op):
    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, np_dtype=None):
        ctx.shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        out = xp_of(a).sum(a, axis=dims, keepdims=keepdim, dtype=_sum_dtype(a, np_dtype))
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.keepdim and ctx.dims:
            grad = grad.reshape(_keepdim_shape(ctx.shape, ctx.dims))
        return grad.expand(ctx.shape)


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else size for i, size in enumerate(shape))


@tensor_method()
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dims when None); ints and bools sum to int64."""
    dims = wrap_dims(dim, input._data.ndim) if dim is not None else None
    if dims is not None and input._data.ndim == 0:
        dims = None
    np_dtype = _backend.to_dtype(dtype).np if dtype is not None else None
    node_dims = dims
    return Sum.apply(input, dims=node_dims, keepdim=keepdim, np_dtype=np_dtype)


class SumToSize(Op):
    """Sum a broadcast gradient back to ``shape`` (the engine's one place for this)."""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        extra = a.ndim - len(shape)
        dims = tuple(range(extra)) + tuple(
            extra + i for i, size in enumerate(shape) if size == 1 and a.shape[extra + i] != 1)
        out = a.sum(axis=dims, keepdims=True) if dims else a
        if extra:
            out = out.reshape(shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.expand(ctx.shape)


@tensor_method()
def sum_to_size(input: Tensor, *size) -> Tensor:
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
    if tuple(input._data.shape) == tuple(shape):
        return input
    return SumToSize.apply(input, shape=tuple(shape))

__all__ = ['sum', 'sum_to_size']
