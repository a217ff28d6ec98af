"""torch.distributed.tensor: DTensor (a tensor laid out over a DeviceMesh), its placements,
distribute_tensor / distribute_module and the DTensor factories. See _api (DTensor),
_redistribute (the collectives of a change of placement, and their gradients) and _dispatch
(the sharding rules of the ops)."""
from ..device_mesh import DeviceMesh, init_device_mesh
from . import _dispatch  # noqa: F401 - sets the op dispatch up for the first DTensor
from . import placement_types
from ._api import (DTensor, distribute_module, distribute_tensor, empty, full, ones, rand, randn,
                   zeros)
from .placement_types import Partial, Placement, Replicate, Shard

__all__ = ["DTensor", "DeviceMesh", "Partial", "Placement", "Replicate", "Shard",
           "distribute_module", "distribute_tensor", "empty", "full", "init_device_mesh", "ones",
           "placement_types", "rand", "randn", "zeros"]
