"""Fused GPU updates: the machinery that runs an optimizer's update of one parameter as one
CuPy ElementwiseKernel.

The numpy path of an update (``sgd._sgd_update``, ``adam._adam_update``) streams each array
through a dozen elementwise passes; on a GPU each pass is a kernel launch, so the update of
one parameter runs as a single kernel instead. Each kernel's CUDA source sits beside the
numpy function that it mirrors (the optimizer's module ``define``s it at import): the same
operations in the same order and the same type (``T``: the parameter's float32 or float64;
the host computes the same scalars in double precision and they are rounded to ``T`` as
numpy rounds a python float), compiled with ``--fmad=false`` so that no multiply-add is
contracted: the results are those of the numpy path, bit for bit. Change both together.

The kernels are made on first use (CuPy is never imported before) and cached; CuPy compiles
each once per device and keeps the binary in its on-disk cache."""
from __future__ import annotations

import numpy as np

from .. import _backend

# name -> (in_params, out_params, body), as cupy.ElementwiseKernel takes them; the out
# params are updated in place
KERNELS: dict[str, tuple[str, str, str]] = {}

# contracted multiply-adds would round differently from the numpy path
COMPILE_OPTIONS = ("--fmad=false",)

_compiled: dict = {}


def define(name: str, in_params: str, out_params: str, body: str) -> str:
    """Add the kernel ``name`` to KERNELS (nothing is compiled); returns ``name``."""
    if name in KERNELS:
        raise ValueError(f"a fused kernel named {name!r} is already defined")
    KERNELS[name] = (in_params, out_params, body)
    return name


def kernel(name: str):
    """The cupy.ElementwiseKernel ``name`` of KERNELS, made on first use; called with the
    in params, then the out params (updated in place)."""
    compiled = _compiled.get(name)
    if compiled is None:
        in_params, out_params, body = KERNELS[name]
        compiled = _compiled[name] = _backend.cupy_module().ElementwiseKernel(
            in_params, out_params, body, name, options=COMPILE_OPTIONS, no_return=True)
    return compiled


def applies(param, grad) -> bool:
    """Whether a parameter is updated by a fused kernel: a float32/float64 CuPy array with a
    gradient of its dtype (numpy arrays take the numpy path)."""
    return (type(param) is not np.ndarray and param.dtype in (np.float32, np.float64)
            and grad.dtype == param.dtype)
