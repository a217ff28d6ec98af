"""torchvision.ops.misc's convolution-normalization-activation blocks (MobileNetV2's)."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

from ... import nn

__all__ = ["Conv2dNormActivation", "ConvNormActivation"]


class ConvNormActivation(nn.Sequential):
    """A Sequential of ``conv_layer`` (padding ``(kernel_size - 1) // 2 * dilation`` by
    default, a bias only without a norm layer), ``norm_layer`` and ``activation_layer``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation=1, inplace: bool | None = True, bias: bool | None = None,
                 conv_layer: Callable[..., nn.Module] = nn.Conv2d) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                conv_dim = (len(kernel_size) if isinstance(kernel_size, Sequence)
                            else len(dilation))
                kernel_size = _ntuple(kernel_size, conv_dim)
                dilation = _ntuple(dilation, conv_dim)
                padding = tuple((kernel_size[i] - 1) // 2 * dilation[i] for i in range(conv_dim))
        if bias is None:
            bias = norm_layer is None
        layers = [conv_layer(in_channels, out_channels, kernel_size, stride, padding,
                             dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels
        if self.__class__ == ConvNormActivation:
            warnings.warn("Don't use ConvNormActivation directly, please use "
                          "Conv2dNormActivation and Conv3dNormActivation instead.", stacklevel=2)


def _ntuple(x, n: int) -> tuple:
    return tuple(x) if isinstance(x, Sequence) else (x,) * n


class Conv2dNormActivation(ConvNormActivation):
    """Conv2d, then BatchNorm2d (``norm_layer``), then ReLU (``activation_layer``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation=1, inplace: bool | None = True, bias: bool | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups,
                         norm_layer, activation_layer, dilation, inplace, bias, nn.Conv2d)
