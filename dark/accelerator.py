"""dark.accelerator: the device-agnostic accelerator API, as torch.accelerator.

dark's one accelerator is CUDA (through CuPy, via dark.cuda). On a machine without CuPy or
a GPU the answers are torch's on a CPU-only build: is_available() is False,
current_accelerator() None, device_count() 0, set_device_index() of a negative index a
no-op, and current_device_index(), set_device_index() and synchronize() raise RuntimeError."""
from __future__ import annotations

from . import _backend
from . import cuda as _cuda

__all__ = ["current_accelerator", "current_device_index", "device_count", "device_index",
           "is_available", "set_device_index", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU) can be used."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``dark.device('cuda')`` when CUDA is available, else None (``check_available`` is
    accepted as torch's; without an accelerator the answer is None either way)."""
    return _backend.device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    """The number of accelerator devices (0 without one)."""
    return _cuda.device_count() if _cuda.is_available() else 0


def _index(device, optional: bool):
    if not isinstance(device, (int, type(None))) and not _cuda.is_available():
        raise RuntimeError("Accelerator expected")
    if device is None:
        if optional:
            return None
        raise ValueError(
            f"Expected a dark.device with a specified index or an integer, but got:{device}")
    if isinstance(device, int):
        return device
    dev = _backend.to_device(device)
    if dev.index is None:
        if optional:
            return None
        raise ValueError(
            f"Expected a dark.device with a specified index or an integer, but got:{device}")
    return dev.index


def current_device_index() -> int:
    """The index of the current accelerator device."""
    if not _cuda.is_available():
        raise RuntimeError(_NONE)
    return _cuda.current_device()


def set_device_index(device, /) -> None:
    """Make ``device`` (an int, 'cuda:i' or a dark.device) the current accelerator device; a
    negative index is a no-op."""
    index = _index(device, optional=False)
    if index < 0:
        return
    if not _cuda.is_available():
        raise RuntimeError(_NONE)
    _cuda.set_device(index)


def synchronize(device=None, /) -> None:
    """Wait for the work queued on an accelerator device (the current one by default)."""
    index = _index(device, optional=True)
    if not _cuda.is_available():
        raise RuntimeError(_NONE)
    _cuda.synchronize(index)


class device_index:  # noqa: N801 - torch's name
    """Context manager making accelerator device ``device`` (an int) the current one for its
    body, and restoring the previous one after it, as torch.accelerator.device_index.
    ``None`` switches nothing; without an accelerator entering raises RuntimeError."""

    def __init__(self, device, /) -> None:
        self.idx = device
        self.prev_idx = -1

    def __enter__(self) -> None:
        if self.idx is not None:
            if not _cuda.is_available():
                raise RuntimeError(_NONE)
            self.prev_idx = _cuda.current_device()
            if self.idx >= 0 and self.idx != self.prev_idx:
                _cuda.set_device(self.idx)

    def __exit__(self, *exc_info) -> None:
        if self.idx is not None and self.prev_idx >= 0 and self.prev_idx != self.idx:
            _cuda.set_device(self.prev_idx)
