"""Reductions over dims (int, tuple, negative; keepdim): sums and means, products, extrema
with their indices, statistics, norms, scans, softmax; and the sum-to-shape that undoes
broadcasting in the engine.

Backward formulas are written with Tensor ops so that they can be differentiated again.
Masks (which element is the maximum, where the zeros are) are not differentiable: they are
computed once in forward from the raw arrays and saved as constants."""
from __future__ import annotations

import builtins
import collections
import math
import numbers
import warnings

import numpy as np

from .. import _backend
from .._backend import array_module, float_dtype_for, wrap_dim, wrap_dims
from .._tensor import Tensor, tensor_method
from ..autograd.function import Op
from ..autograd.grad_mode import state as _grad_state
from . import elementwise as _elementwise

# ----------------------------------------------------------------------------- helpers


def _axes(dim, ndim: int) -> tuple:
    """``dim`` (None, int, tuple/list) as sorted non-negative axes of the array. None and
    an empty tuple mean every dim; a 0-d tensor accepts dim 0 and -1 and has no axes."""
    if dim is None or (not isinstance(dim, numbers.Integral) and len(dim) == 0):
        return tuple(range(ndim))
    dims = wrap_dims(dim, ndim)
    return dims if ndim else ()


def _axis(name: str, dim, ndim: int):
    """A single ``dim`` (int only, as in torch) as an axis of the array (None for 0-d)."""
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    axis = wrap_dim(dim, ndim)
    return axis if ndim else None


def _check_nonempty(name: str, input: Tensor, axes) -> None:
    """torch refuses to reduce an empty tensor without identity (max, argmax, ...)."""
    shape = input._data.shape
    if axes is None:
        if input._data.size == 0:
            error = IndexError if name.startswith("arg") else RuntimeError
            extra = "" if name.startswith("arg") else (
                " Specify the reduction dim with the 'dim' argument.")
            raise error(f"{name}(): Expected reduction dim to be specified for "
                        f"input.numel() == 0.{extra}")
        return
    for axis in axes:
        if shape[axis] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")


def _np_dtype(dtype):
    return _backend.to_dtype(dtype).np if dtype is not None else None


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else size for i, size in enumerate(shape))


def _reduced_shape(shape, dims):
    return tuple(size for i, size in enumerate(shape) if i not in dims)


def _count(shape, axes) -> int:
    return math.prod(shape[a] for a in axes)


def _expand(grad: Tensor, shape, axes, keepdim: bool) -> Tensor:
    """The gradient of a reduction's output spread back over the input's shape."""
    if not keepdim and axes:
        grad = grad.reshape(_keepdim_shape(shape, axes))
    if not isinstance(grad, Tensor):  # a raw array (Op.raw_backward)
        return array_module(grad).broadcast_to(grad, shape)
    return grad.expand(shape)


def _array(value):
    """numpy reduces 0-d results to numpy scalars; saved values and outputs must be arrays
    (the graph recognises a saved output by identity)."""
    return np.asarray(value) if isinstance(value, np.generic) else value


def _save(ctx, *items) -> None:
    ctx.save_for_backward(*(_array(item) for item in items))


def _constant(array) -> Tensor:
    return Tensor._make(array)


def _tie_weights(xp, a, chosen, dims):
    """1/k on each of the k elements equal to ``chosen`` (keepdim-shaped) in its slice, 0
    elsewhere: torch spreads the gradient of max/amax evenly among ties (NaN ties NaN)."""
    mask = a == chosen
    if a.dtype.kind in "fc":
        mask |= xp.isnan(a) & xp.isnan(chosen)
    mask = mask.astype(a.dtype)
    return mask / mask.sum(axis=dims, keepdims=True)


def _with_node_name(cls, node_name: str):
    """The same op under another backward-node name (torch names the full and the per-dim
    reductions differently: SumBackward0 / SumBackward1)."""
    return type(f"{cls.__name__}_{node_name}", (cls,), {"node_name": node_name})


def _return_type(name: str):
    """A (values, indices) named tuple printed as torch.return_types.<name>."""
    cls = collections.namedtuple(name, ["values", "indices"])
    cls.__repr__ = lambda self: (f"dark.return_types.{name}(\nvalues={self.values!r},"
                                 f"\nindices={self.indices!r})")
    cls.__module__ = "dark.return_types"
    return cls


return_types = {name: _return_type(name) for name in ("max", "min", "median", "mode")}

# ----------------------------------------------------------------------------- sum, mean


def _sum_dtype(array, np_dtype):
    if np_dtype is not None:
        return np_dtype
    if array.dtype.kind in "biu":
        return np.int64
    return array.dtype


class Sum(Op):
    raw_backward = True  # _expand takes Tensors and arrays

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, np_dtype=None):
        ctx.shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        # the method: numpy's function wraps it in more Python
        return a.sum(axis=dims, dtype=_sum_dtype(a, np_dtype), keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim)


SumDim = _with_node_name(Sum, "SumBackward1")


@tensor_method()
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dims when None); ints and bools sum to int64."""
    op = Sum if dim is None else SumDim
    return op.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim,
                    np_dtype=_np_dtype(dtype))


class Mean(Op):
    raw_backward = True  # _expand takes Tensors and arrays

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.count = _count(a.shape, dims)
        total = a.sum(axis=dims, dtype=np_dtype or a.dtype, keepdims=keepdim)
        token = _backend.quiet_enter()  # the mean of nothing is nan, silently
        try:
            return total / ctx.count
        finally:
            _backend.quiet_exit(token)

    @staticmethod
    def backward(ctx, grad):
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * (1.0 / builtins.max(
            ctx.count, 1))


MeanDim = _with_node_name(Mean, "MeanBackward1")


def _result_is_float(input: Tensor, np_dtype) -> bool:
    return np.dtype(np_dtype or input._data.dtype).kind in "fcV"  # V: bfloat16


def _require_float(name: str, input: Tensor, np_dtype) -> None:
    if not _result_is_float(input, np_dtype):
        got = _backend.scalar_name(np_dtype or input._data.dtype)
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be "
                           f"either a floating point or complex dtype. Got: {got}")


@tensor_method()
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim`` (all dims when None); floating inputs only (or give ``dtype``).
    The mean of no elements is nan."""
    np_dtype = _np_dtype(dtype)
    _require_float("mean", input, np_dtype)
    op = Mean if dim is None else MeanDim
    return op.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim,
                    np_dtype=np_dtype)


class Nansum(Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        xp = array_module(a)
        if ctx.needs_input_grad:
            ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
            _save(ctx, (~xp.isnan(a)).astype(a.dtype))
        return xp.nansum(a, axis=dims, keepdims=keepdim, dtype=_sum_dtype(a, np_dtype))

    @staticmethod
    def backward(ctx, grad):
        (present,) = ctx.saved_tensors
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * present


@tensor_method()
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` treating NaN as zero."""
    return Nansum.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim,
                        np_dtype=_np_dtype(dtype))


@tensor_method()
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim`` of the elements that are not NaN (nan where there are none)."""
    np_dtype = _np_dtype(dtype)
    if not _result_is_float(input, np_dtype):
        raise RuntimeError("nanmean(): expected input to have floating point or complex "
                           f"dtype but got {input.dtype.scalar_name}")
    dims = _axes(dim, input._data.ndim)
    xp = array_module(input._data)
    present = ~xp.isnan(input._data)
    count = present.sum(axis=dims, keepdims=keepdim).astype(np_dtype or input._data.dtype)
    with np.errstate(invalid="ignore"):  # all-NaN slices give NaN silently, as torch
        return nansum(input, dims, keepdim, dtype=dtype) / _constant(count)


# ----------------------------------------------------------------------------- product


def _save_product(ctx, a, out, zero_masks) -> None:
    """Save a product's input ``a`` and result ``out``, and, when ``a`` holds zeros, the
    masks ``zero_masks(a == 0)`` (in ``a``'s dtype) that its zero-exact gradient needs."""
    zero = a == 0
    if zero.any():
        _save(ctx, a, out, *(m.astype(a.dtype) for m in zero_masks(zero)))
    else:
        _save(ctx, a, out)


def _prod_zero_masks(zero, dims) -> tuple:
    """Prod's masks: ``zero`` and which of 1 (``alone``), sum(zero x) (``one_other``) or
    sum(zero x) - x_i (``pair``) stands for the product of the zero elements other than i
    (one factor or two; see Prod.backward)."""
    zeros = zero.sum(axis=dims, keepdims=True)
    return (zero, (zeros == 0) | ((zeros == 1) & zero), (zeros == 1) & ~zero,
            (zeros == 2) & zero)


class Prod(Op):
    """Product over dims. The gradient of element i is the product of the others, which
    stays right (to second order) when the slice holds zeros: see ``backward``."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        xp = array_module(a)
        out = _array(xp.prod(a, axis=dims, keepdims=keepdim, dtype=_sum_dtype(a, np_dtype)))
        if ctx.needs_input_grad:
            ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
            _save_product(ctx, a, out, lambda zero: _prod_zero_masks(zero, dims))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out, *masks = ctx.saved_tensors
        grad = _expand(grad, ctx.shape, ctx.dims, ctx.keepdim)
        if not masks:
            return grad * _expand(out, ctx.shape, ctx.dims, ctx.keepdim) / x
        # product of the others = (product of the nonzero others) * (product of the zero
        # others); the second factor is written with the zero x's themselves so that its
        # derivative is right although its value is 0 or 1
        zero, alone, one_other, pair = masks
        ones_for_zeros = x * (1 - zero) + zero
        nonzero_others = Prod.apply(ones_for_zeros, dims=ctx.dims, keepdim=True,
                                    np_dtype=None) / ones_for_zeros
        zero_sum = sum(x * zero, ctx.dims, keepdim=True)
        zero_others = alone + one_other * zero_sum + pair * (zero_sum - x)
        return grad * nonzero_others * zero_others


ProdDim = _with_node_name(Prod, "ProdBackward1")


@tensor_method()
def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or over one ``dim``; ints and bools multiply in int64."""
    ndim = input._data.ndim
    if dim is None:
        return Prod.apply(input, dims=tuple(range(ndim)), keepdim=False,
                          np_dtype=_np_dtype(dtype))
    axis = _axis("prod", dim, ndim)
    return ProdDim.apply(input, dims=() if axis is None else (axis,), keepdim=keepdim,
                         np_dtype=_np_dtype(dtype))


# ----------------------------------------------------------------------------- extrema


class Amax(Op):
    """max/min over dims; the gradient is spread evenly among tied extrema."""

    reduce = "max"

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        xp = array_module(a)
        out = getattr(xp, cls.reduce)(a, axis=dims, keepdims=True)
        if ctx.needs_input_grad:
            ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
            _save(ctx, _tie_weights(xp, a, out, dims))
        return out if keepdim else out.reshape(_reduced_shape(a.shape, dims))

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * weights


class Amin(Amax):
    reduce = "min"


MaxAll = _with_node_name(Amax, "MaxBackward1")
MinAll = _with_node_name(Amin, "MinBackward1")


class _SelectAlongDim(Op):
    """A reduction along one dim that picks an element (max, min, median, mode): outputs
    (values, indices); the gradient goes to the picked element."""

    @classmethod
    def forward(cls, ctx, a, axis, keepdim):
        xp = array_module(a)
        if axis is None:  # a 0-d tensor is its own pick
            values, indices = a.copy(), xp.zeros((), dtype=np.int64)
            pick = xp.ones_like(a)
        else:
            indices = cls.select(xp, a, axis).astype(np.int64)
            values = xp.take_along_axis(a, indices, axis)
            if ctx.needs_input_grad:
                positions = xp.arange(a.shape[axis]).reshape(
                    (-1,) + (1,) * (a.ndim - axis - 1))
                pick = (positions == indices).astype(a.dtype)
            if not keepdim:
                values, indices = values.squeeze(axis), indices.squeeze(axis)
        if ctx.needs_input_grad:
            ctx.shape, ctx.keepdim = a.shape, keepdim
            ctx.dims = () if axis is None else (axis,)
            _save(ctx, pick)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices=None):
        (pick,) = ctx.saved_tensors
        return _expand(grad_values, ctx.shape, ctx.dims, ctx.keepdim) * pick


class Max(_SelectAlongDim):
    @staticmethod
    def select(xp, a, axis):
        return xp.argmax(a, axis=axis, keepdims=True)


class Min(_SelectAlongDim):
    @staticmethod
    def select(xp, a, axis):
        return xp.argmin(a, axis=axis, keepdims=True)


class Median(_SelectAlongDim):
    node_name = "MedianBackward1"

    @staticmethod
    def select(xp, a, axis):
        """The lower median (NaN when the slice has one: its first NaN, as torch)."""
        order = xp.argsort(a, axis=axis, kind="stable")
        size = a.shape[axis]
        middle = (size - 1) // 2
        if a.dtype.kind == "f":
            nans = xp.isnan(a).sum(axis=axis, keepdims=True)
            position = xp.where(nans > 0, size - nans, middle)
        else:
            position = xp.full(_keepdim_shape(a.shape, (axis,)), middle, dtype=np.int64)
        return xp.take_along_axis(order, position, axis)


class MedianAll(Op):
    """The lower median of all elements; as for max(), the gradient is shared among ties."""

    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        flat = a.reshape(-1)
        out = flat[Median.select(xp, flat, 0)].reshape(())
        if ctx.needs_input_grad:
            ctx.shape = a.shape
            _save(ctx, _tie_weights(xp, a, out, None))
        return out

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        return grad.expand(ctx.shape) * weights


class Mode(_SelectAlongDim):
    @staticmethod
    def select(xp, a, axis):
        """The most frequent value (the smallest among ties) at its last occurrence."""
        moved = xp.moveaxis(a, axis, -1)
        size = moved.shape[-1]
        rows = moved.reshape(-1, size)
        order = xp.argsort(rows, axis=1, kind="stable")
        ordered = xp.take_along_axis(rows, order, 1)
        starts = xp.ones(ordered.shape, dtype=bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        # number the runs of equal values across all rows, then count each run
        runs = xp.cumsum(starts, axis=1) - 1 + size * xp.arange(rows.shape[0])[:, None]
        counts = xp.bincount(runs.ravel(), minlength=runs.size)[runs]
        longest = counts.max(axis=1, keepdims=True)
        first = xp.argmax(counts == longest, axis=1, keepdims=True)
        last = xp.take_along_axis(order, first + longest - 1, 1)
        return xp.moveaxis(last.reshape(moved.shape[:-1] + (1,)), -1, axis)


def _select(op, name, input, dim, keepdim):
    axis = _axis(name, dim, input._data.ndim)
    if axis is not None:
        _check_nonempty(name, input, (axis,))
    values, indices = op.apply(input, axis=axis, keepdim=keepdim)
    return return_types[name](values, indices)


def _extreme(op_all, op_dim, name, binary, input, dim, keepdim, other):
    if other is None and isinstance(dim, Tensor):
        other = dim
    if other is not None:
        return getattr(_elementwise, binary)(input, other)
    if dim is None:
        _check_nonempty(name, input, None)
        return op_all.apply(input, dims=tuple(range(input._data.ndim)), keepdim=False)
    return _select(op_dim, name, input, dim, keepdim)


@tensor_method()
def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """``max(input)``: the largest element (0-d; the gradient is shared among ties);
    ``max(input, dim, keepdim=False)``: (values, indices) along ``dim``;
    ``max(input, other)``: the elementwise maximum."""
    return _extreme(MaxAll, Max, "max", "maximum", input, dim, keepdim, other)


@tensor_method()
def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """``min(input)``, ``min(input, dim, keepdim=False)`` -> (values, indices), or the
    elementwise ``min(input, other)``; as ``max``."""
    return _extreme(MinAll, Min, "min", "minimum", input, dim, keepdim, other)


def _amax_like(op, name, input, dim, keepdim):
    dims = _axes(dim, input._data.ndim)
    if input._data.size == 0:
        every = dim is None or not isinstance(dim, numbers.Integral) and len(dim) == 0
        _check_nonempty(name, input, None if every else dims)
    return op.apply(input, dims=dims, keepdim=keepdim)


@tensor_method()
def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (int or tuple; all when empty); the gradient is spread evenly
    among ties."""
    return _amax_like(Amax, "amax", input, dim, keepdim)


@tensor_method()
def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``, as ``amax``."""
    return _amax_like(Amin, "amin", input, dim, keepdim)


class Argmax(Op):
    reduce = "argmax"

    @classmethod
    def forward(cls, ctx, a, axis, keepdim):
        xp = array_module(a)
        if axis is None:
            flat = getattr(xp, cls.reduce)(a.reshape(-1))
            shape = (1,) * a.ndim if keepdim else ()
            return xp.asarray(flat, dtype=np.int64).reshape(shape)
        return getattr(xp, cls.reduce)(a, axis=axis, keepdims=keepdim).astype(np.int64)


class Argmin(Argmax):
    reduce = "argmin"


def _arg(op, name, input, dim, keepdim):
    ndim = input._data.ndim
    if input._data.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        _check_nonempty(name, input, None)
        return op.apply(input, axis=None, keepdim=keepdim)
    axis = _axis(name, dim, ndim)
    if axis is not None:
        _check_nonempty(name, input, (axis,))
    return op.apply(input, axis=axis, keepdim=keepdim)


@tensor_method()
def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the largest element along ``dim`` (of the flattened tensor when
    None); the first one among ties."""
    return _arg(Argmax, "argmax", input, dim, keepdim)


@tensor_method()
def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element along ``dim``, as ``argmax``."""
    return _arg(Argmin, "argmin", input, dim, keepdim)


@tensor_method()
def median(input: Tensor, dim=None, keepdim: bool = False):
    """``median(input)``: the lower median of all elements (0-d; NaN if any is NaN);
    ``median(input, dim, keepdim=False)``: (values, indices) along ``dim``."""
    if dim is not None:
        return _select(Median, "median", input, dim, keepdim)
    if input._data.size == 0:
        return input.sum() * float("nan")
    return MedianAll.apply(input)


@tensor_method()
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """(values, indices): the most frequent value along ``dim`` (the smallest among ties)
    and the index of its last occurrence."""
    return _select(Mode, "mode", input, dim, keepdim)


# ----------------------------------------------------------------------------- statistics


class Var(Op):
    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        centered = a - a.mean(axis=dims, keepdims=True)
        squares = centered * centered.conj() if a.dtype.kind == "c" else centered * centered
        dof = builtins.max(0, _count(a.shape, dims) - correction)
        ctx.shape, ctx.dims, ctx.keepdim, ctx.dof = a.shape, dims, keepdim, dof
        _save(ctx, a)
        with np.errstate(invalid="ignore", divide="ignore"):
            return squares.real.sum(axis=dims, keepdims=keepdim) / dof

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        centered = x - mean(x, ctx.dims, keepdim=True)
        scale = 2.0 / ctx.dof if ctx.dof else math.inf
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * centered * scale


class Std(Var):
    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        out = _array(array_module(a).sqrt(Var.forward(ctx, a, dims, correction, keepdim)))
        _save(ctx, a, out, (out != 0).astype(out.dtype))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out, nonzero = ctx.saved_tensors
        centered = x - mean(x, ctx.dims, keepdim=True)
        scale = 1.0 / ctx.dof if ctx.dof else math.inf
        # torch gives 0 (not nan) where the deviation is 0
        grad = grad * nonzero / (out + (1 - nonzero))
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * centered * scale


def _correction(name, input, dim, unbiased, correction):
    """Sort out torch's overloads: (dim, unbiased, keepdim), (dim, *, correction, keepdim)
    and (unbiased)."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{name}() received an invalid combination of arguments")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        "both 'unbiased' and 'correction'")
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    dims = _axes(dim, input._data.ndim)
    if _count(input._data.shape, dims) - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output "
                      "numel).", UserWarning, stacklevel=3)
    return dims, correction


@tensor_method()
def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Variance over ``dim`` with ``correction`` (1 by default: Bessel's; ``unbiased=False``
    is correction 0)."""
    dims, correction = _correction("var", input, dim, unbiased, correction)
    return Var.apply(input, dims=dims, correction=correction, keepdim=keepdim)


@tensor_method()
def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Standard deviation over ``dim``, as ``var``; its gradient is 0 where it is 0."""
    dims, correction = _correction("std", input, dim, unbiased, correction)
    return Std.apply(input, dims=dims, correction=correction, keepdim=keepdim)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """(var, mean) over ``dim``."""
    dims, correction = _correction("var_mean", input, dim, unbiased, correction)
    return (Var.apply(input, dims=dims, correction=correction, keepdim=keepdim),
            mean(input, dims, keepdim))


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """(std, mean) over ``dim``."""
    dims, correction = _correction("std_mean", input, dim, unbiased, correction)
    return (Std.apply(input, dims=dims, correction=correction, keepdim=keepdim),
            mean(input, dims, keepdim))


class Logsumexp(Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        xp = array_module(a)
        a = a if a.dtype.kind in "fc" else a.astype(float_dtype_for(a))
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.size == 0:
                out = xp.log(xp.exp(a).sum(axis=dims, keepdims=keepdim))
            else:
                # shift by the maximum; rows of +-inf are left unshifted (torch's rule)
                shift = xp.max(a, axis=dims, keepdims=True)
                shift = xp.where(xp.isinf(shift), 0, shift).astype(a.dtype)
                out = xp.log(xp.exp(a - shift).sum(axis=dims, keepdims=True)) + shift
                if not keepdim:
                    out = out.reshape(_reduced_shape(a.shape, dims))
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        out = _array(out)
        _save(ctx, a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        with np.errstate(invalid="ignore"):  # -inf - -inf: the NaN gradient torch gives
            return (_expand(grad, ctx.shape, ctx.dims, ctx.keepdim)
                    * (x - _expand(out, ctx.shape, ctx.dims, ctx.keepdim)).exp())


@tensor_method()
def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, computed without overflow (shifted by the max)."""
    return Logsumexp.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim)


# ----------------------------------------------------------------------------- norm


class Norm(Op):
    """The vector p-norm over dims (p: any float, inf, -inf, 0)."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, p, dims, keepdim, np_dtype):
        xp = array_module(a)
        x = a.astype(np_dtype) if np_dtype is not None and a.dtype != np_dtype else a
        size = xp.abs(x)
        real = size.dtype
        if p == math.inf or p == -math.inf:
            out = (size.max if p > 0 else size.min)(axis=dims, keepdims=True)
            weights = _tie_weights(xp, size, out, dims)
            if not keepdim:
                out = out.reshape(_reduced_shape(x.shape, dims))
        elif p == 0:
            out = (x != 0).sum(axis=dims, keepdims=keepdim, dtype=real)
        elif p == 1:
            out = size.sum(axis=dims, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((size * size).sum(axis=dims, keepdims=keepdim))
        else:
            out = ((size ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)).astype(real)
        out = _array(out)
        ctx.p = p
        if ctx.needs_input_grad and p != 0:
            ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
            sign = xp.sign(x)
            zero = (out == 0).astype(real)
            if p in (math.inf, -math.inf):
                _save(ctx, sign * weights)
            elif p == 1:
                _save(ctx, sign)
            else:
                _save(ctx, a, out, sign, zero, (x == 0).astype(real))
        return out

    @staticmethod
    def backward(ctx, grad):
        p = ctx.p
        if p == 0:  # a count: no gradient, as torch
            return None
        if p in (math.inf, -math.inf, 1):
            (direction,) = ctx.saved_tensors
            return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * direction
        x, out, sign, zero, x_zero = ctx.saved_tensors
        # the gradient is 0 where the norm is 0 (torch's choice at the kink)
        safe_out = out + zero
        if p == 2:
            grad = grad * (1 - zero) / safe_out
            return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * x
        grad = grad * (1 - zero) / safe_out ** (p - 1)
        safe_size = x * sign + x_zero
        return _expand(grad, ctx.shape, ctx.dims, ctx.keepdim) * sign * safe_size ** (p - 1)


@tensor_method()
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None,
         dtype=None) -> Tensor:
    """The vector p-norm of ``input`` over ``dim`` (all elements when None): p='fro' (the
    2-norm), any number, inf, -inf, or 0 (the count of nonzeros)."""
    np_dtype = _np_dtype(dtype)
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {input.dtype.scalar_name}")
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if isinstance(p, str):
        if p != "fro":
            raise RuntimeError(f"norm(): p='{p}' is not supported (only 'fro' and numbers)")
        if dim is not None and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(d) for d in dim)}")
        p = 2
    p = float(p)
    dims = _axes(dim, input._data.ndim)
    if abs(p) == math.inf and _count(input._data.shape, dims) == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty "
                           "tensor because the operation does not have an identity")
    if out is not None:
        raise NotImplementedError("norm(out=...) is not supported")
    return Norm.apply(input, p=p, dims=dims, keepdim=keepdim, np_dtype=np_dtype)


# ----------------------------------------------------------------------------- logical


class All(Op):
    reduce = "all"

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        out = getattr(array_module(a), cls.reduce)(a, axis=dims, keepdims=keepdim)
        return out.astype(np.uint8) if a.dtype == np.uint8 else out


class Any(All):
    reduce = "any"


@tensor_method()
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether all elements along ``dim`` are nonzero (bool; uint8 for uint8 input)."""
    return All.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim)


@tensor_method()
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element along ``dim`` is nonzero (bool; uint8 for uint8 input)."""
    return Any.apply(input, dims=_axes(dim, input._data.ndim), keepdim=keepdim)


class CountNonzero(Op):
    @staticmethod
    def forward(ctx, a, dims):
        return (a != 0).sum(axis=dims, dtype=np.int64)


@tensor_method()
def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number (int64) of nonzero elements along ``dim`` (int or tuple; all when None)."""
    return CountNonzero.apply(input, dims=_axes(dim, input._data.ndim))


# ----------------------------------------------------------------------------- scans


def _scan(function, a, axis, **kwargs):
    """``function`` (cumsum, cumprod) along ``axis`` (None: a 0-d array, a 1-element scan)."""
    if axis is None:
        return function(a.reshape(1), axis=0, **kwargs).reshape(())
    return function(a, axis=axis, **kwargs)


def _reverse_cumsum(xp, a, axis):
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


class Cumsum(Op):
    @staticmethod
    def forward(ctx, a, axis, np_dtype):
        ctx.axis = axis
        xp = array_module(a)
        return _scan(xp.cumsum, a, axis, dtype=_sum_dtype(a, np_dtype))

    @staticmethod
    def backward(ctx, grad):
        return CumsumReverse.apply(grad, axis=ctx.axis)


class CumsumReverse(Op):
    """Sums from each position to the end along an axis: cumsum's backward."""

    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return _scan(lambda a, axis: _reverse_cumsum(array_module(a), a, axis), a, axis)

    @staticmethod
    def backward(ctx, grad):
        return Cumsum.apply(grad, axis=ctx.axis, np_dtype=None)


def _cumprod_zero_masks(xp, zero, axis) -> tuple:
    """Cumprod's masks: the elements ``before`` the first zero of their slice, and that
    ``first`` zero."""
    zeros_so_far = _scan(xp.cumsum, zero, axis)
    return zeros_so_far == 0, (zeros_so_far == 1) & zero


class Cumprod(Op):
    """Cumulative product. Its gradient at k is sum_{i>=k} g_i * out_i / x_k, which holds
    before the first zero of a slice; at the first zero the same sum is taken with that
    zero replaced by one, and after it the gradient is 0."""

    @staticmethod
    def forward(ctx, a, axis, np_dtype):
        xp = array_module(a)
        out = _scan(xp.cumprod, a, axis, dtype=_sum_dtype(a, np_dtype))
        if ctx.needs_input_grad:
            ctx.axis = axis
            _save_product(ctx, a, out, lambda zero: _cumprod_zero_masks(xp, zero, axis))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out, *masks = ctx.saved_tensors
        if not masks:
            return CumsumReverse.apply(grad * out, axis=ctx.axis) / x
        before, first = masks
        head = CumsumReverse.apply(grad * out, axis=ctx.axis) / (x * before + (1 - before))
        without_first = Cumprod.apply(x * (1 - first) + first, axis=ctx.axis, np_dtype=None)
        at_first = CumsumReverse.apply(grad * without_first, axis=ctx.axis)
        return head * before + at_first * first


def _scan_public(op, name):
    def function(input: Tensor, dim, *, dtype=None) -> Tensor:
        axis = _axis(name, dim, input._data.ndim)
        return op.apply(input, axis=axis, np_dtype=_np_dtype(dtype))

    function.__name__ = name
    return function


cumsum = tensor_method()(_scan_public(Cumsum, "cumsum"))
cumsum.__doc__ = "Cumulative sum along ``dim``; ints and bools accumulate in int64."
cumprod = tensor_method()(_scan_public(Cumprod, "cumprod"))
cumprod.__doc__ = ("Cumulative product along ``dim``; the gradient is exact with zeros "
                   "(the second derivative only where the input has none).")


@tensor_method()
def cumsum_(input: Tensor, dim, *, dtype=None) -> Tensor:
    """In-place form of cumsum."""
    return input._inplace(cumsum, dim, dtype=dtype)


@tensor_method()
def cumprod_(input: Tensor, dim, *, dtype=None) -> Tensor:
    """In-place form of cumprod."""
    return input._inplace(cumprod, dim, dtype=dtype)


# ----------------------------------------------------------------------------- softmax


def _softmax_input(name, input, dim, dtype):
    np_dtype = _np_dtype(dtype)
    if np_dtype is not None and input._data.dtype != np_dtype:
        input = _elementwise.to_dtype(input, dtype)
    ndim = input._data.ndim
    axis = _axis(name, dim, ndim)
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        where = "lastdim_kernel_impl" if axis is None or axis == ndim - 1 else "kernel_impl"
        raise NotImplementedError(f'"{name}_{where}" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    return input, axis


def _shifted(xp, a, axis):
    """``a`` less its max along ``axis``: a row with +inf, or only -inf, is NaN (inf - inf),
    silently as torch's softmax (numpy would warn of the invalid value)."""
    peak = xp.max(a, axis=axis, keepdims=True)
    if xp is np:
        with np.errstate(invalid="ignore"):
            return a - peak
    return a - peak


class _SoftmaxOp(Op):
    """softmax or log_softmax along ``axis``: ``compute(xp, a, axis)`` on a non-empty array
    (an empty one is copied); the output and the dim are saved for backward."""

    @classmethod
    def forward(cls, ctx, a, axis):
        if a.size == 0:
            return a.copy()
        out = _array(cls.compute(array_module(a), a, axis))
        ctx.dim = 0 if axis is None else axis
        _save(ctx, out)
        return out


class Softmax(_SoftmaxOp):
    @staticmethod
    def compute(xp, a, axis):
        e = xp.exp(_shifted(xp, a, axis))
        return e / e.sum(axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - sum(grad * y, ctx.dim, keepdim=True))


class LogSoftmax(_SoftmaxOp):
    @staticmethod
    def compute(xp, a, axis):
        # a C-contiguous result, as torch's kernel writes (nll_loss then views it)
        if not a.flags.c_contiguous:  # (ascontiguousarray would make a 0-d array 1-d)
            a = xp.ascontiguousarray(a)
        shifted = _shifted(xp, a, axis)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        g = grad._data
        if _grad_state.enabled or g.ndim == 0:  # create_graph (or 0-d): Tensor ops
            return grad - y.exp() * sum(grad, ctx.dim, keepdim=True)
        xp = array_module(g)
        raw = xp.exp(y._data)
        raw *= g.sum(axis=ctx.dim, keepdims=True)
        return Tensor._make(xp.subtract(g, raw, out=raw))


@tensor_method()
def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(input) normalised to sum to 1 along ``dim`` (computed shifted by the max; cast to
    ``dtype`` first when given)."""
    input, axis = _softmax_input("softmax", input, dim, dtype)
    return Softmax.apply(input, axis=axis)


@tensor_method()
def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """log(softmax(input, dim)), computed directly (no log of a rounded-off 0)."""
    input, axis = _softmax_input("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, axis=axis)


# ----------------------------------------------------------------------------- engine


class SumToSize(Op):
    """Sum a broadcast gradient back to ``shape`` (the engine's one place for this)."""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return _backend.sum_to_shape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.expand(ctx.shape)


@tensor_method()
def sum_to_size(input: Tensor, *size) -> Tensor:
    """``input`` summed down to ``size`` (the shape it was broadcast from)."""
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
    if tuple(input._data.shape) == tuple(shape):
        return input
    return SumToSize.apply(input, shape=tuple(shape))


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "cumprod",
           "cumsum", "log_softmax", "logsumexp", "max", "mean", "median", "min", "mode",
           "nanmean", "nansum", "norm", "prod", "softmax", "std", "std_mean", "sum", "var",
           "var_mean"]
