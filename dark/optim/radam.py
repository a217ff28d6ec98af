"""RAdam: rectified Adam."""
from __future__ import annotations

from .optimizer import (
    Optimizer,
    _addcmul_,
    _check_not_fused_with,
    _check_options,
    _effective_grad,
    _lerp_,
    _set_group_defaults,
    _step_tensor,
    _to_scalar,
    _use_grad,
    _zeros_like,
)

__all__ = ["RAdam"]


def _radam_update(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize, step) -> None:
    if weight_decay != 0 and decoupled:
        xp.multiply(param, 1 - lr * weight_decay, out=param)
        grad = _effective_grad(xp, param, grad, maximize, 0, scratch)
    else:
        grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    corrected, work = scratch[1], scratch[2]
    _lerp_(xp, exp_avg, grad, 1 - beta1, work)
    xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    _addcmul_(xp, exp_avg_sq, grad, grad, 1 - beta2, work)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    xp.divide(exp_avg, bias_correction1, out=corrected)
    xp.multiply(corrected, lr, out=corrected)
    # the adaptive term only once the variance of its estimate is tractable (rho_t > 5)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        xp.sqrt(exp_avg_sq, out=work)
        xp.add(work, eps, out=work)
        xp.divide(bias_correction2 ** 0.5, work, out=work)
        xp.multiply(corrected, work, out=corrected)
        xp.multiply(corrected, rect, out=corrected)
    xp.subtract(param, corrected, out=param)


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
                step_array = state["step"]._data
                step_array += 1
                self._update(_radam_update, (param._data, param._grad._data,
                                             state["exp_avg"]._data, state["exp_avg_sq"]._data),
                             lr, beta1, beta2, group["eps"], weight_decay,
                             group["decoupled_weight_decay"], group["maximize"],
                             float(step_array))
                param._bump_version()
        return loss
