"""Every differentiable op of dark, grouped by family; importing this installs the Tensor
methods the families register."""
from .._tensor import Tensor
from . import creation, elementwise, operators, reduction, shape  # noqa: F401
from ._registry import TENSOR_METHODS


def _install() -> None:
    for name, function in TENSOR_METHODS.items():
        if name not in Tensor.__dict__:
            setattr(Tensor, name, function)
    operators.install()


_install()
