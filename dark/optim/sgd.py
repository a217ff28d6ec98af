"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

import numpy as np

from .._backend import array_module
from .._kernels import optim_numba
from .._kernels.numba_jit import FLOATS
from .._sparse import SparseCOO
from .._tensor import Tensor
from . import _fused
from .optimizer import (
    _EFFECTIVE_GRAD_CUDA,
    _EFFECTIVE_GRAD_CUDA_PARAMS,
    _add_sparse_,
    _effective_grad,
    _effective_grad_cuda_args,
    _ElementwiseOptimizer,
    _has_sparse_grad,
    _set_group_defaults,
    _validate,
)

__all__ = ["SGD"]


def _sgd_update(xp, param, grad, buffer, scratch, lr, momentum, dampening, nesterov,
                maximize, weight_decay, first) -> None:
    """One SGD step on raw arrays (numpy path); ``buffer`` None: no momentum."""
    grad = _effective_grad(xp, param, grad, maximize, weight_decay, scratch)
    update = grad
    if buffer is not None:
        if first:  # the buffer starts as a copy of the first gradient
            xp.copyto(buffer, grad)
        else:
            xp.multiply(buffer, momentum, out=buffer)
            if dampening == 0:
                xp.add(buffer, grad, out=buffer)
            else:
                damped = scratch.term
                xp.multiply(grad, 1 - dampening, out=damped)
                xp.add(buffer, damped, out=buffer)
        if nesterov:
            update = scratch.term
            xp.multiply(buffer, momentum, out=update)
            xp.add(grad, update, out=update)
        else:
            update = buffer
    step = scratch.work
    xp.multiply(update, -lr, out=step)
    xp.add(param, step, out=param)


# _sgd_update as one CUDA kernel per parameter (see _fused): the same operations in the same
# order, bit for bit; change both together
_SGD_PLAIN_CUDA = """
T update = g;
"""

# the buffer starts as a copy of the first gradient (``first``)
_SGD_MOMENTUM_CUDA = """
if (first) {
    buf = g;
} else {
    buf = buf * momentum;
    buf = undampened ? buf + g : buf + g * one_minus_dampening;
}
T update = nesterov ? g + buf * momentum : buf;
"""

_SGD_STEP_CUDA = """
param = param + update * negative_lr;
"""

_SGD_CUDA_PARAMS = _EFFECTIVE_GRAD_CUDA_PARAMS + ", T negative_lr"
_SGD_KERNEL = _fused.define("dark_sgd", _SGD_CUDA_PARAMS, "T param",
                            _EFFECTIVE_GRAD_CUDA + _SGD_PLAIN_CUDA + _SGD_STEP_CUDA)
_SGD_MOMENTUM_KERNEL = _fused.define(
    "dark_sgd_momentum", _SGD_CUDA_PARAMS + ", T momentum, int32 first, int32 undampened, "
    "T one_minus_dampening, int32 nesterov", "T param, T buf",
    _EFFECTIVE_GRAD_CUDA + _SGD_MOMENTUM_CUDA + _SGD_STEP_CUDA)


def _sgd_update_cuda(param, grad, buffer, lr, momentum, dampening, nesterov, maximize,
                     weight_decay, first) -> None:
    """``_sgd_update`` in one kernel, on CuPy arrays (``buffer`` None: no momentum)."""
    common = (*_effective_grad_cuda_args(grad, maximize, weight_decay), float(-lr))
    if buffer is None:
        _fused.kernel(_SGD_KERNEL)(*common, param)
        return
    _fused.kernel(_SGD_MOMENTUM_KERNEL)(*common, float(momentum), int(first),
                                        int(dampening == 0), float(1 - dampening),
                                        int(nesterov), param, buffer)


def _compiled_momentum(param, grad, buffer, lr, momentum) -> bool:
    """The momentum step (no dampening, Nesterov, weight decay or maximize) of a large C
    float32/float64 parameter on the CPU by the compiled kernel (optim_numba): one pass,
    the bits of ``_sgd_update``'s four. False (nothing done) where it does not apply or
    numba is not there."""
    dtype = param.dtype
    if not (type(param) is np.ndarray and dtype in FLOATS
            and param.size >= optim_numba.MIN_ENTRIES and grad.dtype == dtype
            and buffer.dtype == dtype and type(grad) is np.ndarray
            and type(buffer) is np.ndarray and param.flags.c_contiguous
            and grad.flags.c_contiguous and buffer.flags.c_contiguous):
        return False
    kernel = optim_numba.sgd_momentum(param.size)
    if kernel is None:
        return False
    # the scalars rounded to the arrays' type, as numpy rounds a python float operand
    optim_numba.run(kernel, (param.reshape(-1), grad.reshape(-1), buffer.reshape(-1)),
                    dtype.type(momentum), dtype.type(-lr))
    return True


class SGD(_ElementwiseOptimizer):
    """Stochastic gradient descent, as torch.optim.SGD.

    With momentum the buffer starts as a copy of the first gradient, then
    ``buf = momentum * buf + (1 - dampening) * grad``; the step is ``-lr * buf`` (or
    ``-lr * (grad + momentum * buf)`` with ``nesterov``). ``weight_decay`` adds
    ``weight_decay * param`` to the gradient; ``maximize`` ascends. A sparse COO gradient
    (nn.Embedding(sparse=True)) steps as torch's: the momentum buffer is then sparse too and
    only the rows it holds move; with ``weight_decay`` (or ``fused``) it raises torch's
    error."""

    _group_options = ("nesterov", "maximize", "foreach", "differentiable")

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _validate(lr, momentum=momentum, weight_decay=weight_decay, nan_ok=True)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        # unlike the other optimizers, PyTorch's SGD fills a missing ``fused`` with False
        _set_group_defaults(self, fused=False)

    def _update_group(self, group, lr) -> None:
        if group.get("fused") and _has_sparse_grad(group):
            raise RuntimeError("`_fused_sgd` does not support sparse gradients")
        momentum = group["momentum"]
        maximize = group["maximize"]
        weight_decay = group["weight_decay"]
        # the common case that the compiled kernel takes: momentum and nothing else
        plain_momentum = (momentum != 0 and group["dampening"] == 0 and not group["nesterov"]
                          and not maximize and weight_decay == 0)
        for param in group["params"]:
            if param._grad is None:
                continue
            if type(param._grad._data) is SparseCOO:
                self._sparse_update(param, group, lr)
                continue
            array = param._data
            buffer, first = None, False
            if momentum != 0:
                state = self.state[param]
                tensor = state.get("momentum_buffer")
                if tensor is not None and type(tensor._data) is SparseCOO:
                    raise RuntimeError(_SPARSE_PLUS_DENSE)
                if tensor is None:
                    tensor = state["momentum_buffer"] = Tensor._make(
                        array_module(array).empty_like(array))
                    first = True
                buffer = tensor._data
            grad = param._grad._data
            if _fused.applies(array, grad):
                _sgd_update_cuda(array, grad, buffer, lr, momentum, group["dampening"],
                                 group["nesterov"], maximize, weight_decay, first)
            elif not (plain_momentum and not first
                      and _compiled_momentum(array, grad, buffer, lr, momentum)):
                self._update(_sgd_update, (array, grad, buffer), lr, momentum,
                             group["dampening"], group["nesterov"], maximize, weight_decay,
                             first)
            param._bump_version()

    def _sparse_update(self, param, group, lr) -> None:
        """torch's single-tensor SGD step on a sparse COO gradient: the momentum buffer
        starts as a (sparse) copy of the first gradient, then ``buf = momentum * buf + (1 -
        dampening) * grad`` (sparse ops: its entries are those of the gradients), and the
        parameter gets ``-lr * update`` at the update's entries only. ``weight_decay`` raises
        PyTorch's error (a sparse gradient plus the dense parameter)."""
        momentum = group["momentum"]
        grad = param._grad
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            raise RuntimeError(_SPARSE_PLUS_DENSE)
        update = grad._data
        if momentum != 0:
            state = self.state[param]
            tensor = state.get("momentum_buffer")
            if tensor is None:
                state["momentum_buffer"] = tensor = grad.detach().clone()
            elif type(tensor._data) is SparseCOO:
                # in place, as torch's buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                tensor._data = (tensor * momentum).add(grad, alpha=1 - group["dampening"])._data
            else:  # a dense buffer of earlier dense steps
                buffer = tensor._data
                buffer *= buffer.dtype.type(momentum)
                _add_sparse_(buffer, grad._data, 1 - group["dampening"])
            tensor._bump_version()
            if group["nesterov"]:
                if not tensor.is_sparse:  # torch's grad.add(buf): sparse plus dense
                    raise RuntimeError(_SPARSE_PLUS_DENSE)
                update = grad.add(tensor, alpha=momentum)._data
            else:
                update = tensor._data
        if type(update) is SparseCOO:
            _add_sparse_(param._data, update, -lr)
        else:
            param._data += update * param._data.dtype.type(-lr)
        param._bump_version()


# PyTorch's error for a sparse tensor plus a dense one (sparse gradient with weight_decay)
_SPARSE_PLUS_DENSE = "add(sparse, dense) is not supported. Use add(dense, sparse) instead."
