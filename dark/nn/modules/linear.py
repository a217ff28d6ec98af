"""Linear and Bilinear: affine maps with PyTorch's parameter shapes and default init."""
from __future__ import annotations

import math

from ..._tensor import Tensor
from ...ops.creation import empty
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Bilinear", "Linear"]


def _affine_parameters(module: Module, weight_shape: tuple, out_features: int, bias: bool,
                       device, dtype) -> None:
    """``module.weight``, a Parameter of ``weight_shape``, and ``module.bias``, one of
    ``(out_features,)`` (registered as None when not ``bias``); their values are left to the
    module's ``reset_parameters``."""
    module.weight = Parameter(empty(weight_shape, device=device, dtype=dtype))
    if bias:
        module.bias = Parameter(empty(out_features, device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class Linear(Module):
    """``y = x @ weight.T + bias``: input (*, in_features) -> (*, out_features).

    weight (out_features, in_features) is kaiming-uniform with a=sqrt(5) and bias uniform on
    [-1/sqrt(in_features), 1/sqrt(in_features)], as PyTorch's."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _affine_parameters(self, (out_features, in_features), out_features, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention.out_proj (the name shows in
    repr, and pickled checkpoints name it here, in nn.modules.linear, as torch does)."""


class Bilinear(Module):
    """``y = x1^T A x2 + b``: inputs (*, in1_features) and (*, in2_features) -> (*,
    out_features); weight (out_features, in1_features, in2_features), weight and bias
    uniform on [-1/sqrt(in1_features), 1/sqrt(in1_features)]."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        _affine_parameters(self, (out_features, in1_features, in2_features), out_features, bias,
                           device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
