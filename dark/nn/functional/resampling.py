"""Padding and resampling for dark.nn.functional: pad (constant, reflect, replicate,
circular) and interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area,
lanczos; bilinear and bicubic antialiased or not).

Every non-constant pad and every interpolation is separable: along each spatial axis, an
output entry is a weighted sum of a few input entries at precomputed indices (or, for the
cubic and antialiased filters on axes of up to ``_DENSE_LIMIT`` entries, one (out, in)
weight matrix applied by matmul: BLAS beats a gather per tap there). One pair of Ops does
all of them: ``AxisResample`` (gather or matmul along the axes) and its adjoint
``AxisResampleAdjoint`` (scatter-add by bincount, no add.at, or the transposed matmul); each
one's backward is the other, so they are differentiable any number of times."""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from ..._tensor import Tensor
from ...autograd.function import Op
from ...ops._util import check_scalar, matmul, xp_of

# ----------------------------------------------------------------------------- resampling ops


def _weight_shape(weight, axis: int, ndim: int):
    return weight.reshape((-1,) + (1,) * (ndim - axis - 1))


def _apply_matrix(xp, x, matrix, axis: int):
    """Contract ``axis`` of x with the rows of the host matrix (out, in): the axis becomes
    out long. The operands are made contiguous and the last axis is one 2-D product: BLAS
    runs several times slower on transposed or stacked operands."""
    if axis == x.ndim - 1:
        right = xp.asarray(np.ascontiguousarray(matrix.T), dtype=x.dtype)
        out = matmul(x.reshape(-1, x.shape[-1]), right)
        return out.reshape(x.shape[:-1] + (matrix.shape[0],))
    left = xp.asarray(np.ascontiguousarray(matrix), dtype=x.dtype)
    if axis == x.ndim - 2:
        return matmul(left, x)
    return xp.moveaxis(xp.tensordot(x, left, axes=([axis], [1])), -1, axis)


def _gather(xp, x, plan):
    """Apply a plan: for each (axis, size, terms), x -> sum over (index, weight) of
    take(x, index, axis) * weight, or x contracted with the matrix ``terms`` along axis."""
    if not plan:
        return x.copy()
    for axis, _, terms in plan:
        if isinstance(terms, np.ndarray):
            x = _apply_matrix(xp, x, terms, axis)
            continue
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
    if not plan:
        return grad.copy()
    for axis, size, terms in reversed(plan):
        if isinstance(terms, np.ndarray):
            grad = _apply_matrix(xp, grad, terms.T, axis)
            continue
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
    """Separable resampling along some axes (``plan``: tuple of (axis, input size, terms),
    terms a tuple of (index, weight or None) taps or an (out, in) weight matrix)."""

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
        # torch takes the value as a double, then checks it for the dtype (-1 does not fit uint8)
        value = 0 if value is None else check_scalar(float(value), input.dtype)
        return ConstantPadNd.apply(input, widths=pairs, value=value)
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

_SPATIAL_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
# Axes up to this long are resampled by an (out, in) matrix product (cubic and antialiased
# filters); longer ones by a gather per tap, whose cost does not grow with the input length.
_DENSE_LIMIT = 1024


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
        # torch's compiled kernel fuses this multiply-add (see _fma below)
        source = np.maximum(_fma(ratio, (dst + np_dtype(0.5)).astype(np_dtype),
                                 np_dtype(-0.5), np_dtype), np_dtype(0))
    low = np.minimum(source.astype(np.int64), in_size - 1)
    weight_high = np.clip(source - low, 0, 1).astype(np_dtype)
    high = np.minimum(low + 1, in_size - 1)
    return ((low, (1 - weight_high).astype(np_dtype)), (high, weight_high))


# The cubic and antialiased weights follow torch's CPU kernels (UpSample.h's
# area_pixel_compute_scale / area_pixel_compute_source_index / guard_index_and_lambda /
# get_cubic_upsample_coefficients, UpSampleKernel.cpp's _compute_indices_min_size_weights_aa)
# with the same roundings: computed in the input's float type (float32 for float32), with
# the expressions that C++ evaluates in double evaluated in float64, and the compiler's fused
# multiply-adds of the float32 kernels emulated through float64 (the product of two float32
# is exact there). The weights come out equal to torch's bit for bit.

def _fma(a, b, c, np_dtype):
    """a * b + c rounded once to np_dtype (float32: through float64)."""
    if np_dtype == np.float32:
        return (np.asarray(a, np.float64) * np.asarray(b, np.float64)
                + np.asarray(c, np.float64)).astype(np.float32)
    return (np.asarray(a, np_dtype) * np.asarray(b, np_dtype)
            + np.asarray(c, np_dtype)).astype(np_dtype)


def _cubic_convolution1(x, a: float, np_dtype, fused: bool):
    """((a + 2) x - (a + 3)) x x + 1, the cubic kernel on |x| <= 1 (``fused``: the last
    multiply-add fused too, as in torch's antialiasing filter; not in upsample_bicubic2d)."""
    t = (_fma(np_dtype(a + 2), x, -np_dtype(a + 3), np_dtype) * x).astype(np_dtype)
    if fused:
        return _fma(t, x, np_dtype(1), np_dtype)
    return (t * x + np_dtype(1)).astype(np_dtype)


def _cubic_convolution2(x, a: float, np_dtype, fused: bool):
    """((a x - 5 a) x + 8 a) x - 4 a, the cubic kernel on 1 < |x| < 2."""
    t = _fma(np_dtype(a), x, -np_dtype(5 * a), np_dtype)
    t = _fma(t, x, np_dtype(8 * a), np_dtype)
    if fused:
        return _fma(t, x, -np_dtype(4 * a), np_dtype)
    return ((t * x).astype(np_dtype) - np_dtype(4 * a)).astype(np_dtype)


def _area_scale(in_size: int, out_size: int, scale, align_corners: bool, np_dtype):
    """torch's area_pixel_compute_scale: input step per output step."""
    if align_corners:
        return np_dtype(in_size - 1) / np_dtype(out_size - 1) if out_size > 1 else np_dtype(0)
    if scale is not None and scale > 0:
        return np_dtype(1.0 / scale)
    return np_dtype(in_size) / np_dtype(out_size)


def _cubic_taps(in_size: int, out_size: int, scale, align_corners: bool, np_dtype):
    """(index, weight) arrays of shape (4, out) of bicubic interpolation (A = -0.75), with the
    taps that fall outside the input clamped to its border (torch's upsample_bicubic2d)."""
    ratio = _area_scale(in_size, out_size, scale, align_corners, np_dtype)
    dst = np.arange(out_size).astype(np_dtype)
    if align_corners:
        source = (ratio * dst).astype(np_dtype)
    else:
        source = _fma(ratio, (dst + np_dtype(0.5)).astype(np_dtype), np_dtype(-0.5), np_dtype)
    # torch floors with floorf, so a float64 source is rounded to float32 first
    low = np.minimum(np.floor(source.astype(np.float32)).astype(np.int64), in_size - 1)
    lam = np.clip(source - low.astype(np_dtype), 0, 1).astype(np_dtype)
    one = np_dtype(1.0)
    opposite = (one - lam).astype(np_dtype)
    weight = np.stack([_cubic_convolution2((lam + one).astype(np_dtype), -0.75, np_dtype, False),
                       _cubic_convolution1(lam, -0.75, np_dtype, False),
                       _cubic_convolution1(opposite, -0.75, np_dtype, False),
                       _cubic_convolution2((opposite + one).astype(np_dtype), -0.75, np_dtype,
                                          False)])
    index = np.clip(low + np.arange(-1, 3).reshape(-1, 1), 0, in_size - 1)
    return index, weight.astype(np_dtype)


def _sinc(x, np_dtype):
    """sin(pi x) / (pi x), 1 at 0, as torch's sinc_filter (the sine rounded once)."""
    angle = (x * np_dtype(np.pi)).astype(np_dtype)
    safe = np.where(angle == 0, np_dtype(1), angle)
    sine = np.sin(safe.astype(np.float64)).astype(np_dtype)
    return np.where(x == 0, np_dtype(1), (sine / safe).astype(np_dtype)).astype(np_dtype)


def _antialias_filter(mode: str, x, np_dtype):
    """At |x|: the triangle (bilinear), Keys' cubic with a = -0.5 (bicubic) or Lanczos-3."""
    if mode == "bilinear":
        return np.where(x < 1.0, (1.0 - x).astype(np_dtype), 0).astype(np_dtype)
    if mode == "lanczos":
        third = (x.astype(np.float64) / 3.0).astype(np_dtype)
        weight = (_sinc(x, np_dtype) * _sinc(third, np_dtype)).astype(np_dtype)
        return np.where(x < 3.0, weight, 0).astype(np_dtype)
    inner = _cubic_convolution1(x, -0.5, np_dtype, True)
    outer = _cubic_convolution2(x, -0.5, np_dtype, True)
    return np.where(x < 1.0, inner, np.where(x < 2.0, outer, 0)).astype(np_dtype)


def _antialias_taps(mode: str, in_size: int, out_size: int, scale, align_corners: bool,
                    np_dtype):
    """(index, weight) arrays of shape (taps, out) of torch's antialiased resampling: the
    filter stretched by the scale when downsampling (support = scale * filter radius), the
    plain filter when upsampling, normalised to sum 1 over the taps inside the input."""
    ratio = _area_scale(in_size, out_size, scale, align_corners, np_dtype)
    radius = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}[mode]
    if ratio >= 1.0:
        support = np_dtype(radius * float(ratio))
        invscale = np_dtype(1.0 / float(ratio))
    else:
        support, invscale = np_dtype(radius), np_dtype(1.0)
    max_taps = int(math.ceil(support)) * 2 + 1
    center = (float(ratio) * (np.arange(out_size) + 0.5)).astype(np_dtype)
    start = np.trunc((center - support).astype(np.float64) + 0.5).astype(np.int64)
    start = np.maximum(start, 0)
    stop = np.trunc((center + support).astype(np.float64) + 0.5).astype(np.int64)
    count = np.clip(np.minimum(stop, in_size) - start, 0, max_taps)
    taps = np.arange(int(count.max())).reshape(-1, 1)
    distance = (((taps + start).astype(np_dtype) - center).astype(np.float64) + 0.5) * \
        float(invscale)
    weight = _antialias_filter(mode, np.abs(distance.astype(np_dtype)), np_dtype)
    weight = np.where(taps < count, weight, 0).astype(np_dtype)
    total = np.zeros(out_size, np_dtype)
    for row in weight:  # summed tap after tap, as torch does
        total = (total + row).astype(np_dtype)
    weight = np.where(total != 0, weight / np.where(total != 0, total, 1), weight)
    return np.minimum(start + taps, in_size - 1), weight.astype(np_dtype)


@functools.lru_cache(maxsize=64)
def _axis_terms(mode: str, antialias: bool, in_size: int, out_size: int, scale,
                align_corners: bool, np_dtype):
    """One axis's plan terms for the bicubic and antialiased modes: an (out, in) matrix for
    short axes, else (index, weight) taps. Cached (a model resizes the same shapes again and
    again), so read-only."""
    if antialias:
        index, weight = _antialias_taps(mode, in_size, out_size, scale, align_corners, np_dtype)
    else:
        index, weight = _cubic_taps(in_size, out_size, scale, align_corners, np_dtype)
    if in_size <= _DENSE_LIMIT:
        # taps clamped onto the same border entry add up tap after tap, as torch's sums do
        matrix = np.zeros((out_size, in_size), np_dtype)
        rows = np.arange(out_size)
        for tap_index, tap_weight in zip(index, weight):
            matrix[rows, tap_index] += tap_weight
        matrix.flags.writeable = False
        return matrix
    index.flags.writeable = weight.flags.writeable = False
    return tuple(zip(index, weight))


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


def _is_integer(value) -> bool:
    if isinstance(value, Tensor):
        return not value.dtype.is_floating_point
    return isinstance(value, numbers.Integral)


def _size_list(size, d: int, input: Tensor) -> list:
    if isinstance(size, (tuple, list)):
        if len(size) != d:
            raise ValueError("Input and output must have the same number of spatial "
                             "dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and output size of {size}. "
                             "Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                             "and output size in (o1, o2, ...,oK) format.")
        if not all(_is_integer(s) for s in size):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] "
                            "or Tuple[int, int, int], but got size with types "
                            f"{[type(s) for s in size]}")
        return [int(s) for s in size]
    return [int(size)] * d


def _check_mode(input: Tensor, mode: str) -> None:
    d = input.dim() - 2
    if d in (1, 2, 3) and mode in _SPATIAL_MODES and _SPATIAL_MODES[mode] != d \
            and mode != "bicubic":
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{_SPATIAL_MODES[mode] + 2}D input")
    if d not in (1, 2, 3) or mode not in _MODES or _SPATIAL_MODES.get(mode, d) != d:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.dim()}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input to ``size`` or by ``scale_factor``.
    mode: 'nearest' (torch's floor(dst * scale) rule), 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D), 'bicubic' (4-D, A = -0.75, border taps clamped), 'trilinear' (5-D),
    'area' (adaptive average pooling), 'lanczos' (4-D, Lanczos-3, antialias only).
    ``antialias`` (bilinear, bicubic, lanczos; 4-D): when downsampling, the filter is widened
    by the scale and normalised (torch's _upsample_*2d_aa). Linear, cubic and Lanczos modes
    take floating-point input only."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    d = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    out_size = _size_list(size, d, input) if size is not None else None
    scales = _scale_list(scale_factor, d, input) if scale_factor is not None else None
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if out_size is None:
        out_size = [math.floor(float(input.shape[2 + i]) * scales[i]) for i in range(d)]
    if recompute_scale_factor or scales is None or mode == "area":
        scales = [None] * d
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    else:
        _check_mode(input, mode)
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
    if mode not in ("nearest", "nearest-exact") and not input.dtype.is_floating_point:
        # torch rejects other integer types too and resamples uint8 with its own int16
        # fixed-point weights, not reproduced here
        raise NotImplementedError(f"dark's interpolate supports only floating-point input "
                                  f"with mode='{mode}' (got {input.dtype})")
    np_dtype = np.float64 if input.dtype.name == "float64" else np.float32
    name = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
            "bilinear": "Bilinear", "bicubic": "Bicubic", "trilinear": "Trilinear",
            "lanczos": "Lanczos"}[mode]
    if mode == "bicubic" or antialias:
        # the last axis first, as torch's separable kernels; antialiasing leaves an axis
        # whose size does not change untouched (torch skips it)
        plan = tuple((2 + i, in_size[i],
                      _axis_terms(mode, antialias, in_size[i], out_size[i], scales[i],
                                  align_corners, np_dtype))
                     for i in reversed(range(d)) if not antialias or in_size[i] != out_size[i])
        suffix = "AaBackward0" if antialias else "Backward0"
        return _resample_op(f"Upsample{name}{d}D{suffix}").apply(input, plan=plan)
    plan = []
    for i in range(d):
        if mode in ("nearest", "nearest-exact"):
            terms = ((_nearest_index(mode, in_size[i], out_size[i], scales[i]), None),)
        else:
            terms = _linear_terms(in_size[i], out_size[i], scales[i], align_corners, np_dtype)
        plan.append((2 + i, in_size[i], terms))
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
