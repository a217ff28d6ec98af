"""Shape and movement ops: views (reshape, view, expand, permute ...) and copies."""
from __future__ import annotations

import numbers

from .._tensor import Tensor
from ..autograd.function import Op
from ._registry import tensor_method
from ._util import xp_of


def _shape_args(size) -> tuple:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def _infer_shape(shape, numel):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Op):
    node_name = "ViewBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class View(Reshape):
    """A reshape that must not copy: RuntimeError when the layout does not allow it."""

    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        out = a.view()
        try:
            out.shape = shape
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and "
                               "stride (at least one dimension spans across two contiguous "
                               "subspaces). Use .reshape(...) instead.") from None
        return out


@tensor_method()
def reshape(input: Tensor, *shape) -> Tensor:
    """The same data in ``shape`` (a view when the layout allows, else a copy)."""
    shape = _infer_shape(_shape_args(shape), input._data.size)
    return Reshape.apply(input, shape=shape)


@tensor_method()
def view(input: Tensor, *shape) -> Tensor:
    """A view with ``shape``; RuntimeError when the memory layout cannot be viewed so."""
    shape = _infer_shape(_shape_args(shape), input._data.size)
    return View.apply(input, shape=shape)


class Expand(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.shape)


@tensor_method()
def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view with ``sizes`` (-1 keeps a dim)."""
    sizes = _shape_args(sizes)
    ndim = input._data.ndim
    if len(sizes) < ndim:
        raise RuntimeError(f"expand(dark.{input.dtype.name}{{{list(input.shape)}}}, "
                           f"size={list(sizes)}): the number of sizes provided "
                           f"({len(sizes)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({ndim})")
    offset = len(sizes) - ndim
    shape = []
    for i, size in enumerate(sizes):
        current = input._data.shape[i - offset] if i >= offset else None
        if size == -1:
            if current is None:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            size = current
        elif current is not None and current != 1 and current != size:
            raise RuntimeError(f"The expanded size of the tensor ({size}) must match the "
                               f"existing size ({current}) at non-singleton dimension {i}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(input.shape)}")
        shape.append(size)
    shape = tuple(shape)
    if shape == input._data.shape:
        return input
    return Expand.apply(input, shape=shape)

__all__ = ['reshape']
