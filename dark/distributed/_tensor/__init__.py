"""torch.distributed._tensor: the old path of torch.distributed.tensor (kept by torch for
older programs, as here): the same names, and ``_tensor.device_mesh``."""
from ..tensor import (DeviceMesh, DTensor, Partial, Placement, Replicate, Shard, distribute_module,
                      distribute_tensor, empty, full, init_device_mesh, ones, placement_types,
                      rand, randn, zeros)

__all__ = ["DTensor", "DeviceMesh", "Partial", "Placement", "Replicate", "Shard",
           "distribute_module", "distribute_tensor", "empty", "full", "init_device_mesh", "ones",
           "placement_types", "rand", "randn", "zeros"]
