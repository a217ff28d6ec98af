"""Python operators and in-place method forms (``add_`` ...) of Tensor, built on the ops."""
from __future__ import annotations

from .._tensor import Tensor
from . import elementwise as E


def _inplace(function):
    """``x.name_(...)``: ``function(x, ...)`` written into x's memory (see Tensor._inplace)."""

    def method(self, *args, **kwargs):
        return self._inplace(function, *args, **kwargs)

    method.__name__ = function.__name__ + "_"
    method.__doc__ = f"In-place form of {function.__name__}."
    return method


def _reflected(function):
    def method(self, other):
        return function(other, self)

    return method


OPERATORS = {
    "__add__": lambda self, other: E.add(self, other),
    "__radd__": lambda self, other: E.add(self, other),
    "__sub__": lambda self, other: E.sub(self, other),
    "__rsub__": _reflected(E.sub),
    "__mul__": lambda self, other: E.mul(self, other),
    "__rmul__": lambda self, other: E.mul(self, other),
    "__truediv__": lambda self, other: E.div(self, other),
    "__rtruediv__": _reflected(E.div),
    "__pow__": lambda self, other: E.pow(self, other),
    "__rpow__": _reflected(E.pow),
    "__neg__": lambda self: E.neg(self),
    "__pos__": lambda self: self,
    "__iadd__": lambda self, other: self.add_(other),
    "__isub__": lambda self, other: self.sub_(other),
    "__imul__": lambda self, other: self.mul_(other),
    "__itruediv__": lambda self, other: self.div_(other),
    "__ipow__": lambda self, other: self.pow_(other),
}

INPLACE = {name + "_": _inplace(getattr(E, name))
           for name in ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sin", "cos",
                        "tanh")}


def install() -> None:
    for name, method in {**OPERATORS, **INPLACE}.items():
        if name not in Tensor.__dict__:
            setattr(Tensor, name, method)
