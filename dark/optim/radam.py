"""RAdam: rectified Adam."""
from __future__ import annotations

from .adam import _adam_moments
from .optimizer import _ElementwiseOptimizer, _validate, _zeros_state

__all__ = ["RAdam"]


def _radam_update(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize, step) -> None:
    _adam_moments(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2,
                  weight_decay, decoupled, maximize)
    corrected, work = scratch.term, scratch.work
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


class RAdam(_ElementwiseOptimizer):
    """RAdam, as torch.optim.RAdam: Adam whose adaptive term is used only once the
    variance of its estimate is tractable (``rho_t > 5``), scaled by the rectification
    term; before that the step is plain momentum. ``decoupled_weight_decay`` as AdamW."""

    _sparse_error = "RAdam does not support sparse gradients"

    _group_options = ("foreach", "maximize", "differentiable", "decoupled_weight_decay",
                      "capturable")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        return _zeros_state(param, "exp_avg", "exp_avg_sq")

    def _update_group(self, group, lr) -> None:
        beta1, beta2 = group["betas"]
        for param, state, step in self._params_to_update(group):
            self._update(_radam_update, (param._data, param._grad._data,
                                         state["exp_avg"]._data, state["exp_avg_sq"]._data),
                         lr, beta1, beta2, group["eps"], group["weight_decay"],
                         group["decoupled_weight_decay"], group["maximize"], step)
