"""NCCL for CUDA tensors (backend "nccl"), through CuPy's ``cupy.cuda.nccl``, as ChainerMN
does: rank 0 makes the NCCL unique id, MPI broadcasts it, each rank opens its communicator
on its GPU (``device_id``, else ``LOCAL_RANK``, else rank modulo the visible GPUs).
Collectives run on the current CuPy stream; ``async_op=True`` returns a work whose
``wait()`` makes the current stream wait on the collective's event (torch's semantics: the
host does not block). CPU tensors in an "nccl" group go through the MPI group."""
from __future__ import annotations

import os

import numpy as np

from .. import _backend
from ._mpi import Work

_OPS = {0: "NCCL_SUM", 1: "NCCL_AVG", 2: "NCCL_PROD", 3: "NCCL_MIN", 4: "NCCL_MAX"}
_TYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
          "int64": "NCCL_INT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
          "float64": "NCCL_FLOAT64", "bool": "NCCL_UINT8"}


class _GpuWork(Work):
    def __init__(self, group, what, event, outputs, finish=None):
        super().__init__(group, what, [], finish, outputs)
        self.event = event

    def is_completed(self) -> bool:
        if self.event.done:
            self._complete()
            return True
        return False

    def wait(self, timeout=None) -> bool:
        cupy = _backend.cupy_module()
        cupy.cuda.get_current_stream().wait_event(self.event)
        self._complete()
        return True


class NcclGroup:
    def __init__(self, world, device_id=None):
        cupy = _backend.cupy_module()
        from cupy.cuda import nccl  # noqa: PLC0415 - optional, part of CuPy

        self.nccl = nccl
        self.world = world
        if device_id is None:
            local = os.environ.get("LOCAL_RANK")
            device_id = int(local) if local is not None else \
                world.rank() % cupy.cuda.runtime.getDeviceCount()
        self.device = int(getattr(device_id, "index", device_id) or 0)
        cupy.cuda.Device(self.device).use()
        uid = np.frombuffer(bytes(nccl.get_unique_id()), np.uint8) if world.rank() == 0 \
            else None
        payload = world.broadcast_bytes(uid.tobytes() if uid is not None else None, 0)
        unique = tuple(int(b) if b < 128 else int(b) - 256 for b in payload)
        self.comm = nccl.NcclCommunicator(world.size(), unique, world.rank())

    def _types(self, array, op=None):
        name = array.dtype.name
        if name not in _TYPES:
            raise RuntimeError(f"NCCL does not support dtype {name}")
        kind = getattr(self.nccl, _TYPES[name])
        if op is None:
            return kind, None
        code = int(op)
        if code not in _OPS:
            raise RuntimeError(f"NCCL does not support this ReduceOp ({code})")
        return kind, getattr(self.nccl, _OPS[code], None)

    def _launch(self, what, tensor, call, finish=None):
        cupy = _backend.cupy_module()
        stream = cupy.cuda.get_current_stream()
        with cupy.cuda.Device(self.device):
            call(stream.ptr)
            event = stream.record()
        tensor._bump_version()
        return _GpuWork(self.world, what, event, [tensor], finish)

    def all_reduce(self, tensor, op):
        array = tensor._data
        if not array.flags.c_contiguous:
            raise RuntimeError("Tensors must be contiguous")
        kind, nccl_op = self._types(array, op)
        finish = None
        if nccl_op is None:  # AVG on an NCCL without ncclAvg: a sum, then a division
            nccl_op = self.nccl.NCCL_SUM
            size = self.world.size()

            def finish():
                array[...] = array / size
        return self._launch("all_reduce", tensor, lambda s: self.comm.allReduce(
            array.data.ptr, array.data.ptr, array.size, kind, nccl_op, s), finish)

    def broadcast(self, tensor, root):
        array = tensor._data
        if not array.flags.c_contiguous:
            raise RuntimeError("Tensors must be contiguous")
        kind, _ = self._types(array)
        return self._launch("broadcast", tensor, lambda s: self.comm.bcast(
            array.data.ptr, array.size, kind, root, s))
