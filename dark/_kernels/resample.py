"""Separable resampling of raw arrays along axes: the plans of pad's reflect, replicate and
circular modes and of interpolate, and their application.

A plan is a tuple of (axis, input size, terms): along each axis an output entry is a
weighted sum of a few input entries at precomputed indices (``terms``: (index, weight or
None) taps), or, for the cubic and antialiased filters on axes of up to ``_DENSE_LIMIT``
entries, one (out, in) weight matrix applied by matmul (BLAS beats a gather per tap there).
``gather`` applies a plan, ``scatter`` its adjoint (a scatter-add by bincount, no add.at, or
the transposed matmul). The weights follow torch's CPU kernels bit for bit (see
``fma``)."""
from __future__ import annotations

import functools
import math

import numpy as np

from . import matmul

# ----------------------------------------------------------------------------- plans applied


def _weight_shape(weight, axis: int, ndim: int):
    return weight.reshape((-1,) + (1,) * (ndim - axis - 1))


def apply_matrix(xp, x, matrix, axis: int):
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


def gather(xp, x, plan):
    """Apply a plan: for each (axis, size, terms), x -> sum over (index, weight) of
    take(x, index, axis) * weight, or x contracted with the matrix ``terms`` along axis."""
    if not plan:
        return x.copy()
    for axis, _, terms in plan:
        if isinstance(terms, np.ndarray):
            x = apply_matrix(xp, x, terms, axis)
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


def scatter(xp, grad, plan):
    if not plan:
        return grad.copy()
    for axis, size, terms in reversed(plan):
        if isinstance(terms, np.ndarray):
            grad = apply_matrix(xp, grad, terms.T, axis)
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


def pad_constant(xp, x, widths, value):
    """x with its last len(widths) dims padded (or cropped, for negative widths) by
    ``widths`` ((before, after) per dim) with ``value``."""
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


def pad_index(mode: str, size: int, before: int, after: int):
    position = np.arange(-before, size + after)
    if mode == "reflect":
        position = np.abs(position)
        return np.where(position >= size, 2 * (size - 1) - position, position)
    if mode == "replicate":
        return np.clip(position, 0, size - 1)
    # circular: negative widths crop first, the wrap stays inside what is left (as torch)
    low, high = max(-before, 0), size - max(-after, 0)
    return low + (position - low) % (high - low)


# ----------------------------------------------------------------------------- interpolation

# Axes up to this long are resampled by an (out, in) matrix product (cubic and antialiased
# filters); longer ones by a gather per tap, whose cost does not grow with the input length.
_DENSE_LIMIT = 1024


def nearest_index(mode: str, in_size: int, out_size: int, scale):
    """torch's float32 rule: floor(dst * scale) (nearest) or floor((dst + .5) * scale)."""
    ratio = np.float32(1.0 / scale if scale is not None else in_size / out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if mode == "nearest-exact":
        dst = dst + np.float32(0.5)
    return np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)


def linear_terms(in_size: int, out_size: int, scale, align_corners: bool, np_dtype):
    """Indices and weights of linear interpolation along one axis (torch's source index)."""
    dst = np.arange(out_size, dtype=np_dtype)
    if align_corners:
        ratio = np_dtype((in_size - 1) / (out_size - 1)) if out_size > 1 else np_dtype(0)
        source = dst * ratio
    else:
        ratio = np_dtype(1.0 / scale if scale is not None else in_size / out_size)
        # torch's compiled kernel fuses this multiply-add (see fma below)
        source = np.maximum(fma(ratio, (dst + np_dtype(0.5)).astype(np_dtype),
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

def fma(a, b, c, np_dtype):
    """a * b + c rounded once to np_dtype (float32: through float64)."""
    if np_dtype == np.float32:
        return (np.asarray(a, np.float64) * np.asarray(b, np.float64)
                + np.asarray(c, np.float64)).astype(np.float32)
    return (np.asarray(a, np_dtype) * np.asarray(b, np_dtype)
            + np.asarray(c, np_dtype)).astype(np_dtype)


def _cubic_convolution1(x, a: float, np_dtype, fused: bool):
    """((a + 2) x - (a + 3)) x x + 1, the cubic kernel on |x| <= 1 (``fused``: the last
    multiply-add fused too, as in torch's antialiasing filter; not in upsample_bicubic2d)."""
    t = (fma(np_dtype(a + 2), x, -np_dtype(a + 3), np_dtype) * x).astype(np_dtype)
    if fused:
        return fma(t, x, np_dtype(1), np_dtype)
    return (t * x + np_dtype(1)).astype(np_dtype)


def _cubic_convolution2(x, a: float, np_dtype, fused: bool):
    """((a x - 5 a) x + 8 a) x - 4 a, the cubic kernel on 1 < |x| < 2."""
    t = fma(np_dtype(a), x, -np_dtype(5 * a), np_dtype)
    t = fma(t, x, np_dtype(8 * a), np_dtype)
    if fused:
        return fma(t, x, -np_dtype(4 * a), np_dtype)
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
        source = fma(ratio, (dst + np_dtype(0.5)).astype(np_dtype), np_dtype(-0.5), np_dtype)
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
def axis_terms(mode: str, antialias: bool, in_size: int, out_size: int, scale,
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
