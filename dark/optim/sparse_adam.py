"""SparseAdam: torch.optim.SparseAdam, Adam on the entries of sparse COO gradients (those of
nn.Embedding(sparse=True)); a dense gradient is refused with PyTorch's error."""
from __future__ import annotations

import math

from .. import _backend
from .._sparse import SparseCOO
from .._sparse import coalesce as _coalesce
from ..ops.creation import zeros_like
from .optimizer import Optimizer, _check_lr, _use_grad

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """torch.optim.SparseAdam: Adam on the entries of sparse-layout gradients.

    Each step updates only the rows (entries) a parameter's sparse gradient holds: the moving
    averages ``exp_avg`` / ``exp_avg_sq`` (dense, as the parameter) and the parameter there,
    in torch's order of float operations. A dense gradient raises PyTorch's
    ``RuntimeError("SparseAdam does not support dense gradients, please consider Adam
    instead")`` (the parameters before it in the group have had their state made and step
    counted, as in torch). The constructor takes and checks the options as PyTorch's does."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i in range(2):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        complex_params = [[index, d_index] for index, group in enumerate(self.param_groups)
                          for d_index, param in enumerate(group["params"])
                          if param.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does "
                             "not support complex parameters")

    @_use_grad
    def step(self, closure=None):
        """One SparseAdam step; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            todo = []
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if type(grad._data) is not SparseCOO:
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = zeros_like(param)
                    state["exp_avg_sq"] = zeros_like(param)
                state["step"] += 1
                todo.append((param, grad, state))
            beta1, beta2 = group["betas"]
            for param, grad, state in todo:
                _sparse_adam_step(param, grad, state, float(group["lr"]), beta1, beta2,
                                  group["eps"], group.get("maximize", False))
        return loss


def _sparse_adam_step(param, grad, state, lr, beta1, beta2, eps, maximize):
    """torch.optim._functional.sparse_adam for one parameter, on its raw arrays."""
    storage = _coalesce(grad._data)
    values = -storage.values if maximize else storage.values
    if values.size == 0:
        return
    rows = tuple(storage.indices)
    exp_avg, exp_avg_sq, data = state["exp_avg"]._data, state["exp_avg_sq"]._data, param._data
    old_avg = exp_avg[rows]
    avg_update = (values - old_avg) * (1 - beta1)
    exp_avg[rows] += avg_update
    old_sq = exp_avg_sq[rows]
    sq_update = (values * values - old_sq) * (1 - beta2)
    exp_avg_sq[rows] += sq_update
    numer = avg_update + old_avg
    denom = _backend.array_module(values).sqrt(sq_update + old_sq) + eps
    step = state["step"]
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    data[rows] += -step_size * (numer / denom)
    for tensor in (state["exp_avg"], state["exp_avg_sq"], param):
        tensor._bump_version()
