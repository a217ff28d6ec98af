"""Adam (and, with decoupled weight decay, AdamW's update)."""
from __future__ import annotations

import numpy as np

from .._kernels import optim_numba
from .._kernels.numba_jit import FLOATS
from . import _fused
from .optimizer import (
    _EFFECTIVE_GRAD_CUDA,
    _EFFECTIVE_GRAD_CUDA_PARAMS,
    _addcdiv_,
    _addcmul_,
    _effective_grad,
    _effective_grad_cuda_args,
    _ElementwiseOptimizer,
    _lerp_,
    _to_scalar,
    _validate,
    _zeros_state,
)

__all__ = ["Adam"]


def _adam_moments(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2,
                  weight_decay, decoupled, maximize):
    """The weight decay (L2, or decoupled: ``param *= 1 - lr * weight_decay``) and the
    moment updates shared by Adam, NAdam and RAdam; returns the gradient used, which may
    live in ``scratch.grad`` (``scratch.term`` and ``scratch.work`` are free again)."""
    if weight_decay != 0 and decoupled:
        xp.multiply(param, 1 - lr * weight_decay, out=param)
        grad = _effective_grad(xp, param, grad, maximize, 0, scratch)
    else:
        grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    _lerp_(xp, exp_avg, grad, 1 - beta1, scratch.work)
    xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    _addcmul_(xp, exp_avg_sq, grad, grad, 1 - beta2, scratch.work)
    return grad


# _adam_moments in a fused kernel: decoupled decay shrinks the parameter before the gradient
# is read (AdamW); exp_avg.lerp_ with PyTorch's two formulas (chosen on the host by the
# weight's size), then exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
_ADAM_MOMENTS_CUDA = """
if (decoupled_decay) param = param * decay_factor;
""" + _EFFECTIVE_GRAD_CUDA + """
exp_avg = lerp_small ? exp_avg + (g - exp_avg) * lerp_weight
                     : g - (g - exp_avg) * lerp_complement;
exp_avg_sq = exp_avg_sq * beta2;
exp_avg_sq = exp_avg_sq + g * one_minus_beta2 * g;
"""


def _adam_update(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scratch, lr, beta1,
                 beta2, eps, weight_decay, decoupled, maximize, step) -> None:
    """One Adam (AdamW with ``decoupled``) step on raw arrays (numpy path);
    ``max_exp_avg_sq`` None: no amsgrad."""
    _adam_moments(xp, param, grad, exp_avg, exp_avg_sq, scratch, lr, beta1, beta2,
                  weight_decay, decoupled, maximize)
    denom, work = scratch.term, scratch.work
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        xp.sqrt(max_exp_avg_sq, out=denom)
    else:
        xp.sqrt(exp_avg_sq, out=denom)
    xp.divide(denom, bias_correction2 ** 0.5, out=denom)
    xp.add(denom, eps, out=denom)
    _addcdiv_(xp, param, exp_avg, denom, -lr / bias_correction1, work)


# _adam_update as one CUDA kernel per parameter (see _fused): the same operations in the
# same order, bit for bit; change both together
_ADAM_DENOM_CUDA = """
T denom = sqrt(exp_avg_sq) / bias_correction2_sqrt + eps;
"""

# numpy.maximum: NaN in either operand gives NaN
_ADAM_DENOM_AMSGRAD_CUDA = """
max_exp_avg_sq = (max_exp_avg_sq != max_exp_avg_sq || max_exp_avg_sq >= exp_avg_sq)
                 ? max_exp_avg_sq : exp_avg_sq;
T denom = sqrt(max_exp_avg_sq) / bias_correction2_sqrt + eps;
"""

_ADAM_STEP_CUDA = """
param = param + exp_avg * step_size / denom;
"""

_ADAM_CUDA_PARAMS = (_EFFECTIVE_GRAD_CUDA_PARAMS + ", int32 decoupled_decay, T decay_factor, "
                     "int32 lerp_small, T lerp_weight, T lerp_complement, T beta2, "
                     "T one_minus_beta2, T bias_correction2_sqrt, T eps, T step_size")
_ADAM_KERNEL = _fused.define("dark_adam", _ADAM_CUDA_PARAMS,
                             "T param, T exp_avg, T exp_avg_sq",
                             _ADAM_MOMENTS_CUDA + _ADAM_DENOM_CUDA + _ADAM_STEP_CUDA)
_ADAM_AMSGRAD_KERNEL = _fused.define(
    "dark_adam_amsgrad", _ADAM_CUDA_PARAMS, "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
    _ADAM_MOMENTS_CUDA + _ADAM_DENOM_AMSGRAD_CUDA + _ADAM_STEP_CUDA)


def _adam_update_cuda(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                      eps, weight_decay, decoupled, maximize, step) -> None:
    """``_adam_update`` in one kernel, on CuPy arrays (``max_exp_avg_sq`` None: no
    amsgrad)."""
    weight = 1 - beta1
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    decay = weight_decay != 0
    args = (*_effective_grad_cuda_args(grad, maximize, 0 if decoupled else weight_decay),
            int(decay and decoupled), float(1 - lr * weight_decay), int(abs(weight) < 0.5),
            float(weight), float(1 - weight), float(beta2), float(1 - beta2),
            float(bias_correction2 ** 0.5), float(eps), float(-lr / bias_correction1))
    if max_exp_avg_sq is None:
        _fused.kernel(_ADAM_KERNEL)(*args, param, exp_avg, exp_avg_sq)
    else:
        _fused.kernel(_ADAM_AMSGRAD_KERNEL)(*args, param, exp_avg, exp_avg_sq, max_exp_avg_sq)


def _compiled_adam(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                   decoupled, maximize, step) -> bool:
    """``_adam_update`` without amsgrad of a large C float32/float64 parameter on the CPU by
    the compiled kernel (optim_numba): one pass, the same bits. False (nothing done) where
    it does not apply or numba is not there."""
    dtype = param.dtype
    if not (type(param) is np.ndarray and dtype in FLOATS
            and param.size >= optim_numba.MIN_ENTRIES and type(grad) is np.ndarray
            and grad.dtype == dtype and exp_avg.dtype == dtype and exp_avg_sq.dtype == dtype
            and type(exp_avg) is np.ndarray and type(exp_avg_sq) is np.ndarray
            and param.flags.c_contiguous and grad.flags.c_contiguous
            and exp_avg.flags.c_contiguous and exp_avg_sq.flags.c_contiguous):
        return False
    kernel = optim_numba.adam(param.size)
    if kernel is None:
        return False
    weight = 1 - beta1
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    decay = weight_decay != 0
    cast = dtype.type  # each scalar rounded to the arrays' type, as numpy rounds it
    optim_numba.run(kernel, (param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
                             exp_avg_sq.reshape(-1)),
                    bool(decay and decoupled), cast(1 - lr * weight_decay), bool(maximize),
                    bool(decay and not decoupled), cast(weight_decay), abs(weight) < 0.5,
                    cast(weight), cast(1 - weight), cast(beta2), cast(1 - beta2),
                    cast(bias_correction2 ** 0.5), cast(eps), cast(-lr / bias_correction1))
    return True


class Adam(_ElementwiseOptimizer):
    """Adam, as torch.optim.Adam.

    ``exp_avg`` and ``exp_avg_sq`` are running averages of the gradient and its square
    (``betas``); the step is ``-lr / (1 - beta1^t) * exp_avg / (sqrt(v / (1 - beta2^t)) +
    eps)`` with ``v`` the running square (or its running maximum with ``amsgrad``).
    ``weight_decay`` is an L2 term in the gradient, or, with ``decoupled_weight_decay``,
    a shrink of the parameter by ``1 - lr * weight_decay`` (AdamW). State per parameter:
    ``step`` (0-d float32 tensor), ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq``."""

    _sparse_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

    _group_options = ("amsgrad", "maximize", "foreach", "capturable", "differentiable",
                      "decoupled_weight_decay", "fused")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay)
        betas = tuple(_to_scalar(b) for b in betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable,
                    "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _new_state(self, param, group) -> dict:
        if group["amsgrad"]:
            return _zeros_state(param, "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return _zeros_state(param, "exp_avg", "exp_avg_sq")

    def _update_group(self, group, lr) -> None:
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        weight_decay = group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        amsgrad = group["amsgrad"]
        eps = group["eps"]
        for param, state, step in self._params_to_update(group):
            max_exp_avg_sq = state["max_exp_avg_sq"]._data if amsgrad else None
            arrays = (param._data, param._grad._data, state["exp_avg"]._data,
                      state["exp_avg_sq"]._data, max_exp_avg_sq)
            if _fused.applies(param._data, param._grad._data):
                _adam_update_cuda(*arrays, lr, beta1, beta2, eps, weight_decay, decoupled,
                                  group["maximize"], step)
            elif not (max_exp_avg_sq is None and _compiled_adam(
                    *arrays[:4], lr, beta1, beta2, eps, weight_decay, decoupled,
                    group["maximize"], step)):
                self._update(_adam_update, arrays, lr, beta1, beta2, eps, weight_decay,
                             decoupled, group["maximize"], step)
