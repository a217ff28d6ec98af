"""Sparse COO tensors (torch.sparse_coo): construction, conversion, the ops PyTorch implements
for them that graph programs use (products, sums, additions, scaling, transposes, softmax) and
their gradients, and ``dark.sparse``'s functions (``mm``, ``sum``, ``softmax``, ...).

A sparse tensor is a dark.Tensor whose ``_data`` is a ``dark._sparse.SparseCOO`` (int64
indices (sparse_dim, nnz), values (nnz, *dense_shape), the array module of its inputs). A dense
op given a sparse operand reaches ``dark._sparse.dispatch`` from Op.apply; the handlers here are
registered there by op class, and every other op raises PyTorch's "Could not run ... with
arguments from the 'SparseCPU' backend" error. The kernels are linear in nnz (a sort, then
segment sums), numpy on the CPU (no scipy) and the same code through CuPy on a GPU."""
from __future__ import annotations

import numbers

import numpy as np

from . import _backend
from ._sparse import (
    HANDLERS,
    SparseCOO,
    from_dense,
    gather,
    linear_index,
    not_implemented,
    segment_sum,
)
from ._sparse import coalesce as _coalesce_storage
from ._sparse import to_dense as _dense_array
from ._tensor import Tensor, install_methods
from .autograd.function import Function
from .autograd.grad_mode import no_grad
from .ops import elementwise as _elementwise
from .ops import linalg as _linalg
from .ops import reduction as _reduction
from .ops import shape as _shape
from .ops.creation import tensor as _tensor


class layout:
    """A tensor's memory layout: ``dark.strided`` (dense) or ``dark.sparse_coo``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"dark.{self.name}"

    def __reduce__(self):
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")


def _is_sparse(value) -> bool:
    return isinstance(value, Tensor) and type(value._data) is SparseCOO


def _wrap(storage: SparseCOO) -> Tensor:
    return Tensor._make(storage)


def _xp(array):
    return _backend.array_module(array)


def _values_tensor(storage: SparseCOO) -> Tensor:
    return Tensor._make(storage.values)


# --------------------------------------------------------------------------- construction

class _SparseCooTensor(Function):
    """values -> the sparse tensor of ``indices`` and those values; the gradient of the values
    is the incoming gradient at each index (dense or sparse)."""

    node_name = "SparseCooTensorWithDimsAndTensorsBackward0"

    @staticmethod
    def forward(ctx, values, indices, shape, coalesced):
        ctx.indices = indices
        return _wrap(SparseCOO(indices, values._data, shape, coalesced))

    @staticmethod
    def backward(ctx, grad):
        return Tensor._make(_at(grad, ctx.indices)), None, None, None


def _at(grad: Tensor, indices):
    """The entries of ``grad`` (dense or sparse) at the columns of ``indices``."""
    if type(grad._data) is SparseCOO:
        return gather(grad._data, indices)
    return grad._data[tuple(indices)]


def _as_index_array(indices, device):
    if isinstance(indices, Tensor):
        array = indices._data
    elif type(indices) is np.ndarray:
        array = indices
    else:
        array = _tensor(indices)._data
    if device is not None:
        array = _backend.asarray_on(array, device)
    return array.astype(np.int64, copy=False)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      pin_memory=False, requires_grad=False, check_invariants=None,
                      is_coalesced=None) -> Tensor:
    """A sparse COO tensor with ``values`` at ``indices`` (sparse_dim x nnz), of ``size``
    (inferred from the indices when omitted), as torch.sparse_coo_tensor. The indices are
    always checked against the size (torch checks them only with ``check_invariants=True``:
    unchecked, its kernels would read out of bounds)."""
    target = _backend.to_device(device) if device is not None else None
    if isinstance(values, Tensor):
        values_t = values if dtype is None else values.to(dtype)
        if target is not None:
            values_t = values_t.to(target)
    else:
        values_t = _tensor(values, dtype=dtype, device=target)
    if isinstance(indices, Tensor) and target is None:
        target = values_t.device
    index = _as_index_array(indices, values_t.device)
    if index.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(index.shape)}")
    if values_t.ndim == 0:
        values_t = values_t.reshape(1) if index.shape[1] == 1 else values_t
    sparse_dim, nnz = index.shape
    if values_t.ndim == 0 or values_t.shape[0] != nnz:
        got = values_t.shape[0] if values_t.ndim else 1
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{nnz}, nnz from values: {got}")
    xp = _xp(index)
    dense_shape = tuple(values_t.shape[1:])
    if nnz and bool((index < 0).any()):
        dim = int(xp.flatnonzero((index < 0).any(axis=1))[0])
        raise RuntimeError(f"found negative index {int(index[dim].min())} for dim {dim}")
    if size is None:
        sparse_shape = tuple(int(m) + 1 for m in index.max(axis=1)) if nnz else \
            (0,) * sparse_dim
        shape = sparse_shape + dense_shape
    else:
        shape = tuple(int(s) for s in size)
        if len(shape) != sparse_dim + len(dense_shape):
            raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: "
                               f"len(size) = {len(shape)}, sparse_dim = {sparse_dim}, "
                               f"dense_dim = {len(dense_shape)}")
        if shape[sparse_dim:] != dense_shape:
            raise RuntimeError(f"values has incorrect size, expected "
                               f"{[nnz, *shape[sparse_dim:]]}, got {list(values_t.shape)}")
        if nnz:
            top = index.max(axis=1)
            for dim in range(sparse_dim):
                if int(top[dim]) >= shape[dim]:
                    raise RuntimeError(f"size is inconsistent with indices: for dim {dim}, size "
                                       f"is {shape[dim]} but found index {int(top[dim])}")
    coalesced = bool(is_coalesced) or nnz <= 1
    if values_t.requires_grad:
        out = _SparseCooTensor.apply(values_t, index, shape, coalesced)
    else:
        out = _wrap(SparseCOO(index, values_t._data, shape, coalesced))
    if requires_grad:
        out.requires_grad_(True)
    return out


# --------------------------------------------------------------------------- conversion

class _ToDense(Function):
    node_name = "ToDenseBackward0"

    @staticmethod
    def forward(ctx, input):
        ctx.storage = input._data
        return Tensor._make(_dense_array(input._data))

    @staticmethod
    def backward(ctx, grad):
        return _mask(grad, ctx.storage)


def _mask(grad: Tensor, storage: SparseCOO) -> Tensor:
    """``grad.sparse_mask(input)``: the gradient at the (coalesced) entries of ``storage``."""
    pattern = _coalesce_storage(storage)
    return _wrap(SparseCOO(pattern.indices, _at(grad, pattern.indices), pattern.shape, True))


class _ToSparse(Function):
    node_name = "ToSparseBackward1"

    @staticmethod
    def forward(ctx, input, sparse_dim):
        return _wrap(from_dense(input._data, sparse_dim))

    @staticmethod
    def backward(ctx, grad):
        return (to_dense(grad) if _is_sparse(grad) else grad), None


class _Coalesce(Function):
    node_name = "CoalesceBackward0"

    @staticmethod
    def forward(ctx, input):
        return _wrap(_coalesce_storage(input._data))

    @staticmethod
    def backward(ctx, grad):
        return grad


class _Values(Function):
    node_name = "ValuesBackward0"

    @staticmethod
    def forward(ctx, input):
        storage = input._data
        ctx.storage = storage
        return Tensor._make(storage.values)

    @staticmethod
    def backward(ctx, grad):
        storage = ctx.storage
        return _wrap(SparseCOO(storage.indices, grad._data, storage.shape, storage.coalesced))


def to_dense(input: Tensor, dtype=None, *, masked_grad=None) -> Tensor:
    """The dense tensor of a sparse one (a dense tensor itself)."""
    if not _is_sparse(input):
        return input if dtype is None else input.to(dtype)
    out = _ToDense.apply(input)
    return out if dtype is None else out.to(dtype)


def to_sparse(input: Tensor, sparse_dim=None, *, layout=None, blocksize=None,
              dense_dim=None) -> Tensor:
    """A sparse COO tensor of ``input`` (its first ``sparse_dim`` dims sparse: all by
    default), as Tensor.to_sparse."""
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"to_sparse: layout {layout} is not supported by dark (only "
                                  "dark.sparse_coo)")
    ndim = input.ndim
    if _is_sparse(input):
        if sparse_dim is not None and sparse_dim != input._data.sparse_dim:
            raise RuntimeError("to_sparse: conversion from Sparse to Sparse with sparse_dim "
                               "argument !=self.sparse_dim() is not supported")
        return input
    if sparse_dim is None:
        sparse_dim = ndim
    if not 0 <= sparse_dim <= ndim:
        raise RuntimeError(f"dense_to_sparse: sparse_dim argument must be in [0,{ndim}] "
                           f"range, but {sparse_dim} is given")
    return _ToSparse.apply(input, sparse_dim)


def _sparse_only(name: str, input: Tensor):
    if not _is_sparse(input):
        raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got Strided")
    return input._data


def _indices(self: Tensor) -> Tensor:
    return Tensor._make(_sparse_only("indices", self).indices)


def _values(self: Tensor) -> Tensor:
    return Tensor._make(_sparse_only("values", self).values)


def indices(self: Tensor) -> Tensor:
    storage = _sparse_only("indices", self)
    if not storage.coalesced:
        raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                           ".coalesce() first")
    return Tensor._make(storage.indices)


def values(self: Tensor) -> Tensor:
    storage = _sparse_only("values", self)
    if not storage.coalesced:
        raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                           ".coalesce() first")
    return _Values.apply(self)


def coalesce(self: Tensor) -> Tensor:
    storage = _sparse_only("coalesce", self)
    return self if storage.coalesced else _Coalesce.apply(self)


def is_coalesced(self: Tensor) -> bool:
    return _sparse_only("is_coalesced", self).coalesced


def _nnz(self: Tensor) -> int:
    if not _is_sparse(self):
        raise NotImplementedError("Could not run '_nnz' with arguments from the 'CPU' backend: "
                                  "it needs a sparse tensor (layout=dark.sparse_coo)")
    return self._data.nnz


def sparse_dim(self: Tensor) -> int:
    return self._data.sparse_dim if _is_sparse(self) else 0


def dense_dim(self: Tensor) -> int:
    if _is_sparse(self):
        return self._data.ndim - self._data.sparse_dim
    return self.ndim


def _layout(self: Tensor):
    return sparse_coo if type(self._data) is SparseCOO else strided


def _is_sparse_property(self: Tensor) -> bool:
    return type(self._data) is SparseCOO


install_methods({
    "to_dense": to_dense, "to_sparse": to_sparse,
    "to_sparse_coo": lambda self: to_sparse(self),
    "indices": indices, "values": values, "_indices": _indices, "_values": _values,
    "coalesce": coalesce, "is_coalesced": is_coalesced, "_nnz": _nnz,
    "sparse_dim": sparse_dim, "dense_dim": dense_dim,
    "layout": property(_layout), "is_sparse": property(_is_sparse_property),
})


# --------------------------------------------------------------------------- value-wise ops

class _ValueMap(Function):
    """A sparse tensor with ``fn`` applied to its values (a zero-preserving linear map:
    scaling, negation, a copy); the gradient goes back through ``back`` (the same map)."""

    @staticmethod
    def forward(ctx, input, fn, back):
        ctx.back = back
        storage = input._data
        return _wrap(SparseCOO(storage.indices, fn(storage.values), storage.shape,
                               storage.coalesced))

    @staticmethod
    def backward(ctx, grad):
        return ctx.back(grad), None, None


def _named(base, node_name):
    return type(node_name.replace("Backward0", ""), (base,), {"node_name": node_name})


_MulMap, _DivMap, _NegMap, _CloneMap = (_named(_ValueMap, n) for n in (
    "MulBackward0", "DivBackward0", "NegBackward0", "CloneBackward0"))


def _scalar_operand(value) -> bool:
    return isinstance(value, numbers.Number) or (
        isinstance(value, Tensor) and not _is_sparse(value) and value.ndim == 0)


def _on_values(op):
    """``op(values Tensor)`` as a function of the raw values array (dark's own dtype rules)."""
    return lambda array: op(Tensor._make(array))._data


def _check_no_grad(name, value):
    if isinstance(value, Tensor) and value.requires_grad:
        raise not_implemented(f"{name} (gradient of the scalar operand)", None)


def _mul(cls, args, kwargs):
    a, b = args
    if _is_sparse(b) and not _is_sparse(a):
        a, b = b, a
    if _is_sparse(b):
        return _sparse_mul_sparse(a, b)
    if not _scalar_operand(b):
        return _SparseMulDense.apply(a, b)
    _check_no_grad("mul", b)
    return _MulMap.apply(a, _on_values(lambda v: v * b), lambda g: g * b)


class _SparseMulDense(Function):
    """sparse * dense (broadcast to the sparse shape): sparse, on the sparse operand's
    entries. The gradients are sparse on those entries too (the dense operand's is summed
    down, dense, where it was broadcast), as torch's."""

    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, sparse, dense):
        storage = sparse._data
        xp = _xp(storage.values)
        try:
            spread = xp.broadcast_to(dense._data, storage.shape)
        except ValueError:
            raise RuntimeError(f"mul: the dense operand's size {list(dense.shape)} does not "
                               f"broadcast to the sparse operand's {list(storage.shape)}") \
                from None
        dtype = _result_np(sparse, dense)
        values = storage.values.astype(dtype, copy=False) * spread[
            tuple(storage.indices)].astype(dtype, copy=False)
        ctx.storage, ctx.dense, ctx.broadcast = storage, dense, dense.shape != storage.shape
        return _wrap(SparseCOO(storage.indices, values, storage.shape, storage.coalesced))

    @staticmethod
    def backward(ctx, grad):
        storage, dense = ctx.storage, ctx.dense
        grad_sparse = grad_dense = None
        if ctx.needs_input_grad[0]:
            grad_sparse = grad * dense
        if ctx.needs_input_grad[1]:
            values = _at(grad, storage.indices) * storage.values
            grad_dense = _wrap(SparseCOO(storage.indices, values, storage.shape,
                                         storage.coalesced))
            if ctx.broadcast:
                grad_dense = to_dense(grad_dense).sum_to_size(tuple(dense.shape))
        return grad_sparse, grad_dense


def _sparse_mul_sparse(a: Tensor, b: Tensor) -> Tensor:
    """The elementwise product of two sparse tensors: the entries both hold."""
    if a.shape != b.shape:
        raise RuntimeError(f"mul: expected 'self' and 'other' to have same sizes, but "
                           f"{list(a.shape)} != {list(b.shape)}")
    if a.requires_grad or b.requires_grad:
        raise not_implemented("mul (gradient of sparse * sparse)", a._data)
    sa, sb = _coalesce_storage(a._data), _coalesce_storage(b._data)
    xp = _xp(sa.values)
    shape = sa.shape[:sa.sparse_dim]
    ka, kb = linear_index(xp, sa.indices, shape), linear_index(xp, sb.indices, shape)
    keep = xp.isin(ka, kb)
    idx = sa.indices[:, keep]
    with no_grad():
        values = Tensor._make(sa.values[keep]) * Tensor._make(gather(sb, idx))
    return _wrap(SparseCOO(idx, values._data, sa.shape, True))


def _div(cls, args, kwargs):
    a, b = args
    if not _is_sparse(a) or not _scalar_operand(b) or kwargs:
        raise not_implemented("div", next(x._data for x in args if _is_sparse(x)))
    _check_no_grad("div", b)
    return _DivMap.apply(a, _on_values(lambda v: v / b), lambda g: g / b)


def _neg(cls, args, kwargs):
    return _NegMap.apply(args[0], _on_values(lambda v: -v), lambda g: -g)


def _clone(cls, args, kwargs):
    return _CloneMap.apply(args[0], lambda v: v.copy(), lambda g: g)


class _ToCopy(Function):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, input, np_dtype, device, copy):
        storage = input._data
        ctx.source = (storage.values.dtype, storage.device)
        values, index = storage.values, storage.indices
        if device is not None and device != storage.device:
            values = _backend.asarray_on(values, device)
            index = _backend.asarray_on(index, device)
        if np_dtype is not None and values.dtype != np_dtype:
            values = _backend.cast(values, np_dtype)
        if copy and values is storage.values:
            values = values.copy()
        return _wrap(SparseCOO(index, values, storage.shape, storage.coalesced))

    @staticmethod
    def backward(ctx, grad):
        np_dtype, device = ctx.source
        return grad.to(device=device, dtype=_backend.from_numpy_dtype(np_dtype)), None, None, \
            None


def _to_copy(cls, args, kwargs):
    return _ToCopy.apply(args[0], kwargs.get("np_dtype"), kwargs.get("device"),
                         kwargs.get("copy", False))


# --------------------------------------------------------------------------- additions

def _result_np(a: Tensor, b: Tensor):
    return _backend.result_type(a, b).np


class _DensePlusSparse(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, dense, sparse, alpha):
        ctx.alpha = alpha
        storage = _coalesce_storage(sparse._data)
        out = dense._data.astype(_result_np(dense, sparse), copy=True)
        values = storage.values.astype(out.dtype, copy=False)
        if alpha != 1:
            values = values * alpha
        out[tuple(storage.indices)] += values
        return Tensor._make(out)

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad if ctx.alpha == 1 else grad * ctx.alpha), None


class _SparsePlusSparse(Function):
    """sparse + alpha * sparse, as torch's CPU kernel: two tensors whose indices are sorted
    are merged in order, the k-th entry of an index in ``a`` adding the k-th of that index
    in ``b`` (coalesced inputs give a coalesced sum); other inputs are concatenated."""

    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha
        sa, sb = a._data, b._data
        xp = _xp(sa.values)
        dtype = _result_np(a, b)
        va = sa.values.astype(dtype, copy=False)
        vb = sb.values.astype(dtype, copy=False)
        if alpha != 1:
            vb = vb * alpha
        indices = xp.concatenate([sa.indices, sb.indices], axis=1)
        values = xp.concatenate([va, vb])
        shape = sa.shape[:sa.sparse_dim]
        keys = [linear_index(xp, s.indices, shape) for s in (sa, sb)]
        if not all(bool((k[1:] >= k[:-1]).all()) for k in keys):
            return _wrap(SparseCOO(indices, values, sa.shape))
        # (index, occurrence) identifies an entry of each operand; equal pairs add up
        ranks = [xp.arange(k.shape[0]) - xp.searchsorted(k, k, side="left") for k in keys]
        key, rank = xp.concatenate(keys), xp.concatenate(ranks)
        order = xp.lexsort(xp.stack([rank, key])) if xp is not np else np.lexsort((rank, key))
        key, rank = key[order], rank[order]
        nnz = key.shape[0]
        first = xp.ones(nnz, dtype=bool)
        if nnz:
            first[1:] = (key[1:] != key[:-1]) | (rank[1:] != rank[:-1])
        starts = xp.flatnonzero(first)
        merged = segment_sum(xp, values[order], starts, nnz)
        return _wrap(SparseCOO(indices[:, order][:, starts], merged, sa.shape,
                               sa.coalesced and sb.coalesced))

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad if ctx.alpha == 1 else grad * ctx.alpha), None


def _same_size(a: Tensor, b: Tensor, broadcast_note: bool):
    if tuple(a.shape) != tuple(b.shape):
        note = (" (FYI: dense-sparse addition does not currently support broadcasting)"
                if broadcast_note else "")
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has "
                           f"size {list(a.shape)} while other has size {list(b.shape)}{note}")


def _add(cls, args, kwargs, sign=1):
    a, b = args
    alpha = kwargs.get("alpha", 1) * sign
    if not _is_sparse(b) or not isinstance(a, Tensor):
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                           "instead.")
    if _is_sparse(a):
        _same_size(a, b, False)
        return _SparsePlusSparse.apply(a, b, alpha)
    _same_size(a, b, True)
    return _DensePlusSparse.apply(a, b, alpha)


def _sub(cls, args, kwargs):
    return _add(cls, args, kwargs, -1)


# --------------------------------------------------------------------------- sums

def _sum_np_dtype(storage, np_dtype):
    if np_dtype is not None:
        return np_dtype
    return np.int64 if storage.values.dtype.kind in "biu" else storage.values.dtype


class _SumAll(Function):
    """The sum of every element (a 0-d dense tensor); ``sparse_grad``: the gradient is sparse
    on the input's entries (torch.sparse.sum), else dense (torch.sum)."""

    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, input, np_dtype, sparse_grad):
        storage = input._data
        ctx.storage, ctx.sparse_grad = storage, sparse_grad
        return Tensor._make(_xp(storage.values).asarray(
            storage.values.sum(dtype=_sum_np_dtype(storage, np_dtype))))

    @staticmethod
    def backward(ctx, grad):
        storage = ctx.storage
        xp = _xp(storage.values)
        if ctx.sparse_grad:
            pattern = _coalesce_storage(storage)
            values = xp.broadcast_to(grad._data, pattern.values.shape).copy()
            return _wrap(SparseCOO(pattern.indices, values, pattern.shape, True)), None, None
        return Tensor._make(xp.broadcast_to(grad._data, storage.shape).copy()), None, None


class _SumDims(Function):
    """The sum over ``dims``: sparse over the sparse dims that remain, dense when none does.
    The gradient is sparse on the input's (coalesced) entries."""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, input, dims, np_dtype):
        storage = _coalesce_storage(input._data)
        ctx.storage, ctx.dims = storage, dims
        xp = _xp(storage.values)
        sd = storage.sparse_dim
        keep = [d for d in range(sd) if d not in dims]
        dense_dims = tuple(d - sd + 1 for d in dims if d >= sd)
        values = storage.values.sum(axis=dense_dims, dtype=_sum_np_dtype(storage, np_dtype)) \
            if dense_dims else storage.values.astype(_sum_np_dtype(storage, np_dtype))
        shape = tuple(s for d, s in enumerate(storage.shape) if d not in dims)
        if not keep:
            return Tensor._make(xp.asarray(values.sum(axis=0)))
        out = SparseCOO(storage.indices[keep], values, shape)
        return _wrap(_coalesce_storage(out))

    @staticmethod
    def backward(ctx, grad):
        storage, dims = ctx.storage, ctx.dims
        xp = _xp(storage.values)
        sd = storage.sparse_dim
        keep = [d for d in range(sd) if d not in dims]
        if keep:
            values = _at(grad, storage.indices[keep])  # (nnz, *remaining dense dims)
        else:
            values = xp.broadcast_to(grad._data, (storage.nnz,) + grad._data.shape)
        for d in sorted(d for d in dims if d >= sd):
            values = xp.expand_dims(values, d - sd + 1)
        values = xp.broadcast_to(values, storage.values.shape).copy()
        return _wrap(SparseCOO(storage.indices, values, storage.shape, True)), None, None


_SparseSumDims = _named(_SumDims, "SparseSumBackward0")


def _sum(cls, args, kwargs):
    (input,) = args
    dims = kwargs.get("dims")
    if kwargs.get("keepdim"):
        raise not_implemented("sum (keepdim=True)", input._data)
    np_dtype = kwargs.get("np_dtype")
    if dims is None:
        return _SumAll.apply(input, np_dtype, False)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(dims) == input.ndim:  # torch.sum over every dim: a dense gradient
        return _SumAll.apply(input, np_dtype, False)
    return _SumDims.apply(input, dims, np_dtype)


def sum(input: Tensor, dim=None, dtype=None) -> Tensor:
    """torch.sparse.sum: the sum over ``dim`` (all dims by default; the gradient is sparse)."""
    np_dtype = _backend.to_dtype(dtype).np if dtype is not None else None
    if not _is_sparse(input):
        return _reduction.sum(input, dim, dtype=dtype)
    if dim is None:
        return _SumAll.apply(input, np_dtype, True)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(_backend.wrap_dim(d, input.ndim) for d in dims)
    if len(set(dims)) == input.ndim:
        return _SumAll.apply(input, np_dtype, True)
    return _SparseSumDims.apply(input, dims, np_dtype)


# --------------------------------------------------------------------------- transposes

class _Transpose(Function):
    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, input, dim0, dim1):
        ctx.dims = (dim0, dim1)
        storage = input._data
        if max(dim0, dim1) >= storage.sparse_dim:
            raise not_implemented("transpose (of a dense dim)", storage)
        order = list(range(storage.sparse_dim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        shape = list(storage.shape)
        shape[dim0], shape[dim1] = shape[dim1], shape[dim0]
        return _wrap(SparseCOO(storage.indices[order], storage.values, shape,
                               storage.coalesced and dim0 == dim1))

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims), None, None


_TMatrix = _named(_Transpose, "TBackward0")


def _transpose(cls, args, kwargs):
    (input,) = args
    return _Transpose.apply(input, kwargs["dim0"], kwargs["dim1"])


def _t(cls, args, kwargs):
    (input,) = args
    if input.ndim < 2:
        return input
    return _TMatrix.apply(input, 0, 1)


# --------------------------------------------------------------------------- products

def _spmm_array(storage: SparseCOO, dense):
    """sparse (n, k) @ dense (k, m) on raw arrays: each row's products summed in index order
    (a sort and one segment sum: linear in nnz * m)."""
    storage = _coalesce_storage(storage)
    xp = _xp(dense)
    n = storage.shape[0]
    dtype = np.result_type(storage.values.dtype, dense.dtype)
    out = xp.zeros((n,) + dense.shape[1:], dtype=dtype)
    if storage.nnz == 0:
        return out
    rows, cols = storage.indices
    values = storage.values.astype(dtype, copy=False)
    products = values.reshape((-1,) + (1,) * (dense.ndim - 1)) * dense[cols].astype(
        dtype, copy=False)
    first = xp.ones(rows.shape[0], dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    starts = xp.flatnonzero(first)
    out[rows[starts]] = segment_sum(xp, products, starts, rows.shape[0])
    return out


def _transposed(storage: SparseCOO) -> SparseCOO:
    return SparseCOO(storage.indices[::-1], storage.values, storage.shape[::-1])


def _spspmm(a: SparseCOO, b: SparseCOO) -> SparseCOO:
    """sparse (n, k) @ sparse (k, m): the products of the entries that meet (a's column = b's
    row), coalesced."""
    a, b = _coalesce_storage(a), _coalesce_storage(b)
    xp = _xp(a.values)
    dtype = np.result_type(a.values.dtype, b.values.dtype)
    b_rows = b.indices[0]
    lo = xp.searchsorted(b_rows, a.indices[1], side="left")
    hi = xp.searchsorted(b_rows, a.indices[1], side="right")
    counts = hi - lo
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if a.nnz else 0
    slots = xp.arange(total)
    # each product's a entry (a run of counts[i] slots per entry i) and its b entry
    which_a = xp.searchsorted(ends, slots, side="right")
    which_b = lo[which_a] + slots - (ends - counts)[which_a]
    indices = xp.stack([a.indices[0][which_a], b.indices[1][which_b]]).astype(np.int64)
    values = a.values[which_a].astype(dtype) * b.values[which_b].astype(dtype)
    return _coalesce_storage(SparseCOO(indices, values, (a.shape[0], b.shape[1])))


class _SparseDenseMm(Function):
    """sparse @ dense -> dense. The dense operand's gradient is sparse.t() @ grad; the sparse
    operand's is dense (grad @ dense.t(), torch.mm's) or, with ``masked``, sparse on its
    entries (torch.sparse.mm's)."""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, sparse, dense, masked):
        ctx.storage, ctx.dense, ctx.masked = sparse._data, dense._data, masked
        return Tensor._make(_spmm_array(sparse._data, dense._data))

    @staticmethod
    def backward(ctx, grad):
        storage, dense = ctx.storage, ctx.dense
        g = grad._data
        grad_sparse = grad_dense = None
        if ctx.needs_input_grad[1]:
            grad_dense = Tensor._make(_spmm_array(_transposed(storage), g))
        if ctx.needs_input_grad[0]:
            if ctx.masked:
                pattern = _coalesce_storage(storage)
                rows, cols = pattern.indices
                values = (g[rows] * dense[cols]).reshape(rows.shape[0], -1).sum(axis=1)
                grad_sparse = _wrap(SparseCOO(pattern.indices, values.astype(g.dtype),
                                              pattern.shape, True))
            else:
                g2 = g.reshape(g.shape[0], -1)
                grad_sparse = Tensor._make(g2 @ dense.reshape(dense.shape[0], -1).T)
        return grad_sparse, grad_dense, None


_SparseAddmm = _named(_SparseDenseMm, "SparseAddmmBackward0")


class _DenseSparseMm(Function):
    """dense @ sparse -> dense (as (sparse.t() @ dense.t()).t())."""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, dense, sparse):
        ctx.storage, ctx.dense = sparse._data, dense._data
        return Tensor._make(_spmm_array(_transposed(sparse._data), dense._data.T).T)

    @staticmethod
    def backward(ctx, grad):
        g = grad._data
        grad_dense = grad_sparse = None
        if ctx.needs_input_grad[0]:
            grad_dense = Tensor._make(_spmm_array(ctx.storage, g.T).T)
        if ctx.needs_input_grad[1]:
            grad_sparse = Tensor._make(ctx.dense.T @ g)
        return grad_dense, grad_sparse


class _SparseSparseMm(Function):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        return _wrap(_spspmm(a._data, b._data))

    @staticmethod
    def backward(ctx, grad):
        raise not_implemented("mm backward (sparse @ sparse)", None)


def _check_mm(a: Tensor, b: Tensor):
    for t, name in ((a, "mat1"), (b, "mat2")):
        if _is_sparse(t) and (t._data.sparse_dim != 2 or t.ndim != 2):
            raise RuntimeError(f"{name} must be a matrix with 2 sparse dims, got "
                               f"{t._data.sparse_dim} sparse and "
                               f"{t.ndim - t._data.sparse_dim} dense dims")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x"
                           f"{a.shape[1]} and {b.shape[0]}x{b.shape[1] if b.ndim > 1 else 1})")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {a.dtype.scalar_name} but found "
                           f"{b.dtype.scalar_name}")


def _product(a: Tensor, b: Tensor, masked: bool = False) -> Tensor:
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise not_implemented(f"matmul ({a.ndim}-D @ {b.ndim}-D with a sparse operand)",
                              (a if _is_sparse(a) else b)._data)
    _check_mm(a, b)
    if _is_sparse(a) and _is_sparse(b):
        if a.requires_grad or b.requires_grad:
            raise not_implemented("mm (gradient of sparse @ sparse)", a._data)
        return _SparseSparseMm.apply(a, b)
    if _is_sparse(a):
        return (_SparseAddmm if masked else _SparseDenseMm).apply(a, b, masked)
    if b.ndim == 1:
        raise not_implemented("mv (dense @ sparse vector)", b._data)
    return _DenseSparseMm.apply(a, b)


def _matmul(cls, args, kwargs):
    a, b = args
    if kwargs.get("transpose_a"):
        a = a.t()
    if kwargs.get("transpose_b"):
        b = b.t()
    return _product(a, b)


def mm(mat1: Tensor, mat2: Tensor, reduce: str = "sum") -> Tensor:
    """torch.sparse.mm: sparse @ dense (dense result) or sparse @ sparse (sparse result); the
    gradient of a sparse ``mat1`` is sparse on its entries."""
    if reduce != "sum":
        raise not_implemented(f"sparse.mm (reduce={reduce!r})", mat1._data)
    if not (_is_sparse(mat1) or _is_sparse(mat2)):
        return _linalg.mm(mat1, mat2)
    return _product(mat1, mat2, masked=True)


def spmm(input: Tensor, mat2: Tensor) -> Tensor:
    """torch.spmm: ``input @ mat2`` with a sparse ``input`` (torch.mm's gradients)."""
    return _linalg.mm(input, mat2)


# --------------------------------------------------------------------------- softmax

class _SparseSoftmax(Function):
    """The softmax along ``dim`` over the entries a sparse tensor holds (the missing ones are
    -inf, not 0), as torch.sparse.softmax / log_softmax."""

    node_name = "SparseSoftmaxBackward0"

    @staticmethod
    def forward(ctx, input, dim, log):
        storage = _coalesce_storage(input._data)
        if storage.sparse_dim != storage.ndim:
            raise not_implemented("sparse softmax (hybrid tensor)", storage)
        xp = _xp(storage.values)
        others = [d for d in range(storage.ndim) if d != dim]
        group = linear_index(xp, storage.indices[others],
                             tuple(storage.shape[d] for d in others))
        order = xp.argsort(group, kind="stable")
        sorted_group = group[order]
        nnz = storage.nnz
        values = storage.values[order]
        if nnz:
            first = xp.ones(nnz, dtype=bool)
            first[1:] = sorted_group[1:] != sorted_group[:-1]
            starts = xp.flatnonzero(first)
            ids = xp.cumsum(first) - 1
            top = (np.maximum.reduceat(values, starts) if xp is np
                   else _segment_max(xp, values, ids, len(starts)))
            shifted = values - top[ids]
            exps = xp.exp(shifted)
            totals = segment_sum(xp, exps, starts, nnz)
            result = shifted - xp.log(totals)[ids] if log else exps / totals[ids]
            out = xp.empty_like(result)
            out[order] = result
        else:
            out = values
        ctx.storage, ctx.dim, ctx.log = storage, dim, log
        ctx.out = out
        return _wrap(SparseCOO(storage.indices, out, storage.shape, True))

    @staticmethod
    def backward(ctx, grad):
        storage, dim = ctx.storage, ctx.dim
        out = ctx.out
        xp = _xp(out)
        g = _at(grad, storage.indices)
        others = [d for d in range(storage.ndim) if d != dim]
        group = linear_index(xp, storage.indices[others],
                             tuple(storage.shape[d] for d in others))
        _, inverse = xp.unique(group, return_inverse=True)
        count = int(inverse.max()) + 1 if inverse.size else 0
        totals = xp.zeros(count, dtype=out.dtype)
        if ctx.log:
            xp.add.at(totals, inverse, g) if xp is np else _scatter(totals, inverse, g)
            values = g - xp.exp(out) * totals[inverse]
        else:
            xp.add.at(totals, inverse, g * out) if xp is np else _scatter(totals, inverse,
                                                                          g * out)
            values = out * (g - totals[inverse])
        return _wrap(SparseCOO(storage.indices, values, storage.shape, True)), None, None


def _segment_max(xp, values, ids, count):
    import cupyx  # only on a GPU
    out = xp.full(count, -xp.inf, dtype=values.dtype)
    cupyx.scatter_max(out, ids, values)
    return out


def _scatter(out, ids, values):
    import cupyx  # only on a GPU
    cupyx.scatter_add(out, ids, values)


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """torch.sparse.softmax: the softmax along ``dim`` of the entries held (a sparse result
    with the input's coalesced entries)."""
    if dtype is not None:
        input = input.to(dtype)
    return _SparseSoftmax.apply(input, _backend.wrap_dim(dim, input.ndim), False)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """torch.sparse.log_softmax."""
    if dtype is not None:
        input = input.to(dtype)
    return _SparseSoftmax.apply(input, _backend.wrap_dim(dim, input.ndim), True)


# --------------------------------------------------------------------------- registration

HANDLERS.update({
    _elementwise.Add: _add, _elementwise.Sub: _sub, _elementwise.Mul: _mul,
    _elementwise.Div: _div, _elementwise.Neg: _neg, _elementwise.ToCopy: _to_copy,
    _shape.Clone: _clone, _shape.Transpose: _transpose, _shape.TransposeMatrix: _t,
    _reduction.Sum: _sum, _linalg.MatMul: _matmul,
})

__all__ = ["layout", "strided", "sparse_coo", "sparse_coo_tensor", "mm", "spmm", "sum",
           "softmax", "log_softmax", "to_dense", "to_sparse"]
