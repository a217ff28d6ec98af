"""Convolution kernels on raw arrays: conv(x, weight), its adjoint in x (conv_transpose) and
in the weight, unfold (im2col) and fold (col2im).

Forward is im2col: a strided sliding-window view of the padded input (no copy) is gathered
into a (groups, C/groups * prod(kernel), n * prod(out)) column buffer and multiplied by the
weight in ONE matmul per chunk of samples. The adjoint in x scatters the columns back by
col2im: one strided add per kernel offset. A 2-D convolution with stride 1 runs on the
padded input flattened per plane instead (the "flat shifts": one contiguous run per kernel
offset), and, on the CPU where it costs clearly less (``fourier``, ``winograd``: the cheaper
estimate of the two), in the frequencies of the discrete Fourier transform
(conv_fourier.py) or, 3x3 kernels, by Winograd's minimal filtering (conv_winograd.py). On
the CPU the chunks of a batch are spread over dark's threads (``_map``)."""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import _parallel
from . import conv_fourier, conv_winograd, matmul
from .windows import pad_array, window_view

# ----------------------------------------------------------------------------- geometry


def _add_windows(xp, buffer, columns, stride, dilation):
    """Add each window entry of ``columns`` (N, C, *out, *kernel) into the padded buffer
    (N, C, *padded), one strided add per kernel offset (the entries of one offset never
    overlap)."""
    d = len(stride)
    kernel = columns.shape[2 + d:]
    windows = window_view(xp, buffer, columns.shape[2:2 + d], kernel, stride, dilation)
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = (Ellipsis,) + offset
        windows[index] += columns[index]


def _crop(buffer, spatial, padding):
    if not any(padding) and buffer.shape[2:] == tuple(spatial):
        return buffer
    return buffer[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in
                                                     zip(padding, spatial))]


def _padded_zeros(xp, lead, spatial, padding, dtype, extra=None):
    extra = extra or (0,) * len(spatial)
    return xp.zeros(tuple(lead) + tuple(s + 2 * p + e for s, p, e in
                                        zip(spatial, padding, extra)), dtype=dtype)


def col2im(xp, columns, spatial: tuple, padding: tuple, stride: tuple, dilation: tuple):
    """The adjoint of ``window_view`` of a padded input: add each window entry of
    ``columns`` (N, C, *out, *kernel) back to its place in an (N, C, *spatial) array."""
    buffer = _padded_zeros(xp, columns.shape[:2], spatial, padding, columns.dtype)
    _add_windows(xp, buffer, columns, stride, dilation)
    return _crop(buffer, spatial, padding)


# The im2col buffers are filled and used a few samples at a time, this many entries (16 MB of
# float32) at most, in each thread: a buffer is consumed while still in the cache, and the
# memory held stays bounded for any batch. Both larger and smaller chunks made the MNIST CNN
# step slower (benchmarks/mnist_epoch.py --models cnn times it).
_CHUNK_ENTRIES = 1 << 22
# A chunk handed to another thread costs a handoff (dark._parallel's): smaller work than
# this (1 MB of float32 columns) runs whole in the calling thread.
_MIN_PART_ENTRIES = 1 << 18


def _chunks(xp, n: int, per_sample: int, limit: int | None = None) -> list:
    """The sample ranges of a batch of n, each within ``limit`` entries (_CHUNK_ENTRIES by
    default); on the CPU, when the work is large enough, in a multiple of the threads that
    _map spreads them over (equal parts keep the threads equally busy), none under
    _MIN_PART_ENTRIES."""
    if n == 0:  # an empty batch: one empty chunk, so that its results have their shapes
        return [(0, 0)]
    total = n * max(per_sample, 1)
    parts = -(-total // (limit or _CHUNK_ENTRIES))
    threads = _parallel.workers() if xp is np else 1
    if threads > 1:
        parts = max(parts, min(-(-parts // threads) * threads, total // _MIN_PART_ENTRIES))
    parts = min(parts, n)
    step = -(-n // parts)
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def _map(xp, function, chunks) -> list:
    """``function(start, stop)`` of each chunk: on the CPU spread over dark's threads (each
    chunk's copies and matmul are independent), on the GPU in order."""
    if xp is np:
        return _parallel.map_ranges(function, chunks)
    return [function(*chunk) for chunk in chunks]


def _column_source(xp, x, out_shape, kernel, stride, padding, dilation, groups):
    """(chunks, columns): the sample ranges of x and ``columns(start, stop)``, the im2col
    buffer (groups, C/groups * prod(kernel), n * prod(out_shape)) of samples start:stop, so
    that each chunk is ONE matmul per group (few large BLAS calls)."""
    d = len(kernel)
    windows = window_view(xp, pad_array(xp, x, padding), out_shape, kernel, stride, dilation)
    order = (1,) + tuple(range(2 + d, 2 + 2 * d)) + (0,) + tuple(range(2, 2 + d))
    windows = windows.transpose(order)
    rows = x.shape[1] // groups * math.prod(kernel)
    size = math.prod(out_shape)

    def columns(start, stop):
        part = xp.empty(windows.shape[:1 + d] + (stop - start,) + windows.shape[2 + d:],
                        dtype=x.dtype)
        xp.copyto(part, windows[(slice(None),) * (1 + d) + (slice(start, stop),)])
        return part.reshape(groups, rows, (stop - start) * size)

    return _chunks(xp, x.shape[0], groups * rows * size), columns


def _grouped_output(xp, grad_output, groups):
    """(n, C, *out) as (groups, C/groups, n * prod(out)): a small transposed copy."""
    n, channels = grad_output.shape[:2]
    moved = xp.moveaxis(grad_output, 1, 0)
    return moved.reshape(groups, channels // groups, n * math.prod(grad_output.shape[2:]))


# ----------------------------------------------------------------------------- flat shifts
# A 2-D convolution with stride 1 runs on the padded input flattened per plane: the window
# entry (i, j) of output (y, x) is at flat position (y * Wp + x) + (i * dh * Wp + j * dw), so
# each kernel offset is ONE contiguous run of L = oh * Wp entries of the plane (a "wide"
# output row of Wp columns, of which the first ow are real). im2col and col2im then move long
# runs (one per kernel offset and channel) instead of rows of ow entries, at the cost of the
# Wp - ow junk columns, which the forward drops and the backward feeds with zero gradient.


class _Flat:
    """The geometry of a flat-shift convolution (2-D, stride 1) of (n, C, H, W) inputs; the
    methods take any number of samples (the batch is worked in chunks)."""

    __slots__ = ("channels", "spatial", "kernel", "padding", "dilation", "groups", "padded",
                 "out", "length", "offsets")

    def __init__(self, channels, spatial, kernel, padding, dilation, groups):
        self.channels, self.spatial = channels, tuple(spatial)
        self.kernel, self.padding, self.dilation = tuple(kernel), padding, dilation
        self.groups = groups
        self.padded = tuple(s + 2 * p for s, p in zip(spatial, padding))
        self.out = tuple(p - d * (k - 1) for p, d, k in zip(self.padded, dilation, kernel))
        width = self.padded[1]
        self.length = self.out[0] * width
        self.offsets = [i * dilation[0] * width + j * dilation[1]
                        for i in range(kernel[0]) for j in range(kernel[1])]

    @property
    def rows(self) -> int:
        return self.channels // self.groups * math.prod(self.kernel)

    def chunks(self, xp, n: int) -> list:
        """Sample ranges whose column buffers hold at most _CHUNK_ENTRIES entries."""
        return _chunks(xp, n, self.groups * self.rows * self.length)

    def _planes(self, xp, n, dtype):
        """Zero (n, C, Hp + 1, Wp) planes: the spare row keeps the last runs in bounds."""
        return xp.zeros((n, self.channels, self.padded[0] + 1, self.padded[1]), dtype=dtype)

    def _interior(self, planes):
        (ph, pw), (h, w) = self.padding, self.spatial
        return planes[:, :, ph:ph + h, pw:pw + w]

    def columns(self, xp, x):
        """The im2col buffer (groups, C/groups * kh * kw, n * L) of x (n, C, H, W)."""
        n = x.shape[0]
        planes = self._planes(xp, n, x.dtype)
        self._interior(planes)[...] = x
        item = planes.itemsize
        kh, kw = self.kernel
        runs = xp.lib.stride_tricks.as_strided(
            planes, (self.channels, kh, kw, n, self.length),
            (planes.strides[1], self.dilation[0] * self.padded[1] * item,
             self.dilation[1] * item, planes.strides[0], item))
        columns = xp.empty(runs.shape, dtype=x.dtype)
        xp.copyto(columns, runs)
        return columns.reshape(self.groups, self.rows, n * self.length)

    def sample_columns(self, x):
        """The im2col buffer of numpy x (n, C, H, W) per sample, without junk columns:
        (n, C * kh * kw, oh * ow), each sample's (rows, positions) block ready for a batched
        product whose result is already (n, C_out, oh * ow)."""
        windows = window_view(np, pad_array(np, x, self.padding), self.out, self.kernel,
                              (1, 1), self.dilation).transpose(0, 1, 4, 5, 2, 3)
        columns = np.empty(windows.shape, dtype=x.dtype)  # (n, C, kh, kw, oh, ow)
        np.copyto(columns, windows)
        return columns.reshape(x.shape[0], self.rows, math.prod(self.out))

    def wide_grad(self, xp, grad_output):
        """(n, C_out, oh, ow) as (groups, C_out/groups, n * L), zero in the junk columns."""
        n, out_channels = grad_output.shape[:2]
        wide = xp.zeros((out_channels, n, self.out[0], self.padded[1]),
                        dtype=grad_output.dtype)
        wide[..., :self.out[1]] = grad_output.transpose(1, 0, 2, 3)
        return wide.reshape(self.groups, out_channels // self.groups, n * self.length)

    def narrow(self, xp, product, out, bias=None):
        """Write the (groups, C_out/groups, n * L) product into out (n, C_out, oh, ow)."""
        n, out_channels = out.shape[:2]
        _store(xp, product.reshape(out_channels, n, self.out[0], self.padded[1])[
            ..., :self.out[1]].transpose(1, 0, 2, 3), out, bias)

    def narrow_positions(self, xp, product, out, bias=None):
        """Write the (n * L, C_out) product (positions by channels, groups == 1) into out
        (n, C_out, oh, ow)."""
        n, out_channels = out.shape[:2]
        _store(xp, product.reshape(n, self.out[0], self.padded[1], out_channels)[
            :, :, :self.out[1]].transpose(0, 3, 1, 2), out, bias)

    def col2im(self, xp, columns, n):
        """The adjoint of ``columns``: the (C * kh * kw, n * L) entries added back into the
        planes, one add of a (C, n, L) block per kernel offset; the (n, C, H, W) interior."""
        planes = self._planes(xp, n, columns.dtype)
        by_channel = planes.reshape(n, self.channels, math.prod(planes.shape[2:])) \
            .transpose(1, 0, 2)
        blocks = columns.reshape(self.channels, len(self.offsets), n, self.length)
        for k, offset in enumerate(self.offsets):
            by_channel[:, :, offset:offset + self.length] += blocks[:, k]
        return self._interior(planes)


def _store(xp, real, out, bias):
    """out (n, C_out, oh, ow) = real (+ bias per channel), in one pass."""
    if bias is None:
        xp.copyto(out, real)
    else:
        xp.add(real, bias.reshape(1, -1, 1, 1), out=out)


def _flat(x_shape, kernel, stride, padding, dilation, groups):
    """The flat-shift geometry when it applies (2-D, stride 1), else None."""
    if len(kernel) != 2 or any(s != 1 for s in stride):
        return None
    return _Flat(x_shape[1], x_shape[2:], kernel, padding, dilation, groups)


# From this many rows (C_in * prod(kernel)) on, the CPU forward computes the product as
# columns.T @ weight.T, positions by channels: OpenBLAS runs that shape faster (the MNIST
# CNN's conv2, 400 rows), which outweighs transposing the result back to channels first;
# with few rows (conv1, 25) the transpose costs more than it saves.
_POSITIONS_FIRST_ROWS = 64
# Below this many rows (C_in * prod(kernel): conv1 of an image model) the product is thin and
# the output dwarfs the columns: the CPU works per sample, (C_out, rows) @ (rows, oh * ow) in
# one batched product written straight into the output, where the channels-first product
# (C_out, n * L) needed a transposing copy into (n, C_out, oh, ow) over rows of ow entries
# (MNIST Net's conv1 forward 2.1 -> 0.5 ms at batch 64), and the weight's gradient is
# (n, C_out, P) @ (n, P, rows) summed over the samples, with no widened copy of the gradient.
_SAMPLE_ROWS = 32


def _per_sample(xp, groups: int, rows: int) -> bool:
    """Whether a stride-1 convolution of ``rows`` = C_in / groups * prod(kernel) runs per
    sample (see _SAMPLE_ROWS): on the CPU, groups 1, fewer than _SAMPLE_ROWS rows."""
    return xp is np and groups == 1 and rows < _SAMPLE_ROWS


def conv_forward(xp, x, weight, stride, padding, dilation, groups, bias=None, spectra=None):
    """conv(x, weight) + bias on raw arrays, padding symmetric per spatial dim. On the
    Fourier path, the input's spectrum of each chunk goes into the dict ``spectra`` when
    given (keyed by the chunk's sample range), for the weight's gradient."""
    kernel = weight.shape[2:]
    out_channels = weight.shape[0]
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    out = xp.empty((x.shape[0], out_channels) + tuple(out_shape), dtype=x.dtype)
    plan = _transform_path(x.shape, weight.shape, stride, padding, dilation, groups, x.dtype,
                           xp)
    if isinstance(plan, conv_fourier.Fourier):
        _fourier_forward(plan, x, weight, bias, out, spectra)
        return out
    if plan is not None:
        _winograd_forward(plan, x, weight, bias, out, spectra)
        return out
    flat = _flat(x.shape, kernel, stride, padding, dilation, groups)
    if flat is not None and _per_sample(xp, groups, flat.rows):
        positions = math.prod(flat.out)
        # the bias as a whole (C_out, P) block: numpy adds two arrays ~2x faster than an
        # array and a broadcast column
        block = None if bias is None else np.repeat(bias.reshape(-1, 1), positions, axis=1)

        def sample_chunk(start, stop):  # (C_out, rows) @ (n, rows, P): out's own layout
            target = out[start:stop].reshape(stop - start, out_channels, positions)
            matmul(grouped_weight[0], flat.sample_columns(x[start:stop]), out=target)
            if block is not None:
                np.add(target, block, out=target)

        _map(xp, sample_chunk, _chunks(xp, x.shape[0], out_channels * positions))
        return out
    if flat is not None and groups == 1 and xp is np and flat.rows >= _POSITIONS_FIRST_ROWS:
        def flat_chunk(start, stop):
            columns = flat.columns(xp, x[start:stop])[0]
            flat.narrow_positions(xp, matmul(columns.T, grouped_weight[0].T),
                                  out[start:stop], bias)
    elif flat is not None:
        def flat_chunk(start, stop):
            flat.narrow(xp, matmul(grouped_weight, flat.columns(xp, x[start:stop])),
                        out[start:stop], bias)
    if flat is not None:
        _map(xp, flat_chunk, flat.chunks(xp, x.shape[0]))
        return out
    chunks, columns = _column_source(xp, x, out_shape, kernel, stride, padding, dilation,
                                     groups)

    def chunk(start, stop):
        product = matmul(grouped_weight, columns(start, stop))
        out[start:stop] = xp.moveaxis(
            product.reshape((out_channels, stop - start) + tuple(out_shape)), 0, 1)

    _map(xp, chunk, chunks)
    if bias is not None:
        out += bias.reshape(bias_shape(bias, out.ndim))
    return out


def conv_input_grad(xp, grad_output, weight, spatial, stride, padding, dilation, groups):
    """The adjoint of conv in x (= conv_transpose): (N, C_out, *out) -> (N, C_in, *spatial)."""
    d = len(spatial)
    n = grad_output.shape[0]
    out_shape = tuple(grad_output.shape[2:])
    kernel = tuple(weight.shape[2:])
    out_channels = weight.shape[0]
    in_channels = weight.shape[1] * groups
    gradients = one_pass_gradients(xp, (n, in_channels) + tuple(spatial), weight.shape, None,
                                    grad_output, weight, stride, padding, dilation, groups,
                                    (True, False, False))
    if gradients is not None:
        return gradients[0]
    weight_t = weight.reshape(groups, out_channels // groups, -1).transpose(0, 2, 1)
    buffer = _padded_zeros(xp, (n, in_channels), spatial, padding, grad_output.dtype)
    order = (1 + d, 0) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(1, 1 + d))

    def chunk(start, stop):  # each chunk adds into its own samples of the buffer
        part = matmul(weight_t, _grouped_output(xp, grad_output[start:stop], groups))
        part = part.reshape((in_channels,) + kernel + (stop - start,) + out_shape)
        _add_windows(xp, buffer[start:stop], part.transpose(order), stride, dilation)

    _map(xp, chunk, _chunks(xp, n, in_channels * math.prod(kernel) * math.prod(out_shape)))
    return _crop(buffer, spatial, padding)


# A weight gradient with fewer entries than this per group (C_in/groups * prod(kernel) rows
# by C_out/groups) is a product too thin for OpenBLAS over a long sum: as one
# (rows, n * L) @ (n * L, C_out) call it runs no faster in two threads than in one (the
# MNIST CNN's conv1, 25 x 16), where per sample and summed it does. Wider products (conv2,
# 400 x 32) run as fast or faster in one call.
_PER_SAMPLE_PRODUCT = 2048


def conv_weight_grad(xp, x, grad_output, kernel, stride, padding, dilation, groups):
    """The adjoint of conv in the weight: (C_out, C_in/groups, *kernel)."""
    out_shape = grad_output.shape[2:]
    shape = (grad_output.shape[1], x.shape[1] // groups) + tuple(kernel)
    gradients = one_pass_gradients(xp, x.shape, shape, x, grad_output, None, stride, padding,
                                    dilation, groups, (False, True, False))
    if gradients is not None:
        return gradients[1]
    chunks, columns = _column_source(xp, x, out_shape, kernel, stride, padding, dilation,
                                     groups)

    def chunk(start, stop):
        return matmul(_grouped_output(xp, grad_output[start:stop], groups),
                      columns(start, stop).transpose(0, 2, 1))

    return _sum(_map(xp, chunk, chunks)).reshape(shape)


def one_pass_gradients(xp, x_shape, weight_shape, x, grad_output, weight, stride, padding,
                        dilation, groups, needs, spectra=None):
    """The gradients in (x, weight, bias) that ``needs`` asks for, in one pass over the
    batch, by the Fourier or Winograd path (the forward's choice) or else the flat-shift
    path when one applies to this convolution (and grad_output has its output's shape), else
    None. ``x`` is needed for the weight's gradient only, ``weight`` for the input's;
    ``spectra`` are the forward's (its input spectra or transformed tiles)."""
    out_shape = tuple(grad_output.shape[2:])
    plan = _transform_path(x_shape, weight_shape, stride, padding, dilation, groups,
                           grad_output.dtype, xp)
    if isinstance(plan, conv_fourier.Fourier) and plan.out == out_shape:
        return _fourier_backward(plan, x, grad_output, weight, needs, spectra)
    if isinstance(plan, conv_winograd.Winograd) and plan.out == out_shape:
        return _winograd_backward(plan, x, grad_output, weight, needs, spectra)
    flat = _flat(x_shape, weight_shape[2:], stride, padding, dilation, groups)
    if flat is not None and flat.out == out_shape:
        if _per_sample(xp, groups, flat.rows) and not needs[0]:
            return _sample_backward(flat, x, grad_output, weight_shape, needs)
        return _flat_backward(xp, flat, x, grad_output, weight, weight_shape, needs)
    return None


def _sample_backward(flat, x, grad_output, weight_shape, needs):
    """The weight's and bias's gradients of a thin flat-shift conv (few rows, groups 1; the
    input's gradient not asked) per sample, in chunks of the batch in dark's threads:
    (n, C_out, P) @ (n, P, rows) summed over the samples, from the forward's columns
    rebuilt per sample (``sample_columns``) and the output's gradient as it is."""
    _, need_weight, need_bias = needs
    n, out_channels = grad_output.shape[:2]
    positions = math.prod(flat.out)

    def chunk(start, stop):
        grad = grad_output[start:stop].reshape(stop - start, out_channels, positions)
        weight_part = bias_part = None
        if need_weight:
            columns = flat.sample_columns(x[start:stop])
            weight_part = matmul(grad, columns.transpose(0, 2, 1)).sum(axis=0)
        if need_bias:
            bias_part = grad.sum(axis=2).sum(axis=0)
        return weight_part, bias_part

    parts = _map(np, chunk, _chunks(np, n, out_channels * positions))
    grad_weight = grad_bias = None
    if need_weight:
        grad_weight = _sum([part[0] for part in parts]).reshape(weight_shape)
    if need_bias:
        grad_bias = _sum([part[1] for part in parts])
    return None, grad_weight, grad_bias


def _flat_backward(xp, flat, x, grad_output, weight, weight_shape, needs):
    """The gradients of a flat-shift conv in (x, weight, bias) that ``needs`` asks for, in
    one pass over chunks of the batch (in dark's threads on the CPU): each chunk's gradient
    is widened once for all three. ``x`` is needed for the weight's gradient only, ``weight``
    for the input's."""
    need_input, need_weight, need_bias = needs
    n = grad_output.shape[0]
    groups, rows = flat.groups, flat.rows
    out_per_group = grad_output.shape[1] // groups
    grad_input = None
    if need_input:
        weight_t = weight.reshape(groups, out_per_group, -1).transpose(0, 2, 1)
        grad_input = xp.empty((n, flat.channels) + flat.spatial, dtype=grad_output.dtype)
    per_sample = xp is np and rows * out_per_group < _PER_SAMPLE_PRODUCT

    def chunk(start, stop):
        wide = flat.wide_grad(xp, grad_output[start:stop])
        if need_input:
            grad_input[start:stop] = flat.col2im(xp, matmul(weight_t, wide), stop - start)
        weight_part = bias_part = None
        if need_weight:
            columns = flat.columns(xp, x[start:stop])
            if per_sample:  # (n, rows, L) @ (n, L, C_out), then the sum over the samples
                count = stop - start
                weight_part = matmul(
                    columns.reshape(groups, rows, count, flat.length).transpose(0, 2, 1, 3),
                    wide.reshape(groups, out_per_group, count, flat.length)
                    .transpose(0, 2, 3, 1)).sum(axis=1)
            else:  # (rows, n * L) @ (n * L, C_out): the long sum runs along both rows
                weight_part = matmul(columns, wide.transpose(0, 2, 1))
        if need_bias:  # the junk columns hold zeros
            bias_part = wide.sum(axis=-1)
        return weight_part, bias_part

    parts = _map(xp, chunk, flat.chunks(xp, n))
    grad_weight = grad_bias = None
    if need_weight:
        grad_weight = _sum([part[0] for part in parts]).transpose(0, 2, 1).reshape(
            weight_shape)
    if need_bias:
        grad_bias = _sum([part[1] for part in parts]).reshape(-1)
    return grad_input, grad_weight, grad_bias


def _fourier_chunks(plan, n: int) -> list:
    """Sample ranges for the Fourier path: a chunk's largest spectrum is F * max(C) complex."""
    return _chunks(np, n, 2 * plan.frequencies * max(plan.in_channels, plan.out_channels))


def fourier(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp):
    """The Fourier path's geometry (conv_fourier.Fourier) when it applies to this
    convolution and its estimated cost is clearly below im2col's, else None."""
    plan = conv_fourier.geometry(x_shape, weight_shape, stride, padding, dilation, groups,
                                 dtype, xp)
    if plan is None:
        return None
    if _fourier_ratio(plan, x_shape[0]) < conv_fourier.FOURIER_MARGIN:
        return plan
    return None


def _fourier_ratio(plan, n: int) -> float:
    """The Fourier path's estimated cost over im2col's, for a batch of n."""
    start, stop = _fourier_chunks(plan, n)[0]
    return plan.cost(max(stop - start, 1)) / plan.direct_cost()


def _transform_path(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp):
    """The geometry of the path this convolution takes when it is not im2col: the Fourier
    path's (conv_fourier.Fourier) or the Winograd path's (conv_winograd.Winograd), where its
    estimate is clearly below im2col's; of both, the one with the lower ratio; else None.
    A thin 2-D stride-1 convolution (C_in * kh * kw below _SAMPLE_ROWS: 3 channels in of a
    3x3) takes neither: its per-sample flat path beats both (benchmarks/conv_paths.py, one
    thread: (32, 3, 32, 32) -> 16 channels 3.0 ms against Winograd's 4.8, (16, 3, 64, 64) ->
    32 13.5 against 15.2), where their estimates count im2col's channels-first copy."""
    if len(weight_shape) == 4 and all(s == 1 for s in stride) and \
            _per_sample(xp, groups, weight_shape[1] * math.prod(weight_shape[2:])):
        return None
    plan = fourier(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp)
    tiles = winograd(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp)
    if plan is None or tiles is None:
        return tiles if plan is None else plan
    if _fourier_ratio(plan, x_shape[0]) <= tiles.cost() / tiles.direct_cost():
        return plan
    return tiles


def _fourier_forward(plan, x, weight, bias, out, spectra):
    """conv(x, weight) + bias into out by the Fourier path, chunks of samples in dark's
    threads; each chunk's input spectrum into ``spectra`` when it is a dict."""
    weight_spectrum = np.conj(plan.weight_spectrum(weight)).transpose(0, 2, 1)

    def chunk(start, stop):
        spectrum = plan.input_spectrum(x[start:stop])
        plan.output(matmul(spectrum, weight_spectrum), out[start:stop])
        if bias is not None:
            out[start:stop] += bias.reshape(1, -1, 1, 1)
        return spectrum

    chunks = _fourier_chunks(plan, x.shape[0])
    spectrums = _map(np, chunk, chunks)
    if spectra is not None:
        spectra.update(zip(chunks, spectrums))


def _fourier_backward(plan, x, grad_output, weight, needs, spectra=None):
    """The gradients in (x, weight, bias) that ``needs`` asks for, by the Fourier path, in
    one pass over chunks of the batch; the weight's from the chunks' input spectra in
    ``spectra`` where the forward left them, else from x."""
    need_input, need_weight, need_bias = needs
    n = grad_output.shape[0]
    grad_input = weight_spectrum = None
    if need_input:
        weight_spectrum = plan.weight_spectrum(weight)
        grad_input = np.empty((n, plan.in_channels) + plan.spatial, dtype=grad_output.dtype)

    def chunk(start, stop):
        spectrum = plan.output_spectrum(grad_output[start:stop])
        if need_input:
            plan.input(matmul(spectrum, weight_spectrum), grad_input[start:stop])
        weight_part = bias_part = None
        if need_weight:
            inputs = _kept(spectra, start, stop, np.complexfloating)
            if inputs is None:
                inputs = plan.input_spectrum(x[start:stop])
            weight_part = matmul(np.conj(spectrum).transpose(0, 2, 1), inputs)
        if need_bias:
            bias_part = grad_output[start:stop].reshape(
                stop - start, plan.out_channels, math.prod(plan.out)).sum(axis=2).sum(axis=0)
        return weight_part, bias_part

    parts = _map(np, chunk, _fourier_chunks(plan, n))
    grad_weight = plan.weight(_sum([part[0] for part in parts])) if need_weight else None
    grad_bias = _sum([part[1] for part in parts]) if need_bias else None
    return grad_input, grad_weight, grad_bias


# The Winograd path's chunks are smaller than im2col's: a chunk's transformed arrays pass
# through several products and copies, fastest while they stay in the core's cache (with 64
# channels on 32x32 planes, one or two samples a chunk ran clearly faster than eight).
_WINOGRAD_CHUNK_ENTRIES = 1 << 18


def _winograd_chunks(plan, n: int) -> list:
    """Sample ranges for the Winograd path: a chunk's largest transformed array within
    _WINOGRAD_CHUNK_ENTRIES (at least one sample)."""
    return _chunks(np, n, conv_winograd.tiles_entries(plan),
                   min(_CHUNK_ENTRIES, _WINOGRAD_CHUNK_ENTRIES))


def winograd(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp):
    """The Winograd path's geometry (conv_winograd.Winograd) when it applies to this
    convolution (3x3, stride 1) and its estimated cost is clearly below im2col's, else None."""
    plan = conv_winograd.geometry(x_shape, weight_shape, stride, padding, dilation, groups,
                                  dtype, xp)
    if plan is not None and plan.cost() < conv_winograd.WINOGRAD_MARGIN * plan.direct_cost():
        return plan
    return None


def _winograd_forward(plan, x, weight, bias, out, kept):
    """conv(x, weight) + bias into out by Winograd's F(m x m, 3 x 3), chunks of samples in
    dark's threads; each chunk's transformed input tiles into ``kept`` when it is a dict."""
    weight_t = np.ascontiguousarray(plan.weight_tiles(weight).transpose(0, 2, 1))

    def chunk(start, stop):  # tiles (a * a, tiles, C_in) @ (a * a, C_in, C_out)
        tiles = plan.input_tiles(x[start:stop])
        plan.outputs(matmul(tiles, weight_t), out[start:stop], bias)
        return tiles

    chunks = _winograd_chunks(plan, x.shape[0])
    parts = _map(np, chunk, chunks)
    if kept is not None:
        kept.update(zip(chunks, parts))


def _winograd_backward(plan, x, grad_output, weight, needs, kept=None):
    """The gradients in (x, weight, bias) that ``needs`` asks for by the Winograd path, in
    one pass over chunks of the batch. The weight's is the output's gradient through A
    (A gY A^T per tile) against the input tiles (the forward's in ``kept`` where it left
    them, else made from x). The input's goes either through the adjoint of the forward's
    steps (the same A gY A^T, channels last, by U, then B dV B^T with the tiles' overlaps
    added) or as the forward convolution of the output's gradient by the flipped, transposed
    weight (a 3x3 conv_transpose with stride 1 is one), whichever is estimated cheaper
    (Winograd.adjoint_input_gradient: the adjoint saves a transform of the output's gradient
    and, with padding 0, the transposed convolution's wider tiles; its overlaps cost
    passes)."""
    need_input, need_weight, need_bias = needs
    n = grad_output.shape[0]
    grad_input = None
    adjoint = need_input and plan.adjoint_input_gradient(shared=need_weight)
    if need_input:
        grad_input = np.empty((n, plan.in_channels) + plan.spatial, dtype=grad_output.dtype)
        if adjoint:
            weight_tiles = plan.weight_tiles(weight)  # (a * a, C_out, C_in)
        else:
            transposed = conv_winograd.transposed(plan)
            flipped = np.ascontiguousarray(transposed.weight_tiles(
                conv_winograd.flipped(weight)).transpose(0, 2, 1))

    def chunk(start, stop):
        gradient = grad_output[start:stop]
        weight_part = bias_part = None
        if need_input and not adjoint:
            transposed.outputs(matmul(transposed.input_tiles(gradient), flipped),
                               grad_input[start:stop])
        if adjoint or need_weight:
            products = plan.output_tiles(gradient)  # (a * a, tiles, C_out)
            if adjoint:
                plan.input_gradient(matmul(products, weight_tiles), grad_input[start:stop])
            if need_weight:
                tiles = _kept(kept, start, stop, np.floating)
                if tiles is None:
                    tiles = plan.input_tiles(x[start:stop])
                weight_part = matmul(products.transpose(0, 2, 1), tiles)
        if need_bias:
            bias_part = gradient.reshape(stop - start, plan.out_channels,
                                         math.prod(plan.out)).sum(axis=2).sum(axis=0)
        return weight_part, bias_part

    parts = _map(np, chunk, _winograd_chunks(plan, n))
    grad_weight = plan.weight(_sum([part[0] for part in parts])) if need_weight else None
    grad_bias = _sum([part[1] for part in parts]) if need_bias else None
    return grad_input, grad_weight, grad_bias


def _kept(kept, start: int, stop: int, kind):
    """The array the forward kept for samples start:stop (Fourier: an input spectrum,
    complex; Winograd: transformed tiles, real), or None where it kept none of that kind (a
    forward that took the other path: a choice that changed with the thread count)."""
    array = (kept or {}).get((start, stop))
    return array if array is not None and np.issubdtype(array.dtype, kind) else None


def _sum(products: list):
    """The chunks' partial products added in chunk order: the same result from run to run,
    whichever thread finished first."""
    total = products[0]
    for product in products[1:]:
        total = total + product
    return total


def conv_output_shape(spatial, kernel, stride, padding, dilation) -> tuple:
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, st, p, d in zip(spatial, kernel, stride, padding, dilation))


def bias_shape(bias, ndim: int) -> tuple:
    return (1, bias.shape[0]) + (1,) * (ndim - 2)


def im2col(xp, x, kernel, stride, padding, dilation):
    """unfold: the (N, C * prod(kernel), L) blocks of x (N, C, *spatial), L the number of
    windows."""
    d = len(kernel)
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    windows = window_view(xp, pad_array(xp, x, padding), out_shape, kernel, stride, dilation)
    order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    return windows.transpose(order).reshape(
        x.shape[0], x.shape[1] * math.prod(kernel), math.prod(out_shape))


def col2im_blocks(xp, columns, spatial, kernel, stride, padding, dilation):
    """The adjoint of im2col: (N, C * prod(kernel), L) blocks summed into (N, C, *spatial)."""
    d = len(kernel)
    out_shape = conv_output_shape(spatial, kernel, stride, padding, dilation)
    n, rows = columns.shape[:2]
    blocks = columns.reshape((n, rows // math.prod(kernel)) + tuple(kernel) + tuple(out_shape))
    order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    return col2im(xp, blocks.transpose(order), tuple(spatial), padding, stride, dilation)
