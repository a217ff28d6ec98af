"""Argument checks shared by the functional families."""
from __future__ import annotations

from ..._tensor import Tensor


def check_tensor(name: str, value, argument: str, position: int) -> None:
    """PyTorch's TypeError for a non-Tensor where ``name`` takes a Tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(value).__name__}")
