"""RMSprop: steps scaled by a running root mean square of the gradient."""
from __future__ import annotations

from .optimizer import (
    _addcdiv_,
    _addcmul_,
    _effective_grad,
    _ElementwiseOptimizer,
    _lerp_,
    _validate,
    _zeros_state,
)

__all__ = ["RMSprop"]


def _rmsprop_update(xp, param, grad, square_avg, grad_avg, buffer, scratch, lr, alpha, eps,
                    momentum, maximize, weight_decay) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    avg, work = scratch.term, scratch.work
    xp.multiply(square_avg, alpha, out=square_avg)
    _addcmul_(xp, square_avg, grad, grad, 1 - alpha, work)
    if grad_avg is not None:  # centered: subtract the squared mean gradient
        _lerp_(xp, grad_avg, grad, 1 - alpha, work)
        xp.copyto(avg, square_avg)
        _addcmul_(xp, avg, grad_avg, grad_avg, -1, work)
        xp.sqrt(avg, out=avg)
    else:
        xp.sqrt(square_avg, out=avg)
    xp.add(avg, eps, out=avg)
    if buffer is not None:
        xp.multiply(buffer, momentum, out=buffer)
        _addcdiv_(xp, buffer, grad, avg, 1, work)
        xp.multiply(buffer, -lr, out=work)
        xp.add(param, work, out=param)
    else:
        _addcdiv_(xp, param, grad, avg, -lr, work)


class RMSprop(_ElementwiseOptimizer):
    """RMSprop, as torch.optim.RMSprop.

    ``square_avg = alpha * square_avg + (1 - alpha) * grad^2``; the step is
    ``-lr * grad / (sqrt(square_avg) + eps)``, with ``centered`` subtracting the squared
    running mean of the gradient (``grad_avg``) under the root, and ``momentum`` passing
    the step through a ``momentum_buffer``."""

    _sparse_error = "RMSprop does not support sparse gradients"

    _group_options = ("momentum", "centered", "foreach", "maximize", "differentiable",
                      "capturable")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _validate(lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        keys = ["square_avg"]
        if group["momentum"] > 0:
            keys.append("momentum_buffer")
        if group["centered"]:
            keys.append("grad_avg")
        return _zeros_state(param, *keys)

    def _update_group(self, group, lr) -> None:
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        for param, state, _ in self._params_to_update(group):
            grad_avg = state["grad_avg"]._data if group["centered"] else None
            buffer = state["momentum_buffer"]._data if momentum > 0 else None
            self._update(_rmsprop_update, (param._data, param._grad._data,
                                           state["square_avg"]._data, grad_avg, buffer),
                         lr, alpha, eps, momentum, group["maximize"], group["weight_decay"])
