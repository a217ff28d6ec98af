"""Adadelta: steps scaled by running averages of squared gradients and updates."""
from __future__ import annotations

from .optimizer import _addcmul_, _effective_grad, _ElementwiseOptimizer, _validate, _zeros_state

__all__ = ["Adadelta"]


def _adadelta_update(xp, param, grad, square_avg, acc_delta, scratch, lr, rho, eps, maximize,
                     weight_decay) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    std, delta = scratch.term, scratch.work
    xp.multiply(square_avg, rho, out=square_avg)
    _addcmul_(xp, square_avg, grad, grad, 1 - rho, std)
    xp.add(square_avg, eps, out=std)
    xp.sqrt(std, out=std)
    xp.add(acc_delta, eps, out=delta)
    xp.sqrt(delta, out=delta)
    xp.divide(delta, std, out=delta)
    xp.multiply(delta, grad, out=delta)
    xp.multiply(acc_delta, rho, out=acc_delta)
    _addcmul_(xp, acc_delta, delta, delta, 1 - rho, std)
    xp.multiply(delta, -lr, out=delta)
    xp.add(param, delta, out=param)


class Adadelta(_ElementwiseOptimizer):
    """Adadelta, as torch.optim.Adadelta.

    ``square_avg = rho * square_avg + (1 - rho) * grad^2``;
    ``delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad``;
    ``acc_delta = rho * acc_delta + (1 - rho) * delta^2``; the step is ``-lr * delta``."""

    _sparse_error = "Adadelta does not support sparse gradients"

    _group_options = ("foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _validate(lr, rho=rho, eps=eps, weight_decay=weight_decay)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        return _zeros_state(param, "square_avg", "acc_delta")

    def _update_group(self, group, lr) -> None:
        rho, eps = group["rho"], group["eps"]
        for param, state, _ in self._params_to_update(group):
            self._update(_adadelta_update, (param._data, param._grad._data,
                                            state["square_avg"]._data, state["acc_delta"]._data),
                         lr, rho, eps, group["maximize"], group["weight_decay"])
