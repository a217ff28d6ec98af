"""dark.cpu: the CPU device module as torch.cpu: ``is_available``, ``device_count``,
``current_device``, ``synchronize`` and the deprecated ``dark.cpu.amp`` names
(``autocast``, ``GradScaler``)."""
from __future__ import annotations

from .amp._deprecated import cpu_amp as amp

__all__ = ["amp", "current_device", "device_count", "is_available", "synchronize"]


def is_available() -> bool:
    """Always True: the CPU is always there."""
    return True


def device_count() -> int:
    """1, as torch.cpu.device_count()."""
    return 1


def current_device() -> str:
    """'cpu', as torch.cpu.current_device()."""
    return "cpu"


def synchronize(device=None) -> None:
    """A no-op: CPU work is done when the op returns."""
