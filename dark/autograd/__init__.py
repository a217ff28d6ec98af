"""dark.autograd: Function, backward, grad, grad modes, gradcheck, anomaly detection."""
from __future__ import annotations

from .._tensor import Tensor
from . import graph
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .engine import run_backward
from .function import Function
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .variable import Variable


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (of
    ``inputs`` when given)."""
    run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (a tuple), without
    touching ``.grad``."""
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True is not supported by dark")
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    result = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs,
                          accumulate=False, allow_unused=allow_unused)
    if materialize_grads:
        result = tuple(r if r is not None else t.detach().new_zeros(t.shape)
                       for r, t in zip(result, inputs))
    return result


__all__ = ["Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad", "grad",
           "gradcheck", "gradgradcheck", "graph", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "no_grad", "set_detect_anomaly", "set_grad_enabled",
           "Variable"]
