"""Convolution layers (Conv1d/2d/3d, ConvTranspose1d/2d/3d) and the im2col layers Unfold
and Fold, with PyTorch's constructor arguments, parameter shapes, default init and repr."""
from __future__ import annotations

import math
from collections.abc import Iterable

from ..._tensor import Tensor
from .. import functional as F
from .. import init
from .linear import _affine_parameters
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "Fold", "Unfold"]


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, Iterable):
        return tuple(value)
    return (value,) * n


def _reverse_repeat(values: tuple) -> list:
    """(a, b) -> [b, b, a, a]: F.pad's order (last dim first) from per-dim paddings."""
    return [v for v in reversed(values) for _ in range(2)]


class _ConvNd(Module):
    """Shared state of the convolutions: weight (out, in/groups, *kernel) or, transposed,
    (in, out/groups, *kernel), kaiming-uniform with a=sqrt(5); bias uniform on
    [-1/sqrt(fan_in), 1/sqrt(fan_in)]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(f"padding_mode must be one of {valid_padding_modes}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                    total = d * (k - 1)
                    self._reversed_padding_repeated_twice[2 * i] = total // 2
                    self._reversed_padding_repeated_twice[2 * i + 1] = total - total // 2
        else:
            self._reversed_padding_repeated_twice = _reverse_repeat(self.padding)
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + tuple(kernel_size)
        _affine_parameters(self, shape, out_channels, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, function, input: Tensor, weight: Tensor, bias) -> Tensor:
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return function(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return function(input, weight, bias, self.stride, self.padding, self.dilation,
                        self.groups)


class _Conv(_ConvNd):
    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        d = self._dims
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, d),
                         _ntuple(stride, d),
                         padding if isinstance(padding, str) else _ntuple(padding, d),
                         _ntuple(dilation, d), False, _ntuple(0, d), groups, bias,
                         padding_mode, device=device, dtype=dtype)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L); weight (out, in/groups, k)."""

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(F.conv1d, input, self.weight, self.bias)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W); weight (out, in/groups, kH,
    kW). padding: int, pair, 'valid' or 'same'; padding_mode 'zeros', 'reflect',
    'replicate' or 'circular'."""

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(F.conv2d, input, self.weight, self.bias)


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W) or unbatched."""

    _dims = 3

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(F.conv3d, input, self.weight, self.bias)


class _ConvTransposeNd(_ConvNd):
    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{self.__class__.__name__}")
        d = self._dims
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, d),
                         _ntuple(stride, d), _ntuple(padding, d), _ntuple(dilation, d), True,
                         _ntuple(output_padding, d), groups, bias, padding_mode,
                         device=device, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (torch's rule and errors)."""
        d = self._dims
        if output_size is None:
            return self.output_padding
        non_spatial = 2 if input.dim() == d + 2 else 1
        output_size = list(output_size)
        if len(output_size) == non_spatial + d:
            output_size = output_size[non_spatial:]
        if len(output_size) != d:
            raise ValueError(f"ConvTranspose{d}D: for {input.dim()}D input, output_size must "
                             f"have {d} or {non_spatial + d} elements (got {len(output_size)})")
        min_sizes = [(input.shape[i + non_spatial] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1 for i in range(d)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, low, high in zip(output_size, min_sizes, max_sizes):
            if size < low or size > high:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{tuple(input.shape[non_spatial:])})")
        return tuple(size - low for size, low in zip(output_size, min_sizes))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        function = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
        return function[self._dims](input, self.weight, self.bias, self.stride, self.padding,
                                    self._output_padding(input, output_size), self.groups,
                                    self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, k)."""

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution; weight (in, out/groups, kH, kW); forward takes an optional
    output_size that picks the output_padding."""

    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution; weight (in, out/groups, kD, kH, kW)."""

    _dims = 3


class Unfold(Module):
    """Extract sliding blocks: (N, C, H, W) -> (N, C * prod(kernel_size), L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Combine sliding blocks (summing overlaps): (N, C * prod(kernel_size), L) -> (N, C,
    *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
