"""gradcheck / gradgradcheck: compare autograd's Jacobian with central finite differences
(run them in float64)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from .._tensor import Tensor
from .engine import run_backward


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _differentiable_inputs(inputs):
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _host(array):
    return array if isinstance(array, np.ndarray) else array.get()


def _as_tensor(matrix):
    return Tensor._make(matrix)


def _outputs(func, inputs):
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]


def _numerical_jacobian(func, inputs, wrt, eps):
    """For each input in ``wrt`` and each output: a (input.numel, output.numel) matrix.

    Grad mode stays on: the function may itself differentiate (gradgradcheck's does)."""
    base = _outputs(func, inputs)
    jacobians = []
    for index in wrt:
        data = inputs[index]._data
        per_output = [np.zeros((data.size, o._data.size)) for o in base]
        for k in range(data.size):
            # the k-th element in row-major order, written in place whatever the strides (a
            # reshape of a non-contiguous input would be a copy the function never reads)
            at = np.unravel_index(k, data.shape)
            original = data[at].item()
            data[at] = original + eps
            plus = [_host(o._data).astype(np.float64).reshape(-1)
                    for o in _outputs(func, inputs)]
            data[at] = original - eps
            minus = [_host(o._data).astype(np.float64).reshape(-1)
                     for o in _outputs(func, inputs)]
            data[at] = original
            for j in range(len(base)):
                per_output[j][k] = (plus[j] - minus[j]) / (2 * eps)
        jacobians.append(per_output)
    return jacobians


def _analytical_jacobian(func, inputs, wrt):
    outputs = _outputs(func, inputs)
    jacobians = [[np.zeros((inputs[i]._data.size, o._data.size)) for o in outputs]
                 for i in wrt]
    for j, output in enumerate(outputs):
        if not output.requires_grad:
            continue
        xp_zeros = _backend.array_module(output._data).zeros
        for m in range(output._data.size):
            seed = xp_zeros(output._data.shape, dtype=output._data.dtype)
            seed.reshape(-1)[m] = 1
            grads = run_backward(output, Tensor._make(seed), True, False,
                                 inputs=[inputs[i] for i in wrt], accumulate=False,
                                 allow_unused=True)
            for n, grad in enumerate(grads):
                if grad is not None:
                    if grad.shape != inputs[wrt[n]].shape:
                        raise GradcheckError(f"grad is incorrect shape: {list(grad.shape)} "
                                             f"vs {list(inputs[wrt[n]].shape)}")
                    jacobians[n][j][:, m] = _host(grad._data).reshape(-1)
    return jacobians


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, fast_mode: bool = False) -> bool:
    """Check the gradients of ``func(*inputs)`` against finite differences for every input
    that requires grad (use float64 inputs)."""
    inputs = _as_tuple(inputs)
    wrt = _differentiable_inputs(inputs)
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the them have requires_grad=True.")
    for index in wrt:
        if inputs[index].dtype.name != "float64":
            warnings.warn(f"Input #{index} requires gradient and is not a double precision "
                          "floating point. This check will likely fail if all the inputs are "
                          "not of double precision floating point. ", stacklevel=2)
    numerical = _numerical_jacobian(func, inputs, wrt, eps)
    analytical = _analytical_jacobian(func, inputs, wrt)
    for n, index in enumerate(wrt):
        for j, (num, ana) in enumerate(zip(numerical[n], analytical[n])):
            if not np.allclose(ana, num, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {index},\n"
                    f"numerical:{_as_tensor(num)}\nanalytical:{_as_tensor(ana)}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, fast_mode: bool = False) -> bool:
    """Check second derivatives: gradcheck of the function that maps (inputs, grad_outputs)
    to the gradients of ``func`` computed with create_graph=True."""
    inputs = _as_tuple(inputs)
    wrt = _differentiable_inputs(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for output in _outputs(func, inputs):
            if not output.requires_grad:
                continue
            values = rng.standard_normal(output._data.shape)
            array = _backend.array_module(output._data).asarray(values,
                                                                dtype=output._data.dtype)
            grad_outputs.append(Tensor._make(array).requires_grad_(True))
    grad_outputs = list(_as_tuple(grad_outputs))
    count = len(inputs)

    def first_derivatives(*values):
        ins, outs = values[:count], values[count:]
        outputs = [o for o in _outputs(func, ins) if o.requires_grad]
        pairs = list(zip(outputs, outs))
        grads = run_backward([o for o, _ in pairs], [g for _, g in pairs], True, True,
                             inputs=[ins[i] for i in wrt], accumulate=False,
                             allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps,
                     atol=atol, rtol=rtol, raise_exception=raise_exception)
