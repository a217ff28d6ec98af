"""What both FSDPs do to a module's inputs (nested tuples, lists and dicts); the tensors of
its outputs are dark._tensor.nested_tensors'."""
from __future__ import annotations

from ..._tensor import Tensor


def cast_floats(value, dtype):
    """``value`` with each floating-point tensor inside it cast to ``dtype`` (mixed
    precision's inputs and outputs); everything else as it is."""
    if isinstance(value, Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(cast_floats(v, dtype) for v in value)
    if isinstance(value, list):
        return [cast_floats(v, dtype) for v in value]
    if isinstance(value, dict):
        return {k: cast_floats(v, dtype) for k, v in value.items()}
    return value
