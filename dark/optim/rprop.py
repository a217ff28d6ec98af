"""Rprop: resilient backpropagation, steps of a per-element size that grows while the
gradient keeps its sign and shrinks when it flips."""
from __future__ import annotations

from .._backend import array_module
from .._tensor import Tensor
from .optimizer import (
    _check_lr,
    _ElementwiseOptimizer,
    _numbers_to_tensors,
    _step_tensor,
    _to_scalar,
    _zeros_like,
)

__all__ = ["Rprop"]


def _rprop_update(xp, param, grad, prev, step_size, mask, scratch, etaminus, etaplus,
                  step_size_min, step_size_max, maximize) -> None:
    """One Rprop step on raw arrays, as PyTorch's single-tensor Rprop: the factor is
    ``etaplus`` where ``grad * prev > 0``, ``etaminus`` where it is < 0 (and that element's
    gradient is then taken as 0), 1 where it is 0; ``step_size`` is scaled by it and clamped,
    the parameter moves by ``-sign(grad) * step_size`` and ``prev`` keeps the gradient used.
    ``mask`` is a boolean buffer of the parameter's shape."""
    grad_used, factor, work = scratch.grad, scratch.term, scratch.work
    if maximize:
        xp.negative(grad, out=grad_used)
    else:
        xp.copyto(grad_used, grad)
    xp.multiply(grad_used, prev, out=factor)
    xp.sign(factor, out=factor)
    # in PyTorch's order; etaplus > 1 and 0 < etaminus < 1, so no value is replaced twice
    xp.greater(factor, 0, out=mask)
    xp.copyto(factor, etaplus, where=mask)
    xp.less(factor, 0, out=mask)
    xp.copyto(factor, etaminus, where=mask)
    xp.equal(factor, 0, out=mask)
    xp.copyto(factor, 1, where=mask)
    xp.multiply(step_size, factor, out=step_size)
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    xp.equal(factor, etaminus, out=mask)
    xp.copyto(grad_used, 0, where=mask)
    xp.copyto(prev, grad_used)
    xp.sign(grad_used, out=work)
    xp.multiply(work, step_size, out=work)
    xp.subtract(param, work, out=param)


class Rprop(_ElementwiseOptimizer):
    """The resilient backpropagation algorithm, as torch.optim.Rprop.

    Every element has its own step size (starting at ``lr``): multiplied by ``etaplus``
    while its gradient keeps its sign, by ``etaminus`` when the sign flips (that step then
    leaves the element where it is), and clamped to ``step_sizes = (min, max)``; the
    parameter moves by ``-sign(grad) * step_size``. State per parameter: ``step`` (0-d
    float32 tensor, float64 under a float64 default dtype), ``prev`` (the gradient used
    last) and ``step_size``. Complex parameters are treated as pairs of real numbers.

    ``foreach`` is accepted (dark has one implementation), ``capturable`` is accepted and
    changes nothing (dark has no graph capture); ``differentiable=True`` is refused, as by
    every dark optimizer: the step updates the parameters in place without a graph."""

    _sparse_error = "Rprop does not support sparse gradients"

    _group_options = ("foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _numbers_to_tensors(self, ("step",), lambda param, value: _step_tensor(value))

    def _new_state(self, param, group) -> dict:
        array = param._data
        return {"prev": _zeros_like(param),
                "step_size": Tensor._make(array_module(array).full_like(array,
                                                                  _to_scalar(group["lr"])))}

    def _init_state(self, param, group) -> dict:
        state = super()._init_state(param, group)
        if param.is_complex():  # PyTorch fills complex(lr, lr): lr for both halves
            lr = _to_scalar(group["lr"])
            state["step_size"]._data.fill(complex(lr, lr))
        return state

    def _mask(self, like, shape):
        """A reusable boolean buffer of ``shape`` on ``like``'s device."""
        return self._buffers(like, shape, 1, dtype=bool)[0]

    def _update_group(self, group, lr) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for param, state, _ in self._params_to_update(group):
            arrays = (param._data, param._grad._data, state["prev"]._data,
                      state["step_size"]._data)
            if param.is_complex():  # the real and imaginary parts, each on its own
                parts = [tuple(a.real for a in arrays), tuple(a.imag for a in arrays)]
            else:
                parts = [arrays]
            for part in parts:
                mask = self._mask(part[0], part[0].shape)
                self._update(_rprop_update, (*part, mask), etaminus, etaplus,
                             step_size_min, step_size_max, group["maximize"])
