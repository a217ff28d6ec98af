"""The storage of a sparse COO tensor (torch.sparse_coo): what a Tensor of that layout holds as
its ``_data``, the raw-array kernels on it, and its repr.

A sparse tensor is a dark.Tensor whose ``_data`` is a ``SparseCOO``: an int64 ``indices``
array (sparse_dim, nnz) and a ``values`` array (nnz, *dense_shape) of the array module of its
inputs (numpy on the CPU, CuPy on a GPU), the full ``shape`` and whether it is coalesced
(indices sorted, no duplicates). Dense ops never see it: Op.apply sends an op with a sparse
operand to ``dispatch`` (dark.sparse registers the ops it implements), and any numpy function
that reaches the storage raises PyTorch's "not implemented for 'SparseCPU'" error rather than
computing a wrong dense result."""
from __future__ import annotations

import math

import numpy as np

from . import _backend
from ._tensor_str import PRINT_OPTS, _add_suffixes, tensor_str


class SparseCOO:
    """indices (int64, (sparse_dim, nnz)), values ((nnz, *dense_shape)), shape, coalesced."""

    __slots__ = ("indices", "values", "shape", "coalesced", "__weakref__")
    __array_priority__ = 10000

    def __init__(self, indices, values, shape, coalesced=False):
        self.indices = indices
        self.values = values
        self.shape = tuple(int(s) for s in shape)
        self.coalesced = bool(coalesced)

    # the array attributes Tensor's metadata reads
    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.values.nbytes)

    @property
    def device(self):
        return _backend.device_of(self.values)

    @property
    def is_cuda(self) -> bool:
        return type(self.values) is not np.ndarray

    @property
    def sparse_dim(self) -> int:
        return self.indices.shape[0]

    @property
    def nnz(self) -> int:
        return self.indices.shape[1]

    def copy(self) -> SparseCOO:
        return SparseCOO(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    # numpy must never compute on the storage as if it were a dense array
    def _backend_name(self) -> str:
        return "SparseCUDA" if self.is_cuda else "SparseCPU"

    def __array__(self, dtype=None, copy=None):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise not_implemented(ufunc.__name__, self)

    def __array_function__(self, func, types, args, kwargs):
        raise not_implemented(func.__name__, self)

    def __getitem__(self, item):
        raise not_implemented("index", self)

    def __repr__(self) -> str:
        return f"SparseCOO(shape={self.shape}, nnz={self.nnz}, coalesced={self.coalesced})"


def empty_coo(xp, shape, np_dtype, sparse_dim=None) -> SparseCOO:
    """A sparse tensor of ``shape`` without entries (torch.zeros(..., layout=sparse_coo))."""
    shape = tuple(shape)
    sparse_dim = len(shape) if sparse_dim is None else sparse_dim
    return SparseCOO(xp.zeros((sparse_dim, 0), dtype=np.int64),
                     xp.zeros((0,) + shape[sparse_dim:], dtype=np_dtype), shape, True)


def not_implemented(name: str, storage) -> NotImplementedError:
    """PyTorch's error for an op without a sparse kernel."""
    backend = storage._backend_name() if isinstance(storage, SparseCOO) else "SparseCPU"
    return NotImplementedError(
        f"Could not run '{name}' with arguments from the '{backend}' backend: dark does not "
        "implement it for sparse COO tensors (layout=dark.sparse_coo). Convert with "
        "Tensor.to_dense() first.")


# --------------------------------------------------------------------------- op dispatch
# op class -> handler(cls, args, kwargs), filled by dark.sparse
HANDLERS: dict = {}


def _op_name(cls) -> str:
    name = cls.__name__.split("_")[0]
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def dispatch(cls, args, kwargs):
    """Run op ``cls`` on ``args`` of which one at least is sparse (Op.apply's call)."""
    for klass in cls.__mro__:
        handler = HANDLERS.get(klass)
        if handler is not None:
            return handler(cls, args, kwargs)
    storage = next(a._data for a in args if type(getattr(a, "_data", None)) is SparseCOO)
    raise not_implemented(_op_name(cls), storage)


# --------------------------------------------------------------------------- kernels

def linear_index(xp, indices, shape):
    """The row-major position of each column of ``indices`` in ``shape`` (int64)."""
    lin = xp.zeros(indices.shape[1], dtype=np.int64)
    for d, size in enumerate(shape):
        lin *= size
        lin += indices[d]
    return lin


def segment_sum(xp, values, starts, nnz):
    """Sums of the consecutive runs of ``values`` that begin at ``starts`` (sorted)."""
    if values.shape[0] == 0:
        return values[:0]
    if xp is np:
        return np.add.reduceat(values, starts, axis=0)
    import cupyx  # only on a GPU
    flags = xp.zeros(nnz, dtype=np.int64)
    flags[starts] = 1
    ids = xp.cumsum(flags) - 1
    out = xp.zeros((len(starts),) + values.shape[1:], dtype=values.dtype)
    cupyx.scatter_add(out, ids, values)
    return out


def coalesce(storage: SparseCOO) -> SparseCOO:
    """Duplicates summed, indices sorted (row-major), as torch's coalesce."""
    if storage.coalesced:
        return storage
    xp = _backend.array_module(storage.values)
    indices, values = storage.indices, storage.values
    sparse_shape = storage.shape[:indices.shape[0]]
    lin = linear_index(xp, indices, sparse_shape)
    order = xp.argsort(lin, kind="stable")
    lin = lin[order]
    nnz = lin.shape[0]
    if nnz:
        first = xp.ones(nnz, dtype=bool)
        first[1:] = lin[1:] != lin[:-1]
        starts = xp.flatnonzero(first)
    else:
        starts = xp.zeros(0, dtype=np.int64)
    values = values[order]
    if len(starts) != nnz:
        values = segment_sum(xp, values, starts, nnz)
    return SparseCOO(indices[:, order][:, starts], values, storage.shape, True)


def to_dense(storage: SparseCOO):
    xp = _backend.array_module(storage.values)
    storage = coalesce(storage)
    out = xp.zeros(storage.shape, dtype=storage.values.dtype)
    out[tuple(storage.indices)] = storage.values
    return out


def from_dense(array, sparse_dim: int) -> SparseCOO:
    xp = _backend.array_module(array)
    if sparse_dim == array.ndim:
        mask = array != 0
    else:
        mask = (array != 0).reshape(array.shape[:sparse_dim] + (-1,)).any(axis=-1)
    nonzero = xp.nonzero(mask)
    if sparse_dim == 0:
        indices = xp.zeros((0, 1), dtype=np.int64)
        values = array[None].copy()
    else:
        indices = xp.stack(nonzero).astype(np.int64) if nonzero else \
            xp.zeros((0, 0), dtype=np.int64)
        values = array[nonzero]
    return SparseCOO(indices, values, array.shape, True)


def gather(storage: SparseCOO, indices):
    """The values of the sparse ``storage`` at the columns of ``indices`` (zeros where it has
    none): a sorted search of the coalesced storage, never a dense copy."""
    xp = _backend.array_module(storage.values)
    storage = coalesce(storage)
    sparse_shape = storage.shape[:storage.sparse_dim]
    keys = linear_index(xp, storage.indices, sparse_shape)
    wanted = linear_index(xp, indices, sparse_shape)
    pos = xp.searchsorted(keys, wanted)
    pos = xp.minimum(pos, max(keys.shape[0] - 1, 0))
    out = xp.zeros((indices.shape[1],) + storage.values.shape[1:], dtype=storage.values.dtype)
    if keys.shape[0]:
        found = keys[pos] == wanted
        out[found] = storage.values[pos[found]]
    return out


# --------------------------------------------------------------------------- repr

def sparse_repr(t) -> str:
    """torch's repr of a sparse COO tensor, with dark's names."""
    storage = t._data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    suffixes.append(f"size={storage.shape}")
    suffixes.append(f"nnz={storage.nnz}")
    dtype = t.dtype
    default = _backend.get_default_dtype()
    default_complex = _backend.complex128 if default is _backend.float64 else _backend.complex64
    if dtype not in (default, default_complex, _backend.int64, _backend.bool_):
        suffixes.append(f"dtype={dtype}")
    indices_prefix, values_prefix = "indices=tensor(", "values=tensor("
    parts = []
    for name, array in ((indices_prefix, storage.indices), (values_prefix, storage.values)):
        host = array if type(array) is np.ndarray else array.get()
        text = tensor_str(host, indent + len(name))
        if host.size == 0 or not PRINT_OPTS.edgeitems:
            text += f", size={tuple(host.shape)}"
        parts.append(name + text + ")")
    text = prefix + parts[0] + ",\n" + " " * indent + parts[1]
    suffixes.append("layout=dark.sparse_coo")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    first, rest = suffixes[0], suffixes[1:]
    return _add_suffixes(text + ",\n" + " " * indent + first, rest, indent)
