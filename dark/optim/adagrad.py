"""Adagrad: steps scaled by the accumulated squared gradients."""
from __future__ import annotations

from .._tensor import Tensor
from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _addcdiv_,
    _addcmul_,
    _check_lr,
    _check_not_fused_with,
    _effective_grad,
    _step_tensor,
    _to_scalar,
    _use_grad,
)

__all__ = ["Adagrad"]


def _adagrad_update(xp, param, grad, state_sum, scratch, clr, eps, maximize,
                    weight_decay) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    std, work = scratch[1], scratch[2]
    _addcmul_(xp, state_sum, grad, grad, 1, work)
    xp.sqrt(state_sum, out=std)
    xp.add(std, eps, out=std)
    _addcdiv_(xp, param, grad, std, -clr, work)


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad.

    ``sum += grad^2`` (starting from ``initial_accumulator_value``); the step is
    ``-clr * grad / (sqrt(sum) + eps)`` with ``clr = lr / (1 + (t - 1) * lr_decay)``.
    The state (``step``, ``sum``) of every parameter exists from construction on."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        _check_not_fused_with(fused, foreach, differentiable)
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, initial_accumulator_value)

    def _init_state(self, param: Tensor, initial_value: float) -> dict:
        state = self.state[param]
        state["step"] = _step_tensor()
        state["sum"] = Tensor._make(xp_of(param._data).full_like(param._data, initial_value))
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)

    @_use_grad
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            for param in group["params"]:
                if param._grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:  # a group added after construction
                    state = self._init_state(param, self.defaults["initial_accumulator_value"])
                step_array = state["step"]._data
                step_array += 1
                clr = lr / (1 + (float(step_array) - 1) * group["lr_decay"])
                self._update(_adagrad_update, (param._data, param._grad._data,
                                               state["sum"]._data),
                             clr, group["eps"], group["maximize"], group["weight_decay"])
                param._bump_version()
        return loss
