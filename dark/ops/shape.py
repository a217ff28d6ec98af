"""Shape and movement ops: views (reshape, view, squeeze, permute, expand, split, diagonal
...) that share memory and the version counter with their input, and copies (cat, stack,
repeat, flip, roll, tril, clone ...). Backward formulas are written with these same ops, so
they are differentiable again."""
from __future__ import annotations

import functools
import math
import numbers
import warnings

from .. import _backend
from .._backend import array_module, wrap_dim, wrap_dims
from .._tensor import Tensor, install_methods, tensor_method
from ..autograd.function import Op


def _shape_args(size) -> tuple:
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def _dims_arg(dims) -> tuple:
    """Dims given as varargs, one int, or one sequence."""
    if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        return tuple(dims[0])
    return tuple(dims)


def _infer_shape(shape, numel):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for index, s in enumerate(shape):
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s} at index {index} of shape "
                                   f"{list(shape)}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _viewable(array, shape) -> bool:
    """Whether ``array`` can take ``shape`` without a copy (numpy and cupy refuse the shape
    assignment exactly when it cannot)."""
    probe = array.view()
    try:
        probe.shape = shape
    except AttributeError:
        return False
    return True


# ----------------------------------------------------------------------------- views

class Reshape(Op):
    raw_backward = True  # grad.reshape: Tensors and arrays alike
    node_name = "ViewBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class UnsafeView(Reshape):
    """The reshape of a layout that cannot be viewed: a copy."""

    node_name = "UnsafeViewBackward0"
    view_of = None


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


class ViewDtype(Op):
    """The same bytes read as another dtype (not differentiable, as in PyTorch)."""

    view_of = 0

    @staticmethod
    def forward(ctx, a, np_dtype):
        out = a.view(np_dtype)
        ctx.mark_non_differentiable(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None


@tensor_method()
def reshape(input: Tensor, *shape) -> Tensor:
    """The same data in ``shape`` (a view when the layout allows, else a copy)."""
    shape = _infer_shape(_shape_args(shape), input._data.size)
    array = input._data
    if array.flags.c_contiguous or _viewable(array, shape):
        return Reshape.apply(input, shape=shape)
    return UnsafeView.apply(input, shape=shape)


@tensor_method()
def view(input: Tensor, *shape) -> Tensor:
    """A view with ``shape`` (one -1 is inferred), or ``view(dtype)``: the same bytes as
    ``dtype`` (the last dim scales by the ratio of element sizes). RuntimeError when the
    memory layout cannot be viewed so."""
    if len(shape) == 1 and isinstance(shape[0], _backend.dtype):
        return _view_dtype(input, shape[0])
    shape = _infer_shape(_shape_args(shape), input._data.size)
    return View.apply(input, shape=shape)


def _view_dtype(input: Tensor, dtype) -> Tensor:
    array = input._data
    old, new = array.dtype.itemsize, dtype.np.itemsize
    if old != new:
        names = f"{input.dtype.scalar_name} as {dtype.scalar_name} (different element sizes)"
        if array.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to view {names}")
        if array.shape[-1] != 1 and array.strides[-1] != old:
            raise RuntimeError(f"self.stride(-1) must be 1 to view {names}, but got "
                               f"{array.strides[-1] // old}")
        if new > old and array.shape[-1] % (new // old):
            raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to view "
                               f"{names}, but got {array.shape[-1]}")
    return ViewDtype.apply(input, np_dtype=dtype.np)


@tensor_method()
def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, other._data.shape)


@tensor_method()
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, other._data.shape)


@tensor_method()
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one; a 0-d tensor becomes shape (1,)."""
    shape = input._data.shape
    start, end = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if not shape:
        return reshape(input, (1,))
    if start == end:
        return input
    merged = math.prod(shape[start:end + 1])
    return reshape(input, shape[:start] + (merged,) + shape[end + 1:])


@tensor_method()
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one of them may be -1)."""
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and known and shape[dim] % known == 0:
        sizes = tuple(shape[dim] // known if s == -1 else s for s in sizes)
    if -1 in sizes or math.prod(sizes) != shape[dim]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({shape[dim]}) in the input tensor")
    return reshape(input, shape[:dim] + sizes + shape[dim + 1:])


@tensor_method()
def ravel(input: Tensor) -> Tensor:
    """A 1-D view of a contiguous tensor (a 1-D copy otherwise)."""
    return view(contiguous(input), -1)


# ----------------------------------------------------------------------------- squeeze

class Squeeze(Op):
    raw_backward = True  # grad.reshape: Tensors and arrays alike
    view_of = 0

    @staticmethod
    def forward(ctx, a, dims):
        ctx.shape = a.shape
        return a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class SqueezeDim(Squeeze):
    node_name = "SqueezeBackward1"


class SqueezeDims(Squeeze):
    node_name = "SqueezeBackward2"


@tensor_method()
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all, one int, or a tuple); a dim of another size stays."""
    shape = input._data.shape
    if dim is None:
        op, dims = Squeeze, tuple(range(len(shape)))
    elif isinstance(dim, numbers.Integral):
        op, dims = SqueezeDim, (wrap_dim(dim, len(shape)),)
    else:
        op, dims = SqueezeDims, wrap_dims(dim, len(shape))
    dims = tuple(d for d in dims if d < len(shape) and shape[d] == 1)
    return op.apply(input, dims=dims)


class Unsqueeze(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return array_module(a).expand_dims(a, dim)

    @staticmethod
    def backward(ctx, grad):
        return grad.squeeze(ctx.dim)


@tensor_method()
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim`` (in [-ndim-1, ndim])."""
    return Unsqueeze.apply(input, dim=wrap_dim(dim, input._data.ndim + 1))


# ----------------------------------------------------------------------------- transposes

class Permute(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.permute(inverse)


@tensor_method()
def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims (varargs or one sequence): output dim i is input dim ``dims[i]``."""
    dims = _dims_arg(dims)
    ndim = input._data.ndim
    if len(dims) != ndim:
        raise RuntimeError(f"permute(): number of dimensions in the tensor input does not "
                           f"match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {ndim} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims=dims)


class Transpose(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return array_module(a).swapaxes(a, dim0, dim1) if a.ndim else a.view()

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims)


@tensor_method()
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1`` (a view)."""
    ndim = input._data.ndim
    return Transpose.apply(input, dim0=wrap_dim(dim0, ndim), dim1=wrap_dim(dim1, ndim))


@tensor_method()
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Alias of transpose."""
    return transpose(input, axis0, axis1)


@tensor_method()
def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Alias of transpose."""
    return transpose(input, dim0, dim1)


class TransposeMatrix(Op):
    node_name = "TBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a):
        return a.T

    raw_backward = True

    @staticmethod
    def backward(ctx, grad):
        # a raw array outside a graph of the backward (Op.raw_backward): its transpose view
        return grad.t() if isinstance(grad, Tensor) else grad.T


@tensor_method()
def t(input: Tensor) -> Tensor:
    """Transpose a 2-D tensor; 0-d and 1-D tensors come back as views of themselves."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return TransposeMatrix.apply(input)


def _reverse_dims(self: Tensor) -> Tensor:
    ndim = self._data.ndim
    if ndim != 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                      "shape is deprecated and it will throw an error in a future release. "
                      "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                      "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                      UserWarning, stacklevel=2)
    return Permute.apply(self, dims=tuple(range(ndim - 1, -1, -1)))


def _matrix_transpose(self: Tensor) -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _adjoint(self: Tensor) -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError("tensor.mH is only supported on matrices or batches of matrices. "
                           f"Got {self._data.ndim}-D tensor.")
    out = transpose(self, -2, -1)
    return out.conj() if self.is_complex() else out


def _hermitian(self: Tensor) -> Tensor:
    if self._data.ndim != 2:
        raise RuntimeError("tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self._data.ndim}-D tensor.")
    return _adjoint(self)


install_methods({
    "T": property(_reverse_dims, doc="The dims in reverse order (a view)."),
    "mT": property(_matrix_transpose, doc="The last two dims swapped (a view)."),
    "mH": property(_adjoint, doc="The conjugate of mT."),
    "H": property(_hermitian, doc="The conjugate transpose of a matrix."),
})


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims ``source`` (int or sequence) to positions ``destination``; the other dims
    keep their order."""
    ndim = input._data.ndim
    source = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    destination = ((destination,) if isinstance(destination, numbers.Integral)
                   else tuple(destination))
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source "
                           f"({list(source)} dims) should contain the same number of dims as "
                           f"destination ({list(destination)} dims)")
    src = [wrap_dim(d, ndim) for d in source]
    dst = [wrap_dim(d, ndim) for d in destination]
    for name, given, wrapped in (("source", source, src), ("destination", destination, dst)):
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    if not ndim:
        return Permute.apply(input, dims=())
    order = [None] * ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(ndim) if d not in src)
    dims = tuple(d if d is not None else next(rest) for d in order)
    return Permute.apply(input, dims=dims)


def moveaxis(input: Tensor, source, destination) -> Tensor:
    """Alias of movedim."""
    return movedim(input, source, destination)


# ----------------------------------------------------------------------------- expand, repeat

class Expand(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return array_module(a).broadcast_to(a, shape)

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


@tensor_method()
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``."""
    return expand(input, other._data.shape)


class Repeat(Op):
    @staticmethod
    def forward(ctx, a, repeats):
        ctx.shape = a.shape
        ctx.repeats = repeats
        return array_module(a).tile(a, repeats)

    @staticmethod
    def backward(ctx, grad):
        repeats = ctx.repeats
        if not repeats:
            return grad
        padded = (1,) * (len(repeats) - len(ctx.shape)) + tuple(ctx.shape)
        interleaved = tuple(x for pair in zip(repeats, padded) for x in pair)
        summed = grad.reshape(interleaved).sum(tuple(range(0, 2 * len(repeats), 2)))
        return summed.reshape(ctx.shape)


@tensor_method()
def repeat(input: Tensor, *repeats) -> Tensor:
    """Tile the tensor ``repeats[i]`` times along dim i (extra leading repeats add dims)."""
    repeats = _shape_args(repeats)
    shape = input._data.shape
    if len(repeats) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(repeats) - len(shape)) + shape
    target = [r * s for r, s in zip(repeats, padded)]
    for size in target:
        if size < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                               f"{target}")
    return Repeat.apply(input, repeats=repeats)


@tensor_method()
def tile(input: Tensor, *dims) -> Tensor:
    """repeat() where fewer ``dims`` than the tensor's are padded with 1s on the left."""
    dims = _shape_args(dims)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


# ----------------------------------------------------------------------------- joining

def _tensor_list(name: str, tensors) -> list:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    for index, item in enumerate(tensors):
        if not isinstance(item, Tensor):
            raise TypeError(f"expected Tensor as element {index} in argument 0, but got "
                            f"{type(item).__name__}")
    return list(tensors)


def _common_np_dtype(tensors):
    return functools.reduce(_backend.promote_types, (t.dtype for t in tensors)).np


class Cat(Op):
    @staticmethod
    def forward(ctx, *arrays, dim, np_dtype, kept):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] if i in kept else None for i, a in enumerate(arrays)]
        joined = [arrays[i].astype(np_dtype, copy=False) for i in kept]
        return array_module(joined[0]).concatenate(joined, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        grads, offset = [], 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            if size is None:
                grads.append(grad.new_zeros((0,)) if needed else None)
                continue
            grads.append(grad.narrow(ctx.dim, offset, size) if needed else None)
            offset += size
        return tuple(grads)


@tensor_method()
def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim ``dim``; sizes must match in the other dims. The
    result has the promoted dtype; empty 1-D tensors are skipped (legacy PyTorch rule)."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for index, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {index}) cannot be "
                               "concatenated")
    np_dtype = _common_np_dtype(tensors)
    kept = [(i, t) for i, t in enumerate(tensors) if t._data.shape != (0,)]
    if not kept:
        kept = [(0, tensors[0])]
    first = kept[0][1]._data.shape
    dim = wrap_dim(dim, len(first))
    for index, t in kept[1:]:
        shape = t._data.shape
        if len(shape) != len(first):
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{len(first)} and {len(shape)}")
        for d, (expected, got) in enumerate(zip(first, shape)):
            if d != dim and expected != got:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. "
                                   f"Expected size {expected} but got size {got} for tensor "
                                   f"number {index} in the list.")
    return Cat.apply(*tensors, dim=dim, np_dtype=np_dtype, kept=tuple(i for i, _ in kept))


def concat(tensors, dim: int = 0) -> Tensor:
    """Alias of cat."""
    return cat(tensors, dim)


def concatenate(tensors, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Alias of cat (``axis`` as in numpy)."""
    return cat(tensors, axis if dim is None else dim)


class Stack(Op):
    @staticmethod
    def forward(ctx, *arrays, dim, np_dtype):
        ctx.dim = dim
        arrays = [a.astype(np_dtype, copy=False) for a in arrays]
        return array_module(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return grad.unbind(ctx.dim)


@tensor_method()
def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim ``dim`` (promoted dtype)."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = tensors[0]._data.shape
    for index, t in enumerate(tensors[1:], 1):
        if t._data.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first)} at entry 0 and {list(t._data.shape)} at entry "
                               f"{index}")
    dim = wrap_dim(dim, len(first) + 1)
    return Stack.apply(*tensors, dim=dim, np_dtype=_common_np_dtype(tensors))


def _atleast(ndim: int, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    results = []
    for t in tensors:
        shape = t._data.shape
        if len(shape) >= ndim:
            results.append(t)
        elif ndim == 3 and len(shape) == 2:
            results.append(unsqueeze(t, -1))
        elif ndim == 3 and len(shape) == 1:
            results.append(unsqueeze(unsqueeze(t, 0), -1))
        else:
            results.append(reshape(t, (1,) * (ndim - len(shape)) + shape))
    return results[0] if len(results) == 1 else tuple(results)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d tensor becomes shape (1,))."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims (new dims in front)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(3, tensors)


def _stack_list(name: str, tensors, ndim: int):
    tensors = _tensor_list(name, tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return [_atleast(ndim, [t]) for t in tensors]


def hstack(tensors) -> Tensor:
    """Concatenate column-wise: along dim 0 for 1-D tensors, dim 1 otherwise."""
    tensors = _stack_list("hstack", tensors, 1)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate row-wise (1-D tensors become rows)."""
    return cat(_stack_list("vstack", tensors, 2), 0)


def dstack(tensors) -> Tensor:
    """Concatenate depth-wise, along dim 2 of the tensors made at least 3-D."""
    return cat(_stack_list("dstack", tensors, 3), 2)


# ----------------------------------------------------------------------------- splitting

class Split(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim, sizes):
        ctx.dim = dim
        pieces, offset = [], 0
        index = [slice(None)] * a.ndim
        for size in sizes:
            index[dim] = slice(offset, offset + size)
            pieces.append(a[tuple(index)])
            offset += size
        return tuple(pieces)

    raw_backward = True

    @staticmethod
    def backward(ctx, *grads):
        if not isinstance(grads[0], Tensor):  # raw arrays (Op.raw_backward)
            return array_module(grads[0]).concatenate(grads, axis=ctx.dim)
        return cat(grads, ctx.dim)


class SplitWithSizes(Split):
    pass


@tensor_method()
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of ``tensor`` cut along ``dim`` into pieces of ``split_size_or_sections`` (the
    last may be smaller) or of the listed sizes."""
    if tensor._data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = wrap_dim(dim, tensor._data.ndim)
    size = tensor._data.shape[dim]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        if step == 0 and size != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        count = max(-(-size // step), 1) if step else 1
        sizes = [step] * (count - 1) + [size - step * (count - 1)]
        return Split.apply(tensor, dim=dim, sizes=sizes)
    sizes = [int(s) for s in split_size_or_sections]
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                           f"entries, but got split_sizes={sizes}")
    if sum(sizes) != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                           f"(input tensor's size at dimension {dim}), but got "
                           f"split_sizes={sizes}")
    return SplitWithSizes.apply(tensor, dim=dim, sizes=sizes)


@tensor_method()
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` views of equal size along ``dim`` (the last may be smaller;
    fewer pieces when the size does not allow that many)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    dim = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    step = -(-size // chunks)
    if step == 0:
        return split(input, [0] * chunks, dim)
    return split(input, step, dim)


class Unbind(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        index = [slice(None)] * a.ndim
        pieces = []
        for i in range(a.shape[dim]):
            index[dim] = i
            pieces.append(a[tuple(index)])
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.dim)


@tensor_method()
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim`` as a tuple of views, each without that dim."""
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Unbind.apply(input, dim=wrap_dim(dim, input._data.ndim))


class Narrow(Op):
    node_name = "SliceBackward0"
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim, start, length):
        ctx.shape, ctx.dim, ctx.start, ctx.length = a.shape, dim, start, length
        index = [slice(None)] * a.ndim
        index[dim] = slice(start, start + length)
        return a[tuple(index)]

    @staticmethod
    def backward(ctx, grad):
        return NarrowScatter.apply(grad, shape=ctx.shape, dim=ctx.dim, start=ctx.start)


class NarrowScatter(Op):
    """Zeros of ``shape`` holding the incoming values at a slice (narrow's backward)."""

    node_name = "SliceBackwardBackward0"

    @staticmethod
    def forward(ctx, a, shape, dim, start):
        ctx.dim, ctx.start, ctx.length = dim, start, a.shape[dim]
        out = array_module(a).zeros(shape, dtype=a.dtype)
        index = [slice(None)] * len(shape)
        index[dim] = slice(start, start + a.shape[dim])
        out[tuple(index)] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.narrow(ctx.dim, ctx.start, ctx.length)


@tensor_method()
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The view of ``length`` entries of ``dim`` from ``start`` (negative counts from the
    end)."""
    if input._data.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    dim = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return Narrow.apply(input, dim=dim, start=start, length=int(length))


# ----------------------------------------------------------------------------- unfold

def _unfold_view(a, dim, size, step):
    """The sliding windows of ``a`` along ``dim``: ``(a.shape[dim] - size) // step + 1``
    windows of ``size`` entries, one every ``step`` (a new last dim), sharing ``a``'s memory.
    A 0-d ``a`` gives the ``size`` (0 or 1) entries of one window."""
    if a.ndim == 0:
        shape, strides = (size,), (a.itemsize,)
    else:
        shape, strides = list(a.shape), list(a.strides)
        shape[dim] = (shape[dim] - size) // step + 1
        strides[dim] *= step
        shape.append(size)
        strides.append(a.strides[dim])
    return array_module(a).lib.stride_tricks.as_strided(a, tuple(shape), tuple(strides))


class Unfold(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, dim, size, step):
        ctx.shape, ctx.args = a.shape, (dim, size, step)
        return _unfold_view(a, dim, size, step)

    @staticmethod
    def backward(ctx, grad):
        return UnfoldBackward.apply(grad, shape=ctx.shape, args=ctx.args)


class UnfoldBackward(Op):
    """Zeros of ``shape`` with every window of the input (as unfold ``args`` cuts them)
    added back at its place: where windows overlap, their entries add."""

    @staticmethod
    def forward(ctx, a, shape, args):
        ctx.args = args
        dim, size, step = args
        out = array_module(a).zeros(shape, dtype=a.dtype)
        if not shape:
            out[...] = a.sum()  # a 0-d input: its one window holds 0 or 1 entries
            return out
        windows = a.shape[dim]
        if step >= size:  # the windows do not overlap: one strided write
            _unfold_view(out, dim, size, step)[...] = a
        elif size <= windows:  # one add per position in the window, over all windows
            index = [slice(None)] * len(shape)
            for k in range(size):
                index[dim] = slice(k, k + (windows - 1) * step + 1, step)
                out[tuple(index)] += a[..., k]
        else:  # one add per window
            xp = array_module(a)
            index = [slice(None)] * len(shape)
            for w in range(windows):
                index[dim] = slice(w * step, w * step + size)
                out[tuple(index)] += xp.moveaxis(a.take(w, axis=dim), -1, dim)
        return out

    @staticmethod
    def backward(ctx, grad):
        return unfold(grad, *ctx.args)


def _int_arg(value, name, position):
    """An int argument of unfold, as torch's parser takes it: an integer or a 0-d integer
    tensor (bools, floats and other tensors refused)."""
    if isinstance(value, Tensor) and value._data.ndim == 0 and value._data.dtype.kind in "iu":
        return int(value.item())
    if isinstance(value, (bool, Tensor)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"unfold(): argument '{name}' (position {position}) must be int, not "
                        f"{type(value).__name__}")
    return int(value)


@tensor_method()
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The view of the windows of ``size`` entries of ``dimension``, one every ``step``:
    ``dimension`` becomes the number of windows and a last dim of ``size`` is appended."""
    dimension = _int_arg(dimension, "dimension", 1)
    size, step = _int_arg(size, "size", 2), _int_arg(step, "step", 3)
    ndim = input._data.ndim
    dim = wrap_dim(dimension, ndim)
    longest = input._data.shape[dim] if ndim else 1
    if size > longest:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {longest} but size "
                           f"is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(input, dim=dim, size=size, step=step)


# ----------------------------------------------------------------------------- flip, roll

class Flip(Op):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        index = tuple(slice(None, None, -1) if d in dims else slice(None)
                      for d in range(a.ndim))
        return a[index].copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims)


@tensor_method()
def flip(input: Tensor, *dims) -> Tensor:
    """A copy with the order of entries reversed along ``dims``."""
    return Flip.apply(input, dims=wrap_dims(_dims_arg(dims), input._data.ndim))


@tensor_method()
def fliplr(input: Tensor) -> Tensor:
    """flip(input, 1) for tensors of at least 2 dims."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


@tensor_method()
def flipud(input: Tensor) -> Tensor:
    """flip(input, 0) for tensors of at least 1 dim."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Op):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return array_module(a).roll(a, shifts if dims else shifts[0], axis=dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.roll(tuple(-s for s in ctx.shifts), ctx.dims)


@tensor_method()
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift entries circularly by ``shifts`` along ``dims`` (over the flattened tensor
    when ``dims`` is None)."""
    shifts = (int(shifts),) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    dims = () if dims is None else (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims) and not (not dims and len(shifts) == 1):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    ndim = input._data.ndim
    dims = tuple(wrap_dim(d, ndim) for d in dims) or None
    return Roll.apply(input, shifts=shifts, dims=dims)


# ----------------------------------------------------------------------------- triangles

class Tril(Op):
    upper = False

    @classmethod
    def forward(cls, ctx, a, diagonal):
        ctx.diagonal = diagonal
        xp = array_module(a)
        rows, cols = a.shape[-2:]
        if cls.upper:
            mask = ~xp.tri(rows, cols, diagonal - 1, dtype=bool)
        else:
            mask = xp.tri(rows, cols, diagonal, dtype=bool)
        return xp.where(mask, a, xp.zeros((), dtype=a.dtype))

    @classmethod
    def backward(cls, ctx, grad):
        return grad.triu(ctx.diagonal) if cls.upper else grad.tril(ctx.diagonal)


class Triu(Tril):
    upper = True


def _triangle(op, name, input, diagonal):
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return op.apply(input, diagonal=int(diagonal))


@tensor_method()
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (entries above ``diagonal`` zeroed)."""
    return _triangle(Tril, "tril", input, diagonal)


@tensor_method()
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (entries below ``diagonal`` zeroed)."""
    return _triangle(Triu, "triu", input, diagonal)


# ----------------------------------------------------------------------------- diagonals

def _diagonal_view(a, offset, dim1, dim2):
    """A writable strided view of the diagonal (the diagonal becomes the last dim)."""
    rows, cols = a.shape[dim1], a.shape[dim2]
    length = max(min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols), 0)
    if length:
        index = [slice(None)] * a.ndim
        if offset >= 0:
            index[dim2] = slice(offset, None)
        else:
            index[dim1] = slice(-offset, None)
        a = a[tuple(index)]
    rest = [d for d in range(a.ndim) if d not in (dim1, dim2)]
    shape = tuple(a.shape[d] for d in rest) + (length,)
    strides = tuple(a.strides[d] for d in rest) + (a.strides[dim1] + a.strides[dim2],)
    return array_module(a).lib.stride_tricks.as_strided(a, shape, strides)


class Diagonal(Op):
    view_of = 0

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.shape, ctx.args = a.shape, (offset, dim1, dim2)
        return _diagonal_view(a, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        return DiagonalBackward.apply(grad, shape=ctx.shape, args=ctx.args)


class DiagonalCopy(Diagonal):
    node_name = "DiagonalBackward0_copy"
    view_of = None

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.shape, ctx.args = a.shape, (offset, dim1, dim2)
        return _diagonal_view(a, offset, dim1, dim2).copy()


class DiagonalBackward(Op):
    """Zeros of ``shape`` with the input on the diagonal given by ``args``."""

    node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, a, shape, args):
        ctx.args = args
        out = array_module(a).zeros(shape, dtype=a.dtype)
        _diagonal_view(out, *args)[...] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.diagonal(*ctx.args)


class DiagEmbed(DiagonalBackward):
    node_name = "DiagEmbedBackward0"


def _diagonal_dims(ndim, dim1, dim2):
    wrapped = wrap_dim(dim1, ndim), wrap_dim(dim2, ndim)
    if wrapped[0] == wrapped[1]:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return wrapped


@tensor_method()
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal ``offset`` of the matrices in dims (``dim1``, ``dim2``); those
    dims are removed and the diagonal is appended as the last dim."""
    dim1, dim2 = _diagonal_dims(input._data.ndim, dim1, dim2)
    return Diagonal.apply(input, offset=int(offset), dim1=dim1, dim2=dim2)


@tensor_method()
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims ``dim1``, ``dim2`` of the result) whose diagonal ``offset`` holds
    the last dim of ``input``; zeros elsewhere."""
    ndim = input._data.ndim + 1
    dim1, dim2 = _diagonal_dims(ndim, dim1, dim2)
    *batch, n = input._data.shape if input._data.ndim else (1,)
    shape = list(batch)
    for d in sorted((dim1, dim2)):
        shape.insert(d, n + abs(int(offset)))
    return DiagEmbed.apply(input, shape=tuple(shape), args=(int(offset), dim1, dim2))


@tensor_method()
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D tensor -> the square matrix with it on diagonal ``diagonal``; a 2-D tensor ->
    a copy of its diagonal ``diagonal``."""
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")
    return DiagonalCopy.apply(input, offset=int(diagonal), dim1=0, dim2=1)


@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors: shape (n, m)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got "
                               f"{t._data.ndim}-D")
    return reshape(input, (-1, 1)) * vec2


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """Alias of outer."""
    return outer(input, vec2)


# ----------------------------------------------------------------------------- copies

class Clone(Op):
    @staticmethod
    def forward(ctx, a):
        return a.copy(order="K")

    @staticmethod
    def backward(ctx, grad):
        return grad


class Contiguous(Clone):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return array_module(a).ascontiguousarray(a)


@tensor_method()
def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A differentiable copy with the same layout."""
    return Clone.apply(input)


@tensor_method()
def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """The tensor itself when C-contiguous, else a C-contiguous differentiable copy."""
    if input._data.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


# ----------------------------------------------------------------------------- in-place views

def _metadata_inplace(function):
    """``x.name_(...)``: x takes the shape and strides of ``function(x, ...)`` (same memory)
    and its history, with a version bump, as PyTorch's in-place view ops."""

    def method(self, *args, **kwargs):
        self._check_inplace()
        result = function(self, *args, **kwargs)
        self._data = result._data
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
        self._bump_version()
        return self

    method.__name__ = function.__name__ + "_"
    method.__doc__ = f"In-place form of {function.__name__}."
    return method


install_methods({_function.__name__ + "_": _metadata_inplace(_function)
                 for _function in (squeeze, unsqueeze, t, transpose, swapaxes, swapdims)})
install_methods({"tril_": lambda self, diagonal=0: self._inplace(tril, diagonal),
                 "triu_": lambda self, diagonal=0: self._inplace(triu, diagonal)})

__all__ = ["reshape", "flatten", "unflatten", "ravel", "squeeze", "unsqueeze", "permute",
           "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis", "tile", "cat",
           "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "atleast_1d",
           "atleast_2d", "atleast_3d", "split", "chunk", "unbind", "narrow", "flip",
           "fliplr", "flipud", "roll", "tril", "triu", "diagonal", "diag_embed", "diag",
           "outer", "ger", "clone"]
