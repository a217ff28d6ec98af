"""RMSprop: steps scaled by a running root mean square of the gradient."""
from __future__ import annotations

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _addcdiv_,
    _addcmul_,
    _check_lr,
    _check_not_fused_with,
    _lerp_,
    _step_tensor,
    _to_scalar,
    _use_grad,
    _zeros_like,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop.

    ``square_avg = alpha * square_avg + (1 - alpha) * grad^2``; the step is
    ``-lr * grad / (sqrt(square_avg) + eps)``, with ``centered`` subtracting the squared
    running mean of the gradient (``grad_avg``) under the root, and ``momentum`` passing
    the step through a ``momentum_buffer``."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)
        _check_not_fused_with(None, foreach, differentiable)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)

    @_use_grad
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
            for param in group["params"]:
                if param._grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(param)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(param)
                    if group["centered"]:
                        state["grad_avg"] = _zeros_like(param)
                array = param._data
                xp = xp_of(array)
                grad = self._grad_array(param, group["maximize"], group["weight_decay"])
                state["step"]._data += 1
                square_avg = state["square_avg"]._data
                avg = self._scratch(array, 1)
                scratch = self._scratch(array, 2)
                xp.multiply(square_avg, alpha, out=square_avg)
                _addcmul_(xp, square_avg, grad, grad, 1 - alpha, scratch)
                if group["centered"]:
                    grad_avg = state["grad_avg"]._data
                    _lerp_(xp, grad_avg, grad, 1 - alpha, scratch)
                    xp.copyto(avg, square_avg)
                    _addcmul_(xp, avg, grad_avg, grad_avg, -1, scratch)
                    xp.sqrt(avg, out=avg)
                else:
                    xp.sqrt(square_avg, out=avg)
                xp.add(avg, eps, out=avg)
                if momentum > 0:
                    buffer = state["momentum_buffer"]._data
                    xp.multiply(buffer, momentum, out=buffer)
                    _addcdiv_(xp, buffer, grad, avg, 1, scratch)
                    xp.multiply(buffer, -lr, out=scratch)
                    xp.add(array, scratch, out=array)
                else:
                    _addcdiv_(xp, array, grad, avg, -lr, scratch)
                param._bump_version()
        return loss
