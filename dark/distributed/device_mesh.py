"""torch.distributed.device_mesh: ``DeviceMesh`` and ``init_device_mesh``.

A DeviceMesh lays the world's ranks out as an n-dimensional array (``mesh``); each of its
dimensions has a process group per line of the array along it (made with ``new_group`` on
every rank, in the same order), and a rank keeps the group of the line it is on. Slicing a
mesh by dimension names (``mesh["tp"]``, ``mesh["dp", "tp"]``) gives the sub-mesh of this
rank's line (plane ...) with the parent's groups. The same code serves "cpu" (MPI) and
"cuda" (NCCL: the groups of an "nccl" world get their own NCCL communicators)."""
from __future__ import annotations

import math

import numpy as np

from .. import cuda
from .._tensor import Tensor
from . import (
    GroupMember,
    get_default_backend_for_device,
    get_rank,
    get_world_size,
    init_process_group,
    is_initialized,
    new_group,
)

__all__ = ["DeviceMesh", "init_device_mesh"]

MESH_STACK: list = []  # the meshes entered (``with mesh:``), innermost last


class DeviceMesh:
    """An n-dimensional layout of ranks with a process group per mesh dimension, as
    torch.distributed.device_mesh.DeviceMesh. ``mesh``: the ranks (a nested list, array or
    int Tensor). Every rank of the world must build the same mesh (SPMD)."""

    def __init__(self, device_type: str, mesh, *, mesh_dim_names=None, backend_override=None,
                 _init_backend: bool = True, _groups=None):
        if isinstance(mesh, Tensor):
            mesh = mesh._data.get() if type(mesh._data) is not np.ndarray else mesh._data
        ranks = np.asarray(mesh, dtype=np.int64)
        if ranks.ndim == 0:
            raise ValueError(f"DeviceMesh: mesh must have at least one dimension, got {mesh!r}")
        if len(set(ranks.reshape(-1).tolist())) != ranks.size:
            raise RuntimeError(f"DeviceMesh cannot have duplicate values, but found "
                               f"{ranks.tolist()}")
        if mesh_dim_names is not None:
            mesh_dim_names = tuple(mesh_dim_names)
            if len(mesh_dim_names) != ranks.ndim:
                raise RuntimeError(
                    "mesh_shape and mesh_dim_names should have same length! Found "
                    f"len(mesh_dim_names): {len(mesh_dim_names)} and len(mesh_shape):"
                    f"{ranks.ndim}.")
        self.device_type = device_type
        self._ranks = ranks
        self._mesh_dim_names = mesh_dim_names
        if _groups is not None:
            self._groups = list(_groups)
        else:
            if _init_backend:
                _setup_world(device_type)
            if ranks.size > get_world_size():
                raise RuntimeError(f"Mesh should not be bigger than default world size "
                                   f"{get_world_size()}, but found {ranks.size} ranks!")
            self._groups = [_dim_group(ranks, dim) for dim in range(ranks.ndim)]
        me = get_rank()
        where = np.argwhere(ranks == me)
        self._coordinate = tuple(int(c) for c in where[0]) if len(where) else None

    # ------------------------------------------------------------------ layout
    @property
    def mesh(self) -> Tensor:
        return Tensor._make(self._ranks.copy())

    @property
    def mesh_dim_names(self):
        return self._mesh_dim_names

    @property
    def ndim(self) -> int:
        return self._ranks.ndim

    @property
    def shape(self) -> tuple:
        return tuple(self._ranks.shape)

    def size(self, mesh_dim: int | None = None) -> int:
        if mesh_dim is None:
            return int(self._ranks.size)
        return int(self._ranks.shape[mesh_dim])

    def get_rank(self) -> int:
        return get_rank()

    def get_coordinate(self):
        """This rank's index in the mesh (None when it is not in it)."""
        return list(self._coordinate) if self._coordinate is not None else None

    def _dim(self, mesh_dim) -> int:
        if isinstance(mesh_dim, str):
            if self._mesh_dim_names is None or mesh_dim not in self._mesh_dim_names:
                raise KeyError(f"Mesh dimension '{mesh_dim}' does not exist. Available mesh "
                               f"dimensions are: mesh_dim_names={self._mesh_dim_names}")
            return self._mesh_dim_names.index(mesh_dim)
        dim = int(mesh_dim)
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"mesh_dim {mesh_dim} is out of range for a {self.ndim}-D "
                             "DeviceMesh")
        return dim % self.ndim

    def get_local_rank(self, mesh_dim=None) -> int:
        """This rank's coordinate along ``mesh_dim`` (an index or a name)."""
        if mesh_dim is None:
            if self.ndim > 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions",
                                   "Optional kwarg `mesh_dim` needs to be specified when "
                                   "device_mesh.ndim > 1.")
            mesh_dim = 0
        if self._coordinate is None:
            raise RuntimeError("the current rank is not part of this DeviceMesh")
        return self._coordinate[self._dim(mesh_dim)]

    def get_group(self, mesh_dim=None):
        """The process group of this rank's line along ``mesh_dim``."""
        if mesh_dim is None:
            if self.ndim > 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions",
                                   "Optional kwarg `mesh_dim` needs to be specified when "
                                   "device_mesh.ndim > 1.",
                                   "If you want to get the list of all the ProcessGroups in "
                                   "the DeviceMesh,please use `get_all_groups()` instead.")
            mesh_dim = 0
        return self._groups[self._dim(mesh_dim)]

    def get_all_groups(self) -> list:
        return list(self._groups)

    def __getitem__(self, mesh_dim_names) -> DeviceMesh:
        """The sub-mesh of the named dimensions through this rank (their groups are this
        mesh's)."""
        if not self._mesh_dim_names:
            raise RuntimeError("Cannot slice a DeviceMesh without mesh_dim_names!")
        names = (mesh_dim_names,) if isinstance(mesh_dim_names, str) else tuple(mesh_dim_names)
        for name in names:
            if name not in self._mesh_dim_names:
                raise KeyError(f"Invalid mesh_dim_names {names} specified. Valid mesh_dim_names "
                               f"are {self._mesh_dim_names}.")
        if names == self._mesh_dim_names:
            return self
        dims = [self._mesh_dim_names.index(n) for n in names]
        if self._coordinate is None:
            raise RuntimeError("the current rank is not part of this DeviceMesh")
        index = tuple(slice(None) if d in dims else self._coordinate[d]
                      for d in range(self.ndim))
        kept = sorted(dims)
        sub = self._ranks[index]  # the kept dims in mesh order
        sub = np.transpose(sub, [kept.index(d) for d in dims])
        return DeviceMesh(self.device_type, sub, mesh_dim_names=names,
                          _groups=[self._groups[d] for d in dims])

    # ------------------------------------------------------------------ identity
    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, DeviceMesh):
            return False
        return (self.device_type == other.device_type
                and self._ranks.shape == other._ranks.shape
                and bool((self._ranks == other._ranks).all())
                and self._mesh_dim_names == other._mesh_dim_names)

    def __hash__(self) -> int:
        return hash((self.device_type, self._ranks.shape, tuple(self._ranks.reshape(-1)),
                     self._mesh_dim_names))

    def __repr__(self) -> str:
        sizes = self._ranks.shape
        layout = (f"({', '.join(f'{k}={v}' for k, v in zip(self._mesh_dim_names, sizes))})"
                  if self._mesh_dim_names else f"{tuple(sizes)}")
        strides = tuple(int(s) // self._ranks.itemsize for s in
                        np.ascontiguousarray(self._ranks).strides)
        return f"DeviceMesh({layout}, '{self.device_type}', stride={strides})"

    def __enter__(self) -> DeviceMesh:
        """``with mesh:`` the mesh the DTensor functions take when given none."""
        MESH_STACK.append(self)
        return self

    def __exit__(self, *exc) -> None:
        MESH_STACK.pop()


def _setup_world(device_type: str) -> None:
    """The default group, as torch's mesh makes it when absent; on CUDA, this rank's GPU."""
    if not is_initialized():
        init_process_group(backend=get_default_backend_for_device(device_type))
    if device_type == "cuda" and cuda.is_available():
        count = cuda.device_count()
        if count:
            cuda.set_device(get_rank() % count)


def _dim_group(ranks: np.ndarray, dim: int):
    """This rank's group along mesh dimension ``dim``: every line of the mesh along ``dim``
    becomes a group (every rank takes part in every new_group, in the same order)."""
    lines = np.moveaxis(ranks, dim, -1).reshape(-1, ranks.shape[dim])
    world = get_world_size()
    if lines.shape[0] == 1 and lines.shape[1] == world and \
            lines[0].tolist() == list(range(world)):
        return GroupMember.WORLD
    me = get_rank()
    mine = GroupMember.NON_GROUP_MEMBER
    for line in lines:
        group = new_group(line.tolist())
        if me in line.tolist():
            mine = group
    return mine


def init_device_mesh(device_type: str, mesh_shape, *, mesh_dim_names=None,
                     backend_override=None) -> DeviceMesh:
    """A DeviceMesh of ``mesh_shape`` over ranks 0..N-1 in row-major order (initialising the
    default process group for ``device_type`` when there is none)."""
    mesh_shape = tuple(int(s) for s in mesh_shape)
    if mesh_dim_names is not None:
        if len(set(mesh_dim_names)) != len(mesh_dim_names):
            raise RuntimeError("Each mesh_dim_name must be unique. Found repeated mesh_dim_name "
                               f"in mesh_dim_names {tuple(mesh_dim_names)}")
        if len(mesh_shape) != len(mesh_dim_names):
            raise RuntimeError(
                "mesh_shape and mesh_dim_names should have same length! Found "
                f"len(mesh_dim_names): {len(mesh_dim_names)} and len(mesh_shape):"
                f"{len(mesh_shape)}.")
    if device_type and not device_type.isalpha():
        raise RuntimeError(f"Device type with index is not supported but got {device_type}. ",
                           "If you maintained a 'torch.device' object, it's recommended to "
                           "pass in 'device.type'.")
    _setup_world(device_type)
    if math.prod(mesh_shape) != get_world_size():
        raise RuntimeError(f"The mesh shape {mesh_shape} does not match the world size "
                           f"{get_world_size()}")
    ranks = np.arange(math.prod(mesh_shape), dtype=np.int64).reshape(mesh_shape)
    return DeviceMesh(device_type, ranks, mesh_dim_names=mesh_dim_names,
                      _init_backend=False)
