"""FSDP1's SHARDED_STATE_DICT: each original parameter (and buffer) as a DTensor sharded
on dim 0 (``Shard(0)``, torch.chunk's pieces) over the unit's shard group; and back to full
tensors."""
from __future__ import annotations

import math
from collections import OrderedDict

from ..._tensor import Tensor
from ..device_mesh import DeviceMesh
from ..tensor import DTensor, Shard


def _mesh(group):
    device = "cpu"
    return DeviceMesh(device, list(group.ranks), _groups=[group])


def chunk_state_dict(full, group):
    world, rank = group.size(), group.rank()
    mesh = _mesh(group)
    out = OrderedDict()
    for key, value in full.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            rows = value.shape[0]
            c = math.ceil(rows / world) if rows else 0
            start = min(rank * c, rows)
            local = value[start:min(start + c, rows)].clone()
            out[key] = DTensor.from_local(local, mesh, (Shard(0),), shape=tuple(value.shape))
        else:
            out[key] = value
    return out


def full_state_dict(sharded, group):
    """The full tensors of a sharded state dict (DTensors gathered on every rank)."""
    out = OrderedDict()
    for key, value in sharded.items():
        out[key] = value.full_tensor() if isinstance(value, DTensor) else value
    return out
