"""Indexing, selection and sorting: ``x[...]`` reads (views for basic indexing, recorded for
dark.ops.inplace, which replays an in-place op on a view on its base) and writes (in place,
with PyTorch's CopySlices history), gather/scatter, the index_* ops, masks, nonzero,
sort/topk/kthvalue, unique, take.

Every read is one ``Index`` op and every write one ``IndexPut`` op on a *location*: a
``view`` (a function from a raw array to a basic-indexing view of it, or None) and an
advanced ``key`` applied to that view (a tuple of int64 arrays and full slices, or None).
The two ops are each other's adjoint, so gradients of any order come from these two."""
from __future__ import annotations

import collections
import collections.abc
import numbers
import operator
import warnings

import numpy as np

from .. import _backend
from .._backend import array_module, broadcast_shapes, check_scalar, wrap_dim
from .._tensor import Tensor, _nested_array, tensor_method
from ..autograd.function import Op, track_view
from ..autograd.grad_mode import state as _grad_state

# ----------------------------------------------------------------------------- locations


class _Region:
    """A basic-indexing view of a raw array: ``region(array)`` is ``array[key]`` (a view),
    composed along view chains through ``parent``."""

    __slots__ = ("key", "parent")

    def __init__(self, key: tuple, parent=None):
        self.key = key
        self.parent = parent

    def __call__(self, array):
        if self.parent is not None:
            array = self.parent(array)
        return array[self.key]


def _flat(array):
    return array.reshape(-1)


def _read(array, view, key):
    region = array if view is None else view(array)
    return region if key is None else region[key]


def _assign(array, view, key, value):
    region = array if view is None else view(array)
    region[Ellipsis if key is None else key] = value


# dtypes that cupyx.scatter_add handles with CUDA atomics; others go in rounds
_ATOMIC_ADD_DTYPES = ("float32", "float64", "int32", "uint32", "uint64")


def _accumulate(array, view, key, value):
    """array[view][key] += value, summing over repeated indices."""
    region = array if view is None else view(array)
    if key is None:
        region += value
        return
    xp = array_module(array)
    if xp is np:
        np.add.at(region, key, value)
    elif region.dtype.name in _ATOMIC_ADD_DTYPES:
        import cupyx  # noqa: PLC0415 - only on the GPU path

        cupyx.scatter_add(region, key, xp.broadcast_to(value, region[key].shape))
    else:
        _in_rounds(xp, region, key, value, xp.add)


def _multiply(array, view, key, value):
    """array[view][key] *= value over repeated indices."""
    region = array if view is None else view(array)
    xp = array_module(array)
    if xp is np:
        np.multiply.at(region, key, value)
    else:
        _in_rounds(xp, region, key, value, xp.multiply)


def _in_rounds(xp, region, key, value, ufunc):
    """``ufunc.at(region, key, value)`` without atomics (CuPy has no ufunc.at): each round
    updates the first remaining occurrence of every distinct position."""
    ids = xp.arange(region.size).reshape(region.shape)[key]
    values = xp.broadcast_to(xp.asarray(value, dtype=region.dtype), ids.shape).ravel()
    positions = ids.ravel()
    while positions.size:
        _, first = xp.unique(positions, return_index=True)
        where = xp.unravel_index(positions[first], region.shape)
        region[where] = ufunc(region[where], values[first])
        rest = xp.ones(positions.size, dtype=bool)
        rest[first] = False
        positions, values = positions[rest], values[rest]


def _along_dim(xp, index, dim: int, ndim: int) -> tuple:
    """The advanced key that takes ``index`` along ``dim`` and the same position along the
    other dims (gather's key). ``index`` may lack ``dim`` (a kept-dim-less result)."""
    squeezed = index.ndim < ndim
    key = []
    for d in range(ndim):
        if d == dim:
            key.append(index)
            continue
        position = d - 1 if squeezed and d > dim else d
        shape = [1] * index.ndim
        shape[position] = index.shape[position]
        key.append(xp.arange(index.shape[position]).reshape(shape))
    return tuple(key)


# ----------------------------------------------------------------------------- the two ops

class Index(Op):
    """Read a location of the input (a view when there is no advanced key)."""

    view_of = 0

    @staticmethod
    def forward(ctx, a, view=None, key=None):
        ctx.shape = a.shape
        ctx.view = view
        ctx.key = key
        return _read(a, view, key)

    @staticmethod
    def backward(ctx, grad):
        return IndexGrad.apply(grad, shape=ctx.shape, view=ctx.view, key=ctx.key)


class IndexGrad(Op):
    """Zeros of ``shape`` with the gradient added at the location (repeats accumulate)."""

    node_name = "IndexBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, shape, view=None, key=None):
        ctx.view = view
        ctx.key = key
        out = array_module(grad).zeros(shape, dtype=grad.dtype)
        _accumulate(out, view, key, grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, view=ctx.view, key=ctx.key)


class IndexPut(Op):
    """A copy of the input with ``value`` written (or added, or multiplied) at a location."""

    @staticmethod
    def forward(ctx, a, value, view=None, key=None, mode="set", copy=True):
        ctx.view = view
        ctx.key = key
        ctx.mode = mode
        ctx.value_ndim = getattr(value, "ndim", 0)
        if hasattr(value, "dtype") and value.dtype != a.dtype:
            value = _backend.cast(value, a.dtype)  # as torch (a double to float16 via float)
        out = a.copy() if copy else a
        if mode == "set":
            _assign(out, view, key, value)
        elif mode == "add":
            _accumulate(out, view, key, value)
        else:
            _multiply(out, view, key, value)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_input = grad_value = None
        if ctx.needs_input_grad[0]:
            grad_input = grad if ctx.mode == "add" else IndexPut.apply(
                grad, 0, view=ctx.view, key=ctx.key)
        if ctx.needs_input_grad[1]:
            grad_value = Index.apply(grad, view=ctx.view, key=ctx.key)
            extra = ctx.value_ndim - grad_value.ndim
            if extra > 0:  # a value with leading 1s beyond the region's dims
                grad_value = grad_value.reshape((1,) * extra + tuple(grad_value.shape))
        return grad_input, grad_value


def _named(base, name: str, node_name: str | None = None, **attrs):
    """A subclass of ``base`` whose backward node has PyTorch's name for the op."""
    namespace = {"node_name": node_name or f"{name}Backward0", **attrs}
    return type(name, (base,), namespace)


Select = _named(Index, "Select")
Slice = _named(Index, "Slice")
Unsqueeze = _named(Index, "Unsqueeze")
Alias = _named(Index, "Alias")
AsStrided = _named(Index, "AsStrided")
Gather = _named(Index, "Gather", view_of=None)
IndexSelect = _named(Index, "IndexSelect", view_of=None)
Take = _named(Index, "Take", view_of=None)
MaskedSelect = _named(Index, "MaskedSelect", view_of=None)
AdvancedIndex = _named(Index, "AdvancedIndex", "IndexBackward0", view_of=None)
Sort = _named(Index, "Sort", view_of=None)
StableSort = _named(Index, "StableSort", "SortBackward1", view_of=None)
Topk = _named(Index, "Topk", view_of=None)
Kthvalue = _named(Index, "Kthvalue", view_of=None)
CopySlices = _named(IndexPut, "CopySlices", "CopySlices")
AdvancedIndexPut = _named(IndexPut, "AdvancedIndexPut", "IndexPutBackward0")
Scatter = _named(IndexPut, "Scatter")
ScatterValue = _named(IndexPut, "ScatterValue", "ScatterBackward1")
ScatterAdd = _named(IndexPut, "ScatterAdd")
IndexAdd = _named(IndexPut, "IndexAdd")
IndexCopy = _named(IndexPut, "IndexCopy")
IndexFill = _named(IndexPut, "IndexFill")
IndexFillTensor = _named(IndexPut, "IndexFillTensor", "IndexFillBackward1")


class ScatterReduce(IndexPut):
    """scatter with reduce=: not differentiable (backward raises, as PyTorch's)."""

    node_name = "NotImplemented"

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::scatter is not implemented")


_BASIC_OPS = {"Select": Select, "Slice": Slice, "Unsqueeze": Unsqueeze, "Alias": Alias}


# ----------------------------------------------------------------------------- parsing

_INDEX_TYPES_MESSAGE = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                        "Variables are valid indices (got {})")


def _classify(item):
    """One index item as ('int', n) | ('slice', s) | ('none',) | ('ellipsis',) |
    ('bool', b) | ('mask', array) | ('array', int array)."""
    if item is None:
        return ("none",)
    if item is Ellipsis:
        return ("ellipsis",)
    if isinstance(item, bool):
        return ("bool", item)
    if isinstance(item, numbers.Integral):
        return ("int", int(item))
    if isinstance(item, slice):
        start, stop, step = (None if v is None else operator.index(v)
                             for v in (item.start, item.stop, item.step))
        if step is not None and step <= 0:
            if step == 0:
                raise ValueError("slice step cannot be zero")
            raise ValueError("step must be greater than zero")
        return ("slice", slice(start, stop, step))
    if isinstance(item, Tensor):
        array = item._data
        kind = array.dtype.kind
        if kind == "i":  # the common case first: a long or int tensor
            return ("int", int(array)) if array.ndim == 0 else ("array", array)
        if kind not in "ub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    elif isinstance(item, np.ndarray):
        array = _array_index(item)
    elif _is_sequence(item):
        array = _array_index(_sequence_array(item))
    else:  # an object with __index__, or torch's error naming its type
        try:
            return ("int", operator.index(item))
        except TypeError:
            raise IndexError(_INDEX_TYPES_MESSAGE.format(_type_name(item))) from None
    if array.dtype == np.bool_ or array.dtype == np.uint8:
        if array.ndim == 0:
            return ("bool", bool(array))
        return ("mask", array.astype(bool, copy=False))
    if array.ndim == 0:
        return ("int", int(array))
    return ("array", array)


def _type_name(item) -> str:
    """The type's name as Python's C API writes it in torch's messages (numpy.float32)."""
    kind = type(item)
    return f"numpy.{kind.__name__}" if kind.__module__ == "numpy" else kind.__name__


def _is_sequence(item) -> bool:
    """Python's PySequence_Check as torch's indexing uses it: lists, tuples, ranges, strings,
    numpy arrays, objects with __getitem__; not mappings, tensors or numpy scalars."""
    if isinstance(item, (list, tuple, range, np.ndarray, str, bytes)):
        return True
    if isinstance(item, (Tensor, np.generic, collections.abc.Mapping)):
        return False
    return hasattr(type(item), "__getitem__")


def _sequence_array(items):
    """A python sequence as torch.tensor reads it (torch's errors for ragged lists, strings),
    and torch's "Could not infer dtype" for an element that is no number."""
    try:
        return _nested_array(items, _backend.int64)
    except (ValueError, TypeError):
        if not isinstance(items, (str, bytes)):
            for item in items:
                if not isinstance(item, (numbers.Number, Tensor, np.generic, str, bytes)) \
                        and not _is_sequence(item):
                    raise RuntimeError(f"Could not infer dtype of {_type_name(item)}") from None
        raise


def _array_index(array):
    """A numpy array (or one read from a python sequence) as torch's
    indexing_tensor_from_data takes it: bool and uint8 stay masks, every other dtype becomes
    int64 (floats truncated toward zero, complex numbers' real parts with torch's warning)."""
    kind = array.dtype.kind
    if kind == "b" or array.dtype == np.uint8 or array.dtype == np.int64:
        return array
    if kind in "US":
        raise TypeError(f"new(): invalid data type '{'str' if kind == 'U' else 'bytes'}'")
    if kind == "c":
        warnings.warn("Casting complex values to real discards the imaginary part",
                      UserWarning, stacklevel=5)
        array = array.real
    if kind not in "iufc":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    with np.errstate(invalid="ignore", over="ignore"):
        return array.astype(np.int64)


_LEGACY_SEQUENCE_MESSAGE = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
    "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[dark.tensor(seq)], which will result either in an error "
    "or a different result")

_SINGLE_INDEX_TYPES = frozenset((Tensor, int, slice, type(None), type(Ellipsis), bool,
                                 np.ndarray))


def _index_items(index) -> tuple:
    """The items of a PyTorch index: a tuple's items, else the one index, except that a short
    (< 32) non-tuple sequence holding a tensor, a sequence, a slice, None or Ellipsis is read
    as a tuple, with torch's deprecation warning (torch's treatSequenceAsTuple)."""
    kind = type(index)
    if kind is tuple:
        return index
    if kind in _SINGLE_INDEX_TYPES or not _is_sequence(index) or isinstance(index, np.ndarray):
        return (index,)
    try:
        items = list(index) if len(index) < 32 else ()
    except Exception:  # noqa: BLE001 - as torch, a sequence that fails is one index
        return (index,)
    for item in items:
        if (item is None or item is Ellipsis or isinstance(item, (Tensor, slice))
                or _is_sequence(item)):
            warnings.warn(_LEGACY_SEQUENCE_MESSAGE, UserWarning, stacklevel=3)
            return tuple(items)
    return (index,)


def _to_device(array, like):
    if type(like) is np.ndarray:
        if type(array) is not np.ndarray:
            raise RuntimeError("indices should be either on cpu or on the same device as the "
                               "indexed tensor (cpu)")
        return array
    return _backend.asarray_on(array, _backend.device_of(like))


def _check_bounds(array, size: int, ordinal: int, error=IndexError, prefix: str = ""):
    if array.size == 0:
        return
    bad = (array >= size) | (array < -size)
    if bool(bad.any()):
        value = int(array[bad].ravel()[0])
        raise error(f"{prefix}index {value} is out of bounds for dimension {ordinal} with "
                    f"size {size}")


def _check_int_index(index: int, position: int, size: int) -> None:
    """An int index of a dim of ``size`` (at ``position`` in the index): PyTorch's IndexError
    when out of range."""
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {position} with size "
                         f"{size}")


def _parse(tensor: Tensor, index: tuple):
    """Split a PyTorch index (its items, from _index_items) into a basic part (ints, slices,
    None: applied first, a view) and an advanced key on that view, following PyTorch's
    placement rules.

    Returns (basic_key or None, basic node name, advanced key or None)."""
    items = [_classify(i) for i in index]
    shape = tensor._data.shape
    ndim = len(shape)
    consumed = sum(1 if it[0] in ("int", "slice", "array") else
                   it[1].ndim if it[0] == "mask" else 0 for it in items)
    if consumed > ndim:
        if ndim == 0 and any(it[0] == "int" for it in items):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python "
                             "or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a "
                             "number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    expanded = []
    for it in items:
        if it[0] == "ellipsis":
            expanded.extend([("ellipsis-slice", slice(None))] * (ndim - consumed))
            consumed = ndim
        else:
            expanded.append(it)
    basic = []
    advanced = []
    name = None
    dim = 0
    for position, it in enumerate(expanded):
        kind = it[0]
        if kind == "int":
            _check_int_index(it[1], position, shape[dim])
            basic.append(it[1])
            name = "Select"
            dim += 1
        elif kind in ("slice", "ellipsis-slice"):
            basic.append(it[1])
            advanced.append(slice(None))
            if kind == "slice":
                name = "Slice"
            dim += 1
        elif kind == "none":
            basic.append(None)
            advanced.append(slice(None))
            name = "Unsqueeze"
        elif kind == "bool":
            basic.append(None)
            name = "Unsqueeze"
            advanced.append(np.zeros(1 if it[1] else 0, dtype=np.int64))
        elif kind == "mask":
            mask = it[1]
            region = shape[dim:dim + mask.ndim]
            for k, (m, s) in enumerate(zip(mask.shape, region)):
                if m != s:
                    raise IndexError(
                        f"The shape of the mask {list(mask.shape)} at index {k} does not match "
                        f"the shape of the indexed tensor {list(_after_basic(shape, basic))} "
                        f"at index {len(advanced) + k}")
            basic.extend([slice(None)] * mask.ndim)
            advanced.extend(array_module(mask).nonzero(mask))
            dim += mask.ndim
        else:
            basic.append(slice(None))
            advanced.append(it[1])
            dim += 1
    arrays = [a for a in advanced if not isinstance(a, slice)]
    if not arrays:
        advanced = None
    else:
        sizes = _after_basic(shape, basic)
        for ordinal, (a, size) in enumerate(
                (a, sizes[i]) for i, a in enumerate(advanced) if not isinstance(a, slice)):
            _check_bounds(a, size, ordinal)
        try:
            np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            shapes = ", ".join(str(list(a.shape)) for a in arrays)
            raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                             f"with shapes {shapes}") from None
        while isinstance(advanced[-1], slice):
            advanced.pop()
        advanced = tuple(a if isinstance(a, slice) else _to_device(a, tensor._data)
                         for a in advanced)
    if advanced is not None and all(isinstance(b, slice) and b == slice(None) for b in basic):
        return None, None, advanced
    basic.append(Ellipsis)  # keeps a full integer index a 0-d view, not a numpy scalar
    return tuple(basic), name or "Alias", advanced


def _after_basic(shape, basic) -> tuple:
    """The shape after the basic items parsed so far (ints drop a dim, None adds one)."""
    sizes = []
    dim = 0
    for b in basic:
        if b is None:
            sizes.append(1)
            continue
        if isinstance(b, slice):
            sizes.append(len(range(*b.indices(shape[dim]))))
        dim += 1
    return tuple(sizes) + tuple(shape[dim:])


def _advanced_shape(shape, key) -> tuple:
    """The shape of ``array[key]`` for an array of ``shape`` (numpy's placement rules)."""
    positions = [i for i, k in enumerate(key) if not isinstance(k, slice)]
    broadcast = np.broadcast_shapes(*(key[i].shape for i in positions))
    rest = [len(range(*k.indices(shape[i]))) if isinstance(k, slice) else None
            for i, k in enumerate(key)] + list(shape[len(key):])
    if positions == list(range(positions[0], positions[-1] + 1)):
        return (tuple(rest[:positions[0]]) + tuple(broadcast)
                + tuple(rest[positions[-1] + 1:]))
    return tuple(broadcast) + tuple(r for r in rest if r is not None)


# ----------------------------------------------------------------------------- views


class _NoGradView:
    """Marks a view made in no-grad mode of a base that requires grad."""


_NO_GRAD_VIEW = _NoGradView()


def _record_view(out: Tensor, source: Tensor, region: _Region) -> None:
    """Remember how ``out`` is read from its base, so that an in-place op on it can be
    replayed on the base (see dark.ops.inplace.rebase_view)."""
    base = out._base
    if base is None:
        return
    if not _grad_state.enabled and base._requires_grad:
        out.__dict__["_view_getter"] = _NO_GRAD_VIEW
        return
    if source._base is None:
        getter = region
    else:
        parent = source.__dict__.get("_view_getter")
        getter = None if parent is None or parent is _NO_GRAD_VIEW else _Region(
            region.key, parent)
    out.__dict__["_view_getter"] = getter
    track_view(base, out)


# ----------------------------------------------------------------------------- x[...]

@tensor_method("__getitem__")
def getitem(self: Tensor, index) -> Tensor:
    """``self[index]``: ints, slices, None, Ellipsis give a view; boolean masks and integer
    tensors/lists (advanced indexing, PyTorch's placement rules) give a copy."""
    if type(index) is int and self._data.ndim:  # x[i] (loops over time steps): _parse's answer
        _check_int_index(index, 0, self._data.shape[0])
        region = _Region((index, Ellipsis))
        out = Select.apply(self, view=region)
        _record_view(out, self, region)
        return out
    items = _index_items(index)
    basic, name, advanced = _parse(self, items)
    out = self
    if basic is not None:
        steps = None
        if advanced is None and self._requires_grad and _grad_state.enabled:
            single = type(index) is not tuple and items[0] is index
            steps = _view_steps(self._data.shape, items, single)
            if steps:
                name = steps[0][0]
            elif steps is not None:
                name = "Alias"
        if steps is not None and len(steps) > 1:
            # one node per step, as PyTorch records x[0, 1:] as Slice(Select(x))
            for step_name, key in steps:
                source, region = out, _Region(key)
                out = _BASIC_OPS[step_name].apply(source, view=region)
                _record_view(out, source, region)
            return out
        region = _Region(basic)
        out = _BASIC_OPS[name].apply(self, view=region)
        _record_view(out, self, region)
    if advanced is not None:
        out = AdvancedIndex.apply(out, key=advanced)
    return out


def _view_steps(shape, items: tuple, single: bool) -> list | None:
    """PyTorch's chain of view ops for a basic index (ints, slices, None, Ellipsis), as
    (op name, key of that one step) pairs, left to right. In a tuple a slice that keeps the
    whole dim records nothing (x[:, 0] is one Select), a lone slice always records a Slice;
    no step at all is an Alias. None when the index is not purely basic."""
    items = [_classify(i) for i in items]
    if any(it[0] not in ("int", "slice", "none", "ellipsis") for it in items):
        return None
    sizes = list(shape)
    consumed = sum(1 for it in items if it[0] in ("int", "slice"))
    steps = []
    dim = 0
    for it in items:
        kind = it[0]
        lead = (slice(None),) * dim
        if kind == "ellipsis":
            dim += len(shape) - consumed
        elif kind == "int":
            steps.append(("Select", lead + (it[1], Ellipsis)))
            del sizes[dim]
        elif kind == "none":
            steps.append(("Unsqueeze", lead + (None, Ellipsis)))
            sizes.insert(dim, 1)
            dim += 1
        else:
            part = it[1]
            whole = part.start in (None, 0) and (part.stop is None or part.stop >= sizes[dim]) \
                and part.step in (None, 1)
            if single or not whole:
                steps.append(("Slice", lead + (part, Ellipsis)))
                sizes[dim] = len(range(*part.indices(sizes[dim])))
            dim += 1
    return steps


def _check_value_shape(value_shape, region_shape, advanced: bool) -> None:
    shape = tuple(value_shape)
    while len(shape) > len(region_shape) and shape[0] == 1:
        shape = shape[1:]
    fits = len(shape) <= len(region_shape) and all(
        v in (1, r) for v, r in zip(reversed(shape), reversed(region_shape)))
    if fits:
        return
    if advanced:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value_shape)} cannot "
                           f"be broadcast to indexing result of shape {list(region_shape)}")
    for k in range(1, len(shape) + 1):
        v = shape[-k]
        r = region_shape[-k] if k <= len(region_shape) else None
        if v != 1 and v != r:
            dim = len(region_shape) - k
            raise RuntimeError(f"The expanded size of the tensor ({r}) must match the existing "
                               f"size ({v}) at non-singleton dimension {dim}.  Target sizes: "
                               f"{list(region_shape)}.  Tensor sizes: {list(value_shape)}")


def _put(source: Tensor, value, region, advanced) -> Tensor:
    op = CopySlices if advanced is None else AdvancedIndexPut
    return op.apply(source, value, view=region, key=advanced)


@tensor_method("__setitem__")
def setitem(self: Tensor, index, value) -> None:
    """``self[index] = value`` in place (value a tensor or a number, broadcast and cast to
    self's dtype); differentiable with respect to self's history and to value."""
    if not isinstance(value, (Tensor, int, float, complex, np.integer)):
        raise TypeError(f"can't assign a {_type_name(value)} to a "
                        f"dark.{self.dtype.scalar_name}Tensor")
    if not isinstance(value, Tensor):
        value = check_scalar(value, self.dtype, "index")
    basic, _, advanced = _parse(self, _index_items(index))
    region = None if basic is None else _Region(basic)
    target = _read(self._data, region, None)
    if isinstance(value, Tensor):
        region_shape = target.shape if advanced is None else _advanced_shape(
            target.shape, advanced)
        _check_value_shape(value._data.shape, region_shape, advanced is not None)
        if advanced is not None and value._data.dtype != self._data.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, "
                               f"got {self.dtype.scalar_name} for the destination and "
                               f"{value.dtype.scalar_name} for the source.")
    value_requires_grad = isinstance(value, Tensor) and value._requires_grad
    if not (_grad_state.enabled and (self._requires_grad or value_requires_grad)):
        raw = value._data if isinstance(value, Tensor) else value
        if isinstance(value, Tensor) and type(raw) is not type(target):
            raw = _backend.asarray_on(raw, self.device)
        if isinstance(value, Tensor) and raw.dtype != target.dtype and (
                "V" in (raw.dtype.kind, target.dtype.kind) or target.dtype == np.float16
                and raw.dtype in (np.float64, np.complex128)):
            # bfloat16 (kind V), and a double made float16: through float32, as torch casts
            raw = _backend.cast(raw, target.dtype)
        target[Ellipsis if advanced is None else advanced] = raw
        self._bump_version()
        return
    if self._requires_grad and self.grad_fn is None and advanced is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    if self._base is not None:
        # a view made by another op (reshape ...) is replayed on its base by its strides
        self.__dict__.setdefault("_view_getter", None)
    self._inplace(_put, value, region, advanced)  # which refreshes the views of self


# ----------------------------------------------------------------------------- helpers

def _index_array(index, name: str, allow_int32: bool = True, message: str | None = None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not "
                        f"{type(index).__name__}")
    array = index._data
    ok = array.dtype == np.int64 or (allow_int32 and array.dtype == np.int32)
    if not ok:
        raise RuntimeError(message or f"{name}(): Expected dtype int32/int64 for index")
    return array


def _check_same_ndim(index, input: Tensor, what: str) -> None:
    """PyTorch's rule for gather/scatter: a 0-d tensor counts as 1-d (ensure_nonempty_dim)."""
    if max(index.ndim, 1) != max(input._data.ndim, 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} "
                           "tensor")


def _dim_key(dim: int, index) -> tuple:
    return (slice(None),) * dim + (index,)


def _vector_index(index, name: str, message_dtype: str, error=IndexError):
    array = _index_array(index, name, message=message_dtype)
    if array.ndim > 1:
        raise error(f"{name}(): Index is supposed to be a vector")
    return array.reshape(-1)


def _fill_value(value, name: str, dtype):
    """The fill value of masked_fill/index_fill: a 0-d tensor that requires grad, else the
    number (a 0-d tensor's item, as torch reads it) checked for ``dtype``."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        if value._requires_grad:
            return value
        value = value.item()
    if not isinstance(value, numbers.Number):
        raise TypeError(f"{name}(): argument 'value' must be Number, not "
                        f"{type(value).__name__}")
    return check_scalar(value, dtype)


def _inplace_method(function, name: str):
    def method(self, *args, **kwargs):
        return self._inplace(function, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"In-place form of {function.__name__}."
    return method


# ----------------------------------------------------------------------------- gather/scatter

@tensor_method()
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[i][index[i][j][k]][k] for dim=1; out has index's shape."""
    array = _index_array(index, "gather")
    ndim = input._data.ndim
    dim = wrap_dim(dim, ndim)
    _check_same_ndim(array, input, "input")
    if ndim == 0:
        _check_bounds(array, 1, 0, RuntimeError)
        return Gather.apply(input, view=_flat, key=(array,))
    shape = input._data.shape
    for d in range(ndim):
        if d != dim and array.shape[d] > shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{list(array.shape)} to be no larger than self {list(shape)} "
                               f"apart from dimension {dim}")
    _check_nonnegative_bounds(array, shape[dim], dim)
    return Gather.apply(input, key=_along_dim(array_module(array), array, dim, ndim))


def _check_nonnegative_bounds(array, size: int, dim: int, error=RuntimeError, prefix=""):
    if array.size and bool(((array < 0) | (array >= size)).any()):
        value = int(array[(array < 0) | (array >= size)].ravel()[0])
        raise error(f"{prefix}index {value} is out of bounds for dimension {dim} with size "
                    f"{size}")


def _scatter_key(input: Tensor, dim: int, index: Tensor, src, name: str):
    array = _index_array(index, name)
    ndim = input._data.ndim
    dim = wrap_dim(dim, ndim)
    _check_same_ndim(array, input, "self")
    if isinstance(src, Tensor) and src._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    shown_src = list(src._data.shape) if isinstance(src, Tensor) else None
    if ndim == 1:  # a 0-d index or src counts as 1-d (PyTorch's ensure_nonempty_dim)
        if array.ndim == 0:
            array = array.reshape(1)
        if isinstance(src, Tensor) and src._data.ndim == 0:
            src = src.reshape(1)
    if isinstance(src, Tensor) and max(src._data.ndim, 1) != max(array.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if ndim == 0:
        _check_bounds(array, 1, 0, RuntimeError)
        return src, _flat, (array.reshape(-1),)
    shape = input._data.shape
    src_shape = src._data.shape if isinstance(src, Tensor) else None
    too_big = any(d != dim and array.shape[d] > shape[d] for d in range(ndim)) or (
        src_shape is not None and (len(src_shape) != ndim or any(
            i > s for i, s in zip(array.shape, src_shape))))
    if too_big:
        message = (f"Expected index {list(array.shape)} to be no larger than self "
                   f"{list(shape)} apart from dimension {dim}")
        if src_shape is not None:
            message += f" and to be no larger size than src {shown_src}"
        raise RuntimeError(message)
    _check_nonnegative_bounds(array, shape[dim], dim)
    if src_shape is not None and src_shape != array.shape:
        src = src[tuple(slice(0, n) for n in array.shape)]
    return src, None, _along_dim(array_module(array), array, dim, ndim)


@tensor_method()
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """A copy of input with src (a tensor, or the number ``value``) written at ``index``
    along ``dim`` (out[i][index[i][j]] = src[i][j] for dim=1); ``reduce`` 'add' or
    'multiply' combines instead of overwriting."""
    if src is None:
        src = value
    if isinstance(src, numbers.Number):
        value, src = check_scalar(src, input.dtype), None
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    source = src if src is not None else value
    source, view, key = _scatter_key(input, dim, index, source, "scatter")
    if reduce is not None:
        return ScatterReduce.apply(input, source, view=view, key=key,
                                   mode="add" if reduce == "add" else "multiply")
    op = Scatter if src is not None else ScatterValue
    return op.apply(input, source, view=view, key=key)


@tensor_method()
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of input with src added at ``index`` along ``dim`` (repeats accumulate)."""
    source, view, key = _scatter_key(input, dim, index, src, "scatter")
    return ScatterAdd.apply(input, source, view=view, key=key, mode="add")


# ----------------------------------------------------------------------------- index_*

@tensor_method()
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of input at ``index`` (a vector) along ``dim``."""
    array = _vector_index(index, "index_select",
                          "index_select(): Expected dtype int32 or int64 for index")
    ndim = input._data.ndim
    dim = wrap_dim(dim, ndim)
    size = input._data.shape[dim] if ndim else 1
    if array.size and bool(((array < 0) | (array >= size)).any()):
        raise IndexError("index out of range in self")
    if ndim == 0:
        return IndexSelect.apply(input, view=_flat, key=(array.reshape(()),))
    return IndexSelect.apply(input, key=_dim_key(dim, array))


def _index_source_checks(input, dim, index, source, name, error=RuntimeError):
    array = _vector_index(index, name, f"{name}(): Expected dtype int32/int64 for index but "
                          f"got: {index.dtype.scalar_name if isinstance(index, Tensor) else ''}",
                          error)
    ndim = input._data.ndim
    dim = wrap_dim(dim, ndim)
    shape = input._data.shape
    source_shape = source._data.shape
    count = source_shape[dim] if source._data.ndim else 1
    if array.size != count:
        if name == "index_copy_":
            raise IndexError(f"index_copy_(): Number of indices ({array.size}) should be equal "
                             f"to source.size(dim) ({count})")
        raise RuntimeError(f"{name}(): Number of indices ({array.size}) should be equal to "
                           f"source.size(dim): ({count}), for dim: {dim}")
    if len(source_shape) != ndim or any(
            s != n for d, (s, n) in enumerate(zip(source_shape, shape)) if d != dim):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(shape)} "
                           f"source.shape = {list(source_shape)}")
    if source._data.dtype != input._data.dtype:
        if name == "index_copy_":
            raise RuntimeError("index_copy_(): self and source expected to have the same "
                               f"dtype, but got (self) {input.dtype.scalar_name} and (source) "
                               f"{source.dtype.scalar_name}")
        raise RuntimeError(f"{name}(): self ({input.dtype.scalar_name}) and source "
                           f"({source.dtype.scalar_name}) must have the same scalar type")
    size = shape[dim] if ndim else 1
    prefix = "index_copy_(): " if name == "index_copy_" else ""
    _check_nonnegative_bounds(array, size, dim, IndexError if prefix else RuntimeError, prefix)
    if ndim == 0:
        return _flat, (array,)
    return None, _dim_key(dim, array)


@tensor_method()
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of input with ``alpha * source`` added at ``index`` along ``dim``."""
    view, key = _index_source_checks(input, dim, index, source, "index_add_")
    if alpha != 1:
        source = source * check_scalar(alpha, input.dtype)
    return IndexAdd.apply(input, source, view=view, key=key, mode="add")


@tensor_method()
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of input with the slices of ``source`` written at ``index`` along ``dim``."""
    if isinstance(source, Tensor) and source._data.ndim == 0 and input._data.ndim == 1:
        source = source.reshape(1)  # torch compares the sizes apart from dim: both empty
    view, key = _index_source_checks(input, dim, index, source, "index_copy_")
    return IndexCopy.apply(input, source, view=view, key=key)


@tensor_method()
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of input with ``value`` (a number or 0-d tensor) at ``index`` along ``dim``."""
    array = _vector_index(index, "index_fill_", "index_fill_(): Expected dtype int64 for index",
                          RuntimeError)
    value = _fill_value(value, "index_fill_", input.dtype)
    ndim = input._data.ndim
    dim = wrap_dim(dim, ndim)
    _check_bounds(array, input._data.shape[dim] if ndim else 1, dim)
    view, key = (_flat, (array,)) if ndim == 0 else (None, _dim_key(dim, array))
    op = IndexFillTensor if isinstance(value, Tensor) else IndexFill
    return op.apply(input, value, view=view, key=key)


@tensor_method()
def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of input with ``values`` at ``input[indices]`` (a tuple of index tensors),
    added instead of written when ``accumulate``."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError("index_put_(): argument 'indices' (position 1) must be tuple of "
                        f"Tensors, not {_type_name(indices)}")
    for position, item in enumerate(indices):
        if not isinstance(item, Tensor):
            raise TypeError(f"expected Tensor as element {position} in argument 0, but got "
                            f"{_type_name(item)}")
    consumed = sum(t._data.ndim if t._data.dtype in (np.bool_, np.uint8) else 1
                   for t in indices)
    if consumed > input._data.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input._data.ndim} (got "
                         f"{consumed})")
    basic, _, advanced = _parse(input, tuple(indices))
    region = None if basic is None else _Region(basic)
    if isinstance(values, numbers.Number):
        values = check_scalar(values, input.dtype, "index")
    if isinstance(values, Tensor):
        if values._data.dtype != input._data.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, "
                               f"got {input.dtype.scalar_name} for the destination and "
                               f"{values.dtype.scalar_name} for the source.")
        target = _read(input._data, region, None)
        _check_value_shape(values._data.shape, target.shape if advanced is None else
                           _advanced_shape(target.shape, advanced), True)
    return AdvancedIndexPut.apply(input, values, view=region, key=advanced,
                                  mode="add" if accumulate else "set")


@tensor_method()
def take(input: Tensor, index: Tensor) -> Tensor:
    """The entries of the flattened input at ``index``; the result has index's shape."""
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        got = index.dtype.scalar_name if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {got}")
    array = index._data
    numel = input._data.size
    if array.size and bool(((array < -numel) | (array >= numel)).any()):
        value = int(array[(array < -numel) | (array >= numel)].ravel()[0])
        raise IndexError(f"out of range: tried to access index {value} on a tensor of "
                         f"{numel} elements.")
    return Take.apply(input, view=_flat, key=(array,))


# ----------------------------------------------------------------------------- masks

class MaskedFill(Op):
    """input with a number where ``mask``: the number is a keyword, not an input, so the
    node has the one edge PyTorch's MaskedFillBackward0 has."""

    @staticmethod
    def forward(ctx, a, value=None, mask=None):
        ctx.mask = mask
        xp = array_module(a)
        fill = xp.asarray(value).astype(a.dtype)
        return xp.where(mask, fill, a)

    @staticmethod
    def backward(ctx, grad):
        return MaskedFill.apply(grad, value=0, mask=ctx.mask)


class MaskedFillTensor(MaskedFill):
    """input with a 0-d tensor ``value`` (an input: MaskedFillBackward1) where ``mask``."""

    node_name = "MaskedFillBackward1"

    @staticmethod
    def forward(ctx, a, value, mask=None):
        return MaskedFill.forward(ctx, a, value, mask)

    @staticmethod
    def backward(ctx, grad):
        grad_input = grad_value = None
        if ctx.needs_input_grad[0]:
            grad_input = MaskedFill.apply(grad, value=0, mask=ctx.mask)
        if ctx.needs_input_grad[1]:
            grad_value = MaskedFill.apply(grad, value=0, mask=~ctx.mask)
        return grad_input, grad_value

def _mask_array(mask, name: str, message: str):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(message.format(_backend.from_numpy_dtype(mask._data.dtype).cpp_name))
    return mask._data


@tensor_method()
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """input with ``value`` (a number or 0-d tensor) where the boolean ``mask`` (broadcast)
    is true."""
    array = _mask_array(mask, "masked_fill",
                        "masked_fill_ only supports boolean masks, but got mask with dtype {}")
    value = _fill_value(value, "masked_fill_", input.dtype)
    shape = broadcast_shapes(array.shape, input._data.shape)
    if shape != input._data.shape:
        input = input.expand(shape)
    if isinstance(value, Tensor):
        return MaskedFillTensor.apply(input, value, mask=array)
    return MaskedFill.apply(input, value=value, mask=array)


@tensor_method()
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries of input (broadcast with ``mask``) where mask is true, as a 1-D tensor."""
    array = _mask_array(mask, "masked_select", "masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes(array.shape, input._data.shape)
    if shape != input._data.shape:
        input = input.expand(shape)
    xp = array_module(array)
    positions = xp.nonzero(xp.broadcast_to(array, shape).reshape(-1))[0]
    return MaskedSelect.apply(input, view=_flat, key=(_to_device(positions, input._data),))


@tensor_method()
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the non-zero entries: an (n, ndim) int64 tensor, or with
    ``as_tuple`` one 1-D tensor per dim."""
    array = input._data
    xp = array_module(array)
    if array.ndim == 0:
        found = bool(array)
        if as_tuple:
            return (Tensor._make(xp.zeros(int(found), dtype=np.int64)),)
        return Tensor._make(xp.zeros((int(found), 0), dtype=np.int64))
    columns = [c.astype(np.int64, copy=False) for c in xp.nonzero(array)]
    if as_tuple:
        return tuple(Tensor._make(c) for c in columns)
    return Tensor._make(xp.stack(columns, axis=1))


@tensor_method()
def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero entries as an (n, ndim) int64 tensor."""
    return nonzero(input)


# ----------------------------------------------------------------------------- sorting

def return_type(name: str, fields: tuple):
    """A named tuple type printed like torch.return_types.<name>."""
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "dark.return_types"

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"dark.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__
    return cls


sort_type = return_type("sort", ("values", "indices"))
topk_type = return_type("topk", ("values", "indices"))
kthvalue_type = return_type("kthvalue", ("values", "indices"))


def _argsort(a, dim: int, descending: bool):
    """Stable sort indices along dim; descending keeps equal entries in input order and
    puts NaN first (PyTorch's order)."""
    xp = array_module(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable").astype(np.int64, copy=False)
    flipped = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
    return (a.shape[dim] - 1 - xp.flip(flipped, axis=dim)).astype(np.int64, copy=False)


def _sorted_values(op, input: Tensor, indices, dim: int) -> Tensor:
    xp = array_module(indices)
    if input._data.ndim == 0:
        return op.apply(input, view=_flat, key=(indices,))
    return op.apply(input, key=_along_dim(xp, indices, dim, input._data.ndim))


def _sort_dim(input: Tensor, dim: int) -> int:
    return wrap_dim(dim, input._data.ndim)


def _as_1d(array):
    return array.reshape(1) if array.ndim == 0 else array


@tensor_method()
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable=None):
    """(values, indices) of input sorted along ``dim`` (stable: equal entries keep their
    order; NaN sorts as the largest)."""
    dim = _sort_dim(input, dim)
    indices = _argsort(_as_1d(input._data), dim, descending)
    if input._data.ndim == 0:
        indices = indices.reshape(())
    values = _sorted_values(Sort if stable is None else StableSort, input, indices, dim)
    return sort_type(values, Tensor._make(indices))


@tensor_method()
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort input along ``dim``."""
    return sort(input, dim, descending, stable=stable).indices


@tensor_method()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``."""
    dim = _sort_dim(input, dim)
    size = input._data.shape[dim] if input._data.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    indices = _argsort(_as_1d(input._data), dim, largest)
    if input._data.ndim == 0:
        indices = indices.reshape(()) if k else indices[:0]
    else:
        indices = indices[(slice(None),) * dim + (slice(0, k),)]
    values = _sorted_values(Topk, input, indices, dim)
    return topk_type(values, Tensor._make(indices))


@tensor_method()
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest entry (1-based) along ``dim``."""
    dim = _sort_dim(input, dim)
    size = input._data.shape[dim] if input._data.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    indices = _argsort(_as_1d(input._data), dim, False)
    xp = array_module(indices)
    if input._data.ndim == 0:
        indices = indices.reshape(())
    else:
        indices = xp.take(indices, k - 1, axis=dim)
        if keepdim:
            indices = xp.expand_dims(indices, dim)
    values = _sorted_values(Kthvalue, input, indices, dim)
    return kthvalue_type(values, Tensor._make(indices))


class Unique2(Op):
    """torch.unique: not differentiable (backward raises, as PyTorch's)."""

    @staticmethod
    def forward(ctx, a, dim=None):
        xp = array_module(a)
        values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                            axis=dim)
        inverse = inverse.astype(np.int64, copy=False)
        inverse = inverse.reshape(a.shape if dim is None else (a.shape[dim],))
        return values, inverse, counts.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("the derivative for '_unique2' is not implemented.")


@tensor_method()
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct entries of input (sorted; along ``dim`` whole slices), optionally with
    the inverse indices (input's shape) and the counts."""
    if dim is not None:
        dim = wrap_dim(dim, input._data.ndim)
    values, inverse, counts = Unique2.apply(input, dim=dim)
    if not (return_inverse or return_counts):
        return values
    return (values,) + ((inverse,) if return_inverse else ()) + (
        (counts,) if return_counts else ())


# ----------------------------------------------------------------------------- in place

for _function, _name in ((masked_fill, "masked_fill_"), (scatter, "scatter_"),
                         (scatter_add, "scatter_add_"), (index_add, "index_add_"),
                         (index_copy, "index_copy_"), (index_fill, "index_fill_"),
                         (index_put, "index_put_")):
    tensor_method(_name)(_inplace_method(_function, _name))

__all__ = ["argsort", "argwhere", "gather", "index_add", "index_copy", "index_fill",
           "index_put", "index_select", "kthvalue", "masked_fill", "masked_select", "nonzero",
           "scatter", "scatter_add", "sort", "take", "topk", "unique"]
