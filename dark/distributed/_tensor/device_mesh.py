"""torch.distributed._tensor.device_mesh: the DeviceMesh names (old path)."""
from ..device_mesh import DeviceMesh, init_device_mesh

__all__ = ["DeviceMesh", "init_device_mesh"]
