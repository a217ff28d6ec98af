"""RAdam: rectified Adam."""
from __future__ import annotations

from .._tensor import Tensor
from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _addcmul_,
    _check_not_fused_with,
    _check_options,
    _lerp_,
    _set_group_defaults,
    _step_tensor,
    _to_scalar,
    _use_grad,
    _zeros_like,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam, as torch.optim.RAdam: Adam whose adaptive term is used only once the
    variance of its estimate is tractable (``rho_t > 5``), scaled by the rectification
    term; before that the step is plain momentum. ``decoupled_weight_decay`` as AdamW."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_options(lr, betas, eps, weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)
        _check_not_fused_with(None, foreach, differentiable)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _set_group_defaults(self, "foreach", "maximize", "differentiable",
                            "decoupled_weight_decay", "capturable")

    @_use_grad
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            weight_decay = group["weight_decay"]
            for param in group["params"]:
                if param._grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["exp_avg"] = _zeros_like(param)
                    state["exp_avg_sq"] = _zeros_like(param)
                self._update(param, state, group, lr, beta1, beta2, weight_decay)
        return loss

    def _update(self, param: Tensor, state: dict, group: dict, lr: float, beta1: float,
                beta2: float, weight_decay: float) -> None:
        array = param._data
        xp = xp_of(array)
        step_array = state["step"]._data
        step_array += 1
        step = float(step_array)
        if weight_decay != 0 and group["decoupled_weight_decay"]:
            xp.multiply(array, 1 - lr * weight_decay, out=array)
            grad = self._grad_array(param, group["maximize"], 0)
        else:
            grad = self._grad_array(param, group["maximize"], weight_decay)
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        corrected = self._scratch(array, 1)
        scratch = self._scratch(array, 2)
        _lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
        xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        _addcmul_(xp, exp_avg_sq, grad, grad, 1 - beta2, scratch)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        xp.divide(exp_avg, bias_correction1, out=corrected)
        xp.multiply(corrected, lr, out=corrected)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.sqrt(exp_avg_sq, out=scratch)
            xp.add(scratch, group["eps"], out=scratch)
            xp.divide(bias_correction2 ** 0.5, scratch, out=scratch)
            xp.multiply(corrected, scratch, out=corrected)
            xp.multiply(corrected, rect, out=corrected)
        xp.subtract(array, corrected, out=array)
        param._bump_version()
