"""Layer functionals of dark.nn.functional: linear and bilinear maps, the normalizations
(batch, instance, layer, group, RMS), dropout, embedding, one-hot and distances.

Linear builds PyTorch's graph for F.linear (the weight through a TBackward0 view into
AddmmBackward0 or MmBackward0, with torch.matmul's views around other input dims); its
product ops take raw BLAS products in backward, and Tensor ops under create_graph. The
normalizations and embedding are fused ops with hand-written backward formulas (written with
Tensor ops, so they can be differentiated again); the rest are compositions of existing ops.
Dropout masks come from dark's default generator, drawn in the input's dtype."""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import _backend
from ... import random as _random
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...autograd.grad_mode import state as _grad_state
from ...ops._util import broadcast_shapes, matmul, wrap_dim, xp_of
from ...ops.indexing import _accumulate
from ...ops.linalg import _product, einsum, vector_norm
from ...ops.shape import Contiguous, Reshape, TransposeMatrix, UnsafeView, _viewable

__all__ = ["alpha_dropout", "batch_norm", "bilinear", "cosine_similarity", "dropout",
           "dropout1d", "dropout2d", "dropout3d", "embedding", "feature_alpha_dropout",
           "group_norm", "instance_norm", "layer_norm", "linear", "normalize", "one_hot",
           "pairwise_distance", "pdist", "rms_norm"]


def _constant(array) -> Tensor:
    return Tensor._make(array)


def _type_name(tensor: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(tensor._data.dtype.name, tensor._data.dtype.name)


def _short_type(tensor: Tensor) -> str:
    """torch's C++ scalar-type word in 'float != double' messages."""
    return {"Float": "float", "Double": "double", "Half": "c10::Half", "Long": "long int",
            "Int": "int"}.get(_type_name(tensor), _type_name(tensor).lower())


def _check_tensor(name: str, value, argument: str, position: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(value).__name__}")

# ----------------------------------------------------------------------------- linear


class _Mm(Op):
    """``x @ weight_t`` for a matrix x (rows, in) and the transposed weight (in, out)."""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, x, weight_t):
        ctx.save_for_backward(x, weight_t)
        return matmul(x, weight_t)

    @staticmethod
    def backward(ctx, grad):
        x, weight_t = ctx.saved_tensors
        need_input, need_weight = ctx.needs_input_grad[-2:]
        grad_input = grad_weight_t = None
        if not _grad_state.enabled:
            # the common path: raw products; the weight's gradient is made (out, in) in C
            # order and handed over transposed, so that TBackward0 gives it back C-contiguous
            g = grad._data
            if need_input:
                grad_input = Tensor._make(matmul(g, weight_t._data.T))
            if need_weight:
                grad_weight_t = Tensor._make(matmul(g.T, x._data).T)
        else:  # create_graph: products of graph tensors
            if need_input:
                grad_input = _product(grad, weight_t, transpose_b=True)
            if need_weight:
                grad_weight_t = _product(x, grad, transpose_a=True)
        return grad_input, grad_weight_t


class _Addmm(_Mm):
    """``bias + x @ weight_t`` (torch.addmm as F.linear calls it: bias first)."""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, bias, x, weight_t):
        out = _Mm.forward(ctx, x, weight_t)
        out += bias  # checked to broadcast to out's shape
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_input, grad_weight_t = _Mm.backward(ctx, grad)
        grad_bias = None
        if ctx.needs_input_grad[0]:
            # a full-size bias takes the column sums; any other the engine sums down
            grad_bias = grad.sum(0) if ctx._input_meta[0][0] == grad._data.shape[1:] else grad
        return grad_bias, grad_input, grad_weight_t


class _SqueezeRow(Reshape):
    """The (1, n) -> (n,) squeeze of a 1-D input's product (torch's in-place squeeze_)."""

    node_name = "SqueezeBackward4"


def _as_rows(input: Tensor, in_features: int) -> Tensor:
    """input (*, in) as a matrix (rows, in): a view when the layout allows, else a copy."""
    array = input._data
    shape = (array.size // in_features if in_features else math.prod(array.shape[:-1]),
             in_features)
    if array.flags.c_contiguous or _viewable(array, shape):
        return Reshape.apply(input, shape=shape)
    return UnsafeView.apply(Contiguous.apply(input), shape=shape)


def _folded_product(input: Tensor, weight_t: Tensor) -> Tensor:
    """``input @ weight_t`` as torch.matmul builds it for an input of 1 or >= 3 dims."""
    out_features = weight_t.shape[1]
    if input.ndim == 1:
        product = _Mm.apply(input.unsqueeze(0), weight_t)
        return _SqueezeRow.apply(product, shape=(out_features,))
    product = _Mm.apply(_as_rows(input, weight_t.shape[0]), weight_t)
    return UnsafeView.apply(product, shape=tuple(input.shape[:-1]) + (out_features,))


def _linear_graph(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The product with torch's graph for F.linear: the weight passes through a TBackward0
    view; a 2-D input gives AddmmBackward0(bias, input, weight.t()) or MmBackward0; a
    contiguous input of other dims with a 1-D bias is viewed as rows around the addmm;
    otherwise the product is torch.matmul's folded one and the bias is added after."""
    weight_t = TransposeMatrix.apply(weight)
    if input.ndim == 2:
        return _Mm.apply(input, weight_t) if bias is None else _Addmm.apply(bias, input,
                                                                           weight_t)
    if bias is not None and input._data.flags.c_contiguous and (input.ndim == 3
                                                                or bias.ndim == 1):
        out = _Addmm.apply(bias, _as_rows(input, weight.shape[1]), weight_t)
        return Reshape.apply(out, shape=tuple(input.shape[:-1]) + (weight.shape[0],))
    out = _folded_product(input, weight_t)
    return out if bias is None else out + bias


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input (*, in_features), weight (out_features,
    in_features), bias (out_features,) -> (*, out_features)."""
    _check_tensor("linear", input, "input", 1)
    _check_tensor("linear", weight, "weight", 2)
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
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_short_type(input)} != {_short_type(weight)}")
    if bias is not None:
        _check_tensor("linear", bias, "bias", 3)
        if bias.dtype != input.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{_type_name(bias)} and {_type_name(input)}")
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

# ----------------------------------------------------------------------------- normalization


class _Normalize(Op):
    """``(x - mean) * invstd * weight + bias`` with the statistics taken over ``axes`` of x
    viewed as ``group_shape`` (batch statistics), or given as ``stats`` (running ones).

    ``affine_shape`` is the shape (as many dims as x) that weight and bias take to broadcast
    against x. With ``running`` (mean, var arrays) the batch statistics are folded into them
    in place with ``momentum`` (the variance unbiased), as PyTorch's kernels do."""

    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, *, group_shape, axes, affine_shape, eps,
                stats=None, running=None, momentum=0.0):
        xp = xp_of(x)
        grouped = x.reshape(group_shape)
        if stats is None:
            mean = grouped.mean(axis=axes, keepdims=True)
            normalized = grouped - mean
            var = xp.square(normalized).mean(axis=axes, keepdims=True)
            invstd = 1 / xp.sqrt(var + eps)
            if running is not None:
                _update_running(running, mean, var, momentum,
                                grouped.size // max(mean.size, 1))
            normalized *= invstd
        else:
            mean, invstd = stats
            normalized = (grouped - mean) * invstd
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd = mean, invstd
        ctx.bias_shape = None if bias is None else bias.shape
        ctx.params = (group_shape, axes, affine_shape, eps, stats is None)
        out = normalized.reshape(x.shape)
        if weight is not None:
            out *= weight.reshape(affine_shape)
        if bias is not None:
            out += bias.reshape(affine_shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        group_shape, axes, affine_shape, eps, batch_stats = ctx.params
        grouped = x.reshape(group_shape)
        if batch_stats and _grad_state.enabled:
            # create_graph: the statistics are functions of x for the second derivative
            centered = grouped - grouped.mean(axes, keepdim=True)
            invstd = ((centered * centered).mean(axes, keepdim=True) + eps).rsqrt()
        else:
            centered = grouped - _constant(ctx.mean)
            invstd = _constant(ctx.invstd)
        normalized = centered * invstd
        need_input, need_weight, need_bias = ctx.needs_input_grad[:3]
        affine_axes = tuple(i for i, size in enumerate(affine_shape) if size == 1)
        grad_input = grad_weight = grad_bias = None
        if need_input:
            scaled = grad if weight is None else grad * weight.reshape(affine_shape)
            scaled = scaled.reshape(group_shape)
            if batch_stats:
                scaled = (scaled - scaled.mean(axes, keepdim=True)
                          - normalized * (scaled * normalized).mean(axes, keepdim=True))
            grad_input = (scaled * invstd).reshape(x.shape)
        if need_weight:
            grad_weight = (grad * normalized.reshape(x.shape)).sum(affine_axes).reshape(
                weight.shape)
        if need_bias:
            grad_bias = grad.sum(affine_axes).reshape(ctx.bias_shape)
        return grad_input, grad_weight, grad_bias


def _update_running(running, mean, var, momentum: float, count: int) -> None:
    """Fold batch statistics (one row per sample for instance norm) into the running ones."""
    running_mean, running_var = running
    channels = running_mean.shape[0]
    unbiased = var * (count / (count - 1)) if count > 1 else var
    running_mean *= 1 - momentum
    running_mean += momentum * mean.reshape(-1, channels).mean(axis=0)
    running_var *= 1 - momentum
    running_var += momentum * unbiased.reshape(-1, channels).mean(axis=0)


class _LayerNorm(_Normalize):
    node_name = "NativeLayerNormBackward0"


class _GroupNorm(_Normalize):
    node_name = "NativeGroupNormBackward0"


class _InstanceNorm(_Normalize):
    node_name = "ViewBackward0"


def _verify_batch_size(size) -> None:
    if math.prod(size[:1] + size[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size dark.Size({list(size)})")


def _channel_shape(input: Tensor) -> tuple:
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _check_channels(input: Tensor, tensor, what: str) -> None:
    if tensor is not None and tensor.numel() != input.shape[1]:
        raise RuntimeError(f"{what} should contain {input.shape[1]} elements not "
                           f"{tensor.numel()}")


def _normalize_channels(op, input, running_mean, running_var, weight, bias, use_input_stats,
                        momentum, eps, axes):
    """Batch and instance norm: statistics per channel (dim 1) over ``axes``."""
    for tensor, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                         (weight, "weight"), (bias, "bias")):
        _check_channels(input, tensor, what)
    affine_shape = _channel_shape(input)
    stats = running = None
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation "
                               "mode")
        variance = running_var._data.reshape(affine_shape)
        stats = (running_mean._data.reshape(affine_shape),
                 1 / xp_of(variance).sqrt(variance + eps))
    elif running_mean is not None and running_var is not None:
        running = (running_mean._data, running_var._data)
    out = op.apply(input, weight, bias, group_shape=tuple(input.shape), axes=axes,
                   affine_shape=affine_shape, eps=eps, stats=stats, running=running,
                   momentum=momentum)
    if running is not None:
        running_mean._bump_version()
        running_var._bump_version()
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) of input (N, C, *) by the batch statistics (training)
    or the running ones; in training the running statistics are updated in place
    (``running = (1 - momentum) * running + momentum * batch``, the variance unbiased)."""
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm: expected input with at least 2 dims, got "
                           f"{input.ndim}")
    if training:
        _verify_batch_size(list(input.shape))
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    return _normalize_channels(_Normalize, input, running_mean, running_var, weight, bias,
                               training, momentum, eps, (0,) + tuple(range(2, input.ndim)))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample of input (N, C, *) over its spatial dims; the
    running statistics (if given) take the mean over the batch of the per-sample ones."""
    if input.ndim < 2:
        raise RuntimeError(f"instance_norm: expected input with at least 2 dims, got "
                           f"{input.ndim}")
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size dark.Size({list(input.shape)})")
    return _normalize_channels(_InstanceNorm, input, running_mean, running_var, weight, bias,
                               use_input_stats, momentum, eps, tuple(range(2, input.ndim)))


def _normalized_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized(input: Tensor, shape: tuple, weight, bias) -> None:
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(shape)}")
    if bias is not None and tuple(bias.shape) != shape:
        raise RuntimeError(f"Expected bias to be of same shape as normalized_shape, but got "
                           f"bias of shape {list(bias.shape)} and normalized_shape = "
                           f"{list(shape)}")
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                           f"{list(input.shape)}")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dims; weight and bias have
    ``normalized_shape``."""
    shape = _normalized_shape(normalized_shape)
    _check_normalized(input, shape, weight, bias)
    k = len(shape)
    axes = tuple(range(input.ndim - k, input.ndim))
    affine_shape = (1,) * (input.ndim - k) + shape
    return _LayerNorm.apply(input, weight, bias, group_shape=tuple(input.shape), axes=axes,
                            affine_shape=affine_shape, eps=eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize input (N, C, *) over each group of C / num_groups channels (and the
    spatial dims); weight and bias are per channel (C,)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    size = list(input.shape)
    _verify_batch_size([size[0] * size[1] // num_groups, num_groups] + size[2:])
    channels = size[1]
    if channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {size} and "
                           f"num_groups={num_groups}")
    for tensor, what in ((weight, "weight"), (bias, "bias")):
        if tensor is not None and (tensor.ndim != 1 or tensor.numel() != channels):
            raise RuntimeError(f"Expected {what} to be a vector of size equal to the number "
                               f"of channels in input, but got {what} of shape "
                               f"{list(tensor.shape)} and input of shape {size}")
    return _GroupNorm.apply(input, weight, bias, group_shape=(size[0], num_groups, -1),
                            axes=(2,), affine_shape=_channel_shape(input), eps=eps)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``input * rsqrt(mean(input**2) + eps) * weight`` over the last
    ``len(normalized_shape)`` dims (eps defaults to the dtype's machine epsilon)."""
    shape = _normalized_shape(normalized_shape)
    _check_normalized(input, shape, weight, None)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight

# ----------------------------------------------------------------------------- dropout


class _Dropout(Op):
    """``input * mask`` with a constant mask (zeros and the 1 / (1 - p) scale)."""

    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * _constant(ctx.mask)


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input: Tensor, shape, p: float):
    """0/1 values (1 with probability 1 - p) in input's dtype, from the default generator."""
    array = input._data
    if array.dtype.kind not in "fc":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_type_name(input)}")
    engine = _random._generator_for(None, input.device)._draw()
    if type(array) is np.ndarray:
        draws = engine.uniform(shape, array.dtype)
    else:
        with array.device:
            draws = engine.uniform(shape, array.dtype)
    return (draws < (1 - p)).astype(array.dtype)


def _apply_mask(input: Tensor, mask, inplace: bool, shift=None) -> Tensor:
    def masked(source):
        out = _Dropout.apply(source, mask=mask)
        return out if shift is None else out + _constant(shift)

    return input._inplace(masked) if inplace else masked(input)


def _dropout(input: Tensor, p: float, training: bool, inplace: bool, feature: bool,
             alpha: bool) -> Tensor:
    if p == 0 or not training or input.numel() == 0:
        return input
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(
        input.shape)
    dtype = input._data.dtype
    if p == 1:
        return _apply_mask(input, input._xp().zeros((), dtype=dtype), inplace)
    keep = _keep_mask(input, shape, p)
    if not alpha:
        keep *= dtype.type(1 / (1 - p))
        return _apply_mask(input, keep, inplace)
    selu = 1.7580993408473766
    a = 1.0 / math.sqrt((selu * selu * p + 1) * (1 - p))
    shift = (keep - 1) * dtype.type(selu * a) + dtype.type(selu * a * p)
    keep *= dtype.type(a)
    return _apply_mask(input, keep, inplace, shift)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the others by 1 / (1 - p) (training
    only; otherwise input itself)."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=False, alpha=False)


def _unbatched(function, input: Tensor, inplace: bool) -> Tensor:
    """Channel dropout of an input without its batch dim: as a batch of one."""
    batch = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    out = function(batch)
    return out.squeeze_(0) if inplace else out.squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, L) or (C, L) with probability p."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note "
            "that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    function = lambda x: _dropout(x, p, training, inplace, feature=True, alpha=False)  # noqa: E731
    return function(input) if input.ndim == 3 else _unbatched(function, input, inplace)


def _deprecated_dims(name: str, input: Tensor, dims: tuple, spatial: int) -> None:
    if input.ndim not in dims:
        warnings.warn(
            f"{name}: Received a {input.ndim}-D input to {name}, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            f"warning, please use dropout instead. Note that {name} exists to provide "
            f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel "
            f"dimension, and an optional batch dimension (i.e. {dims[0]}D or {dims[1]}D "
            "inputs).", stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, H, W) with probability p (a 3-D input is taken as
    (N, C, L), with PyTorch's warning)."""
    _check_p(p)
    _deprecated_dims("dropout2d", input, (3, 4), 2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
            "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _dropout(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of input (N, C, D, H, W) or (C, D, H, W) with probability p."""
    _check_p(p)
    _deprecated_dims("dropout3d", input, (4, 5), 3)
    function = lambda x: _dropout(x, p, training, inplace, feature=True, alpha=False)  # noqa: E731
    return function(input) if input.ndim == 5 else _unbatched(function, input, inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    an affine map keeps the mean and variance."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dim 1)."""
    _check_p(p)
    return _dropout(input, p, training, inplace, feature=True, alpha=True)

# ----------------------------------------------------------------------------- embedding


class _Embedding(Op):
    """The rows of weight at ``indices``; the gradient sums over repeated indices (times a
    constant ``scale`` per index: 0 at padding_idx, 1 / count with scale_grad_by_freq)."""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, scale=None):
        ctx.indices, ctx.scale, ctx.rows = indices, scale, weight.shape[0]
        return xp_of(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        if ctx.scale is not None:
            grad = grad * _constant(ctx.scale)
        return _EmbeddingGrad.apply(grad, indices=ctx.indices, rows=ctx.rows)


class _EmbeddingGrad(Op):
    """Rows of zeros with each gradient row added at its index."""

    node_name = "EmbeddingDenseBackward0"

    @staticmethod
    def forward(ctx, grad, indices, rows):
        ctx.indices = indices
        width = grad.shape[-1]
        out = xp_of(grad).zeros((rows, width), dtype=grad.dtype)
        _accumulate(out, None, (indices.reshape(-1),), grad.reshape(-1, width))
        return out

    @staticmethod
    def backward(ctx, grad):
        return _Embedding.apply(grad, indices=ctx.indices)


def _embedding_renorm(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    """Rescale (in place) the rows used whose norm exceeds max_norm to norm max_norm."""
    xp = weight._xp()
    rows = xp.unique(indices)
    values = weight._data[rows]
    norms = xp.linalg.norm(values, ord=norm_type, axis=1)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1).astype(values.dtype)
    weight._data[rows] = values * scale[:, None]
    weight._bump_version()


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of weight (num_embeddings, embedding_dim) at the int64/int32 indices input
    (*) -> (*, embedding_dim). No gradient flows to row ``padding_idx``; ``max_norm``
    renormalizes the rows used, in place. Gradients are dense (``sparse`` is accepted)."""
    _check_tensor("embedding", input, "input", 1)
    _check_tensor("embedding", weight, "weight", 2)
    rows = weight.shape[0] if weight.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -rows:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = rows + padding_idx
    indices = input._data
    if indices.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"dark.{_type_name(input)}Tensor instead (while checking arguments "
                           f"for embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if indices.size and bool(((indices < 0) | (indices >= rows)).any()):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        with no_grad():
            _embedding_renorm(weight, indices, max_norm, norm_type)
    scale = None
    if (padding_idx is not None or scale_grad_by_freq) and weight.requires_grad:
        xp = weight._xp()
        scale = xp.ones(indices.shape, dtype=weight._data.dtype)
        if scale_grad_by_freq:
            counts = xp.bincount(indices.reshape(-1), minlength=rows)
            scale /= counts[indices]
        if padding_idx is not None:
            scale[indices == padding_idx] = 0
        scale = scale[..., None]
    return _Embedding.apply(weight, indices=indices, scale=scale)

# ----------------------------------------------------------------------------- one-hot, distances


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (*, num_classes) with a 1 at each value of the int64 tensor (*); num_classes=-1
    takes the largest value + 1."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = tensor._data
    xp = tensor._xp()
    if values.size == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if int(values.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        largest = int(values.max())
        if num_classes == -1:
            num_classes = largest + 1
        elif num_classes <= largest:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = xp.arange(num_classes, dtype=np.int64)
    return Tensor._make((values[..., None] == classes).astype(np.int64))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` with the norm over ``dim`` (kept)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    from ...ops.elementwise import div  # noqa: PLC0415 - only for out=

    return div(input, denom, out=out)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between x1 and x2 (broadcast together) along ``dim`` (removed):
    each is divided by its norm (at least eps) first, which keeps the result in [-1, 1]."""
    common = _backend.result_type(x1, x2)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_type_name(Tensor._make(np.empty(0, common.np)))}")
    x1 = x1 if x1.is_floating_point() else x1.to(common)
    x2 = x2 if x2.is_floating_point() else x2.to(common)
    shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.expand(shape), x2.expand(shape)
    dim = wrap_dim(dim, len(shape))
    norm1 = vector_norm(x1, 2, dim, keepdim=True).clone()
    norm2 = vector_norm(x2, 2, dim, keepdim=True).clone()
    with no_grad():  # the clamp changes the values, not the gradient (as PyTorch)
        norm1.clamp_min_(eps)
        norm2.clamp_min_(eps)
    return ((x1 / norm1) * (x2 / norm2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim (of the broadcast shape)."""
    last = max(x1.ndim, x2.ndim) - 1
    return (x1 - x2 + eps).norm(p, last, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances between the rows of input (N, M): the N * (N - 1) / 2 entries
    above the diagonal of the distance matrix, row by row."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    first, second = input._xp().triu_indices(input.shape[0], 1)
    return (input[Tensor._make(first)] - input[Tensor._make(second)]).norm(p, 1)
