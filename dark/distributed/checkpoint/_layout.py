"""Where a tensor's piece sits in the whole tensor (DCP's regions)."""
from __future__ import annotations

from ..tensor import DTensor, Shard


def _is_dtensor(t) -> bool:
    return isinstance(t, DTensor)


def _region(t):
    """(offsets, sizes, owner) of this rank's piece of ``t`` in the whole tensor (each
    ``Shard(d)`` cuts dim d as torch.chunk); owner is False where the piece is a replica
    of another rank's (a Replicate mesh dimension, coordinate above 0)."""
    shape = tuple(t.shape)
    if not _is_dtensor(t):
        return (0,) * len(shape), shape, True
    mesh = t.device_mesh
    coordinate = mesh.get_coordinate()
    offsets, sizes = [0] * len(shape), list(shape)
    owner = True
    for i, placement in enumerate(t.placements):
        if isinstance(placement, Shard):
            d, n = placement.dim, mesh.size(i)
            c = -(-sizes[d] // n) if sizes[d] else 0
            start = min(coordinate[i] * c, sizes[d])
            stop = min(start + c, sizes[d])
            offsets[d] += start
            sizes[d] = stop - start
        elif coordinate[i] != 0:
            owner = False  # a replica: the rank with coordinate 0 saves it
    return tuple(offsets), tuple(sizes), owner
