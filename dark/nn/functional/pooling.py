"""Pooling for dark.nn.functional: max/avg pooling (1-D, 2-D, 3-D), adaptive average and max
pooling, lp pooling and max unpooling.

The ops treat every leading dim as a batch dim, so batched and unbatched inputs go through
the same code. Windows are a reshape when stride == kernel, there is no padding and the
size divides (the common case); otherwise a strided sliding-window view of the padded input
(conv's ``window_view``). Max pooling returns PyTorch's indices (flat within each plane,
ties to the first maximum) and scatters its gradient to them (``ScatterFlat``, whose adjoint
``GatherFlat`` is its backward, so second derivatives come out). Average pooling and its
adjoint are linear Ops that are each other's backward."""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ... import _parallel
from ..._kernels.windows import pad_array, window_view
from ..._tensor import Tensor
from ...autograd.function import Op
from ...ops._util import where_or_zero, xp_of

# ----------------------------------------------------------------------------- geometry


def _pool_output(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class _Geometry:
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


def _as_planes(x, d):
    """x (*lead, *spatial) as (B, 1, *spatial), with its lead shape."""
    return x.reshape((-1, 1) + x.shape[x.ndim - d:]), x.shape[:x.ndim - d]


def _lowest(dtype):
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


# ----------------------------------------------------------------------------- max pooling

def _offsets(kernel) -> list:
    return list(itertools.product(*(range(k) for k in kernel)))


def _local_dtype(kernel):
    return np.int8 if math.prod(kernel) < 128 else np.int64


def _argmax_windows(xp, windows, d, with_argmax=True):
    """Max and argmax (an index in the flattened kernel; None without ``with_argmax``) over
    the trailing d kernel dims of a (B, 1, *out, *kernel) view, a few passes per kernel
    offset and no copy of the windows. A running maximum in window order: an offset takes
    the argmax only where strictly greater, so ties keep the first maximum; then a NaN wins,
    the last one, as in torch's kernel."""
    offsets = _offsets(windows.shape[2 + d:])
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


def _tiled_max(xp, x, geometry, with_argmax):
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
        planes, _ = _as_planes(x, d)
        windows = geometry.windows(xp, planes, None)
        offsets = _offsets(geometry.kernel)
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


def _spread(xp, geometry, planes_shape, dtype, part):
    """The adjoint of taking windows: add ``part(k)`` (B, 1, *out) at kernel offset k of
    each window of a zero (B, 1, *spatial) array, one strided add per offset (a copy when
    the windows tile the array: each entry is written once)."""
    if geometry.blocks:
        buffer = xp.empty(planes_shape[:2] + geometry.spatial, dtype=dtype)
        windows = geometry.windows(xp, buffer, None)
        for k, offset in enumerate(_offsets(geometry.kernel)):
            windows[(Ellipsis,) + offset] = part(k)
        return buffer
    padded = tuple(s + 2 * p + e for s, p, e in zip(geometry.spatial, geometry.padding,
                                                    geometry.extra))
    buffer = xp.zeros(planes_shape[:2] + padded, dtype=dtype)
    windows = geometry.windows(xp, buffer, None, padded=True)
    for k, offset in enumerate(_offsets(geometry.kernel)):
        windows[(Ellipsis,) + offset] += part(k)
    if not (any(geometry.padding) or any(geometry.extra)):
        return buffer
    return buffer[(slice(None), slice(None)) + tuple(
        slice(p, p + s) for p, s in zip(geometry.padding, geometry.spatial))]


def _in_threads(xp, function, n: int, entries: int) -> list:
    """``function(start, stop)`` over ranges of the n leading rows, in dark's threads on the
    CPU when the work is large (``_parallel.split``), else once for (0, n)."""
    ranges = _parallel.split(n, entries) if xp is np else [(0, n)]
    return _parallel.map_ranges(function, ranges)


def _by_samples(xp, function, x) -> tuple:
    """``function(x)`` (a tuple of arrays or None, each with x's leading dim) computed on
    ranges of x's leading dim in dark's threads and joined."""
    parts = _in_threads(xp, lambda start, stop: function(x[start:stop]), x.shape[0], x.size)
    if len(parts) == 1:
        return parts[0]
    return tuple(None if part is None else xp.concatenate([p[i] for p in parts])
                 for i, part in enumerate(parts[0]))


class MaxPool(Op):
    """Max pooling; the flat indices are made (and returned) only with ``with_indices``,
    the backward scatters by the window-local argmax."""

    @staticmethod
    def forward(ctx, x, geometry=None, with_indices=False):
        xp = xp_of(x)
        d = len(geometry.kernel)
        with_argmax = with_indices or ctx.needs_input_grad[0]
        lead = x.shape[:x.ndim - d]
        if geometry.blocks:
            values, local = _by_samples(xp, lambda part: _tiled_max(xp, part, geometry,
                                                                    with_argmax), x)
        else:
            planes, lead = _as_planes(x, d)
            windows = geometry.windows(xp, planes, _lowest(x.dtype))
            values, local = _argmax_windows(xp, windows, d, with_argmax)
        values = values.reshape(lead + geometry.out)
        if local is not None:
            local = local.reshape((-1, 1) + geometry.out)
        ctx.geometry, ctx.local, ctx.indices = geometry, local, None
        if not with_indices:
            return values
        ctx.indices = geometry.flat_index(xp, local).reshape(lead + geometry.out)
        ctx.mark_non_differentiable(ctx.indices)
        return values, ctx.indices

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        return ScatterFlat.apply(grad, indices=ctx.indices, geometry=ctx.geometry,
                                 local=ctx.local)


def _max_pool_class(d: int):
    return type(f"MaxPool{d}DWithIndices", (MaxPool,),
                {"node_name": f"MaxPool{d}DWithIndicesBackward0"})


_MAX_POOL = {d: _max_pool_class(d) for d in (1, 2, 3)}


class ScatterFlat(Op):
    """Scatter-add values (*lead, *out) to flat plane ``indices`` of a (*lead, *spatial)
    zero array (max pooling's backward, max_unpool's forward). With ``local`` (the argmax
    within each pooling window) it is one strided add per kernel offset, else a bincount."""

    node_name = "MaxPoolWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, values, indices=None, geometry=None, local=None):
        xp = xp_of(values)
        ctx.indices, ctx.geometry, ctx.local = indices, geometry, None
        spatial = geometry.spatial
        d = len(spatial)
        lead = values.shape[:values.ndim - d]
        if local is not None:
            ctx.local = local
            grad = values.reshape(local.shape)
            if geometry.blocks:
                # windows tile the input: each entry is written once, no zeros to add to
                out = xp.empty(local.shape[:2] + spatial, dtype=values.dtype)

                def scatter(start, stop):
                    windows = geometry.windows(xp, out[start:stop], None)
                    part, part_grad = local[start:stop], grad[start:stop]
                    for k, offset in enumerate(_offsets(geometry.kernel)):
                        where_or_zero(xp, part == k, part_grad,
                                      out=windows[(Ellipsis,) + offset])

                _in_threads(xp, scatter, out.shape[0], out.size)
                return out.reshape(lead + spatial)
            spread = _spread(xp, geometry, local.shape[:2], values.dtype,
                             lambda k: where_or_zero(xp, local == k, grad))
            return spread.reshape(lead + spatial)
        plane = math.prod(spatial)
        flat_values = values.reshape(-1, math.prod(values.shape[values.ndim - d:]))
        offsets = xp.arange(flat_values.shape[0]).reshape(-1, 1) * plane
        flat = (xp.asarray(indices).reshape(flat_values.shape) + offsets).ravel()
        summed = xp.bincount(flat, weights=flat_values.ravel(),
                             minlength=flat_values.shape[0] * plane)
        return summed.astype(values.dtype).reshape(lead + spatial)

    @staticmethod
    def backward(ctx, grad):
        indices = ctx.indices
        if indices is None:
            geometry = ctx.geometry
            local = ctx.local
            indices = geometry.flat_index(xp_of(local), local).reshape(
                tuple(grad.shape[:grad.dim() - len(geometry.spatial)]) + geometry.out)
        return GatherFlat.apply(grad, indices=indices, geometry=ctx.geometry)


class GatherFlat(Op):
    """The entries of x (*lead, *spatial) at flat plane ``indices`` (*lead, *out)."""

    @staticmethod
    def forward(ctx, x, indices=None, geometry=None):
        xp = xp_of(x)
        ctx.indices, ctx.geometry = indices, geometry
        d = len(geometry.spatial)
        planes = x.reshape(-1, math.prod(x.shape[x.ndim - d:]))
        index = xp.asarray(indices).reshape(planes.shape[0], -1)
        return xp.take_along_axis(planes, index, axis=1).reshape(indices.shape)

    @staticmethod
    def backward(ctx, grad):
        return ScatterFlat.apply(grad, indices=ctx.indices, geometry=ctx.geometry)


class MaxUnpool(Op):
    """Put values (*lead, *out) at their flat plane ``indices`` of a zero (*lead, *spatial)
    array (a repeated index keeps one of its values, as torch)."""

    node_name = "MaxUnpool2DBackward0"

    @staticmethod
    def forward(ctx, values, indices=None, geometry=None):
        xp = xp_of(values)
        ctx.indices, ctx.geometry = indices, geometry
        d = len(geometry.spatial)
        lead = values.shape[:values.ndim - d]
        rows = math.prod(lead)
        out = xp.zeros((rows, math.prod(geometry.spatial)), dtype=values.dtype)
        flat = xp.asarray(indices).reshape(rows, -1)
        out[xp.arange(rows).reshape(-1, 1), flat] = values.reshape(rows, -1)
        return out.reshape(lead + geometry.spatial)

    @staticmethod
    def backward(ctx, grad):
        return GatherFlat.apply(grad, indices=ctx.indices, geometry=ctx.geometry)


# ----------------------------------------------------------------------------- avg pooling

def _divisor(xp, geometry, count_include_pad, divisor_override, dtype):
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


class AvgPool(Op):
    @staticmethod
    def forward(ctx, x, geometry=None, count_include_pad=True, divisor_override=None):
        xp = xp_of(x)
        d = len(geometry.kernel)
        ctx.params = (geometry, count_include_pad, divisor_override)
        planes, lead = _as_planes(x, d)
        windows = geometry.windows(xp, planes, 0)
        offsets = _offsets(geometry.kernel)
        first = windows[(Ellipsis,) + offsets[0]]
        total = first.copy() if len(offsets) == 1 else first + windows[(Ellipsis,) + offsets[1]]
        for offset in offsets[2:]:
            total += windows[(Ellipsis,) + offset]
        total /= _divisor(xp, geometry, count_include_pad, divisor_override, x.dtype)
        return total.reshape(lead + geometry.out)

    @staticmethod
    def backward(ctx, grad):
        geometry, count_include_pad, divisor_override = ctx.params
        return AvgPoolAdjoint.apply(grad, geometry=geometry, count_include_pad=count_include_pad,
                                    divisor_override=divisor_override)


class AvgPoolAdjoint(Op):
    """Spread each output gradient over its window, divided by the window's divisor."""

    node_name = "AvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, geometry=None, count_include_pad=True, divisor_override=None):
        xp = xp_of(grad)
        d = len(geometry.kernel)
        ctx.params = (geometry, count_include_pad, divisor_override)
        planes, lead = _as_planes(grad, d)
        divisor = _divisor(xp, geometry, count_include_pad, divisor_override, grad.dtype)
        scaled = (planes / divisor).astype(grad.dtype, copy=False)
        spread = _spread(xp, geometry, planes.shape, grad.dtype, lambda k: scaled)
        return spread.reshape(lead + geometry.spatial)

    @staticmethod
    def backward(ctx, grad):
        geometry, count_include_pad, divisor_override = ctx.params
        return AvgPool.apply(grad, geometry=geometry, count_include_pad=count_include_pad,
                             divisor_override=divisor_override)


_AVG_POOL = {d: type(f"AvgPool{d}D", (AvgPool,), {"node_name": f"AvgPool{d}DBackward0"})
             for d in (1, 2, 3)}
_ADAPTIVE_AVG = {d: type(f"AdaptiveAvgPool{d}D", (AvgPool,),
                         {"node_name": f"AdaptiveAvgPool{d}DBackward0"}) for d in (1, 2, 3)}
_ADAPTIVE_MAX = {d: type(f"AdaptiveMaxPool{d}D", (MaxPool,),
                         {"node_name": f"AdaptiveMaxPool{d}DBackward0"}) for d in (1, 2, 3)}


# ----------------------------------------------------------------------------- adaptive

def _adaptive_ranges(size: int, out: int):
    start = (np.arange(out) * size) // out
    end = -((-(np.arange(out) + 1) * size) // out)
    return start, end


class AdaptiveAvgPoolMatrix(Op):
    """Adaptive average pooling of uneven windows: one averaging matrix per spatial dim."""

    @staticmethod
    def forward(ctx, x, matrices=()):
        ctx.matrices = matrices
        return _apply_matrices(xp_of(x), x, matrices, transpose=False)

    @staticmethod
    def backward(ctx, grad):
        return AdaptiveAvgPoolMatrixAdjoint.apply(grad, matrices=ctx.matrices)


class AdaptiveAvgPoolMatrixAdjoint(Op):
    node_name = "AdaptiveAvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, matrices=()):
        ctx.matrices = matrices
        return _apply_matrices(xp_of(grad), grad, matrices, transpose=True)

    @staticmethod
    def backward(ctx, grad):
        return AdaptiveAvgPoolMatrix.apply(grad, matrices=ctx.matrices)


def _apply_matrices(xp, x, matrices, transpose: bool):
    d = len(matrices)
    for i, matrix in enumerate(matrices):
        matrix = xp.asarray(matrix.T if transpose else matrix, dtype=x.dtype)
        axis = x.ndim - d + i
        x = xp.moveaxis(xp.tensordot(x, matrix, axes=([axis], [1])), -1, axis)
    return xp.ascontiguousarray(x)


def adaptive_avg_pool(input: Tensor, output_size: tuple, d: int) -> Tensor:
    spatial = tuple(input.shape[input.dim() - d:])
    output_size = tuple(s if o is None else o for s, o in zip(spatial, output_size))
    if all(o > 0 and s % o == 0 for s, o in zip(spatial, output_size)):
        kernel = tuple(s // o for s, o in zip(spatial, output_size))
        geometry = _Geometry(spatial, kernel, kernel, (0,) * d, (1,) * d, False)
        return _ADAPTIVE_AVG[d].apply(input, geometry=geometry)
    matrices = []
    for s, o in zip(spatial, output_size):
        matrix = np.zeros((o, s))
        for row, (a, b) in enumerate(zip(*_adaptive_ranges(s, o))):
            matrix[row, a:b] = 1.0 / (b - a)
        matrices.append(matrix)
    return _ADAPTIVE_AVG_MATRIX[d].apply(input, matrices=tuple(matrices))


class AdaptiveMaxPoolGather(MaxPool):
    """Adaptive max pooling of uneven windows: the windows gathered by index (each padded
    to the longest by repeating its last entry, which keeps the first maximum)."""

    @staticmethod
    def forward(ctx, x, geometry=None, ranges=()):
        xp = xp_of(x)
        d = len(ranges)
        planes, lead = _as_planes(x, d)
        index, rows_list = [], []
        for i, (start, end) in enumerate(ranges):
            rows = np.minimum(start[:, None] + np.arange(int((end - start).max())),
                              end[:, None] - 1)
            shape = [1] * (2 * d)
            shape[i], shape[d + i] = rows.shape
            rows_list.append(xp.asarray(rows))
            index.append(xp.asarray(rows.reshape(shape)))
        windows = planes[(slice(None), slice(None)) + tuple(index)]
        values, local = _argmax_windows(xp, windows, d)
        offsets = xp.unravel_index(local, tuple(r.shape[1] for r in rows_list))
        flat = 0
        for i, rows in enumerate(rows_list):
            position = xp.arange(geometry.out[i]).reshape((-1,) + (1,) * (d - 1 - i))
            flat = flat * geometry.spatial[i] + rows[position, offsets[i]]
        indices = flat.astype(np.int64).reshape(lead + geometry.out)
        ctx.geometry, ctx.local, ctx.indices = geometry, None, indices
        ctx.mark_non_differentiable(indices)
        return values.reshape(lead + geometry.out), indices


_ADAPTIVE_AVG_MATRIX = {d: type(f"AdaptiveAvgPool{d}DMatrix", (AdaptiveAvgPoolMatrix,),
                                {"node_name": f"AdaptiveAvgPool{d}DBackward0"})
                        for d in (1, 2, 3)}
_ADAPTIVE_MAX_GATHER = {d: type(f"AdaptiveMaxPool{d}DGather", (AdaptiveMaxPoolGather,),
                                {"node_name": f"AdaptiveMaxPool{d}DBackward0"})
                        for d in (1, 2, 3)}


# ----------------------------------------------------------------------------- public

def _tuple(name: str, what: str, value, d: int, allow_none: bool = False) -> tuple:
    if value is None or (allow_none and isinstance(value, (tuple, list)) and not value):
        return None
    if isinstance(value, numbers.Integral):
        return (int(value),) * d
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * d
    if len(values) != d:
        count = {2: "two", 3: "three"}[d]
        option = "either be omitted, a single int," if allow_none else "either be a single int,"
        raise RuntimeError(f"{name}: {what} must {option} or a tuple of {count} ints")
    return values


def _pool_params(name, d, kernel_size, stride, padding, dilation):
    kernel = _tuple(name, "kernel_size", kernel_size, d)
    stride = _tuple(name, "stride", stride, d, allow_none=True) or kernel
    padding = _tuple(name, "padding", padding, d)
    dilation = _tuple(name, "dilation", dilation, d)
    if any(s == 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(k <= 0 for k in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + " ".join(f"k{a}: {k}" for a, k in zip("DHW"[3 - d:], kernel)))
    if any(v <= 0 for v in dilation):
        raise RuntimeError("dilation should be greater than zero, but got "
                           + " ".join(f"dilation{a}: {v}" for a, v in
                                      zip("DHW"[3 - d:], dilation)))
    for p, k, dl in zip(padding, kernel, dilation):
        if p < 0 or 2 * p > dl * (k - 1) + 1:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={dl}")
    return kernel, stride, padding, dilation


def _pool_geometry(name, d, input, kernel_size, stride, padding, dilation, ceil_mode):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.dim() not in (d + 1, d + 2) or input.numel() == 0:
        raise RuntimeError(f"non-empty {d + 1}D or {d + 2}D (batch mode) tensor expected for "
                           "input")
    kernel, stride, padding, dilation = _pool_params(name, d, kernel_size, stride, padding,
                                                     dilation)
    spatial = tuple(input.shape[input.dim() - d:])
    geometry = _Geometry(spatial, kernel, stride, padding, dilation, bool(ceil_mode))
    if any(o < 1 for o in geometry.out):
        channels = input.shape[input.dim() - d - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (channels,) + spatial))}). "
                           "Calculated output size: "
                           f"({'x'.join(map(str, (channels,) + geometry.out))}). Output size "
                           "is too small")
    return geometry


def _check_1d(name: str, input, message: str | None = None) -> None:
    if not isinstance(input, Tensor) or input.dim() not in (2, 3):
        shape = list(input.shape) if isinstance(input, Tensor) else input
        raise RuntimeError(message or f"{name}: Expected 2D or 3D (batch mode) tensor with "
                           f"optional 0 dim batch size for input, but got:{shape}")


def _dims_message(name: str, input: Tensor) -> str:
    return (f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument "
            f"#1 'self' (while checking arguments for {name})")


def _max_pool(d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geometry = _pool_geometry(f"max_pool{d}d", d, input, kernel_size, stride, padding,
                              dilation, ceil_mode)
    return _MAX_POOL[d].apply(input, geometry=geometry, with_indices=bool(return_indices))


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of (N, C, L) or (C, L); padding pads with -inf; indices
    (with return_indices) are positions along L."""
    _check_1d("max_pool1d", input)
    out = _max_pool(2, input.unsqueeze(-2), (1, _single(kernel_size)),
                    None if stride is None or stride == () else (1, _single(stride)),
                    (0, _single(padding)), (1, _single(dilation)), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def _single(value):
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise RuntimeError(f"expected a single int or a tuple of one int, got {value}")
        return int(value[0])
    return int(value)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W) or (C, H, W); stride defaults to the kernel,
    padding pads with -inf. With return_indices also the flat index (h * W + w) of each
    maximum within its plane (the first one on ties)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(d, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    geometry = _pool_geometry(f"avg_pool{d}d", d, input, kernel_size, stride, padding, 1,
                              ceil_mode)
    return _AVG_POOL[d].apply(input, geometry=geometry, count_include_pad=count_include_pad,
                              divisor_override=divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Average over sliding windows of (N, C, L) or (C, L)."""
    _check_1d("avg_pool1d", input, _dims_message("avg_pool1d", input)
              if isinstance(input, Tensor) else None)
    out = _avg_pool(2, input.unsqueeze(-2), (1, _single(kernel_size)),
                    None if stride is None or stride == () else (1, _single(stride)),
                    (0, _single(padding)), ceil_mode, count_include_pad, None)
    return out.squeeze(-2)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Average over sliding windows of (N, C, H, W) or (C, H, W). The divisor is the window
    clipped to the padded input (count_include_pad) or to the input, or divisor_override."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Average pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_size(name: str, output_size, d: int) -> tuple:
    if output_size is None or isinstance(output_size, numbers.Integral):
        return (output_size,) * d
    sizes = tuple(output_size)
    if len(sizes) != d:
        raise RuntimeError(f"{name}: output_size must be {d}")
    return sizes


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to length output_size (windows
    [floor(i*L/out), ceil((i+1)*L/out)))."""
    _check_1d("adaptive_avg_pool1d", input, _dims_message("adaptive_avg_pool1d", input)
              if isinstance(input, Tensor) else None)
    size = _adaptive_size("adaptive_avg_pool1d", output_size, 1)
    return adaptive_avg_pool(input.unsqueeze(-2), (1,) + size, 2).squeeze(-2)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, H, W) or (C, H, W) to output_size (an int, or a pair whose
    None entries keep the input size)."""
    if input.dim() < 3:
        raise ValueError("Input dimension should be at least 3")
    return adaptive_avg_pool(input, _adaptive_size("adaptive_avg_pool2d", output_size, 2), 2)


def _adaptive_max(d: int, input: Tensor, output_size, return_indices: bool):
    spatial = tuple(input.shape[input.dim() - d:])
    sizes = _adaptive_size(f"adaptive_max_pool{d}d", output_size, d)
    sizes = tuple(s if o is None else int(o) for s, o in zip(spatial, sizes))
    if all(o > 0 and s % o == 0 for s, o in zip(spatial, sizes)):
        kernel = tuple(s // o for s, o in zip(spatial, sizes))
        geometry = _Geometry(spatial, kernel, kernel, (0,) * d, (1,) * d, False)
        return _ADAPTIVE_MAX[d].apply(input, geometry=geometry,
                                      with_indices=bool(return_indices))
    geometry = _Geometry(spatial, (1,) * d, (1,) * d, (0,) * d, (1,) * d, False)
    geometry.out = sizes
    ranges = tuple(_adaptive_ranges(s, o) for s, o in zip(spatial, sizes))
    out, indices = _ADAPTIVE_MAX_GATHER[d].apply(input, geometry=geometry, ranges=ranges)
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) or (C, L) to length output_size."""
    _check_1d("adaptive_max_pool1d", input, _dims_message("adaptive_max_pool1d", input)
              if isinstance(input, Tensor) else None)
    size = _adaptive_size("adaptive_max_pool1d", output_size, 1)
    out = _adaptive_max(2, input.unsqueeze(-2), (1,) + size, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, H, W) or (C, H, W) to output_size; indices as max_pool2d's."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: "
                           f"{list(input.shape)}")
    return _adaptive_max(2, input, output_size, return_indices)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p), over (N, C, L)."""
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs()).mul(_single(kernel_size)).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p), over (N, C, H, W)."""
    kernel = _tuple("lp_pool2d", "kernel_size", kernel_size, 2)
    out = avg_pool2d(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    return (out.sign() * out.abs()).mul(kernel[0] * kernel[1]).pow(1.0 / norm_type)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The inverse of max_pool2d: each value of (N, C, H, W) input put at its flat index in
    a zero (N, C, H_out, W_out) plane."""
    kernel = _tuple("max_unpool2d", "kernel_size", kernel_size, 2)
    stride = _tuple("max_unpool2d", "stride", stride, 2, allow_none=True) or kernel
    padding = _tuple("max_unpool2d", "padding", padding, 2)
    default = tuple((input.shape[-2 + i] - 1) * stride[i] - 2 * padding[i] + kernel[i]
                    for i in range(2))
    if output_size is None:
        spatial = default
    else:
        spatial = tuple(int(s) for s in tuple(output_size)[-2:])
        for i in range(2):
            low, high = default[i] - stride[i], default[i] + stride[i]
            if not low < spatial[i] < high:
                raise ValueError(f"invalid output_size {list(output_size)} (dim {i} must be "
                                 f"between {low} and {high})")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError("Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    index = indices._data
    plane = spatial[0] * spatial[1]
    if index.size and bool(((index < 0) | (index >= plane)).any()):
        bad = int(index[(index < 0) | (index >= plane)].ravel()[0])
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{spatial[0]}x{spatial[1]}")
    geometry = _Geometry(spatial, (1, 1), (1, 1), (0, 0), (1, 1), False)
    return MaxUnpool.apply(input, indices=index, geometry=geometry)


__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d",
           "lp_pool2d", "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool2d"]
