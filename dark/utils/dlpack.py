"""DLPack: exchange tensors with numpy, PyTorch, CuPy, JAX ... without copying, as
``torch.utils.dlpack`` and ``torch.from_dlpack``.

dark's tensors hold a numpy array (CPU) or a CuPy array (GPU); both speak DLPack, so the
export hands out the array's own capsule and the import wraps the array numpy or CuPy makes
from the producer's capsule. The memory is shared both ways (a write on one side is seen on
the other) and the capsule's deleter keeps the producer's memory alive as long as the
tensor lives. Gradients are not carried: exporting a tensor that requires grad raises
``BufferError`` as torch does, and an imported tensor never requires grad.

A producer that marks its memory read-only (a numpy array with ``writeable=False``, a JAX
array: DLPack 1.0's read-only flag) is shared as torch shares it: the tensor is writable and
a write goes through to the producer's memory (torch ignores the flag too; JAX arrays come
in without a copy). Pass ``copy=True`` for a private copy.
"""
from __future__ import annotations

import ctypes
import enum

import numpy as np

from .. import _backend
from .._tensor import Tensor, install_methods

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (dlpack.h), as ``torch.utils.dlpack.DLDeviceType``."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14


_HOST = (DLDeviceType.kDLCPU, DLDeviceType.kDLCUDAHost, DLDeviceType.kDLROCMHost)


def _dlpack_device(self):
    """``(device type, device index)`` in DLPack's codes: ``(kDLCPU, 0)`` or
    ``(kDLCUDA, index)``."""
    if self.is_cuda:
        return (DLDeviceType.kDLCUDA, self.device.index or 0)
    return (DLDeviceType.kDLCPU, 0)


def _dlpack(self, *, stream=-1, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule of this tensor's memory (``Tensor.__dlpack__``).

    ``stream``: on the GPU, the consumer's stream (CuPy orders the producer's pending work
    before it); -1 or None: no synchronisation; ignored on the CPU. ``max_version``: the
    newest DLPack version the consumer reads (a versioned capsule when >= (1, 0), else the
    legacy one). ``dl_device`` / ``copy``: as the array API standard.
    """
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kwargs = {}
    if max_version is not None:
        kwargs["max_version"] = tuple(max_version)
    if dl_device is not None:
        kwargs["dl_device"] = tuple(dl_device)
    if copy is not None:
        kwargs["copy"] = copy
    if self.is_cuda and stream is not None and stream != -1:
        kwargs["stream"] = stream
    try:
        return self._data.__dlpack__(**kwargs)
    except TypeError:
        # an older numpy / CuPy without the newer keywords: the legacy capsule
        for key in ("max_version", "dl_device", "copy"):
            kwargs.pop(key, None)
        capsule = self._data.__dlpack__(**kwargs)
        return capsule


install_methods({"__dlpack__": _dlpack, "__dlpack_device__": _dlpack_device})


def to_dlpack(tensor: Tensor):
    """A (legacy, unversioned) DLPack capsule sharing ``tensor``'s memory, as
    ``torch.utils.dlpack.to_dlpack``. A capsule can be consumed once."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack(): argument 'tensor' must be Tensor, not "
                        f"{type(tensor).__name__}")
    return _dlpack(tensor)


# ------------------------------------------------------------------------------- capsules
_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype = ctypes.c_char_p
_get_name.argtypes = [ctypes.py_object]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

# Where DLTensor.device sits: DLManagedTensor starts with its DLTensor (after the data
# pointer comes the device); DLManagedTensorVersioned puts version, manager_ctx, deleter and
# flags (8 bytes each) before it.
_DEVICE_OFFSET = {b"dltensor": 8, b"dltensor_versioned": 32 + 8}


class _Capsule:
    """A bare capsule dressed as a DLPack producer, so numpy / CuPy can consume it."""

    def __init__(self, capsule):
        name = _get_name(capsule)
        if name not in _DEVICE_OFFSET:
            raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor "
                               "capsules can be consumed only once, so you might have already "
                               "constructed a tensor from it once.")
        pointer = _get_pointer(capsule, name)
        device = (ctypes.c_int32 * 2).from_address(pointer + _DEVICE_OFFSET[name])
        self.capsule = capsule
        self.device = (int(device[0]), int(device[1]))

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def _is_capsule(obj) -> bool:
    return type(obj).__name__ == "PyCapsule"


def from_dlpack(ext_tensor, *, device=None, copy=None) -> Tensor:
    """A tensor sharing the memory of ``ext_tensor``: anything with ``__dlpack__`` and
    ``__dlpack_device__`` (a numpy or CuPy array, a torch or JAX tensor, a dark tensor) or a
    DLPack capsule, as ``torch.from_dlpack``.

    ``device``: the device the result must be on (a copy when it is not the producer's);
    ``copy``: True always copies, False never does (an error when a copy is needed), None
    copies only when it must. The result does not require grad.
    """
    if _is_capsule(ext_tensor):
        if device is not None or copy is not None:
            raise AssertionError("device and copy kwargs not supported when ext_tensor is "
                                 "already a DLPack capsule.")
        producer = _Capsule(ext_tensor)
    elif hasattr(ext_tensor, "__dlpack__") and hasattr(ext_tensor, "__dlpack_device__"):
        producer = ext_tensor
    else:
        raise TypeError(f"from_dlpack(): expected an object with __dlpack__ and "
                        f"__dlpack_device__ or a DLPack capsule, got "
                        f"{type(ext_tensor).__name__}")
    kind, index = (int(v) for v in producer.__dlpack_device__())
    target = _backend.to_device(device) if device is not None else None
    if kind in _HOST:
        source = _backend.device("cpu")
    elif kind == DLDeviceType.kDLCUDA:
        source = _backend.device("cuda", index)
    else:
        name = DLDeviceType(kind).name if kind in set(DLDeviceType) else "unknown"
        raise RuntimeError(f"from_dlpack(): unsupported device type {kind} ({name}); dark "
                           "holds CPU (numpy) and CUDA (CuPy) memory")
    moves = target is not None and target != source
    if moves and copy is False:
        raise ValueError(f"cannot move DLPack tensor from device {source} to {target} "
                         "without copying. Set copy=None or copy=True.")
    if source.type == "cpu":
        try:
            array = np.from_dlpack(producer) if copy is None else \
                _from_dlpack_copy(producer, copy)
        except (BufferError, RuntimeError) as error:
            dtype = getattr(ext_tensor, "dtype", "?")
            raise TypeError(f"from_dlpack(): numpy cannot hold this DLPack tensor (dtype "
                            f"{dtype}): {error}") from error
        if not array.flags.writeable:
            array = np.asarray(_WritableView(array))  # as torch: see the module's docstring
    else:
        cupy = _backend.cupy_module()
        with cupy.cuda.Device(index):
            array = cupy.from_dlpack(producer)
        if copy:
            array = array.copy()
    _backend.from_numpy_dtype(array.dtype)
    result = Tensor._make(array)
    if moves:
        result = result.to(target)
    return result


class _WritableView:
    """A writable array interface over a read-only array's memory; the array made from it
    holds this object (its base), which holds the read-only array and so its owner."""

    def __init__(self, array):
        self._owner = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def _from_dlpack_copy(producer, copy):
    try:
        return np.from_dlpack(producer, copy=copy)
    except TypeError:  # a producer without the copy keyword
        array = np.from_dlpack(producer)
        return array.copy() if copy else array
