"""``dark.autograd.Variable``: PyTorch's deprecated wrapper, kept for the programs that use it.

As in torch 2.x, a Variable is a Tensor: ``Variable(x)`` returns ``x`` detached (the same
memory, no history) as a plain Tensor, ``Variable(x, requires_grad=True)`` that leaf with
``requires_grad`` set, ``volatile=True`` only warns (use ``dark.no_grad()``), and
``isinstance(t, Variable)`` is true for every tensor."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from .._tensor import Tensor

__all__ = ["Variable", "VariableMeta"]


class VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(data=None, requires_grad=False, volatile=False)``: ``data`` detached, as a
    Tensor (an empty one of the default dtype without data)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False, _grad_fn=None,
                name=None):
        for value in (requires_grad, volatile):
            if not isinstance(value, (bool, int, np.bool_, np.integer)):
                raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an "
                                f"integer")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "dark.no_grad():` instead.", UserWarning, stacklevel=2)
            if requires_grad:
                raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if _grad_fn is not None:
            raise TypeError(f"_grad_fn has to be a Function object or None, but got "
                            f"{type(_grad_fn).__name__}")
        if data is None:
            data = Tensor._make(np.empty(0, dtype=_backend.get_default_dtype().np))
        elif not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        variable = data.detach()
        if requires_grad:
            variable.requires_grad_(True)
        return variable
