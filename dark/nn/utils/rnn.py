"""nn.utils.rnn: PackedSequence and the helpers that pack, pad and unpad variable-length
sequences (PyTorch's ``torch.nn.utils.rnn``).

Every data movement here is one ``index_select`` over the sequences' rows (with one extra
row holding the padding value), so the gradient flows back through a single gather."""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ... import _backend
from ..._tensor import Tensor
from ...ops.creation import full, tensor
from ...ops.shape import cat

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceBase):
    """The time steps of a batch of sequences sorted by decreasing length, laid end to end.

    ``data`` is ``(sum(batch_sizes), *)``: the ``batch_sizes[t]`` rows of step ``t`` follow
    those of step ``t - 1``. ``batch_sizes`` is an int64 CPU tensor; ``sorted_indices``
    (and its inverse ``unsorted_indices``) map the sorted batch back to the caller's order.
    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should "
                "never be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)`` (indices follow data's device; batch_sizes stays on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def move(indices):
            return None if indices is None else indices.to(data.device)

        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cuda(self, device=None) -> PackedSequence:
        return self.to(device if device is not None else "cuda")

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def double(self) -> PackedSequence:
        return self.to(dtype=_backend.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_backend.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=_backend.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=_backend.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=_backend.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a 1-D permutation of indices (None stays None)."""
    if permutation is None:
        return None
    order = np.asarray(permutation.cpu().numpy())
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=order.dtype)
    return tensor(inverse, dtype=permutation.dtype, device=permutation.device)


def _host_ints(values) -> np.ndarray:
    if isinstance(values, Tensor):
        return np.asarray(values.cpu().numpy()).astype(np.int64)
    return np.asarray(list(values), dtype=np.int64)


def _gather_rows(rows: Tensor, index: np.ndarray, padding_value: float) -> Tensor:
    """``rows[index]`` along dim 0, where index == len(rows) picks a padding row."""
    pad = full((1, *rows.shape[1:]), padding_value, dtype=rows.dtype, device=rows.device)
    source = cat([rows, pad], 0)
    flat = tensor(index.reshape(-1), dtype=_backend.int64, device=rows.device)
    return source.index_select(0, flat).reshape(*index.shape, *rows.shape[1:])


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` with batch_first) of sequences of
    the given lengths into a PackedSequence. Without ``enforce_sorted`` the batch is sorted
    by decreasing length first (and the order is remembered)."""
    lengths = _host_ints(lengths)
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` "
                "is True. You can pass `enforce_sorted=False` to pack_padded_sequence "
                "and/or pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        sorted_indices = None
        order = np.arange(lengths.size)
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = tensor(order, dtype=_backend.int64, device=input.device)
    if lengths.size and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    steps = input.shape[1] if batch_first else input.shape[0]
    batch = input.shape[0] if batch_first else input.shape[1]
    if lengths.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={batch})")
    if lengths[0] > steps:
        raise RuntimeError("Expected sequence length to be larger than or equal to the "
                           f"length of the longest sequence, but got {steps} and {lengths[0]}")
    batch_sizes = (lengths[None, :] > np.arange(lengths[0])[:, None]).sum(1)
    # row t*B + b (b taken in sorted order) of the time-major view, for each live (t, b)
    time = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    rank = np.concatenate([np.arange(n) for n in batch_sizes])
    if batch_first:
        index = order[rank] * steps + time
    else:
        index = time * batch + order[rank]
    rows = input.reshape(steps * batch, *input.shape[2:])
    data = rows.index_select(0, tensor(index, dtype=_backend.int64, device=input.device))
    return PackedSequence(data, tensor(batch_sizes, dtype=_backend.int64), sorted_indices,
                          None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """Undo :func:`pack_padded_sequence`: returns ``(padded, lengths)`` with padded of shape
    ``(T, B, *)`` (``(B, T, *)`` with batch_first) in the original batch order."""
    batch_sizes = _host_ints(sequence.batch_sizes)
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length "
                f"being {steps}")
        steps = total_length
    batch = int(batch_sizes[0])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    position = np.full((steps, batch), sequence.data.shape[0], dtype=np.int64)
    for t, (offset, size) in enumerate(zip(offsets, batch_sizes)):
        position[t, :size] = offset + np.arange(size)
    if sequence.unsorted_indices is not None:
        unsorted = _host_ints(sequence.unsorted_indices)
        position, lengths = position[:, unsorted], lengths[unsorted]
    if batch_first:
        position = position.T
    padded = _gather_rows(sequence.data, position, padding_value)
    return padded, tensor(lengths, dtype=_backend.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with
    batch_first), T the longest length, filling the rest with padding_value on the
    padding_side ('right' or 'left')."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}.")
    trailing = tuple(sequences[0].shape[1:])
    for sequence in sequences[1:]:
        if tuple(sequence.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: all sequences must have the same trailing "
                               f"dims, got {trailing} and {tuple(sequence.shape[1:])}")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps, total = int(lengths.max()), int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.full((steps, len(sequences)), total, dtype=np.int64)
    for b, (start, length) in enumerate(zip(starts, lengths)):
        first = 0 if padding_side == "right" else steps - length
        position[first:first + length, b] = start + np.arange(length)
    if batch_first:
        position = position.T
    return _gather_rows(cat(list(sequences), 0), position, padding_value)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Split a padded batch back into the list of its sequences (``lengths`` long each)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [sequence[:length] for sequence, length in
            zip(padded_sequences.unbind(0), _host_ints(lengths).tolist())]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)`` (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [sequence.shape[0] for sequence in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a PackedSequence holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
