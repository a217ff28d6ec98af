"""ASGD: averaged stochastic gradient descent."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._backend import array_module
from .._tensor import Tensor
from .optimizer import (
    _effective_grad,
    _ElementwiseOptimizer,
    _numbers_to_tensors,
    _scalar_dtype,
    _to_scalar,
    _validate,
    _zeros_like,
)

__all__ = ["ASGD"]


def _scalar_state(param: Tensor, value: float) -> Tensor:
    """A 0-d tensor of the scalar dtype on ``param``'s device (ASGD keeps ``step``, ``eta``
    and ``mu`` with the parameter, as PyTorch does)."""
    array = param._data
    xp = array_module(array)
    return Tensor._make(xp.full_like(array, value, dtype=_scalar_dtype(), shape=()))


def _blend_average(xp, ax, param, mu: float, work) -> None:
    """``ax += mu * (param - ax)``."""
    xp.subtract(param, ax, out=work)
    xp.multiply(work, mu, out=work)
    xp.add(ax, work, out=ax)


def _asgd_update(xp, param, grad, ax, scratch, lambd, eta, mu, weight_decay,
                 maximize) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    xp.multiply(param, 1 - lambd * eta, out=param)  # decay term
    step = scratch.work
    xp.multiply(grad, -eta, out=step)
    xp.add(param, step, out=param)
    if mu != 1:  # averaging: ax += mu * (param - ax)
        _blend_average(xp, ax, param, mu, scratch.term)
    else:
        xp.copyto(ax, param)


def _asgd_foreach_update(xp, param, grad, ax, scratch, lambd, eta, mu, weight_decay,
                         maximize) -> None:
    """PyTorch's multi-tensor (``foreach``) ASGD: ``param -= eta * (grad + lambd * param)``
    and the average always blended (``ax += mu * (param - ax)``)."""
    if maximize:
        xp.negative(grad, out=scratch.grad)
        grad = scratch.grad
    step_term, work = scratch.term, scratch.work
    if weight_decay != 0:
        xp.multiply(param, weight_decay, out=work)
        xp.add(grad, work, out=step_term)
        xp.multiply(param, lambd, out=work)
        xp.add(step_term, work, out=step_term)
    else:
        xp.multiply(param, lambd, out=work)
        xp.add(grad, work, out=step_term)
    xp.multiply(step_term, eta, out=step_term)
    xp.subtract(param, step_term, out=param)
    _blend_average(xp, ax, param, mu, scratch.term)


def _foreach_eta(step_array, lr: float, lambd: float, alpha: float) -> float:
    """The foreach path's new eta, ``lr / (1 + lambd * lr * step)^alpha``, computed as
    PyTorch computes it there: in tensor arithmetic of the step's dtype (``lr / t`` being
    ``t.reciprocal() * lr``)."""
    kind = np.dtype(step_array.dtype).type
    step = kind(float(step_array))
    base = kind(1) + kind(lambd * lr) * step
    power = base ** kind(alpha)
    return float((kind(1) / power) * kind(lr))


class ASGD(_ElementwiseOptimizer):
    """Averaged stochastic gradient descent, as torch.optim.ASGD.

    The step is ``param = param * (1 - lambd * eta) - eta * grad``, and ``ax`` averages
    the parameters: ``ax += mu * (param - ax)`` (a copy of the parameter while ``mu`` is 1).
    After each step ``eta = lr / (1 + lambd * lr * t)^alpha`` and ``mu = 1 / max(1, t -
    t0)``. State per parameter, as PyTorch's: ``step``, ``eta``, ``mu`` (0-d tensors of
    float32, or float64 under a float64 default dtype, on the parameter's device) and
    ``ax`` (like the parameter). ``eta`` and ``mu`` are read on the host each step.

    ``foreach`` picks PyTorch's formulas of the same name (``param -= eta * (grad + lambd
    * param)``, the average always blended, the new eta in the step's dtype); ``None``
    means foreach when every parameter is on a GPU, as in PyTorch. ``capturable`` is
    accepted and changes nothing (dark has no graph capture; the step uses PyTorch's
    non-capturable formulas); ``differentiable=True`` is refused, as by every dark
    optimizer."""

    _sparse_error = "ASGD does not support sparse gradients"

    _group_options = ("foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _validate(lr, weight_decay=weight_decay)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _numbers_to_tensors(self, ("step", "eta", "mu"), _scalar_state)

    def _init_state(self, param, group) -> dict:
        state = self.state[param]
        state["step"] = _scalar_state(param, 0.0)
        # PyTorch rounds lr to the scalar dtype
        state["eta"] = _scalar_state(param, _to_scalar(group["lr"]))
        state["mu"] = _scalar_state(param, 1.0)
        state["ax"] = _zeros_like(param)
        return state

    def _update_group(self, group, lr) -> None:
        # PyTorch makes the new eta and mu with torch.as_tensor (the default dtype), then
        # copies them into the state's tensors (whatever dtype loading gave them)
        rounded = _backend.get_default_dtype().np.type
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        foreach = group["foreach"]
        if foreach is None:  # PyTorch's default: foreach when every parameter is on a GPU
            foreach = all(not p.is_cpu for p in group["params"] if p.grad is not None)
        update = _asgd_foreach_update if foreach else _asgd_update
        for param, state, step in self._params_to_update(group):
            eta_array, mu_array = state["eta"]._data, state["mu"]._data
            self._update(update, (param._data, param._grad._data, state["ax"]._data),
                         lambd, float(eta_array), float(mu_array), group["weight_decay"],
                         group["maximize"])
            if foreach:
                new_eta = _foreach_eta(state["step"]._data, lr, lambd, alpha)
            else:
                new_eta = float(rounded(lr / ((1 + lambd * lr * step) ** alpha)))
            eta_array.fill(new_eta)
            mu_array.fill(float(rounded(1 / max(1, step - t0))))
