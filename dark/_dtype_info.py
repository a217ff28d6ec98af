"""dark.finfo and dark.iinfo: the numerical properties of a dtype, as torch.finfo /
torch.iinfo (fields, repr and errors), read from numpy's finfo / iinfo."""
from __future__ import annotations

import numpy as np

from . import _backend

__all__ = ["finfo", "iinfo"]


def _check_dtype(kind: str, type_) -> _backend.dtype:
    if not isinstance(type_, _backend.dtype):
        raise TypeError(f"{kind}(): argument 'type' (position 1) must be dark.dtype, not "
                        f"{type(type_).__name__}")
    return type_


class finfo:
    """Machine limits of a floating point (or complex: its real part's) dtype; the default
    dtype when none is given. Fields: bits, eps, max, min, tiny, smallest_normal,
    resolution, dtype (the real dtype's name)."""

    def __init__(self, type=None):  # noqa: A002 - torch's argument name
        d = _backend.get_default_dtype() if type is None else _check_dtype("finfo", type)
        if not (d.is_floating_point or d.is_complex):
            raise TypeError("dark.finfo() requires a floating point input type. Use dark.iinfo "
                            "to handle 'dark.finfo'")
        if d is _backend.bfloat16:  # known without ml_dtypes: 8 exponent, 7 mantissa bits
            self.bits, self.eps, self.max = 16, 2.0**-7, float.fromhex("0x1.fep127")
            self.min, self.tiny, self.smallest_normal = -self.max, 2.0**-126, 2.0**-126
            self.resolution, self.dtype = 0.01, "bfloat16"
            return
        info = np.finfo(d.np)
        real = _backend.from_numpy_dtype(info.dtype)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.smallest_normal)
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = real.name

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype. Fields: bits, max, min, dtype (its name)."""

    def __init__(self, type):  # noqa: A002 - torch's argument name
        d = _check_dtype("iinfo", type)
        if d.np == np.bool_:
            raise TypeError("dark.bool is not supported by dark.iinfo")
        if d.is_floating_point or d.is_complex:
            raise TypeError("dark.iinfo() requires an integer input type. Use dark.finfo to "
                            "handle 'dark.iinfo'")
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
