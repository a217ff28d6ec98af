"""Normalization functions of dark.nn.functional: batch, instance, layer, group and RMS
normalization, and ``normalize`` (division by a p-norm).

The normalizations are fused ops with hand-written backward formulas (written with Tensor
ops, so they can be differentiated again); the running statistics are updated in place as
PyTorch's kernels do."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..._backend import array_module
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import state as _grad_state
from ...ops.elementwise import div

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "normalize", "rms_norm"]


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
        xp = array_module(x)
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
            centered = grouped - Tensor._make(ctx.mean)
            invstd = Tensor._make(ctx.invstd)
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
                 1 / array_module(variance).sqrt(variance + eps))
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


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` with the norm over ``dim`` (kept)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    return div(input, denom, out=out)
