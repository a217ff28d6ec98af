"""CPU tensors in memory shared between processes: ``Tensor.share_memory_`` / ``is_shared``,
and their pickling for multiprocessing (queues, pipes, spawned processes' arguments).

``share_memory_()`` moves a CPU tensor's data into a file of /dev/shm (the temporary folder
where there is none) mapped with MAP_SHARED; a forked child inherits the mapping, and a
shared tensor pickled by multiprocessing travels as (file, offset, shape, strides, dtype):
the receiving process maps the same file, so writes on either side are seen by the other
(Hogwild training with ``model.share_memory()``). The file is removed when the creating
process drops the memory or exits. Tensors not in shared memory are copied by pickling.

Unlike torch, which moves a storage with all its views: views made before
``share_memory_()`` keep the old memory, and a view itself cannot be moved (share the
tensor it views). CUDA tensors are left as they are (``is_shared()`` is True, as torch's)."""
from __future__ import annotations

import mmap
import os
import tempfile
import weakref

import numpy as np

from .._tensor import Tensor, install_methods

# id(mmap) -> (its file, the address of its first byte, a weak reference to it)
_SEGMENTS: dict[int, tuple[str, int, weakref.ref]] = {}
# file -> this process's mapping of it (mapped once however many tensors arrive from it)
_ATTACHED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _directory() -> str:
    shm = "/dev/shm"  # noqa: S108 - the POSIX shared-memory file system
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _forget(key: int) -> None:
    _SEGMENTS.pop(key, None)


def _release(path: str, pid: int) -> None:
    """Remove the file of a segment, in the process that made it only (forked children
    inherit the finalizer but not the ownership)."""
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _register(memory: mmap.mmap, path: str) -> None:
    address = np.frombuffer(memory, np.uint8).__array_interface__["data"][0]
    key = id(memory)
    _SEGMENTS[key] = (path, address, weakref.ref(memory))
    weakref.finalize(memory, _forget, key)


def _create(nbytes: int) -> tuple[mmap.mmap, str]:
    fd, path = tempfile.mkstemp(prefix="dark-shm-", dir=_directory())
    try:
        os.ftruncate(fd, max(nbytes, 1))
        memory = mmap.mmap(fd, max(nbytes, 1))
    finally:
        os.close(fd)
    _register(memory, path)
    weakref.finalize(memory, _release, path, os.getpid())
    return memory, path


def _attach(path: str) -> mmap.mmap:
    memory = _ATTACHED.get(path)
    if memory is None:
        fd = os.open(path, os.O_RDWR)
        try:
            memory = mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        _register(memory, path)
        _ATTACHED[path] = memory
    return memory


def _segment_of(array):
    """(file, address of its first byte) of the shared segment holding ``array``, or None."""
    if not isinstance(array, np.ndarray):
        return None
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    found = _SEGMENTS.get(id(base))
    if found is None or found[2]() is not base:
        return None
    return found[0], found[1]


def share_memory_(self: Tensor) -> Tensor:
    """Move this CPU tensor's data to shared memory (no-op when it is there, or on a GPU)."""
    array = self._data
    if not isinstance(array, np.ndarray) or _segment_of(array) is not None:
        return self
    if self._base is not None:
        raise RuntimeError("dark cannot move a view to shared memory: call share_memory_() "
                           "on the tensor it is a view of, before making views")
    memory, _ = _create(array.nbytes)
    shared = np.ndarray(array.shape, array.dtype, buffer=memory)
    shared[...] = array
    self._data = shared
    return self


def is_shared(self: Tensor) -> bool:
    """Whether the data is in shared memory (always, for a CUDA tensor, as torch)."""
    return not isinstance(self._data, np.ndarray) or _segment_of(self._data) is not None


install_methods({"share_memory_": share_memory_, "is_shared": is_shared})


def rebuild_shared(path, offset, shape, strides, dtype, requires_grad) -> Tensor:
    array = np.ndarray(shape, dtype, buffer=_attach(path), offset=offset, strides=strides)
    tensor = Tensor._make(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def reduce_shared(tensor: Tensor):
    """The pickled form of a tensor in shared memory (None when it is not in one)."""
    found = _segment_of(tensor._data)
    if found is None:
        return None
    path, address = found
    array = tensor._data
    offset = array.__array_interface__["data"][0] - address
    return (rebuild_shared, (path, offset, array.shape, array.strides, array.dtype,
                             tensor.requires_grad))
