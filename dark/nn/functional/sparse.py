"""Sparse functions of dark.nn.functional (PyTorch's name for the family): embedding,
embedding_bag and one_hot.

``embedding`` is one op whose backward adds each gradient row at its index (the adjoint
gather and scatter-add ops are each other's backward). ``embedding_bag`` takes sums, means
or maxima of bags of embedding rows without building the (indices, embedding_dim)
intermediate's graph: one op, ``_EmbeddingBag``, takes the weight (and the per-sample
weights) and works on the flat indices and the bag of each index; its backward is written
with differentiable ops (row gathers and scatter-adds that are each other's adjoints), so it
can be differentiated again. ``embedding(..., sparse=True)`` gives the weight a sparse COO
gradient (dark.sparse_coo, torch's: one entry per index used, uncoalesced, none for
padding_idx); so does embedding_bag's with ``sparse=True`` (modes sum and mean: an entry per
index kept, its bag's gradient scaled as in the dense gradient)."""
from __future__ import annotations

import numpy as np

from ... import _backend
from ..._backend import array_module
from ..._sparse import SparseCOO
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...ops.indexing import IndexGrad, _accumulate
from ._checks import check_tensor

__all__ = ["embedding", "embedding_bag", "one_hot"]

# ----------------------------------------------------------------------------- embedding


class _Embedding(Op):
    """The rows of weight at ``indices``; the gradient sums over repeated indices (times a
    constant ``scale`` per index: 0 at padding_idx, 1 / count with scale_grad_by_freq)."""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, scale=None):
        ctx.indices, ctx.scale, ctx.rows = indices, scale, weight.shape[0]
        return array_module(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        if ctx.scale is not None:
            grad = grad * Tensor._make(ctx.scale)
        return _EmbeddingGrad.apply(grad, indices=ctx.indices, rows=ctx.rows)


class _EmbeddingSparse(Op):
    """The rows of weight at ``indices``, whose gradient is sparse (Embedding(sparse=True)):
    one entry per index (padding_idx's left out), as torch's embedding_sparse_backward."""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None, by_freq=False):
        ctx.indices, ctx.padding_idx, ctx.by_freq = indices, padding_idx, by_freq
        ctx.shape = weight.shape
        return array_module(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        if ctx.by_freq:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with "
                               "sparse gradients")
        index = ctx.indices.reshape(-1).astype(np.int64)
        values = grad._data.reshape(-1, ctx.shape[1])
        if ctx.padding_idx is not None:
            keep = index != ctx.padding_idx
            index, values = index[keep], values[keep]
        return Tensor._make(SparseCOO(index[None], values, ctx.shape))


class _EmbeddingGrad(Op):
    """Rows of zeros with each gradient row added at its index."""

    node_name = "EmbeddingDenseBackward0"

    @staticmethod
    def forward(ctx, grad, indices, rows):
        ctx.indices = indices
        width = grad.shape[-1]
        out = array_module(grad).zeros((rows, width), dtype=grad.dtype)
        _accumulate(out, None, (indices.reshape(-1),), grad.reshape(-1, width))
        return out

    @staticmethod
    def backward(ctx, grad):
        return _Embedding.apply(grad, indices=ctx.indices)


def _embedding_renorm(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    """Rescale (in place) the rows used whose norm exceeds max_norm to norm max_norm."""
    xp = array_module(weight._data)
    rows = xp.unique(indices)
    values = weight._data[rows]
    norms = xp.linalg.norm(values, ord=norm_type, axis=1)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1).astype(values.dtype)
    weight._data[rows] = values * scale[:, None]
    weight._bump_version()


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of weight (num_embeddings, embedding_dim) at the int64/int32 indices input
    (*) -> (*, embedding_dim). No gradient flows to row ``padding_idx``; ``max_norm``
    renormalizes the rows used, in place. With ``sparse`` the weight's gradient is a sparse
    COO tensor (as torch's), else dense."""
    check_tensor("embedding", input, "input", 1)
    check_tensor("embedding", weight, "weight", 2)
    rows = weight.shape[0] if weight.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -rows:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = rows + padding_idx
    indices = input._data
    if indices.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"dark.{input.dtype.scalar_name}Tensor instead (while checking "
                           f"arguments for embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if indices.size and bool(((indices < 0) | (indices >= rows)).any()):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        with no_grad():
            _embedding_renorm(weight, indices, max_norm, norm_type)
    if sparse and weight.requires_grad:
        return _EmbeddingSparse.apply(weight, indices=indices, padding_idx=padding_idx,
                                      by_freq=scale_grad_by_freq)
    scale = None
    if (padding_idx is not None or scale_grad_by_freq) and weight.requires_grad:
        xp = array_module(weight._data)
        scale = xp.ones(indices.shape, dtype=weight._data.dtype)
        if scale_grad_by_freq:
            counts = xp.bincount(indices.reshape(-1), minlength=rows)
            scale /= counts[indices]
        if padding_idx is not None:
            scale[indices == padding_idx] = 0
        scale = scale[..., None]
    return _Embedding.apply(weight, indices=indices, scale=scale)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (*, num_classes) with a 1 at each value of the int64 tensor (*); num_classes=-1
    takes the largest value + 1."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = tensor._data
    xp = array_module(tensor._data)
    if values.size == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if int(values.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        largest = int(values.max())
        if num_classes == -1:
            num_classes = largest + 1
        elif num_classes <= largest:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = xp.arange(num_classes, dtype=np.int64)
    return Tensor._make((values[..., None] == classes).astype(np.int64))


# ----------------------------------------------------------------------------- embedding_bag

_MODES = {"sum": 0, "mean": 1, "max": 2}


class _EmbeddingBag(Op):
    """(bags, embedding_dim) reductions of the rows of weight at ``indices`` (the entries at
    ``padding_idx`` already dropped), grouped by ``bag`` (the bag of each index)."""

    node_name = "EmbeddingBagBackward0"

    @staticmethod
    def forward(ctx, weight, per_sample_weights, indices, bag, bags, mode, scale,
                positions, total, sparse=False, by_freq=False):
        xp = array_module(weight)
        width = weight.shape[1]
        ctx.indices, ctx.bag, ctx.mode, ctx.scale = indices, bag, mode, scale
        ctx.sparse, ctx.by_freq = sparse, by_freq
        ctx.positions, ctx.total, ctx.rows = positions, total, weight.shape[0]
        ctx.save_for_backward(weight, per_sample_weights)
        if mode == "max":
            return _bag_max(ctx, xp, weight, indices, bag, bags)
        samples = None if per_sample_weights is None else per_sample_weights[positions]
        table, filled, lengths = _bag_table(xp, indices, bag, bags)
        if table.size <= 4 * indices.shape[0] + bags:
            # a (bags, longest, embedding_dim) block summed along the bag: contiguous work,
            # several times faster than a scatter-add
            factor = filled.astype(weight.dtype)
            if samples is not None:
                factor[bag, _slots(xp, bag, lengths)] = samples
            out = (xp.take(weight, table, axis=0) * factor[:, :, None]).sum(axis=1)
        else:  # very uneven bags: a scatter-add by bag
            rows = xp.take(weight, indices, axis=0)
            if samples is not None:
                rows = rows * samples[:, None]
            out = xp.zeros((bags, width), dtype=weight.dtype)
            _accumulate(out, None, (bag,), rows)
        if mode == "mean":
            out /= xp.maximum(lengths, 1).astype(weight.dtype)[:, None]
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, per_sample_weights = ctx.saved_tensors
        need_weight, need_samples = ctx.needs_input_grad[:2]
        if ctx.mode == "max":
            return _bag_max_backward(ctx, grad), None
        rows_grad = _Embedding.apply(grad, indices=ctx.bag)  # (indices, embedding_dim)
        grad_weight = grad_samples = None
        if need_samples:
            products = (rows_grad * _Embedding.apply(weight, indices=ctx.indices)).sum(-1)
            grad_samples = IndexGrad.apply(products, shape=(ctx.total,),
                                           key=(ctx.positions,))
        if need_weight:
            if ctx.sparse and ctx.by_freq:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with "
                                   "sparse gradients")
            if ctx.scale is not None:
                rows_grad = rows_grad * Tensor._make(ctx.scale[:, None])
            if per_sample_weights is not None:
                rows_grad = rows_grad * _Embedding.apply(per_sample_weights.unsqueeze(-1),
                                                         indices=ctx.positions)
            if ctx.sparse:  # torch's: an entry per index kept, in input order, uncoalesced
                shape = (ctx.rows, rows_grad.shape[-1])
                grad_weight = Tensor._make(SparseCOO(ctx.indices[None], rows_grad._data, shape))
            else:
                grad_weight = _EmbeddingGrad.apply(rows_grad, indices=ctx.indices,
                                                   rows=ctx.rows)
        return grad_weight, grad_samples


def _slots(xp, bag, lengths):
    """The place of each index inside its bag (bags are contiguous runs of ``bag``)."""
    starts = xp.cumsum(lengths) - lengths
    return xp.arange(bag.shape[0]) - starts[bag]


def _bag_table(xp, indices, bag, bags):
    """(bags, longest) weight rows of each bag padded with row 0, the mask of real entries,
    and the bag lengths."""
    count = indices.shape[0]
    lengths = xp.bincount(bag, minlength=bags)[:bags] if count else xp.zeros(bags, np.int64)
    longest = max(int(lengths.max()) if bags else 0, 1)
    slots = _slots(xp, bag, lengths)
    table = xp.zeros((bags, longest), dtype=np.int64)
    filled = xp.zeros((bags, longest), dtype=bool)
    table[bag, slots] = indices
    filled[bag, slots] = True
    return table, filled, lengths


def _bag_max(ctx, xp, weight, indices, bag, bags):
    """Per bag and column, the largest entry (the first one on ties); empty bags give 0.
    The bags are laid out as a (bags, longest, embedding_dim) block padded with -inf."""
    table, filled, lengths = _bag_table(xp, indices, bag, bags)
    values = xp.take(weight, table, axis=0)
    values = xp.where(filled[:, :, None], values, xp.asarray(-np.inf, dtype=weight.dtype))
    best = xp.argmax(values, axis=1)  # (bags, embedding_dim), the first maximum
    nonempty = lengths > 0
    ctx.argmax_rows = xp.take_along_axis(table, best, axis=1)  # weight row of each maximum
    ctx.nonempty = nonempty
    out = xp.take_along_axis(values, best[:, None, :], axis=1)[:, 0, :]
    return xp.where(nonempty[:, None], out, xp.zeros((), dtype=weight.dtype))


def _bag_max_backward(ctx, grad):
    xp = array_module(ctx.argmax_rows)
    width = ctx.argmax_rows.shape[1]
    grad = grad * Tensor._make(ctx.nonempty[:, None].astype(grad._data.dtype))
    columns = xp.broadcast_to(xp.arange(width), ctx.argmax_rows.shape)
    return IndexGrad.apply(grad, shape=(ctx.rows, width), key=(ctx.argmax_rows, columns))


def _index_type_error(tensor: Tensor) -> RuntimeError:
    return RuntimeError(
        "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
        f"Long, Int; but got dark.{tensor.dtype.scalar_name}Tensor instead (while checking "
        "arguments for embedding_bag)")


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Reduce bags of rows of weight (num_embeddings, embedding_dim) -> (bags, embedding_dim).

    input is (bags, n) fixed-size bags with offsets None, or 1-D with 1-D ``offsets`` (the
    start of each bag; with ``include_last_offset`` the last entry only closes the list).
    mode 'sum' (optionally weighted by ``per_sample_weights``, shaped as input), 'mean' or
    'max'; entries equal to ``padding_idx`` are left out and empty bags give zeros. With
    ``sparse=True`` the weight's gradient is a sparse COO tensor, as torch's: an entry per
    index (padding_idx's left out) in input order, uncoalesced.
    offsets must be non-decreasing. ``scale_grad_by_freq`` divides each index's gradient by
    its count in input, as documented (torch's CPU kernel uses the count of another index
    when counts differ)."""
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({_size(per_sample_weights)}) is not None, "
            f"then it must have the same shape as the input ({_size(input)})")
    if weight.dim() != 2:
        raise ValueError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{_type_str(offsets)}")
        if input.shape[1] == 0:
            raise RuntimeError("step must be nonzero")
        xp = array_module(input._data)
        offsets_array = xp.arange(0, input.numel(), input.shape[1], dtype=input._data.dtype)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offsets_array = None
    else:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    indices = input._data
    if indices.dtype not in (np.int64, np.int32):
        raise _index_type_error(input)
    if offsets_array is None:
        if offsets._data.dtype not in (np.int64, np.int32):
            raise _index_type_error(offsets)
        offsets_array = offsets._data
    if weight._data.dtype.kind != "f":
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have one of the following scalar "
            f"types: Half, BFloat16, Float, Double; but got dark.{weight.dtype.scalar_name}Tensor "
            "instead (while checking arguments for embedding_bag)")
    if max_norm is not None:
        with no_grad():
            _embedding_renorm(weight, indices, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
            "on GitHub.")
    if per_sample_weights is not None and per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have the same type as tensor for "
            "argument #1 'per_sample_weights'; but type "
            f"dark.{weight.dtype.scalar_name}Tensor does not equal "
            f"dark.{per_sample_weights.dtype.scalar_name}Tensor (while checking "
            "arguments for embedding_bag)")
    return _bags(input, weight, offsets_array, scale_grad_by_freq, mode, per_sample_weights,
                 include_last_offset, padding_idx, sparse)


def _type_str(value) -> str:
    """``str(type(value))`` with dark.Tensor spelled as torch spells torch.Tensor."""
    return "<class 'dark.Tensor'>" if type(value) is Tensor else str(type(value))


def _size(tensor: Tensor) -> str:
    return f"dark.Size({list(tensor.shape)})"


def _bags(input, weight, offsets, scale_grad_by_freq, mode, per_sample_weights,
          include_last_offset, padding_idx, sparse=False) -> Tensor:
    """Check the offsets, indices and padding_idx as torch's kernel does, then apply."""
    xp = array_module(weight._data)
    indices = input._data.astype(np.int64).reshape(-1)
    total = indices.shape[0]
    rows = weight.shape[0]
    count = offsets.shape[0]
    offsets_word = _backend.scalar_name(offsets.dtype)
    offsets = offsets.astype(np.int64)
    if count and int(offsets[0]) != 0:
        raise RuntimeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {int(offsets[0])}\n[ dark.{offsets_word}Tensor{{}} ]")
    if count and int(offsets[-1]) > total:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {total} but "
                           f"got offsets[-1] of {int(offsets[-1])}")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, {-rows} "
                               f"through {rows - 1}, but got {padding_idx}")
        padding_idx = padding_idx % rows
    if total:
        bad = (indices < 0) | (indices >= rows)
        if bool(bad.any()):
            first = int(indices[int(xp.argmax(bad))])
            raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but "
                               f"found idx to be {first}")
    # torch's kernel ends the last bag at the end of input, even with include_last_offset
    starts = offsets[:-1] if include_last_offset else offsets
    bags = starts.shape[0]
    bag = xp.searchsorted(starts, xp.arange(total), side="right") - 1
    positions = xp.arange(total)
    keep = bag >= 0  # no bag at all when offsets is empty
    if padding_idx is not None:
        keep &= indices != padding_idx
    if not bool(keep.all()):
        positions, indices, bag = positions[keep], indices[keep], bag[keep]
    scale = None
    if mode != "max" and weight.requires_grad:
        scale = xp.ones(indices.shape[0], dtype=weight._data.dtype)
        if scale_grad_by_freq:
            counts = xp.bincount(input._data.reshape(-1).astype(np.int64), minlength=rows)
            scale /= counts[indices]
        if mode == "mean":
            lengths = xp.bincount(bag, minlength=bags)[:bags]
            scale /= lengths[bag]
    return _EmbeddingBag.apply(weight, per_sample_weights, indices=indices, bag=bag,
                               bags=bags, mode=mode, scale=scale, positions=positions,
                               total=total, sparse=sparse and mode != "max",
                               by_freq=scale_grad_by_freq)
