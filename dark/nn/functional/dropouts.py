"""Dropout functions of dark.nn.functional: dropout, its channel forms (dropout1d/2d/3d) and
the alpha dropouts of SELU networks. The masks come from dark's default generator, drawn in
the input's dtype; the masked product is one op with a constant mask."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ... import random as _random
from ..._backend import array_module
from ..._tensor import Tensor
from ...autograd.function import Op

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "feature_alpha_dropout"]


class _Dropout(Op):
    """``input * mask`` with a constant mask (zeros and the 1 / (1 - p) scale)."""

    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor._make(ctx.mask)


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _memory_order(array, shape) -> list | None:
    """The axes of ``array`` from outermost to innermost in memory when it is a permutation
    of a dense layout other than C order (torch's empty_like keeps such strides, so its mask
    is drawn in that memory order); None otherwise."""
    if tuple(array.shape) != tuple(shape) or array.ndim < 2 or array.flags.c_contiguous:
        return None
    order = sorted(range(array.ndim), key=lambda axis: -array.strides[axis])
    expected = array.itemsize
    for axis in reversed(order):
        if array.shape[axis] != 1:
            if array.strides[axis] != expected:
                return None
            expected *= array.shape[axis]
    return order


def _keep_mask(input: Tensor, shape, p: float):
    """0/1 values (1 with probability 1 - p) in input's dtype, from the default generator,
    drawn in the order of input's memory layout as torch draws them."""
    array = input._data
    if array.dtype.kind not in "fc":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{input.dtype.scalar_name}")
    engine = _random.engine_for(None, input.device)
    order = _memory_order(array, shape)
    draw_shape = shape if order is None else tuple(shape[axis] for axis in order)
    if type(array) is np.ndarray:  # torch's noise.bernoulli_(1 - p): the same draws on CPU
        mask = engine.bernoulli(draw_shape, 1 - p, array.dtype)
    else:
        with array.device:
            mask = engine.bernoulli(draw_shape, 1 - p, array.dtype)
    return mask if order is None else mask.transpose(tuple(int(a) for a in np.argsort(order)))


def _apply_mask(input: Tensor, mask, inplace: bool, shift=None) -> Tensor:
    def masked(source):
        out = _Dropout.apply(source, mask=mask)
        return out if shift is None else out + Tensor._make(shift)

    return input._inplace(masked) if inplace else masked(input)


def _dropout(input: Tensor, p: float, training: bool, inplace: bool, feature: bool,
             alpha: bool) -> Tensor:
    if p == 0 or not training or input.numel() == 0:
        return input
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(
        input.shape)
    dtype = input._data.dtype
    if p == 1:
        return _apply_mask(input, array_module(input._data).zeros((), dtype=dtype), inplace)
    keep = _keep_mask(input, shape, p)
    if not alpha:
        keep *= dtype.type(1 / (1 - p))
        return _apply_mask(input, keep, inplace)
    selu = 1.7580993408473766
    a = 1.0 / math.sqrt((selu * selu * p + 1) * (1 - p))
    shift = (keep - 1) * dtype.type(selu * a) + dtype.type(selu * a * p)
    keep *= dtype.type(a)
    return _apply_mask(input, keep, inplace, shift)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the others by 1 / (1 - p) (training
    only; otherwise input itself)."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=False, alpha=False)


def _unbatched(function, input: Tensor, inplace: bool) -> Tensor:
    """Channel dropout of an input without its batch dim: as a batch of one."""
    batch = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    out = function(batch)
    return out.squeeze_(0) if inplace else out.squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, L) or (C, L) with probability p."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note "
            "that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    function = lambda x: _dropout(x, p, training, inplace, feature=True, alpha=False)  # noqa: E731
    return function(input) if input.ndim == 3 else _unbatched(function, input, inplace)


def _deprecated_dims(name: str, input: Tensor, dims: tuple, spatial: int) -> None:
    if input.ndim not in dims:
        warnings.warn(
            f"{name}: Received a {input.ndim}-D input to {name}, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            f"warning, please use dropout instead. Note that {name} exists to provide "
            f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel "
            f"dimension, and an optional batch dimension (i.e. {dims[0]}D or {dims[1]}D "
            "inputs).", stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, H, W) with probability p (a 3-D input is taken as
    (N, C, L), with PyTorch's warning)."""
    _check_p(p)
    _deprecated_dims("dropout2d", input, (3, 4), 2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
            "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _dropout(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, D, H, W) or (C, D, H, W) with probability p."""
    _check_p(p)
    _deprecated_dims("dropout3d", input, (4, 5), 3)
    function = lambda x: _dropout(x, p, training, inplace, feature=True, alpha=False)  # noqa: E731
    return function(input) if input.ndim == 5 else _unbatched(function, input, inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    an affine map keeps the mean and variance."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dim 1)."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=True, alpha=True)
