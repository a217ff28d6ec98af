"""Tensor methods of dark.ops: ``tensor_method`` (dark._tensor's) installs at definition;
TENSOR_METHODS collects the ones assigned by name, installed by dark.ops after its families."""
from __future__ import annotations

from .._tensor import tensor_method  # noqa: F401 - the families import it from here

TENSOR_METHODS: dict = {}
