"""Linear functions of dark.nn.functional: linear and bilinear maps.

Linear builds PyTorch's graph for F.linear (the weight through a TBackward0 view into
AddmmBackward0 or MmBackward0, with torch.matmul's views around other input dims); its
products are linalg's ``Mm`` (through MatMul, whose backward outside a graph is raw BLAS
products, the weight's gradient in the weight's layout). Bilinear is one einsum."""
from __future__ import annotations

import math

import numpy as np

from ..._backend import TORCH_EXACT_FLOATS
from ..._kernels import matmul as matmul_arrays
from ..._tensor import Tensor
from ...amp.autocast_mode import casts_inputs
from ...autograd.function import op_dispatch_set
from ...autograd.grad_mode import state as _grad_state
from ...ops.linalg import Mm, einsum
from ...ops.shape import Contiguous, Reshape, TransposeMatrix, UnsafeView, _viewable
from ._checks import check_tensor

__all__ = ["bilinear", "linear"]


class _Addmm(Mm):
    """``bias + x @ weight_t`` (torch.addmm as F.linear calls it: bias first): linalg's
    matrix product with the bias added."""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, bias, x, weight_t):
        out = Mm.forward(ctx, x, weight_t)
        out += bias  # checked to broadcast to out's shape
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_input, grad_weight_t = Mm.backward(ctx, grad)
        grad_bias = None
        if ctx.needs_input_grad[0]:
            # a full-size bias takes the column sums; any other the engine sums down
            if ctx._input_meta[0][0] != grad._data.shape[1:]:
                grad_bias = grad
            elif _grad_state.enabled or grad._data.dtype not in TORCH_EXACT_FLOATS or \
                    op_dispatch_set():
                grad_bias = grad.sum(0)
            else:  # no graph of the backward, no op dispatch: Sum's forward on the array
                data = grad._data
                grad_bias = Tensor._make(data.sum(axis=(0,), dtype=data.dtype))
        return grad_bias, grad_input, grad_weight_t


class _SqueezeRow(Reshape):
    """The (1, n) -> (n,) squeeze of a 1-D input's product (torch's in-place squeeze_)."""

    node_name = "SqueezeBackward4"


def _as_rows(input: Tensor, in_features: int) -> Tensor:
    """input (*, in) as a matrix (rows, in): a view when the layout allows, else a copy."""
    array = input._data
    # the tensor's sizes (a DTensor's are the whole tensor's; its array is its piece)
    shape = (input.numel() // in_features if in_features else math.prod(input.shape[:-1]),
             in_features)
    if array.flags.c_contiguous or _viewable(array, shape):
        return Reshape.apply(input, shape=shape)
    return UnsafeView.apply(Contiguous.apply(input), shape=shape)


def _folded_product(input: Tensor, weight_t: Tensor) -> Tensor:
    """``input @ weight_t`` as torch.matmul builds it for an input of 1 or >= 3 dims."""
    out_features = weight_t.shape[1]
    if input.ndim == 1:
        product = Mm.apply(input.unsqueeze(0), weight_t)
        return _SqueezeRow.apply(product, shape=(out_features,))
    product = Mm.apply(_as_rows(input, weight_t.shape[0]), weight_t)
    return UnsafeView.apply(product, shape=tuple(input.shape[:-1]) + (out_features,))


def _linear_graph(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The product with torch's graph for F.linear: the weight passes through a TBackward0
    view; a 2-D input gives AddmmBackward0(bias, input, weight.t()) or MmBackward0; a
    contiguous input of other dims with a 1-D bias is viewed as rows around the addmm;
    otherwise the product is torch.matmul's folded one and the bias is added after."""
    weight_t = TransposeMatrix.apply(weight)
    if input.ndim == 2:
        return Mm.apply(input, weight_t) if bias is None else _Addmm.apply(bias, input,
                                                                           weight_t)
    if bias is not None and input._data.flags.c_contiguous and (input.ndim == 3
                                                                or bias.ndim == 1):
        out = _Addmm.apply(bias, _as_rows(input, weight.shape[1]), weight_t)
        return Reshape.apply(out, shape=tuple(input.shape[:-1]) + (weight.shape[0],))
    out = _folded_product(input, weight_t)
    return out if bias is None else out + bias


_CHECKED = object()  # _unrecorded_matrix_product's answer for a checked call that records


def _unrecorded_matrix_product(input: Tensor, weight: Tensor, bias) -> Tensor | None:
    """F.linear of numpy matrices that records no graph (no_grad, or nothing requires grad)
    and passes every check of ``linear``, with no op dispatch set (autocast): the same
    product and bias add as _Addmm's forward, on the arrays, without the ops' tensors. None
    for any other case (the general path then checks and runs it); _CHECKED when the call
    passes those checks and records a graph (linear then builds it without checking again)."""
    x, w = input._data, weight._data
    if type(x) is not np.ndarray or type(w) is not np.ndarray or x.ndim != 2 or \
            w.ndim != 2 or x.shape[1] != w.shape[1] or x.dtype != w.dtype or \
            op_dispatch_set():
        return None
    record = _grad_state.enabled and (input._requires_grad or weight._requires_grad)
    if bias is None:
        if record:
            return _CHECKED
        return Tensor._make(matmul_arrays(x, w.T))
    if not isinstance(bias, Tensor):
        return None
    b = bias._data
    if type(b) is not np.ndarray or b.dtype != x.dtype or b.ndim > 1 or \
            (b.ndim == 1 and b.shape[0] != 1 and b.shape[0] != w.shape[0]):
        return None
    if record or (_grad_state.enabled and bias._requires_grad):
        return _CHECKED
    out = matmul_arrays(x, w.T)
    out += b
    return Tensor._make(out)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input (*, in_features), weight (out_features,
    in_features), bias (out_features,) -> (*, out_features)."""
    check_tensor("linear", input, "input", 1)
    check_tensor("linear", weight, "weight", 2)
    out = _unrecorded_matrix_product(input, weight, bias)
    if out is not None:
        return _linear_graph(input, weight, bias) if out is _CHECKED else out
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if weight.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{weight.ndim}D")
    if weight.ndim == 1:  # a vector weight: a dot product over the last dim
        out = input.matmul(weight.t())
        return out if bias is None else out + bias
    rows = math.prod(input.shape[:-1])
    in_features = input.shape[-1]
    out_features, weight_in = weight.shape
    if in_features != weight_in:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{in_features} "
                           f"and {weight_in}x{out_features})")
    if input.dtype != weight.dtype and not casts_inputs(input, weight, bias):
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{input.dtype.cpp_name} != {weight.dtype.cpp_name}")
    if bias is not None:
        check_tensor("linear", bias, "bias", 3)
        if bias.dtype != input.dtype and not casts_inputs(input, weight, bias):
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{bias.dtype.scalar_name} and {input.dtype.scalar_name}")
        if bias.ndim > 1 or (bias.ndim == 1 and bias.shape[0] not in (1, out_features)):
            raise RuntimeError(
                f"The expanded size of the tensor ({out_features}) must match the existing "
                f"size ({bias.shape[-1]}) at non-singleton dimension 1.  Target sizes: "
                f"[{rows}, {out_features}].  Tensor sizes: {list(bias.shape)}")
    return _linear_graph(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``: input1
    (*, in1), input2 (*, in2), weight (out, in1, in2) -> (*, out)."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got "
                           f"{weight.ndim}D")
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} "
                           f"and {input2.ndim}")
    for d in range(input1.ndim - 1):
        if input1.shape[d] != input2.shape[d]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: "
                               f"got {input1.shape[d]} and {input2.shape[d]}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {weight.shape[2]}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[-1] if bias.ndim else 1} but expected "
                           f"{weight.shape[0]}")
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias
