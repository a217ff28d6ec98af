"""Linear Ops whose backward is their adjoint, shared by the functional families (pooling's
gathers, scatters and averages, resampling's gathers and matmuls)."""
from __future__ import annotations

from ..._backend import array_module
from ...autograd.function import Op


class LinearOp(Op):
    """A linear map of one array with keyword parameters, whose backward is ``adjoint``:
    another Op applied to the gradient with the same parameters. A subclass gives
    ``compute(xp, x, **params)`` on the raw array and its ``adjoint`` (two that are each
    other's are joined by ``adjoints``: then each is the other's backward, and they are
    differentiable any number of times)."""

    adjoint: type[Op]

    @classmethod
    def forward(cls, ctx, x, **params):
        ctx.params = params
        return cls.compute(array_module(x), x, **params)

    @classmethod
    def backward(cls, ctx, grad):
        return cls.adjoint.apply(grad, **ctx.params)


def adjoints(a: type[LinearOp], b: type[LinearOp]) -> None:
    """Make ``a`` and ``b`` each other's adjoint (and so each other's backward)."""
    a.adjoint, b.adjoint = b, a
