"""Argument checks shared by the functional families."""
from __future__ import annotations

import numbers

from ..._tensor import Tensor


def check_tensor(name: str, value, argument: str, position: int) -> None:
    """PyTorch's TypeError for a non-Tensor where ``name`` takes a Tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(value).__name__}")


def int_tuple(value, d: int) -> tuple:
    """An int, or a sequence of one int, as ``d`` copies; another sequence as its ints (the
    caller checks that there are ``d`` and raises its own error)."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * d
    values = tuple(int(v) for v in value)
    return values * d if len(values) == 1 else values
