"""Fused GPU updates: one CuPy ElementwiseKernel per parameter for SGD and Adam/AdamW.

The numpy path (``sgd._sgd_update``, ``adam._adam_update``) streams each array through a
dozen elementwise passes; on a GPU each pass is a kernel launch, so the whole update of one
parameter is done here in a single kernel instead. The kernel bodies repeat the numpy path's
operations in the same order and the same type (``T``: the parameter's float32 or float64;
the host computes the same scalars in double precision and they are rounded to ``T`` as
numpy rounds a python float), and they are compiled with ``--fmad=false`` so that no
multiply-add is contracted: the results are those of the numpy path, bit for bit.

The kernels are made on first use (CuPy is never imported before) and cached; CuPy compiles
each once per device and keeps the binary in its on-disk cache."""
from __future__ import annotations

import numpy as np

from .. import _backend

# the gradient an update uses: -grad when maximizing, plus weight_decay * param (L2)
_EFFECTIVE_GRAD = """
T g = maximize ? -grad : grad;
if (l2_decay) g = g + param * weight_decay;
"""

_SGD_PLAIN = """
T update = g;
"""

# the buffer starts as a copy of the first gradient (``first``)
_SGD_MOMENTUM = """
if (first) {
    buf = g;
} else {
    buf = buf * momentum;
    buf = undampened ? buf + g : buf + g * one_minus_dampening;
}
T update = nesterov ? g + buf * momentum : buf;
"""

_SGD_STEP = """
param = param + update * negative_lr;
"""

# decoupled decay shrinks the parameter before the gradient is read (AdamW); exp_avg.lerp_
# with PyTorch's two formulas (chosen on the host by the weight's size), then
# exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
_ADAM_MOMENTS = """
if (decoupled_decay) param = param * decay_factor;
""" + _EFFECTIVE_GRAD + """
exp_avg = lerp_small ? exp_avg + (g - exp_avg) * lerp_weight
                     : g - (g - exp_avg) * lerp_complement;
exp_avg_sq = exp_avg_sq * beta2;
exp_avg_sq = exp_avg_sq + g * one_minus_beta2 * g;
"""

_ADAM_DENOM = """
T denom = sqrt(exp_avg_sq) / bias_correction2_sqrt + eps;
"""

# numpy.maximum: NaN in either operand gives NaN
_ADAM_DENOM_AMSGRAD = """
max_exp_avg_sq = (max_exp_avg_sq != max_exp_avg_sq || max_exp_avg_sq >= exp_avg_sq)
                 ? max_exp_avg_sq : exp_avg_sq;
T denom = sqrt(max_exp_avg_sq) / bias_correction2_sqrt + eps;
"""

_ADAM_STEP = """
param = param + exp_avg * step_size / denom;
"""

_GRAD_PARAMS = "T grad, int32 maximize, int32 l2_decay, T weight_decay"
_SGD_PARAMS = _GRAD_PARAMS + ", T negative_lr"
_ADAM_PARAMS = (_GRAD_PARAMS + ", int32 decoupled_decay, T decay_factor, int32 lerp_small, "
                "T lerp_weight, T lerp_complement, T beta2, T one_minus_beta2, "
                "T bias_correction2_sqrt, T eps, T step_size")

# name -> (in_params, out_params, body), as cupy.ElementwiseKernel takes them; the out
# params are updated in place
KERNELS = {
    "dark_sgd": (_SGD_PARAMS, "T param", _EFFECTIVE_GRAD + _SGD_PLAIN + _SGD_STEP),
    "dark_sgd_momentum": (
        _SGD_PARAMS + ", T momentum, int32 first, int32 undampened, T one_minus_dampening, "
        "int32 nesterov", "T param, T buf", _EFFECTIVE_GRAD + _SGD_MOMENTUM + _SGD_STEP),
    "dark_adam": (_ADAM_PARAMS, "T param, T exp_avg, T exp_avg_sq",
                  _ADAM_MOMENTS + _ADAM_DENOM + _ADAM_STEP),
    "dark_adam_amsgrad": (_ADAM_PARAMS, "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
                          _ADAM_MOMENTS + _ADAM_DENOM_AMSGRAD + _ADAM_STEP),
}

# contracted multiply-adds would round differently from the numpy path
COMPILE_OPTIONS = ("--fmad=false",)

_kernels: dict = {}


def _kernel(name: str):
    """The cupy.ElementwiseKernel ``name`` of KERNELS, made on first use."""
    kernel = _kernels.get(name)
    if kernel is None:
        in_params, out_params, body = KERNELS[name]
        kernel = _kernels[name] = _backend.cupy_module().ElementwiseKernel(
            in_params, out_params, body, name, options=COMPILE_OPTIONS, no_return=True)
    return kernel


def applies(param, grad) -> bool:
    """Whether a parameter is updated by a fused kernel: a float32/float64 CuPy array with a
    gradient of its dtype (numpy arrays take the numpy path)."""
    return (type(param) is not np.ndarray and param.dtype in (np.float32, np.float64)
            and grad.dtype == param.dtype)


def sgd(param, grad, buffer, lr, momentum, dampening, nesterov, maximize, weight_decay,
        first) -> None:
    """``sgd._sgd_update`` in one kernel (``buffer`` None: no momentum)."""
    common = (grad, int(maximize), int(weight_decay != 0), float(weight_decay), float(-lr))
    if buffer is None:
        _kernel("dark_sgd")(*common, param)
        return
    _kernel("dark_sgd_momentum")(*common, float(momentum), int(first), int(dampening == 0),
                                 float(1 - dampening), int(nesterov), param, buffer)


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
         weight_decay, decoupled, maximize, step) -> None:
    """``adam._adam_update`` in one kernel (``max_exp_avg_sq`` None: no amsgrad)."""
    weight = 1 - beta1
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    decay = weight_decay != 0
    scalars = (int(maximize), int(decay and not decoupled), float(weight_decay),
               int(decay and decoupled), float(1 - lr * weight_decay), int(abs(weight) < 0.5),
               float(weight), float(1 - weight), float(beta2), float(1 - beta2),
               float(bias_correction2 ** 0.5), float(eps), float(-lr / bias_correction1))
    if max_exp_avg_sq is None:
        _kernel("dark_adam")(grad, *scalars, param, exp_avg, exp_avg_sq)
    else:
        _kernel("dark_adam_amsgrad")(grad, *scalars, param, exp_avg, exp_avg_sq,
                                     max_exp_avg_sq)
