"""Pooling kernels on raw arrays: max pooling with its argmax (flat within each plane, ties
to the first maximum, a NaN wins, as PyTorch), average pooling with PyTorch's divisors,
adaptive pooling of uneven windows, and the adjoints (scatters and spreads) of each.

The kernels treat every leading dim as a batch dim (an array is viewed as (B, 1, *spatial)
planes). Windows are a reshape when stride == kernel, there is no padding and the size
divides (the common case, ``Geometry.blocks``); otherwise a strided sliding-window view of
the padded input (``windows.window_view``). On the CPU, large batches are split over dark's
threads."""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import _parallel
from . import passes_numba
from .elementwise import where_or_zero
from .numba_jit import FLOATS
from .windows import pad_array, window_view

# ----------------------------------------------------------------------------- geometry


def _pool_output(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class Geometry:
    """Sizes of a pooling over the last d dims, and whether windows are a plain reshape."""

    def __init__(self, spatial, kernel, stride, padding, dilation, ceil_mode):
        self.spatial = tuple(spatial)
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.out = tuple(_pool_output(*v, ceil_mode) for v in
                         zip(spatial, kernel, stride, padding, dilation))
        # right padding beyond `padding` so that every (ceil_mode) window fits in the buffer
        self.extra = tuple(max(0, (o - 1) * s + dl * (k - 1) + 1 - (n + 2 * p)) for
                           o, s, dl, k, n, p in zip(self.out, stride, dilation, kernel,
                                                    spatial, padding))
        self.blocks = (stride == kernel and not any(padding) and all(v == 1 for v in dilation)
                       and all(n == o * k for n, o, k in zip(spatial, self.out, kernel)))

    def windows(self, xp, x, fill, padded: bool = False):
        """(B, 1, *out, *kernel) windows of x (B, 1, *spatial), a view; ``padded``: x is
        already padded (and extended) by this geometry."""
        d = len(self.kernel)
        if self.blocks:
            split = x.reshape(x.shape[:2] + tuple(v for pair in zip(self.out, self.kernel)
                                                  for v in pair))
            return split.transpose((0, 1) + tuple(range(2, 2 + 2 * d, 2))
                                   + tuple(range(3, 3 + 2 * d, 2)))
        if not padded:
            x = pad_array(xp, x, self.padding, fill, self.extra)
        return window_view(xp, x, self.out, self.kernel, self.stride, self.dilation)

    def flat_index(self, xp, local):
        """The flat index within the input plane of the window entry ``local`` (an index in
        the flattened kernel; shape (..., *out)) of each output position: the flat offset of
        the kernel entry plus that of the window's start, one lookup and one add."""
        offsets = np.unravel_index(np.arange(math.prod(self.kernel)), self.kernel)
        entry = np.zeros(len(offsets[0]), dtype=np.int64)
        start = np.zeros((), dtype=np.int64)
        for i, size in enumerate(self.spatial):
            entry = entry * size + offsets[i] * self.dilation[i]
            begin = np.arange(self.out[i], dtype=np.int64) * self.stride[i] - self.padding[i]
            start = start[..., None] * size + begin
        flat = xp.asarray(entry)[local.reshape(-1, start.size)]
        flat += xp.asarray(start.reshape(-1))
        return flat.reshape(local.shape)


def as_planes(x, d):
    """x (*lead, *spatial) as (B, 1, *spatial), with its lead shape."""
    return x.reshape((-1, 1) + x.shape[x.ndim - d:]), x.shape[:x.ndim - d]


def lowest(dtype):
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


# ----------------------------------------------------------------------------- max pooling

def kernel_offsets(kernel) -> list:
    return list(itertools.product(*(range(k) for k in kernel)))


def _local_dtype(kernel):
    return np.int8 if math.prod(kernel) < 128 else np.int64


def argmax_windows(xp, windows, d, with_argmax=True):
    """Max and argmax (an index in the flattened kernel; None without ``with_argmax``) over
    the trailing d kernel dims of a (B, 1, *out, *kernel) view, a few passes per kernel
    offset and no copy of the windows. A running maximum in window order: an offset takes
    the argmax only where strictly greater, so ties keep the first maximum; then a NaN wins,
    the last one, as in torch's kernel."""
    offsets = kernel_offsets(windows.shape[2 + d:])
    best = windows[(Ellipsis,) + offsets[0]].copy()
    if not with_argmax:
        for offset in offsets[1:]:
            xp.maximum(best, windows[(Ellipsis,) + offset], out=best)
        return best, None
    dtype = _local_dtype(windows.shape[2 + d:])
    local = None
    for k, offset in enumerate(offsets[1:], 1):
        window = windows[(Ellipsis,) + offset]
        local = _choose(xp, local, (None,) * len(offsets), k, 1, xp.greater(window, best),
                        dtype)
        xp.maximum(best, window, out=best)
    if local is None:
        local = xp.zeros(best.shape, dtype=dtype)
    _nan_argmax(xp, best, local, lambda k: windows[(Ellipsis,) + offsets[k]], len(offsets))
    return best, local


def _nan_argmax(xp, best, local, window, count):
    """Where a window holds a NaN, its argmax is its last NaN (torch's rule)."""
    if best.dtype.kind == "f":
        nan = xp.isnan(best)
        if nan.any():
            for k in range(count):
                xp.copyto(local, k, where=nan & xp.isnan(window(k)))


def tiled_max(xp, x, geometry, with_argmax):
    """Max (and, with ``with_argmax``, the argmax within each window, an index in the
    flattened kernel, or None) of x (*lead, *spatial) whose windows tile it (``blocks``).
    One spatial dim at a time, the last first: the maximum of its k strided slices, so each
    pass makes a contiguous array and later passes read long contiguous runs. The argmax is
    carried along: a slice replaces it only where strictly greater (ties keep the first
    maximum in window order); windows with a NaN are redone by the general rule."""
    d = len(geometry.kernel)
    best, local = x, None
    stride = 1
    dtype = _local_dtype(geometry.kernel)
    for axis in range(d - 1, -1, -1):
        k = geometry.kernel[axis]
        if k > 1:
            tail = (slice(None),) * (d - 1 - axis)
            parts = [best[(Ellipsis, slice(j, None, k)) + tail] for j in range(k)]
            locals_ = ([None] * k if local is None else
                       [local[(Ellipsis, slice(j, None, k)) + tail] for j in range(k)])
            best, local = _max_of_slices(xp, parts, locals_, stride, dtype, with_argmax)
        stride *= k
    if best is x:  # a 1x...x1 kernel
        best = x.copy()
    if not with_argmax:
        return best, None
    if local is None:
        local = xp.zeros(best.shape, dtype=dtype)
    if best.dtype.kind == "f" and xp.isnan(best).any():
        planes, _ = as_planes(x, d)
        windows = geometry.windows(xp, planes, None)
        offsets = kernel_offsets(geometry.kernel)
        local = local.reshape(windows.shape[:2 + d])
        _nan_argmax(xp, best.reshape(local.shape), local,
                    lambda k: windows[(Ellipsis,) + offsets[k]], len(offsets))
        local = local.reshape(best.shape)
    return best, local


def _max_of_slices(xp, parts, locals_, stride, dtype, with_argmax):
    """The maximum of ``parts`` (the k slices of one dim) and, with ``with_argmax``, the
    argmax ``locals_[j] + j * stride`` of the first slice that reaches it (``locals_``: the
    argmax so far within each slice, all None before the first dim)."""
    best = xp.maximum(parts[0], parts[1])
    local = None
    if with_argmax:
        local = _choose(xp, None, locals_, 1, stride, xp.greater(parts[1], parts[0]), dtype)
    for j in range(2, len(parts)):
        if with_argmax:
            local = _choose(xp, local, locals_, j, stride, xp.greater(parts[j], best), dtype)
        xp.maximum(best, parts[j], out=best)
    return best, local


def _choose(xp, local, locals_, j, stride, greater, dtype):
    """The argmax after slice j: slice j's (``locals_[j] + j * stride``) where ``greater``,
    else the one so far (``local``, or slice 0's when None)."""
    offset = dtype(j * stride)
    if locals_[j] is None:
        # j * stride is larger than every argmax so far: "set where greater" is a maximum
        candidate = greater.astype(dtype)
        if j * stride != 1:
            candidate *= offset
        return candidate if local is None else xp.maximum(local, candidate, out=local)
    if local is None:
        local = locals_[0].copy()
    # local + greater * (candidate - local), in the argmax's small integer dtype
    candidate = locals_[j] + offset
    candidate -= local
    candidate *= greater
    local += candidate
    return local


def spread(xp, geometry, planes_shape, dtype, part):
    """The adjoint of taking windows: add ``part(k)`` (B, 1, *out) at kernel offset k of
    each window of a zero (B, 1, *spatial) array, one strided add per offset (a copy when
    the windows tile the array: each entry is written once)."""
    if geometry.blocks:
        buffer = xp.empty(planes_shape[:2] + geometry.spatial, dtype=dtype)
        windows = geometry.windows(xp, buffer, None)
        for k, offset in enumerate(kernel_offsets(geometry.kernel)):
            windows[(Ellipsis,) + offset] = part(k)
        return buffer
    padded = tuple(s + 2 * p + e for s, p, e in zip(geometry.spatial, geometry.padding,
                                                    geometry.extra))
    buffer = xp.zeros(planes_shape[:2] + padded, dtype=dtype)
    windows = geometry.windows(xp, buffer, None, padded=True)
    for k, offset in enumerate(kernel_offsets(geometry.kernel)):
        windows[(Ellipsis,) + offset] += part(k)
    if not (any(geometry.padding) or any(geometry.extra)):
        return buffer
    return buffer[(slice(None), slice(None)) + tuple(
        slice(p, p + s) for p, s in zip(geometry.padding, geometry.spatial))]


def in_threads(xp, function, n: int, entries: int) -> list:
    """``function(start, stop)`` over ranges of the n leading rows, in dark's threads on the
    CPU when the work is large (``_parallel.split``), else once for (0, n)."""
    ranges = _parallel.split(n, entries) if xp is np else [(0, n)]
    return _parallel.map_ranges(function, ranges)


def by_samples(xp, function, x) -> tuple:
    """``function(x)`` (a tuple of arrays or None, each with x's leading dim) computed on
    ranges of x's leading dim in dark's threads and joined."""
    parts = in_threads(xp, lambda start, stop: function(x[start:stop]), x.shape[0], x.size)
    if len(parts) == 1:
        return parts[0]
    return tuple(None if part is None else xp.concatenate([p[i] for p in parts])
                 for i, part in enumerate(parts[0]))


def max_pool(xp, x, geometry, with_argmax: bool):
    """(values, local): the maxima of x's windows, (*lead, *out), and with ``with_argmax``
    the argmax within each window (an index in the flattened kernel) as (B, 1, *out), else
    None."""
    d = len(geometry.kernel)
    lead = x.shape[:x.ndim - d]
    if geometry.blocks:
        values, local = by_samples(xp, lambda part: tiled_max(xp, part, geometry,
                                                               with_argmax), x)
    else:
        planes, lead = as_planes(x, d)
        windows = geometry.windows(xp, planes, lowest(x.dtype))
        values, local = argmax_windows(xp, windows, d, with_argmax)
    values = values.reshape(lead + geometry.out)
    if local is not None:
        local = local.reshape((-1, 1) + geometry.out)
    return values, local


def scatter_to_argmax(xp, values, geometry, local):
    """Max pooling's backward: each of ``values`` (*lead, *out) added at its window's argmax
    ``local`` (B, 1, *out) of a zero (*lead, *spatial) array, one strided select per kernel
    offset."""
    spatial = geometry.spatial
    lead = values.shape[:values.ndim - len(spatial)]
    grad = values.reshape(local.shape)
    if geometry.blocks:
        # windows tile the input: each entry is written once, no zeros to add to
        out = xp.empty(local.shape[:2] + spatial, dtype=values.dtype)
        kernel = None
        if xp is np and geometry.kernel == (2, 2) and local.dtype == np.int8 and \
                values.dtype in FLOATS:
            kernel = passes_numba.max_pool_2x2_backward(out.size)
            if kernel is not None:
                grad, local = np.ascontiguousarray(grad), np.ascontiguousarray(local)

        def scatter(start, stop):
            if kernel is not None:  # one compiled pass, the numpy path's bits
                kernel(local[start:stop].reshape((-1,) + local.shape[2:]),
                       grad[start:stop].reshape((-1,) + grad.shape[2:]),
                       out[start:stop].reshape((-1,) + spatial))
                return
            windows = geometry.windows(xp, out[start:stop], None)
            part, part_grad = local[start:stop], grad[start:stop]
            for k, offset in enumerate(kernel_offsets(geometry.kernel)):
                where_or_zero(xp, part == k, part_grad, out=windows[(Ellipsis,) + offset])

        in_threads(xp, scatter, out.shape[0], out.size)
        return out.reshape(lead + spatial)
    spread_out = spread(xp, geometry, local.shape[:2], values.dtype,
                        lambda k: where_or_zero(xp, local == k, grad))
    return spread_out.reshape(lead + spatial)


def scatter_flat(xp, values, indices, spatial):
    """``values`` (*lead, *out) added at their flat plane ``indices`` of a zero (*lead,
    *spatial) array, by a bincount."""
    d = len(spatial)
    lead = values.shape[:values.ndim - d]
    plane = math.prod(spatial)
    flat_values = values.reshape(-1, math.prod(values.shape[values.ndim - d:]))
    offsets = xp.arange(flat_values.shape[0]).reshape(-1, 1) * plane
    flat = (xp.asarray(indices).reshape(flat_values.shape) + offsets).ravel()
    summed = xp.bincount(flat, weights=flat_values.ravel(),
                         minlength=flat_values.shape[0] * plane)
    return summed.astype(values.dtype).reshape(lead + tuple(spatial))


def gather_flat(xp, x, indices, spatial):
    """The entries of x (*lead, *spatial) at flat plane ``indices`` (*lead, *out)."""
    planes = x.reshape(-1, math.prod(x.shape[x.ndim - len(spatial):]))
    index = xp.asarray(indices).reshape(planes.shape[0], -1)
    return xp.take_along_axis(planes, index, axis=1).reshape(indices.shape)


def unpool(xp, values, indices, spatial):
    """``values`` (*lead, *out) put at their flat plane ``indices`` of a zero (*lead,
    *spatial) array (a repeated index keeps one of its values, as torch)."""
    lead = values.shape[:values.ndim - len(spatial)]
    rows = math.prod(lead)
    out = xp.zeros((rows, math.prod(spatial)), dtype=values.dtype)
    flat = xp.asarray(indices).reshape(rows, -1)
    out[xp.arange(rows).reshape(-1, 1), flat] = values.reshape(rows, -1)
    return out.reshape(lead + tuple(spatial))


# ----------------------------------------------------------------------------- avg pooling

def divisor(xp, geometry, count_include_pad, divisor_override, dtype):
    """The divisor of each window, torch's rule: the window clipped to the padded input
    (count_include_pad) or to the input, or divisor_override."""
    if divisor_override:
        return dtype.type(divisor_override)
    if geometry.blocks:
        return dtype.type(math.prod(geometry.kernel))
    d = len(geometry.kernel)
    result = 1
    for i in range(d):
        start = np.arange(geometry.out[i]) * geometry.stride[i] - geometry.padding[i]
        end = np.minimum(start + geometry.kernel[i], geometry.spatial[i] + geometry.padding[i])
        if count_include_pad:
            count = end - start
        else:
            count = np.minimum(end, geometry.spatial[i]) - np.maximum(start, 0)
        result = result * count.reshape((-1,) + (1,) * (d - 1 - i))
    return xp.asarray(result.astype(dtype))


def avg_pool(xp, x, geometry, count_include_pad: bool, divisor_override):
    """The averages of x's windows (*lead, *out), with PyTorch's divisors."""
    d = len(geometry.kernel)
    planes, lead = as_planes(x, d)
    windows = geometry.windows(xp, planes, 0)
    offsets = kernel_offsets(geometry.kernel)
    first = windows[(Ellipsis,) + offsets[0]]
    total = first.copy() if len(offsets) == 1 else first + windows[(Ellipsis,) + offsets[1]]
    for offset in offsets[2:]:
        total += windows[(Ellipsis,) + offset]
    total /= divisor(xp, geometry, count_include_pad, divisor_override, x.dtype)
    return total.reshape(lead + geometry.out)


def avg_pool_adjoint(xp, grad, geometry, count_include_pad: bool, divisor_override):
    """The adjoint of avg_pool: each of grad (*lead, *out) spread over its window, divided
    by the window's divisor, into (*lead, *spatial)."""
    d = len(geometry.kernel)
    planes, lead = as_planes(grad, d)
    scale = divisor(xp, geometry, count_include_pad, divisor_override, grad.dtype)
    scaled = (planes / scale).astype(grad.dtype, copy=False)
    out = spread(xp, geometry, planes.shape, grad.dtype, lambda k: scaled)
    return out.reshape(lead + geometry.spatial)


# ----------------------------------------------------------------------------- adaptive

def adaptive_ranges(size: int, out: int):
    start = (np.arange(out) * size) // out
    end = -((-(np.arange(out) + 1) * size) // out)
    return start, end


def adaptive_matrices(spatial, output_size) -> tuple:
    """The (out, in) averaging matrix of adaptive average pooling along each spatial dim."""
    matrices = []
    for s, o in zip(spatial, output_size):
        matrix = np.zeros((o, s))
        for row, (a, b) in enumerate(zip(*adaptive_ranges(s, o))):
            matrix[row, a:b] = 1.0 / (b - a)
        matrices.append(matrix)
    return tuple(matrices)


def apply_matrices(xp, x, matrices, transpose: bool):
    d = len(matrices)
    for i, matrix in enumerate(matrices):
        matrix = xp.asarray(matrix.T if transpose else matrix, dtype=x.dtype)
        axis = x.ndim - d + i
        x = xp.moveaxis(xp.tensordot(x, matrix, axes=([axis], [1])), -1, axis)
    return xp.ascontiguousarray(x)


def adaptive_max_gather(xp, x, geometry, ranges):
    """(values, indices): adaptive max pooling of uneven windows (``ranges``: the windows'
    (start, end) along each dim), the windows gathered by index (each padded to the longest
    by repeating its last entry, which keeps the first maximum); indices flat in the plane."""
    d = len(ranges)
    planes, lead = as_planes(x, d)
    index, rows_list = [], []
    for i, (start, end) in enumerate(ranges):
        rows = np.minimum(start[:, None] + np.arange(int((end - start).max())),
                          end[:, None] - 1)
        shape = [1] * (2 * d)
        shape[i], shape[d + i] = rows.shape
        rows_list.append(xp.asarray(rows))
        index.append(xp.asarray(rows.reshape(shape)))
    windows = planes[(slice(None), slice(None)) + tuple(index)]
    values, local = argmax_windows(xp, windows, d)
    offsets = xp.unravel_index(local, tuple(r.shape[1] for r in rows_list))
    flat = 0
    for i, rows in enumerate(rows_list):
        position = xp.arange(geometry.out[i]).reshape((-1,) + (1,) * (d - 1 - i))
        flat = flat * geometry.spatial[i] + rows[position, offsets[i]]
    indices = flat.astype(np.int64).reshape(lead + geometry.out)
    return values.reshape(lead + geometry.out), indices
