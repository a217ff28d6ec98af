"""FSDP1's SHARDED_STATE_DICT: each original parameter (and buffer) cut on dim 0 as
``torch.chunk`` cuts it, this rank keeping its chunk; and back to full tensors."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor


def _bounds(n, world, rank):
    size = math.ceil(n / world) if n else 0
    start = min(rank * size, n)
    return start, min(start + size, n)


def chunk_state_dict(full, group):
    world, rank = group.size(), group.rank()
    out = OrderedDict()
    for key, value in full.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            start, stop = _bounds(value.shape[0], world, rank)
            out[key] = value[start:stop].clone()
        else:
            out[key] = value
    return out


def full_state_dict(sharded, group):
    """The full tensors of a chunked state dict (every rank gathers every chunk)."""
    world = group.size()
    out = OrderedDict()
    for key, value in sharded.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            pieces = [None] * world
            data = value._data if type(value._data) is np.ndarray else value._data.get()
            dist.all_gather_object(pieces, data, group=group)
            whole = np.concatenate(pieces, axis=0)
            out[key] = Tensor._make(_backend.asarray_on(whole, value.device))
        else:
            out[key] = value
    return out
