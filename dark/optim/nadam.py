"""NAdam: Adam with Nesterov momentum."""
from __future__ import annotations

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _addcdiv_,
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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, as torch.optim.NAdam: Adam with Nesterov momentum whose factor ``mu_t =
    beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))`` accumulates in ``mu_product``;
    ``decoupled_weight_decay`` gives NAdamW."""

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_options(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)
        _check_not_fused_with(None, foreach, differentiable)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _set_group_defaults(self, "maximize", "foreach", "capturable", "differentiable",
                            "decoupled_weight_decay")

    @_use_grad
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            weight_decay = group["weight_decay"]
            decoupled = group["decoupled_weight_decay"]
            momentum_decay = group["momentum_decay"]
            for param in group["params"]:
                if param._grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["mu_product"] = _step_tensor(1.0)
                    state["exp_avg"] = _zeros_like(param)
                    state["exp_avg_sq"] = _zeros_like(param)
                array = param._data
                xp = xp_of(array)
                step_array = state["step"]._data
                step_array += 1
                step = float(step_array)
                bias_correction2 = 1 - beta2 ** step
                if weight_decay != 0 and decoupled:
                    xp.multiply(array, 1 - lr * weight_decay, out=array)
                    grad = self._grad_array(param, group["maximize"], 0)
                else:
                    grad = self._grad_array(param, group["maximize"], weight_decay)
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                # mu_product is a 0-d tensor of the step dtype: its rounding is PyTorch's
                mu_product = state["mu_product"]._data
                mu_product *= mu
                product = float(mu_product)
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                denom = self._scratch(array, 1)
                scratch = self._scratch(array, 2)
                _lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
                xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
                _addcmul_(xp, exp_avg_sq, grad, grad, 1 - beta2, scratch)
                xp.divide(exp_avg_sq, bias_correction2, out=denom)
                xp.sqrt(denom, out=denom)
                xp.add(denom, group["eps"], out=denom)
                _addcdiv_(xp, array, grad, denom, -lr * (1.0 - mu) / (1.0 - product), scratch)
                _addcdiv_(xp, array, exp_avg, denom,
                          (-lr * mu_next) / (1.0 - product * mu_next), scratch)
                param._bump_version()
        return loss
