"""Moving a DTensor's local array between placements (the collectives of each change), and
the autograd Function that does it.

Gradients of DTensors are local arrays laid out as their tensor: a Shard's gradient is the
gradient of its rows, a Replicate's the whole gradient (the same on every rank), and a
Partial(sum)'s the whole gradient too (the gradient of each summand is the sum's). So the
backward of a change of placement is the change back with Partial read as Replicate:
all_gather's backward is a split, Partial -> Replicate's (all_reduce) is the identity,
reduce_scatter's is an all_gather, Replicate -> Shard's (a local split) an all_gather."""
from __future__ import annotations

from ... import _backend
from ..._tensor import Tensor
from ...autograd.function import Function
from .. import ReduceOp, all_gather_into_tensor, all_reduce, reduce_scatter_tensor
from .placement_types import Partial, Replicate, Shard

_REDUCE = {"sum": ReduceOp.SUM, "avg": ReduceOp.AVG, "max": ReduceOp.MAX, "min": ReduceOp.MIN,
           "product": ReduceOp.PRODUCT}


def chunk_sizes(size: int, n: int) -> list:
    """torch.chunk's piece sizes of ``size`` rows over ``n`` ranks (trailing ones may be 0)."""
    if size == 0:
        return [0] * n
    step = -(-size // n)
    return [max(0, min(step, size - i * step)) for i in range(n)]


def chunk_offset(size: int, n: int, index: int) -> int:
    return sum(chunk_sizes(size, n)[:index])


def local_shape(shape, mesh, placements, upto: int | None = None) -> tuple:
    """The shape of this rank's piece of a tensor of ``shape`` after the Shard placements of
    mesh dimensions 0..upto-1 (all of them by default)."""
    shape = list(shape)
    coord = mesh._coordinate
    for i, p in enumerate(placements[:upto] if upto is not None else placements):
        if isinstance(p, Shard):
            shape[p.dim] = chunk_sizes(shape[p.dim], mesh.size(i))[coord[i]]
    return tuple(shape)


def local_offsets(shape, mesh, placements) -> tuple:
    """Where this rank's piece starts in the whole tensor, per tensor dimension."""
    shape = list(shape)
    offsets = [0] * len(shape)
    coord = mesh._coordinate
    for i, p in enumerate(placements):
        if isinstance(p, Shard):
            n = mesh.size(i)
            offsets[p.dim] += chunk_offset(shape[p.dim], n, coord[i])
            shape[p.dim] = chunk_sizes(shape[p.dim], n)[coord[i]]
    return tuple(offsets)


def _xp(array):
    return _backend.array_module(array)


def split_piece(array, dim: int, n: int, index: int):
    """Piece ``index`` of ``n`` of ``array`` along ``dim`` (a copy)."""
    sizes = chunk_sizes(array.shape[dim], n)
    start = sum(sizes[:index])
    key = [slice(None)] * array.ndim
    key[dim] = slice(start, start + sizes[index])
    return _xp(array).ascontiguousarray(array[tuple(key)])


def _pad(array, dim: int, size: int):
    if array.shape[dim] == size:
        return array
    xp = _xp(array)
    widths = [(0, 0)] * array.ndim
    widths[dim] = (0, size - array.shape[dim])
    return xp.pad(array, widths)


def gather_pieces(array, dim: int, full: int, group, n: int):
    """The whole of a tensor sharded along ``dim`` (``full`` rows) over ``group``."""
    xp = _xp(array)
    sizes = chunk_sizes(full, n)
    step = sizes[0]
    moved = xp.ascontiguousarray(xp.moveaxis(_pad(array, dim, step), dim, 0))
    out = xp.empty((n * step,) + moved.shape[1:], dtype=array.dtype)
    all_gather_into_tensor(Tensor._make(out), Tensor._make(moved), group=group)
    pieces = [out[i * step:i * step + sizes[i]] for i in range(n)]
    return xp.ascontiguousarray(xp.moveaxis(xp.concatenate(pieces, axis=0), 0, dim))


def scatter_sum(array, dim: int, group, n: int, index: int, reduce_op: str):
    """reduce_scatter: the reduction over ``group`` of ``array``, this rank's piece along
    ``dim``."""
    xp = _xp(array)
    sizes = chunk_sizes(array.shape[dim], n)
    step = sizes[0]
    moved = xp.ascontiguousarray(xp.moveaxis(_pad(array, dim, n * step), dim, 0))
    out = xp.empty((step,) + moved.shape[1:], dtype=array.dtype)
    reduce_scatter_tensor(Tensor._make(out), Tensor._make(moved), op=_REDUCE[reduce_op],
                          group=group)
    out = out[:sizes[index]]
    return xp.ascontiguousarray(xp.moveaxis(out, 0, dim))


def reduce_all(array, group, reduce_op: str):
    out = _xp(array).array(array, copy=True)
    all_reduce(Tensor._make(out), op=_REDUCE[reduce_op], group=group)
    return out


def _nested(placements) -> bool:
    dims = [p.dim for p in placements if isinstance(p, Shard)]
    return len(dims) != len(set(dims))


def redistribute_array(array, mesh, shape, src, dst, grad: bool = False):
    """``array`` (this rank's piece of a tensor of global ``shape`` laid out as ``src``) laid
    out as ``dst``. ``grad``: ``array`` is the gradient of a tensor laid out as ``src`` and
    the result the gradient for ``dst`` (the backward of the change dst -> src): Partials
    are read as Replicate (no reduction; an avg's gradient is divided by its count)."""
    src, dst = list(src), list(dst)
    if len(src) != mesh.ndim or len(dst) != mesh.ndim:
        raise ValueError(f"redistribute: {mesh.ndim}-D mesh, placements {tuple(src)} -> "
                         f"{tuple(dst)}")
    scale = 1.0
    if grad:
        for i, (s, d) in enumerate(zip(src, dst)):
            for p in (s, d):
                if isinstance(p, Partial) and p.reduce_op not in ("sum", "avg"):
                    raise RuntimeError(f"redistribute: no gradient through Partial("
                                       f"{p.reduce_op})")
            if isinstance(d, Partial) and d.reduce_op == "avg" and not isinstance(s, Partial):
                scale /= mesh.size(i)
        src = [Replicate() if isinstance(p, Partial) else p for p in src]
        dst = [Replicate() if isinstance(p, Partial) else p for p in dst]
    if src == dst:
        return array if scale == 1.0 else array * array.dtype.type(scale)
    coord = mesh._coordinate
    if coord is None:
        raise RuntimeError("redistribute: this rank is not part of the DTensor's mesh")
    current = list(src)
    full_path = _nested(src) or _nested(dst)
    # 1. last mesh dim to first: undo the Shards and Partials that change
    for i in reversed(range(mesh.ndim)):
        s, d = current[i], dst[i]
        if s == d and not full_path:
            continue
        group, n = mesh.get_group(i), mesh.size(i)
        if isinstance(s, Shard):
            level = local_shape(shape, mesh, current, upto=i)
            array = gather_pieces(array, s.dim, level[s.dim], group, n)
            current[i] = Replicate()
        elif isinstance(s, Partial):
            if isinstance(d, Partial) and not full_path:
                raise RuntimeError(f"redistribute from {s} to {d} is not supported")
            if isinstance(d, Shard) and not full_path:
                array = scatter_sum(array, d.dim, group, n, coord[i], s.reduce_op)
                current[i] = d
            else:
                array = reduce_all(array, group, s.reduce_op)
                current[i] = Replicate()
    # 2. first mesh dim to last: the new Shards (local splits) and Partials
    for i in range(mesh.ndim):
        s, d = current[i], dst[i]
        if s == d:
            continue
        n = mesh.size(i)
        if isinstance(d, Shard):
            array = split_piece(array, d.dim, n, coord[i])
        elif isinstance(d, Partial):
            if d.reduce_op == "sum" and coord[i] != 0:
                array = _xp(array).zeros_like(array)
            elif d.reduce_op == "product" and coord[i] != 0:
                array = _xp(array).ones_like(array)
        current[i] = d
    if scale != 1.0:
        array = array * array.dtype.type(scale)
    return array


class Redistribute(Function):
    """A local tensor laid out as ``src`` -> laid out as ``dst`` (differentiable)."""

    @staticmethod
    def forward(ctx, local, mesh, shape, src, dst):
        ctx.layout = (mesh, shape, src, dst)
        return Tensor._make(redistribute_array(local._data, mesh, shape, src, dst))

    @staticmethod
    def backward(ctx, grad):
        mesh, shape, src, dst = ctx.layout
        return (Tensor._make(redistribute_array(grad._data, mesh, shape, dst, src, grad=True)),
                None, None, None, None)


class AllReduceGrad(Function):
    """Identity forward; backward sums the gradient over the given mesh dimensions: a
    Replicate input of an op whose output is sharded or partial there gets only this rank's
    part of its gradient from the local op."""

    @staticmethod
    def forward(ctx, local, mesh, mesh_dims):
        ctx.where = (mesh, mesh_dims)
        return Tensor._make(local._data)

    @staticmethod
    def backward(ctx, grad):
        mesh, mesh_dims = ctx.where
        array = grad._data
        for i in mesh_dims:
            array = reduce_all(array, mesh.get_group(i), "sum")
        return Tensor._make(array), None, None
