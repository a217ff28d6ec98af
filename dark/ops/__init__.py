"""Every differentiable op of dark, grouped by family; importing this installs the Tensor
methods the families register. Each family lists its public functions in ``__all__``;
dark/__init__.py re-exports them."""
from .._tensor import Tensor
from . import (creation, elementwise, indexing, linalg, operators, reduction,  # noqa: F401
               shape)
from ._registry import TENSOR_METHODS


def _install() -> None:
    for name, function in TENSOR_METHODS.items():
        if name not in Tensor.__dict__:
            setattr(Tensor, name, function)
    operators.install()


_install()
