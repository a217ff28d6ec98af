"""Convolutions for dark.nn.functional: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold, fold.

Three Ops close under differentiation, as in PyTorch: ``Convolution`` (y = conv(x, w)),
``ConvolutionBackwardInput`` (its adjoint in x, which is conv_transpose) and
``ConvolutionBackwardWeight`` (its adjoint in w). The backward of each is made of the other
two, so second derivatives (gradgradcheck, create_graph) come out exactly; outside a graph
the backward takes all the gradients in one pass instead. ``Im2Col`` (unfold) and
``Col2Im`` (fold) are each other's backward. The arrays are computed by dark._kernels.conv
(im2col, the flat shifts, the Fourier path); the functions here check the arguments as
PyTorch does."""
from __future__ import annotations

import math

from ..._backend import array_module
from ..._kernels.conv import (
    bias_shape,
    col2im_blocks,
    conv_forward,
    conv_input_grad,
    conv_output_shape,
    conv_weight_grad,
    im2col,
    one_pass_gradients,
)
from ..._tensor import Tensor
from ...amp.autocast_mode import casts_inputs
from ...autograd.function import Op
from ...autograd.grad_mode import state as _grad_state
from ._checks import int_tuple
from .padding import pad

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "fold", "unfold"]

# ----------------------------------------------------------------------------- ops


def _bilinear_backward(ctx, grad, first, second):
    """The gradients of a convolution Op, linear in each of its first two inputs (plus a bias
    when it has a third), where ``ctx.needs_input_grad`` asks for them: ``first(geometry)``
    and ``second(geometry)`` build the first two from the forward's stride, padding, dilation
    and groups (as keywords); the bias's is ``grad`` summed over all but the channels."""
    needs = ctx.needs_input_grad
    geometry = dict(zip(("stride", "padding", "dilation", "groups"), ctx.geometry))
    return (first(geometry) if needs[0] else None,
            second(geometry) if needs[1] else None,
            grad.sum((0,) + tuple(range(2, grad.ndim))) if len(needs) > 2 and needs[2] else None,
            )[:len(needs)]


class Convolution(Op):
    """y = conv(x, weight) + bias."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1,), padding=(0,), dilation=(1,), groups=1):
        ctx.geometry = (stride, padding, dilation, groups)
        # the Fourier path's input spectra, kept for the weight's gradient when it is needed
        # and freed with the saved tensors after the backward
        spectra = {} if ctx.needs_input_grad[1] else None
        ctx.save_for_backward(x, weight, spectra)
        return conv_forward(array_module(x), x, weight, stride, padding, dilation, groups, bias,
                            spectra)

    @staticmethod
    def backward(ctx, grad):
        x, weight, spectra = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        if not _grad_state.enabled:  # the common path (no graph of the backward)
            gradients = one_pass_gradients(
                array_module(grad._data), x.shape, weight.shape, x._data, grad._data, weight._data,
                stride, padding, dilation, groups,
                (needs[0], needs[1], len(needs) > 2 and needs[2]), spectra)
            if gradients is not None:
                return tuple(None if g is None else Tensor._make(g)
                             for g in gradients)[:len(needs)]
        return _bilinear_backward(
            ctx, grad,
            lambda geometry: ConvolutionBackwardInput.apply(grad, weight, spatial=x.shape[2:],
                                                            **geometry),
            lambda geometry: ConvolutionBackwardWeight.apply(x, grad, kernel=weight.shape[2:],
                                                             **geometry))


class ConvolutionBackwardInput(Op):
    """y = conv_transpose(g, weight) + bias, the adjoint of conv in its input; ``spatial`` is
    the output's spatial shape (it resolves the stride's rounding)."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, grad_output, weight, bias=None, spatial=(), stride=(1,), padding=(0,),
                dilation=(1,), groups=1):
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(grad_output, weight)
        out = conv_input_grad(array_module(grad_output), grad_output, weight, spatial, stride,
                              padding, dilation, groups)
        if bias is not None:
            out += bias.reshape(bias_shape(bias, out.ndim))
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_output, weight = ctx.saved_tensors
        return _bilinear_backward(
            ctx, grad,
            lambda geometry: Convolution.apply(grad, weight, None, **geometry),
            lambda geometry: ConvolutionBackwardWeight.apply(
                grad, grad_output, kernel=weight.shape[2:], **geometry))


class ConvTranspose(ConvolutionBackwardInput):
    node_name = "ConvolutionBackward0"


class ConvolutionBackwardWeight(Op):
    """The adjoint of conv in its weight: <W(x, g), v> = <g, conv(x, v)>."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, x, grad_output, kernel=(), stride=(1,), padding=(0,), dilation=(1,),
                groups=1):
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(x, grad_output)
        return conv_weight_grad(array_module(x), x, grad_output, kernel, stride, padding, dilation,
                                groups)

    @staticmethod
    def backward(ctx, grad):
        x, grad_output = ctx.saved_tensors
        return _bilinear_backward(
            ctx, grad,
            lambda geometry: ConvolutionBackwardInput.apply(grad_output, grad,
                                                            spatial=x.shape[2:], **geometry),
            lambda geometry: Convolution.apply(x, grad, None, **geometry))


class Im2Col(Op):
    """unfold: (N, C, *spatial) -> (N, C * prod(kernel), L)."""

    @staticmethod
    def forward(ctx, x, kernel=(), stride=(1,), padding=(0,), dilation=(1,)):
        ctx.geometry = (x.shape[2:], kernel, stride, padding, dilation)
        return im2col(array_module(x), x, kernel, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        spatial, kernel, stride, padding, dilation = ctx.geometry
        return Col2Im.apply(grad, spatial=spatial, kernel=kernel, stride=stride,
                            padding=padding, dilation=dilation)


class Col2Im(Op):
    """fold: (N, C * prod(kernel), L) -> (N, C, *spatial), summing overlapping entries."""

    @staticmethod
    def forward(ctx, columns, spatial=(), kernel=(), stride=(1,), padding=(0,), dilation=(1,)):
        ctx.geometry = (kernel, stride, padding, dilation)
        return col2im_blocks(array_module(columns), columns, spatial, kernel, stride, padding,
                             dilation)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, dilation = ctx.geometry
        return Im2Col.apply(grad, kernel=kernel, stride=stride, padding=padding,
                            dilation=dilation)


# ----------------------------------------------------------------------------- checks

def expand_param(name: str, value, d: int, what: str = "the convolution dimensions") -> tuple:
    """An int or a sequence of 1 or d ints as a d-tuple (torch's error otherwise)."""
    values = int_tuple(value, d)
    if len(values) != d:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {d} "
                           f"values to match {what}, but got {name}={list(values)}")
    return values


def _check_input_dims(name: str, input: Tensor, d: int) -> bool:
    """True when the input is batched; torch's error for a wrong number of dims."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, ...)")
    if input.dim() not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    return input.dim() == d + 2


def _check_common(input: Tensor, weight: Tensor, bias, d: int, stride, padding, dilation,
                  groups):
    if weight.dim() != d + 2:
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for "
                           f"{weight.dim()}-dimensional weight {list(weight.shape)}, but got "
                           f"{input.dim()}-dimensional input of size {list(input.shape)} "
                           "instead")
    autocast = casts_inputs(input, weight, bias)  # the op casts them (as torch's autocast)
    if input.dtype != weight.dtype and not autocast:
        raise RuntimeError(f"Input type (dark.{input.dtype.scalar_name}Tensor) and weight type "
                           f"(dark.{weight.dtype.scalar_name}Tensor) should be the same")
    if bias is not None and bias.dtype != input.dtype and not autocast:
        raise RuntimeError(f"Input type ({input.dtype.cpp_name}) and bias type "
                           f"({bias.dtype.cpp_name}) should be the same")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"[{list(weight.shape)}] instead")


def _sizes(values) -> str:
    return "(" + " x ".join(str(v) for v in values) + ")"


def _same_padding(input: Tensor, weight: Tensor, d: int, dilation: tuple):
    """'same' padding: the input, padded on the right where the total is odd (as torch), and
    the symmetric padding left for the op."""
    total = [dilation[i] * (weight.shape[2 + i] - 1) for i in range(d)]
    left = tuple(t // 2 for t in total)
    extra = [t - 2 * (t // 2) for t in total]
    if any(extra):
        widths = []
        for e in reversed(extra):
            widths += [0, e]
        input = pad(input, widths)
    return input, left


def _convolution(name: str, d: int, input, weight, bias, stride, padding, dilation, groups):
    batched = _check_input_dims(name, input, d)
    stride = expand_param("stride", stride, d)
    dilation = expand_param("dilation", dilation, d)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        padding_values = (0,) * d
    else:
        padding_values = expand_param("padding", padding, d)
    _check_common(input, weight, bias, d, stride, padding_values, dilation, groups)
    if not batched:
        input = input.unsqueeze(0)
    if padding == "same":
        input, padding_values = _same_padding(input, weight, d, dilation)
    expected = weight.shape[1] * groups
    if input.shape[1] != expected:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have {expected} channels, "
                           f"but got {input.shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {weight.shape[0]} elements, but got bias of "
                           f"size {list(bias.shape)} instead")
    padded = [input.shape[2 + i] + 2 * padding_values[i] for i in range(d)]
    dilated = [dilation[i] * (weight.shape[2 + i] - 1) + 1 for i in range(d)]
    if any(p < k for p, k in zip(padded, dilated)):
        raise RuntimeError(f"Calculated padded input size per channel: {_sizes(padded)}. "
                           f"Kernel size: {_sizes(dilated)}. Kernel size can't be greater "
                           "than actual input size")
    out = Convolution.apply(input, weight, bias, stride=stride, padding=padding_values,
                            dilation=dilation, groups=groups)
    return out if batched else out.squeeze(0)


def _axis_words(d: int) -> list:
    return {1: ["width"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[d]


def _conv_transpose(name: str, d: int, input, weight, bias, stride, padding, output_padding,
                    groups, dilation):
    batched = _check_input_dims(name, input, d)
    stride = expand_param("stride", stride, d)
    dilation = expand_param("dilation", dilation, d)
    padding = expand_param("padding", padding, d)
    output_padding = expand_param("output_padding", output_padding, d)
    _check_common(input, weight, bias, d, stride, padding, dilation, groups)
    if any(o >= s and o >= dl for o, s, dl in zip(output_padding, stride, dilation)):
        words = _axis_words(max(d, 2))
        # a 1-D transposed conv is a 2-D one of height 1 (output_padding 0, stride 1 ...)
        lead = {"output_padding": 0, "stride": 1, "dilation": 1} if d == 1 else {}
        parts = [f"{kind}_{w}: {v}" for kind, values in
                 (("output_padding", output_padding), ("stride", stride),
                  ("dilation", dilation))
                 for w, v in zip(words, ((lead[kind],) if lead else ()) + tuple(values))]
        raise RuntimeError("output padding must be smaller than either stride or dilation, "
                           "but got " + " ".join(parts))
    if not batched:
        input = input.unsqueeze(0)
    if input.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(input.shape)} to have {weight.shape[0]} channels, but "
                           f"got {input.shape[1]} channels instead")
    out_channels = weight.shape[1] * groups
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"bias to be 1-dimensional with {out_channels} elements, but got "
                           f"bias of size {list(bias.shape)} instead")
    spatial = tuple((input.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                    + dilation[i] * (weight.shape[2 + i] - 1) + output_padding[i] + 1
                    for i in range(d))
    if any(s <= 0 for s in spatial):
        raise RuntimeError(f"Given input size per channel: {_sizes(input.shape[2:])}. "
                           f"Calculated output size per channel: {_sizes(spatial)}. Output "
                           "size is too small")
    out = ConvTranspose.apply(input, weight, bias, spatial=spatial, stride=stride,
                              padding=padding, dilation=dilation, groups=groups)
    return out if batched else out.squeeze(0)


# ----------------------------------------------------------------------------- public

def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation): (N, C_in, L) or (C_in, L) with weight
    (C_out, C_in/groups, k) -> (N, C_out, L_out). padding: int, tuple, 'valid' or 'same'."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution: (N, C_in, H, W) or (C_in, H, W) with weight (C_out, C_in/groups, kH,
    kW) -> (N, C_out, H_out, W_out). padding: int, tuple, 'valid' or 'same'."""
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution: (N, C_in, D, H, W) or unbatched with weight (C_out, C_in/groups, kD,
    kH, kW)."""
    return _convolution("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-D convolution: (N, C_in, L) with weight (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-D convolution: (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW)
    -> (N, C_out, (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1, ...)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 3-D convolution: (N, C_in, D, H, W) with weight (C_in, C_out/groups, kD,
    kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def _fold_params(kernel_size, dilation, padding, stride):
    return (expand_param("kernel_size", kernel_size, 2), expand_param("dilation", dilation, 2),
            expand_param("padding", padding, 2), expand_param("stride", stride, 2))


def _with_batch(input: Tensor, d: int, layout: str) -> tuple:
    """(the input with a batch dim, whether it had one) for an input of d or d + 1 dims;
    torch's error otherwise (``layout``: its words for the expected tensor)."""
    if input.dim() not in (d, d + 1):
        raise RuntimeError(f"Expected {d}D or {d + 1}D (batch mode) tensor {layout}, but got: "
                           f"{list(input.shape)}")
    batched = input.dim() == d + 1
    return (input if batched else input.unsqueeze(0)), batched


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): (N, C, H, W) or (C, H, W) -> (N, C*kH*kW, L), L the
    number of blocks."""
    kernel, dilation, padding, stride = _fold_params(kernel_size, dilation, padding, stride)
    input, batched = _with_batch(input, 3, "with possibly 0 batch size and other non-zero "
                                           "dimensions for input")
    blocks = conv_output_shape(input.shape[2:], kernel, stride, padding, dilation)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given input with spatial size {tuple(input.shape[2:])}, "
                           f"kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                           f"calculated shape of the array of sliding blocks as {blocks}, but "
                           "its components must be at least one.")
    out = Im2Col.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    return out if batched else out.squeeze(0)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks into a tensor (col2im, overlaps summed): (N, C*kH*kW, L) or
    (C*kH*kW, L) -> (N, C, *output_size)."""
    output_size = expand_param("output_size", output_size, 2)
    kernel, dilation, padding, stride = _fold_params(kernel_size, dilation, padding, stride)
    input, batched = _with_batch(input, 2, "for input with possibly 0 batch size and non-zero "
                                           "dimensions for input")
    if input.shape[1] % math.prod(kernel):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={input.shape[1]} and "
                           f"kernel_size={kernel}.")
    blocks = conv_output_shape(output_size, kernel, stride, padding, dilation)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given output_size={output_size}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, stride={stride}, "
                           f"calculated shape of the array of sliding blocks as {blocks}, but "
                           "its components must be at least one.")
    if input.shape[2] != math.prod(blocks):
        raise RuntimeError(f"Given output_size={output_size}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, stride={stride}, expected "
                           "size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {math.prod(blocks)}, "
                           f"but got input.size(2)={input.shape[2]}.")
    out = Col2Im.apply(input, spatial=output_size, kernel=kernel, stride=stride, padding=padding,
                       dilation=dilation)
    return out if batched else out.squeeze(0)
