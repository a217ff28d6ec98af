"""Padding and resampling for dark.nn.functional: pad (constant, reflect, replicate,
circular) and interpolate (nearest, nearest-exact, linear, bilinear, trilinear, area).

Every non-constant pad and every interpolation is separable: along each spatial axis, an
output entry is a weighted sum of one or two input entries at precomputed indices. One pair
of Ops does all of them: ``AxisResample`` (gather along the axes) and its adjoint
``AxisResampleAdjoint`` (scatter-add along the axes, by bincount: no add.at); each one's
backward is the other, so they are differentiable any number of times."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Op
from ._util import xp_of

# ----------------------------------------------------------------------------- resampling ops


def _weight_shape(weight, axis: int, ndim: int):
    return weight.reshape((-1,) + (1,) * (ndim - axis - 1))


def _gather(xp, x, plan):
    """Apply a plan: for each (axis, size, terms), x -> sum over (index, weight) of
    take(x, index, axis) * weight."""
    for axis, _, terms in plan:
        out = None
        for index, weight in terms:
            part = xp.take(x, xp.asarray(index), axis=axis)
            if weight is not None:
                part *= xp.asarray(_weight_shape(weight, axis, x.ndim), dtype=x.dtype)
            out = part if out is None else out + part
        x = out
    return x


def _scatter_axis(xp, grad, axis: int, index, size: int):
    """The adjoint of take(., index, axis): entries of grad added to their source rows."""
    moved = xp.moveaxis(grad, axis, -1)
    rows = math.prod(moved.shape[:-1])
    flat = (xp.arange(rows).reshape(-1, 1) * size + xp.asarray(index)).ravel()
    summed = xp.bincount(flat, weights=moved.reshape(-1), minlength=rows * size)
    result = summed.astype(grad.dtype).reshape(moved.shape[:-1] + (size,))
    return xp.moveaxis(result, -1, axis)


def _scatter(xp, grad, plan):
    for axis, size, terms in reversed(plan):
        out = None
        for index, weight in terms:
            part = grad
            if weight is not None:
                part = grad * xp.asarray(_weight_shape(weight, axis, grad.ndim),
                                         dtype=grad.dtype)
            part = _scatter_axis(xp, part, axis, index, size)
            out = part if out is None else out + part
        grad = out
    return grad


class AxisResample(Op):
    """Separable gather along some axes (``plan``: tuple of (axis, input size, terms))."""

    @staticmethod
    def forward(ctx, x, plan=()):
        ctx.plan = plan
        return _gather(xp_of(x), x, plan)

    @staticmethod
    def backward(ctx, grad):
        return AxisResampleAdjoint.apply(grad, plan=ctx.plan)


class AxisResampleAdjoint(Op):
    """The adjoint of AxisResample: scatter-add back to the input's shape."""

    @staticmethod
    def forward(ctx, grad, plan=()):
        ctx.plan = plan
        return _scatter(xp_of(grad), grad, plan)

    @staticmethod
    def backward(ctx, grad):
        return AxisResample.apply(grad, plan=ctx.plan)


_NAMED: dict = {}


def _resample_op(node_name: str):
    """An AxisResample subclass whose grad_fn carries PyTorch's name for the op."""
    if node_name not in _NAMED:
        _NAMED[node_name] = type(node_name.replace("Backward0", ""), (AxisResample,),
                                 {"node_name": node_name})
    return _NAMED[node_name]


# ----------------------------------------------------------------------------- pad

class ConstantPadNd(Op):
    """Pad (or crop, for negative widths) the last dims with a constant."""

    @staticmethod
    def forward(ctx, x, widths=(), value=0):
        ctx.widths = widths
        xp = xp_of(x)
        k = len(widths)
        lead = x.ndim - k
        shape = x.shape[:lead] + tuple(s + a + b for s, (a, b) in zip(x.shape[lead:], widths))
        out = xp.full(shape, value, dtype=x.dtype)
        source = (Ellipsis,) + tuple(slice(max(-a, 0), s - max(-b, 0))
                                     for s, (a, b) in zip(x.shape[lead:], widths))
        target = (Ellipsis,) + tuple(slice(max(a, 0), n - max(b, 0))
                                     for n, (a, b) in zip(shape[lead:], widths))
        out[target] = x[source]
        return out

    @staticmethod
    def backward(ctx, grad):
        return ConstantPadNd.apply(grad, widths=tuple((-a, -b) for a, b in ctx.widths))


def _pad_index(mode: str, size: int, before: int, after: int):
    position = np.arange(-before, size + after)
    if mode == "reflect":
        position = np.abs(position)
        return np.where(position >= size, 2 * (size - 1) - position, position)
    if mode == "replicate":
        return np.clip(position, 0, size - 1)
    # circular: negative widths crop first, the wrap stays inside what is left (as torch)
    low, high = max(-before, 0), size - max(-after, 0)
    return low + (position - low) % (high - low)


_PAD_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
              "circular": "CircularPad{}DBackward0"}


def _pad_widths(pad) -> list:
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type(pad).__name__}")
    for position, value in enumerate(pad):
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(value).__name__} at pos {position}")
    return [int(v) for v in pad]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 dims of input: ``pad = (left, right, top, bottom, ...)``
    starts from the last dim. mode: 'constant' (with ``value``; negative widths crop),
    'reflect', 'replicate' or 'circular'."""
    widths = _pad_widths(pad)
    if len(widths) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(widths) // 2
    if k > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(widths)} and input of "
                           f"dimension {input.dim()}")
    pairs = tuple((widths[2 * (k - 1 - i)], widths[2 * (k - 1 - i) + 1]) for i in range(k))
    shape = tuple(input.shape)
    if mode == "constant":
        for size, (a, b) in zip(shape[input.dim() - k:], pairs):
            if size + a + b < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {a} and {b} "
                                   f"resulted in a negative output size, which is invalid. "
                                   "Check dimension of your input.")
        return ConstantPadNd.apply(input, widths=pairs, value=0 if value is None else value)
    if mode not in _PAD_NAMES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if not 1 <= k <= 3 or input.dim() not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(widths)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    plan = []
    for i, (a, b) in enumerate(pairs):
        axis = input.dim() - k + i
        size = shape[axis]
        if mode == "reflect" and (a >= size or b >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({a}, {b}) "
                               f"at dimension {axis} of input {list(shape)}")
        if mode == "circular" and (a > size or b > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size == 0 or size + a + b <= 0:
            raise RuntimeError(f"input tensor with shape {list(shape)} cannot be padded with "
                               f"{list(widths)} in mode {mode}")
        plan.append((axis, size, ((_pad_index(mode, size, a, b), None),)))
    return _resample_op(_PAD_NAMES[mode].format(k)).apply(input, plan=tuple(plan))


# ----------------------------------------------------------------------------- interpolate

_SPATIAL_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _nearest_index(mode: str, in_size: int, out_size: int, scale):
    """torch's float32 rule: floor(dst * scale) (nearest) or floor((dst + .5) * scale)."""
    ratio = np.float32(1.0 / scale if scale is not None else in_size / out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if mode == "nearest-exact":
        dst = dst + np.float32(0.5)
    return np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)


def _linear_terms(in_size: int, out_size: int, scale, align_corners: bool, np_dtype):
    """Indices and weights of linear interpolation along one axis (torch's source index)."""
    dst = np.arange(out_size, dtype=np_dtype)
    if align_corners:
        ratio = np_dtype((in_size - 1) / (out_size - 1)) if out_size > 1 else np_dtype(0)
        source = dst * ratio
    else:
        ratio = np_dtype(1.0 / scale if scale is not None else in_size / out_size)
        source = np.maximum(ratio * (dst + np_dtype(0.5)) - np_dtype(0.5), np_dtype(0))
    low = np.minimum(source.astype(np.int64), in_size - 1)
    weight_high = np.clip(source - low, 0, 1).astype(np_dtype)
    high = np.minimum(low + 1, in_size - 1)
    return ((low, (1 - weight_high).astype(np_dtype)), (high, weight_high))


def _scale_list(scale_factor, d: int, input: Tensor):
    if isinstance(scale_factor, (tuple, list)):
        if len(scale_factor) != d:
            raise ValueError("Input and scale_factor must have the same number of spatial "
                             "dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and scale_factor of shape "
                             f"{tuple(scale_factor)}. Please provide input tensor in (N, C, "
                             "d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                             "format.")
        return [float(s) for s in scale_factor]
    return [float(scale_factor)] * d


def _output_size(input: Tensor, d: int, size, scales):
    if size is not None:
        if isinstance(size, (tuple, list)):
            if len(size) != d:
                raise ValueError("Input and output must have the same number of spatial "
                                 "dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and output size of {tuple(size)}. "
                                 "Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                                 "and output size in (o1, o2, ...,oK) format.")
            return [int(s) for s in size]
        return [int(size)] * d
    return [math.floor(float(input.shape[2 + i]) * scales[i]) for i in range(d)]


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input to ``size`` or by ``scale_factor``.
    mode: 'nearest' (torch's floor(dst * scale) rule), 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D), 'trilinear' (5-D), 'area' (adaptive average pooling)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if input.dim() not in (3, 4, 5) or mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.dim()}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    d = input.dim() - 2
    if mode in _SPATIAL_MODES and _SPATIAL_MODES[mode] != d:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{_SPATIAL_MODES[mode] + 2}D input")
    if mode == "bicubic" or antialias:
        raise NotImplementedError("dark's interpolate does not implement bicubic or antialias "
                                  "yet")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    scales = _scale_list(scale_factor, d, input) if scale_factor is not None else None
    out_size = _output_size(input, d, size, scales)
    in_size = list(input.shape[2:])
    if any(s <= 0 for s in in_size + out_size):
        names = ["D", "H", "W"][3 - d:]
        given = ", ".join(f"{n}: {s}" for n, s in zip(names, in_size))
        wanted = ", ".join(f"{n}: {s}" for n, s in zip(names, out_size))
        raise RuntimeError("Input and output sizes should be greater than 0, but got input "
                           f"({given}) output ({wanted})")
    if mode == "area":
        from .pooling import _adaptive_avg_pool  # noqa: PLC0415 - pooling imports sampling

        return _adaptive_avg_pool(input, tuple(out_size), d)
    if recompute_scale_factor or scales is None:
        scales = [None] * d
    plan = []
    np_dtype = np.float64 if input.dtype.name == "float64" else np.float32
    for i in range(d):
        if mode in ("nearest", "nearest-exact"):
            terms = ((_nearest_index(mode, in_size[i], out_size[i], scales[i]), None),)
        else:
            terms = _linear_terms(in_size[i], out_size[i], scales[i], align_corners, np_dtype)
        plan.append((2 + i, in_size[i], terms))
    name = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
            "bilinear": "Bilinear", "trilinear": "Trilinear"}[mode]
    return _resample_op(f"Upsample{name}{d}DBackward0").apply(input, plan=tuple(plan))


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate with mode='nearest'."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate with mode='bilinear', align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__ = ["interpolate", "pad", "upsample", "upsample_bilinear", "upsample_nearest"]
