"""dark.cuda: GPU queries, seeding and memory statistics, as torch.cuda.

CuPy is imported only inside these functions (through dark._backend.cupy_module). Without
CuPy or a GPU, is_available() is False, device_count() 0, the seeding functions, empty_cache
and the memory counters are silently harmless (as in PyTorch), and the functions that need a
GPU raise RuntimeError saying why."""
from __future__ import annotations

from . import _backend
from . import random as _random
from ._legacy import CUDA_TYPES as _CUDA_TYPES

globals().update(_CUDA_TYPES)  # FloatTensor ... : the legacy cuda tensor types


def is_available() -> bool:
    """Whether a GPU can be used (CuPy installed and at least one device visible)."""
    return _backend.cuda_available()


def device_count() -> int:
    """The number of visible GPUs (0 without CuPy or a GPU)."""
    return _backend.cuda_device_count()


def is_initialized() -> bool:
    return _backend.cuda_available()


def _index(device=None) -> int:
    """The GPU index of ``device`` (an int, 'cuda:i', a dark.device, or None: the current)."""
    cupy = _backend.cupy_module()
    if device is None:
        return int(cupy.cuda.runtime.getDevice())
    if isinstance(device, int):
        return _backend.check_cuda_index(device)
    dev = _backend.to_device(device)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return _backend.cuda_index(dev)


def current_device() -> int:
    """The index of the current GPU."""
    return _index()


def set_device(device) -> None:
    """Make ``device`` the current GPU (the one 'cuda' without an index means); a negative
    index is a no-op, as in PyTorch."""
    if isinstance(device, int) and device < 0:
        return
    _backend.cupy_module().cuda.Device(_index(device)).use()


class device:
    """Context manager that makes ``device`` the current GPU inside the block (None or a
    negative index: no change)."""

    def __init__(self, device):
        negative = isinstance(device, int) and device < 0
        self.index = -1 if device is None or negative else _index(device)
        self.previous = -1

    def __enter__(self):
        if self.index >= 0:
            self.previous = current_device()
            set_device(self.index)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous >= 0:
            set_device(self.previous)


def get_device_name(device=None) -> str:
    """The name of a GPU (the current one by default), e.g. 'NVIDIA H100 80GB HBM3'."""
    index = _index(device)
    properties = _backend.cupy_module().cuda.runtime.getDeviceProperties(index)
    name = properties["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple:
    """(major, minor) compute capability of a GPU (the current one by default)."""
    index = _index(device)
    capability = _backend.cupy_module().cuda.Device(index).compute_capability  # e.g. '90'
    return int(capability[:-1]), int(capability[-1])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current GPU takes bfloat16 tensors (torch.cuda.is_bf16_supported): False
    without CUDA, as in PyTorch. dark's GPU tensors are CuPy arrays: True when one of
    bfloat16 (ml_dtypes' dtype) can be made on the current GPU, and, with
    ``including_emulation=False``, the GPU computes bfloat16 natively (compute capability 8.0
    or newer)."""
    if not is_available():
        return False
    try:
        _backend.cupy_module().zeros(1, dtype=_backend.bfloat16.np)
    except Exception:  # no ml_dtypes, or CuPy refuses the dtype: dark cannot hold one there
        return False
    return including_emulation or get_device_capability()[0] >= 8


class nccl:  # noqa: N801 - torch.cuda.nccl, a module there
    """torch.cuda.nccl's queries, answered by the NCCL that CuPy gives dark (its
    collectives on CUDA tensors, dark.distributed's "nccl" backend, go through it)."""

    @staticmethod
    def version() -> tuple:
        """NCCL's (major, minor, patch); RuntimeError without CUDA or CuPy's NCCL."""
        _backend.cupy_module()  # CUDA first: its error says why not
        try:
            from cupy.cuda import nccl as cupy_nccl  # noqa: PLC0415 - CuPy's optional part
        except ImportError as error:
            raise RuntimeError(f"NCCL is not available: CuPy has no NCCL ({error})") from None
        code = int(cupy_nccl.get_version())  # major * 10000 + minor * 100 + patch (>= 2.9)
        return code // 10000, code % 10000 // 100, code % 100

    @staticmethod
    def is_available(tensors) -> bool:
        """Whether NCCL can take these tensors: CUDA tensors, contiguous, each on its own
        GPU, and CuPy's NCCL present (torch.cuda.nccl.is_available)."""
        devices = set()
        for tensor in tensors:
            if not tensor.is_cuda or not tensor.is_contiguous():
                return False
            device = tensor.get_device()
            if device in devices:
                return False
            devices.add(device)
        try:
            nccl.version()
        except RuntimeError:
            return False
        return True


def synchronize(device=None) -> None:
    """Wait until all work queued on a GPU (the current one by default) has finished."""
    index = _index(device)
    cupy = _backend.cupy_module()
    with cupy.cuda.Device(index):
        cupy.cuda.runtime.deviceSynchronize()


# ----------------------------------------------------------------------------- seeding

def manual_seed(seed) -> None:
    """Seed the current GPU's generator (remembered if the GPU is not used yet; a no-op
    without CUDA, as in PyTorch)."""
    index = _index() if _backend.cuda_available() else 0
    _random.cuda_manual_seed(seed, index)


def manual_seed_all(seed) -> None:
    """Seed the generators of every GPU."""
    _random.cuda_manual_seed(seed)


def seed() -> None:
    """Seed the current GPU's generator from the operating system's entropy."""
    manual_seed(_random.Generator().seed())


def seed_all() -> None:
    """Seed every GPU's generator from the operating system's entropy."""
    manual_seed_all(_random.Generator().seed())


def initial_seed() -> int:
    """The seed of the current GPU's generator."""
    return _random.cuda_default_generator(_index()).initial_seed()


def get_rng_state(device="cuda"):
    """The state of a GPU's generator as a uint8 CPU tensor (16 bytes: seed and offset)."""
    return _random.cuda_default_generator(_index(device)).get_state()


def set_rng_state(new_state, device="cuda") -> None:
    """Restore a GPU's generator from ``get_rng_state``."""
    _random.cuda_default_generator(_index(device)).set_state(new_state)


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


# ----------------------------------------------------------------------------- memory

def _pool(device):
    """CuPy's default memory pool and the GPU index, or None without CUDA."""
    if not _backend.cuda_available():
        return None, 0
    return _backend.cupy_module().get_default_memory_pool(), _index(device)


def memory_allocated(device=None) -> int:
    """Bytes held by tensors on a GPU (0 without CUDA)."""
    pool, index = _pool(device)
    if pool is None:
        return 0
    with _backend.cupy_module().cuda.Device(index):
        return int(pool.used_bytes())


def memory_reserved(device=None) -> int:
    """Bytes the caching allocator holds on a GPU, used or cached (0 without CUDA)."""
    pool, index = _pool(device)
    if pool is None:
        return 0
    with _backend.cupy_module().cuda.Device(index):
        return int(pool.total_bytes())


def max_memory_allocated(device=None) -> int:
    """The peak of memory_allocated since the last reset_peak_memory_stats / empty_cache.

    CuPy keeps no peak counter; its pool keeps every block it allocated until emptied, so
    the bytes it holds bound the peak (from above, by block rounding)."""
    return max(memory_reserved(device), memory_allocated(device))


max_memory_reserved = max_memory_allocated


def reset_peak_memory_stats(device=None) -> None:
    """Start the peak over from the memory in use now (frees the cached blocks)."""
    empty_cache()


def empty_cache() -> None:
    """Give the cached, unused GPU memory back to the driver (a no-op without CUDA)."""
    if _backend.cuda_available():
        cupy = _backend.cupy_module()
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()


from .amp._deprecated import cuda_amp as amp  # noqa: E402, F401 - dark.cuda.amp.autocast ...
