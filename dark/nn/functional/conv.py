"""Convolutions for dark.nn.functional: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold, fold.

Forward is im2col: a strided sliding-window view of the padded input (no copy) is gathered
once into a (groups, C/groups * prod(kernel), N * prod(out)) column buffer and multiplied by
the weight in ONE matmul. Three Ops close under differentiation, as in PyTorch:
``Convolution`` (y = conv(x, w)), ``ConvolutionBackwardInput`` (its adjoint in x, which is
conv_transpose) and ``ConvolutionBackwardWeight`` (its adjoint in w). The backward of each is
made of the other two, so second derivatives (gradgradcheck, create_graph) come out exactly.
The adjoint in x scatters the columns back by col2im: one strided add per kernel offset.
On the CPU, a stride-1 2-D convolution where it costs clearly less (``fourier``) runs in the
frequencies of the discrete Fourier transform instead (conv_fourier.py)."""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ... import _parallel
from ..._kernels import conv_fourier
from ..._kernels.windows import pad_array, window_view
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import state as _grad_state
from ...ops._util import matmul, xp_of
from .padding import pad

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
# memory held stays bounded for any batch. Measured on the MNIST CNN step with two threads
# (each a chunk at a time): batch 64 20.6 ms (2**21), 19.7 ms (2**22), 20.0 ms (2**23);
# batch 256 72 / 66 / 67 ms; smaller chunks (2**17 to 2**20) were slower still.
_CHUNK_ENTRIES = 1 << 22
# A chunk handed to another thread costs a handoff (~50-100 us here): smaller work than this
# (1 MB of float32 columns) runs whole in the calling thread.
_MIN_PART_ENTRIES = 1 << 18


def _chunks(xp, n: int, per_sample: int) -> list:
    """The sample ranges of a batch of n, each within _CHUNK_ENTRIES; on the CPU, when the
    work is large enough, in a multiple of the threads that _map spreads them over (equal
    parts keep the threads equally busy), none under _MIN_PART_ENTRIES."""
    if n == 0:  # an empty batch: one empty chunk, so that its results have their shapes
        return [(0, 0)]
    total = n * max(per_sample, 1)
    parts = -(-total // _CHUNK_ENTRIES)
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
# columns.T @ weight.T, positions by channels: OpenBLAS runs that shape 20-30% faster (MNIST
# CNN conv2, 400 rows: 1.29 -> 1.00 ms per 16 samples), which outweighs transposing the result
# back to channels first; with few rows (conv1, 25) the transpose costs more than it saves.
_POSITIONS_FIRST_ROWS = 64


def conv_forward(xp, x, weight, stride, padding, dilation, groups, bias=None, spectra=None):
    """conv(x, weight) + bias on raw arrays, padding symmetric per spatial dim. On the
    Fourier path, the input's spectrum of each chunk goes into the dict ``spectra`` when
    given (keyed by the chunk's sample range), for the weight's gradient."""
    kernel = weight.shape[2:]
    out_channels = weight.shape[0]
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    out = xp.empty((x.shape[0], out_channels) + tuple(out_shape), dtype=x.dtype)
    plan = fourier(x.shape, weight.shape, stride, padding, dilation, groups, x.dtype, xp)
    if plan is not None:
        _fourier_forward(plan, x, weight, bias, out, spectra)
        return out
    flat = _flat(x.shape, kernel, stride, padding, dilation, groups)
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
        out += bias.reshape(_bias_shape(bias, out.ndim))
    return out


def conv_input_grad(xp, grad_output, weight, spatial, stride, padding, dilation, groups):
    """The adjoint of conv in x (= conv_transpose): (N, C_out, *out) -> (N, C_in, *spatial)."""
    d = len(spatial)
    n = grad_output.shape[0]
    out_shape = tuple(grad_output.shape[2:])
    kernel = tuple(weight.shape[2:])
    out_channels = weight.shape[0]
    in_channels = weight.shape[1] * groups
    gradients = _one_pass_gradients(xp, (n, in_channels) + tuple(spatial), weight.shape, None,
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
# (rows, n * L) @ (n * L, C_out) call it ran no faster in two threads than in one (MNIST
# conv1, 25 x 16: 0.49 ms alone, 1.04 ms for two at once); per sample and summed, 0.32 ms
# and 0.37 ms. Wider products (conv2, 400 x 32) run as fast or faster in one call.
_PER_SAMPLE_PRODUCT = 2048


def conv_weight_grad(xp, x, grad_output, kernel, stride, padding, dilation, groups):
    """The adjoint of conv in the weight: (C_out, C_in/groups, *kernel)."""
    out_shape = grad_output.shape[2:]
    shape = (grad_output.shape[1], x.shape[1] // groups) + tuple(kernel)
    gradients = _one_pass_gradients(xp, x.shape, shape, x, grad_output, None, stride, padding,
                                    dilation, groups, (False, True, False))
    if gradients is not None:
        return gradients[1]
    chunks, columns = _column_source(xp, x, out_shape, kernel, stride, padding, dilation,
                                     groups)

    def chunk(start, stop):
        return matmul(_grouped_output(xp, grad_output[start:stop], groups),
                      columns(start, stop).transpose(0, 2, 1))

    return _sum(_map(xp, chunk, chunks)).reshape(shape)


def _one_pass_gradients(xp, x_shape, weight_shape, x, grad_output, weight, stride, padding,
                        dilation, groups, needs, spectra=None):
    """The gradients in (x, weight, bias) that ``needs`` asks for, in one pass over the
    batch, by the Fourier path or else the flat-shift path when one applies to this
    convolution (and grad_output has its output's shape), else None. ``x`` is needed for the
    weight's gradient only, ``weight`` for the input's; ``spectra`` are the forward's."""
    out_shape = tuple(grad_output.shape[2:])
    plan = fourier(x_shape, weight_shape, stride, padding, dilation, groups,
                   grad_output.dtype, xp)
    if plan is not None and plan.out == out_shape:
        return _fourier_backward(plan, x, grad_output, weight, needs, spectra)
    flat = _flat(x_shape, weight_shape[2:], stride, padding, dilation, groups)
    if flat is not None and flat.out == out_shape:
        return _flat_backward(xp, flat, x, grad_output, weight, weight_shape, needs)
    return None


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
    start, stop = _fourier_chunks(plan, x_shape[0])[0]
    if plan.cost(max(stop - start, 1)) < conv_fourier.FOURIER_MARGIN * plan.direct_cost():
        return plan
    return None


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
            inputs = (spectra or {}).get((start, stop))
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


def _bias_shape(bias, ndim: int) -> tuple:
    return (1, bias.shape[0]) + (1,) * (ndim - 2)


# ----------------------------------------------------------------------------- ops

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
        return conv_forward(xp_of(x), x, weight, stride, padding, dilation, groups, bias,
                            spectra)

    @staticmethod
    def backward(ctx, grad):
        x, weight, spectra = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        if not _grad_state.enabled:  # the common path (no graph of the backward)
            gradients = _one_pass_gradients(
                xp_of(grad._data), x.shape, weight.shape, x._data, grad._data, weight._data,
                stride, padding, dilation, groups,
                (needs[0], needs[1], len(needs) > 2 and needs[2]), spectra)
            if gradients is not None:
                return tuple(None if g is None else Tensor._make(g)
                             for g in gradients)[:len(needs)]
        grad_x = grad_weight = grad_bias = None
        if needs[0]:
            grad_x = ConvolutionBackwardInput.apply(
                grad, weight, spatial=x.shape[2:], stride=stride, padding=padding,
                dilation=dilation, groups=groups)
        if needs[1]:
            grad_weight = ConvolutionBackwardWeight.apply(
                x, grad, kernel=weight.shape[2:], stride=stride, padding=padding,
                dilation=dilation, groups=groups)
        if len(needs) > 2 and needs[2]:
            grad_bias = grad.sum((0,) + tuple(range(2, grad.ndim)))
        return (grad_x, grad_weight, grad_bias)[:len(needs)]


class ConvolutionBackwardInput(Op):
    """y = conv_transpose(g, weight) + bias, the adjoint of conv in its input; ``spatial`` is
    the output's spatial shape (it resolves the stride's rounding)."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, grad_output, weight, bias=None, spatial=(), stride=(1,), padding=(0,),
                dilation=(1,), groups=1):
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(grad_output, weight)
        out = conv_input_grad(xp_of(grad_output), grad_output, weight, spatial, stride,
                              padding, dilation, groups)
        if bias is not None:
            out += bias.reshape(_bias_shape(bias, out.ndim))
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_output, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        grad_g = grad_weight = grad_bias = None
        if needs[0]:
            grad_g = Convolution.apply(grad, weight, None, stride=stride, padding=padding,
                                       dilation=dilation, groups=groups)
        if needs[1]:
            grad_weight = ConvolutionBackwardWeight.apply(
                grad, grad_output, kernel=weight.shape[2:], stride=stride, padding=padding,
                dilation=dilation, groups=groups)
        if len(needs) > 2 and needs[2]:
            grad_bias = grad.sum((0,) + tuple(range(2, grad.ndim)))
        return (grad_g, grad_weight, grad_bias)[:len(needs)]


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
        return conv_weight_grad(xp_of(x), x, grad_output, kernel, stride, padding, dilation,
                                groups)

    @staticmethod
    def backward(ctx, grad):
        x, grad_output = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        grad_x = grad_g = None
        if ctx.needs_input_grad[0]:
            grad_x = ConvolutionBackwardInput.apply(
                grad_output, grad, spatial=x.shape[2:], stride=stride, padding=padding,
                dilation=dilation, groups=groups)
        if ctx.needs_input_grad[1]:
            grad_g = Convolution.apply(x, grad, None, stride=stride, padding=padding,
                                       dilation=dilation, groups=groups)
        return grad_x, grad_g


class Im2Col(Op):
    """unfold: (N, C, *spatial) -> (N, C * prod(kernel), L)."""

    @staticmethod
    def forward(ctx, x, kernel=(), stride=(1,), padding=(0,), dilation=(1,)):
        xp = xp_of(x)
        ctx.geometry = (x.shape[2:], kernel, stride, padding, dilation)
        d = len(kernel)
        out_shape = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
        windows = window_view(xp, pad_array(xp, x, padding), out_shape, kernel, stride,
                              dilation)
        order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
        return windows.transpose(order).reshape(
            x.shape[0], x.shape[1] * math.prod(kernel), math.prod(out_shape))

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
        d = len(kernel)
        out_shape = conv_output_shape(spatial, kernel, stride, padding, dilation)
        n, rows = columns.shape[:2]
        blocks = columns.reshape((n, rows // math.prod(kernel)) + tuple(kernel)
                                 + tuple(out_shape))
        order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
        return col2im(xp_of(columns), blocks.transpose(order), tuple(spatial), padding, stride,
                      dilation)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, dilation = ctx.geometry
        return Im2Col.apply(grad, kernel=kernel, stride=stride, padding=padding,
                            dilation=dilation)


# ----------------------------------------------------------------------------- checks

def expand_param(name: str, value, d: int, what: str = "the convolution dimensions") -> tuple:
    """An int or a sequence of 1 or d ints as a d-tuple (torch's error otherwise)."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * d
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * d
    if len(values) != d:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {d} "
                           f"values to match {what}, but got {name}={list(values)}")
    return values


def _type_name(tensor: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "bool": "Bool"}.get(tensor.dtype.name, tensor.dtype.name)


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
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type (dark.{_type_name(input)}Tensor) and weight type "
                           f"(dark.{_type_name(weight)}Tensor) should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({input.dtype.name.replace('float32', 'float')}) and "
                           f"bias type ({bias.dtype.name.replace('float32', 'float')}) "
                           "should be the same")
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


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): (N, C, H, W) or (C, H, W) -> (N, C*kH*kW, L), L the
    number of blocks."""
    kernel, dilation, padding, stride = _fold_params(kernel_size, dilation, padding, stride)
    if input.dim() not in (3, 4):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           "and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    batched = input.dim() == 4
    if not batched:
        input = input.unsqueeze(0)
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
    if input.dim() not in (2, 3):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           "batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    batched = input.dim() == 3
    if not batched:
        input = input.unsqueeze(0)
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


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "fold", "unfold"]
