"""Collation as ``torch.utils.data._utils.collate``: ``default_collate`` merges a list of
samples into a batch (tensors and numpy arrays stacked on a new dim 0, python ints to an
int64 tensor, floats to float64, strings kept as a list, and containers collated field by
field); ``default_convert`` turns numpy data into tensors without batching.
``collate(batch, collate_fn_map=...)`` is the extensible form: a map from element types to
functions ``fn(batch, *, collate_fn_map)``."""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..ops.creation import as_tensor, tensor
from ..ops.shape import stack

# numpy dtype kinds that cannot become tensors: bytes, unicode, object
_NP_STR_OBJ_PATTERN = re.compile("[SaUO]")

_ERROR_FORMAT = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                 "lists; found {}")


def _rebuild_mapping(template, items: dict):
    """A mapping like ``template`` with the new values (a dict when its type cannot)."""
    try:
        if isinstance(template, collections.abc.MutableMapping):
            clone = copy.copy(template)
            clone.update(items)
            return clone
        return type(template)(items)
    except TypeError:
        return items


def _rebuild_sequence(template, items: list):
    """A sequence like ``template`` holding ``items`` (a list when its type cannot)."""
    try:
        if isinstance(template, collections.abc.MutableSequence):
            clone = copy.copy(template)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(template)(items)
    except TypeError:
        return items


def default_convert(data):
    """numpy arrays and scalars (at any depth of dicts, lists, tuples, namedtuples) become
    tensors; everything else is returned as is. The DataLoader's collate_fn when
    ``batch_size=None``."""
    data_type = type(data)
    if isinstance(data, Tensor):
        return data
    if data_type.__module__ == "numpy" and data_type.__name__ not in ("str_", "string_"):
        if isinstance(data, np.ndarray) and _NP_STR_OBJ_PATTERN.search(data.dtype.str):
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return data_type(*(default_convert(item) for item in data))
    if isinstance(data, tuple):
        return [default_convert(item) for item in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(item) for item in data])
    return data


def collate(batch, *, collate_fn_map: dict | None = None):
    """Merge a list of samples: the first element's type picks the function of
    ``collate_fn_map`` (exact type first, then isinstance); mappings, namedtuples and
    sequences are collated per key / position. Raises TypeError for other types."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, function in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return function(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {
            key: collate([sample[key] for sample in batch], collate_fn_map=collate_fn_map)
            for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(samples, collate_fn_map=collate_fn_map)
                   for samples in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild_sequence(elem, columns)
    raise TypeError(_ERROR_FORMAT.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None) -> Tensor:
    """Stack tensors of equal shape on a new dim 0."""
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None) -> Tensor:
    """numpy arrays as tensors, stacked; string and object arrays are refused."""
    dtype = batch[0].dtype
    if _NP_STR_OBJ_PATTERN.search(dtype.str) is not None:
        raise TypeError(_ERROR_FORMAT.format(dtype))
    return collate([as_tensor(array) for array in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None) -> Tensor:
    """numpy scalars to a 1-d tensor of their dtype."""
    return as_tensor(list(batch))


def collate_float_fn(batch, *, collate_fn_map=None) -> Tensor:
    """python floats to a float64 tensor (not the default dtype, as PyTorch)."""
    return tensor(list(batch), dtype=_backend.float64)


def collate_int_fn(batch, *, collate_fn_map=None) -> Tensor:
    """python ints to int64 (bools to bool)."""
    return tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    """strings and bytes stay a list."""
    return batch


default_collate_fn_map: dict[type | tuple, Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Merge a list of samples into a batch. A sample of tensors of shape S gives a tensor of
    shape (N, *S); numpy arrays likewise; python ints an int64 tensor (N,), floats a float64
    tensor (N,), bools a bool tensor; numpy scalars keep their dtype; strings and bytes a list;
    dicts, namedtuples and lists are collated per field (tuples become lists). The
    DataLoader's collate_fn when batching."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


__all__ = ["default_collate", "default_convert"]
