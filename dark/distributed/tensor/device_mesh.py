"""torch.distributed.tensor.device_mesh: the DeviceMesh names (dark.distributed.device_mesh)."""
from ..device_mesh import DeviceMesh, init_device_mesh

__all__ = ["DeviceMesh", "init_device_mesh"]
