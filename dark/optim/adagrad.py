"""Adagrad: steps scaled by the accumulated squared gradients."""
from __future__ import annotations

from .._backend import array_module
from .._sparse import SparseCOO, coalesce
from .._tensor import Tensor
from .optimizer import (
    _add_sparse_,
    _addcdiv_,
    _addcmul_,
    _effective_grad,
    _ElementwiseOptimizer,
    _has_sparse_grad,
    _validate,
)

__all__ = ["Adagrad"]


def _adagrad_update(xp, param, grad, state_sum, scratch, clr, eps, maximize,
                    weight_decay) -> None:
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    std, work = scratch.term, scratch.work
    _addcmul_(xp, state_sum, grad, grad, 1, work)
    xp.sqrt(state_sum, out=std)
    xp.add(std, eps, out=std)
    _addcdiv_(xp, param, grad, std, -clr, work)


def _adagrad_sparse_update(param, grad: SparseCOO, state_sum: Tensor, clr, eps, maximize,
                           weight_decay) -> None:
    """torch's Adagrad step on a sparse COO gradient (raw arrays but the state's tensor): the
    gradient coalesced, ``sum`` and the parameter updated at its entries only; with
    ``weight_decay`` PyTorch's error."""
    if weight_decay != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    grad = coalesce(grad)
    values = -grad.values if maximize else grad.values
    _add_sparse_(state_sum._data, SparseCOO(grad.indices, values * values, grad.shape, True), 1)
    state_sum._bump_version()
    std = array_module(values).sqrt(state_sum._data[tuple(grad.indices)])
    std += eps
    _add_sparse_(param, SparseCOO(grad.indices, values / std, grad.shape, True), -clr)


class Adagrad(_ElementwiseOptimizer):
    """Adagrad, as torch.optim.Adagrad.

    ``sum += grad^2`` (starting from ``initial_accumulator_value``); the step is
    ``-clr * grad / (sqrt(sum) + eps)`` with ``clr = lr / (1 + (t - 1) * lr_decay)``.
    The state (``step``, ``sum``) of every parameter exists from construction on. A sparse
    COO gradient updates ``sum`` and the parameter at its (coalesced) entries only, as
    torch's; with ``weight_decay`` (or ``fused``) it raises torch's error."""

    _group_options = ("foreach", "maximize", "differentiable", "fused")

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _validate(lr, lr_decay=lr_decay, weight_decay=weight_decay,
                  initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _new_state(self, param: Tensor, group) -> dict:
        # the constructor's value, also for a group added after construction
        initial_value = self.defaults["initial_accumulator_value"]
        array = param._data
        return {"sum": Tensor._make(array_module(array).full_like(array, initial_value))}

    def _update_group(self, group, lr) -> None:
        if group.get("fused") and _has_sparse_grad(group):
            raise RuntimeError("`fused` does not support sparse grad or complex param")
        for param, state, step in self._params_to_update(group):
            clr = lr / (1 + (step - 1) * group["lr_decay"])
            if type(param._grad._data) is SparseCOO:
                _adagrad_sparse_update(param._data, param._grad._data, state["sum"], clr,
                                       group["eps"], group["maximize"], group["weight_decay"])
                continue
            self._update(_adagrad_update, (param._data, param._grad._data, state["sum"]._data),
                         clr, group["eps"], group["maximize"], group["weight_decay"])
