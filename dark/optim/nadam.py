"""NAdam: Adam with Nesterov momentum."""
from __future__ import annotations

from .adam import _adam_moments
from .optimizer import _addcdiv_, _ElementwiseOptimizer, _step_tensor, _validate, _zeros_state

__all__ = ["NAdam"]


def _nadam_update(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize, bias_correction2, grad_value,
                  exp_avg_value) -> None:
    grad = _adam_moments(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2,
                         weight_decay, decoupled, maximize)
    denom, work = scratch.term, scratch.work
    xp.divide(exp_avg_sq, bias_correction2, out=denom)
    xp.sqrt(denom, out=denom)
    xp.add(denom, eps, out=denom)
    _addcdiv_(xp, param, grad, denom, grad_value, work)
    _addcdiv_(xp, param, exp_avg, denom, exp_avg_value, work)


class NAdam(_ElementwiseOptimizer):
    """NAdam, as torch.optim.NAdam: Adam with Nesterov momentum whose factor ``mu_t =
    beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))`` accumulates in ``mu_product``;
    ``decoupled_weight_decay`` gives NAdamW."""

    _sparse_error = "NAdam does not support sparse gradients"

    _group_options = ("maximize", "foreach", "capturable", "differentiable",
                      "decoupled_weight_decay")

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay,
                  momentum_decay=momentum_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        return {"mu_product": _step_tensor(1.0),
                **_zeros_state(param, "exp_avg", "exp_avg_sq")}

    def _update_group(self, group, lr) -> None:
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        momentum_decay = group["momentum_decay"]
        for param, state, step in self._params_to_update(group):
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            # mu_product is a 0-d tensor of the step dtype: its rounding is PyTorch's
            mu_product = state["mu_product"]._data
            mu_product *= mu
            product = float(mu_product)
            self._update(_nadam_update, (param._data, param._grad._data,
                                         state["exp_avg"]._data, state["exp_avg_sq"]._data),
                         lr, beta1, beta2, group["eps"], weight_decay, decoupled,
                         group["maximize"], 1 - beta2 ** step,
                         -lr * (1.0 - mu) / (1.0 - product),
                         (-lr * mu_next) / (1.0 - product * mu_next))
