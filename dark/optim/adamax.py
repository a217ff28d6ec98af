"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

from .optimizer import (
    _addcdiv_,
    _effective_grad,
    _ElementwiseOptimizer,
    _lerp_,
    _validate,
    _zeros_state,
)

__all__ = ["Adamax"]


def _adamax_update(xp, param, grad, exp_avg, exp_inf, scratch, clr, beta1, beta2, eps,
                   maximize, weight_decay) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    norm, work = scratch.term, scratch.work
    _lerp_(xp, exp_avg, grad, 1 - beta1, work)
    xp.multiply(exp_inf, beta2, out=exp_inf)
    xp.abs(grad, out=norm)
    xp.add(norm, eps, out=norm)
    xp.maximum(exp_inf, norm, out=exp_inf)
    _addcdiv_(xp, param, exp_avg, exp_inf, -clr, work)


class Adamax(_ElementwiseOptimizer):
    """Adamax, as torch.optim.Adamax: Adam with the infinity norm, ``exp_inf =
    max(beta2 * exp_inf, |grad| + eps)``, and the step ``-lr / (1 - beta1^t) * exp_avg /
    exp_inf``."""

    _sparse_error = "Adamax does not support sparse gradients"

    _group_options = ("foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        return _zeros_state(param, "exp_avg", "exp_inf")

    def _update_group(self, group, lr) -> None:
        beta1, beta2 = group["betas"]
        for param, state, step in self._params_to_update(group):
            clr = lr / (1 - beta1 ** step)
            self._update(_adamax_update, (param._data, param._grad._data,
                                          state["exp_avg"]._data, state["exp_inf"]._data),
                         clr, beta1, beta2, group["eps"], group["maximize"],
                         group["weight_decay"])
