"""Padding layers: constant/zero, reflection, replication and circular padding of the last
1, 2 or 3 dims, as PyTorch's (``padding`` is an int or a tuple from the last dim back)."""
from __future__ import annotations

from collections.abc import Iterable

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d"]


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, Iterable):
        return tuple(value)
    return (value,) * n


class _ConstantPadNd(Module):
    _dims = 1

    def __init__(self, padding, value: float) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: padding int or (left, right)."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with ``value``: padding int or (left, right, top, bottom)."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with ``value``: padding int or a 6-tuple."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""

    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last 2 dims with zeros: padding int or (left, right, top, bottom)."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last 3 dims with zeros."""

    _dims = 3


class _ModePadNd(Module):
    _dims = 1
    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _mode_pad(name: str, mode: str, dims: int, doc: str):
    return type(name, (_ModePadNd,), {"_dims": dims, "_mode": mode, "__doc__": doc,
                                      "__module__": __name__})


ReflectionPad1d = _mode_pad("ReflectionPad1d", "reflect", 1,
                            "Pad the last dim with its reflection (edge not repeated).")
ReflectionPad2d = _mode_pad("ReflectionPad2d", "reflect", 2,
                            "Pad the last 2 dims with their reflection.")
ReflectionPad3d = _mode_pad("ReflectionPad3d", "reflect", 3,
                            "Pad the last 3 dims with their reflection.")
ReplicationPad1d = _mode_pad("ReplicationPad1d", "replicate", 1,
                             "Pad the last dim by repeating its edge value.")
ReplicationPad2d = _mode_pad("ReplicationPad2d", "replicate", 2,
                             "Pad the last 2 dims by repeating their edge values.")
ReplicationPad3d = _mode_pad("ReplicationPad3d", "replicate", 3,
                             "Pad the last 3 dims by repeating their edge values.")
CircularPad1d = _mode_pad("CircularPad1d", "circular", 1,
                          "Pad the last dim by wrapping around.")
CircularPad2d = _mode_pad("CircularPad2d", "circular", 2,
                          "Pad the last 2 dims by wrapping around.")
CircularPad3d = _mode_pad("CircularPad3d", "circular", 3,
                          "Pad the last 3 dims by wrapping around.")
