"""Marks functions of dark.ops that are also Tensor methods (installed by dark.ops)."""
from __future__ import annotations

TENSOR_METHODS: dict = {}


def tensor_method(*names: str):
    """Register the decorated function as ``Tensor.<name>`` (its first argument is self)."""

    def register(function):
        for name in names or (function.__name__,):
            TENSOR_METHODS[name] = function
        return function

    return register
