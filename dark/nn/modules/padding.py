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


class _PadNd(Module):
    """Pads the last ``_dims`` dims of its input by ``F.pad`` in mode ``_mode``."""

    _dims = 1
    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    extra_repr = _PadNd.extra_repr


def _pad_class(name: str, base: type, dims: int, doc: str, mode: str | None = None) -> type:
    """The public padding layer ``name``: ``base`` over the last ``dims`` dims (in ``mode``
    for a _PadNd)."""
    attributes = {"_dims": dims, "__doc__": doc, "__module__": __name__}
    if mode is not None:
        attributes["_mode"] = mode
    return type(name, (base,), attributes)


ConstantPad1d = _pad_class("ConstantPad1d", _ConstantPadNd, 1,
                           "Pad the last dim with ``value``: padding int or (left, right).")
ConstantPad2d = _pad_class("ConstantPad2d", _ConstantPadNd, 2,
                           "Pad the last 2 dims with ``value``: padding int or (left, right, "
                           "top, bottom).")
ConstantPad3d = _pad_class("ConstantPad3d", _ConstantPadNd, 3,
                           "Pad the last 3 dims with ``value``: padding int or a 6-tuple.")
ZeroPad1d = _pad_class("ZeroPad1d", _ZeroPadNd, 1, "Pad the last dim with zeros.")
ZeroPad2d = _pad_class("ZeroPad2d", _ZeroPadNd, 2,
                       "Pad the last 2 dims with zeros: padding int or (left, right, top, "
                       "bottom).")
ZeroPad3d = _pad_class("ZeroPad3d", _ZeroPadNd, 3, "Pad the last 3 dims with zeros.")
ReflectionPad1d = _pad_class("ReflectionPad1d", _PadNd, 1,
                             "Pad the last dim with its reflection (edge not repeated).",
                             "reflect")
ReflectionPad2d = _pad_class("ReflectionPad2d", _PadNd, 2,
                             "Pad the last 2 dims with their reflection.", "reflect")
ReflectionPad3d = _pad_class("ReflectionPad3d", _PadNd, 3,
                             "Pad the last 3 dims with their reflection.", "reflect")
ReplicationPad1d = _pad_class("ReplicationPad1d", _PadNd, 1,
                              "Pad the last dim by repeating its edge value.", "replicate")
ReplicationPad2d = _pad_class("ReplicationPad2d", _PadNd, 2,
                              "Pad the last 2 dims by repeating their edge values.", "replicate")
ReplicationPad3d = _pad_class("ReplicationPad3d", _PadNd, 3,
                              "Pad the last 3 dims by repeating their edge values.", "replicate")
CircularPad1d = _pad_class("CircularPad1d", _PadNd, 1, "Pad the last dim by wrapping around.",
                           "circular")
CircularPad2d = _pad_class("CircularPad2d", _PadNd, 2,
                           "Pad the last 2 dims by wrapping around.", "circular")
CircularPad3d = _pad_class("CircularPad3d", _PadNd, 3,
                           "Pad the last 3 dims by wrapping around.", "circular")
