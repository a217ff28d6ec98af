"""2-D convolutions by the discrete Fourier transform, every step a BLAS product.

A stride-1 convolution of a padded (Hp, Wp) plane is, in the frequencies of the (Hp, Wp)
discrete Fourier transform, one product per frequency: Y(f) = X(f) @ conj(W(f)).T, of
(n, C_in) by (C_in, C_out). No wrap-around reaches a real output, since every window lies
inside the padded plane. The transforms are products too: by the (W, Wp/2 + 1) matrix of the
real transform along the rows, then by the (Hp, H) complex matrix along the columns. Padding
and dilation are folded into those matrices (their rows are the positions of the entries),
and the inverse matrices keep only the outputs wanted.

Against im2col, the channel product has fewer multiply-adds: Hp * (Wp/2 + 1) frequencies of
4 real ones each, where im2col has oh * ow positions of kh * kw. The transforms cost about
(C_in + C_out) * (Hp + Wp) per position, and the weight's spectrum, F * C_in * C_out
complex entries, is large. ``conv.fourier`` takes this path where ``Fourier.cost`` is clearly
below ``Fourier.direct_cost``: 5x5 and 7x7 kernels on small planes with a few dozen channels
(the MNIST CNN's conv2, 16 -> 32 channels at 5x5), not 3x3 kernels, one input channel
(conv1) or many channels at a small batch. The results match im2col's to float rounding
(~1e-6 of the largest entry in float32): each output is a sum of the same terms, in another
order.

The backward uses the same spectra: the input's gradient is G(f) @ W(f), transformed back
over the padded plane and cropped; the weight's is the sum over the samples of
conj(G(f)).T @ X(f), transformed back at the kernel's taps."""
from __future__ import annotations

import functools
import math

import numpy as np

from . import matmul

_COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64),
            np.dtype(np.float64): np.dtype(np.complex128)}


@functools.lru_cache(maxsize=256)
def _phases(count: int, start: int, step: int, period: int, frequencies: int) -> np.ndarray:
    """(count, frequencies) complex128: exp(-2 pi i k p / period) at the positions
    p = start + l * step, exactly reduced mod the period."""
    positions = start + step * np.arange(count)[:, None]
    return np.exp(-2j * np.pi * ((positions * np.arange(frequencies)) % period) / period)


@functools.lru_cache(maxsize=256)
def _row_transform(count, start, step, period, dtype) -> np.ndarray:
    """(count, 2 * (period // 2 + 1)) real: the real transform along a row, its outputs as
    interleaved (real, imaginary) pairs, so the product is read as complex in place."""
    phases = _phases(count, start, step, period, period // 2 + 1)
    return np.stack([phases.real, phases.imag], axis=-1).reshape(count, -1).astype(dtype)


@functools.lru_cache(maxsize=256)
def _column_transform(count, start, step, period, dtype) -> np.ndarray:
    """(period, count) complex: the transform along a column."""
    return np.ascontiguousarray(_phases(count, start, step, period, period).T.astype(dtype))


@functools.lru_cache(maxsize=256)
def _column_inverse(count, start, step, period, dtype) -> np.ndarray:
    """(count, period) complex: the inverse transform along a column, at count positions."""
    return np.ascontiguousarray(np.conj(_phases(count, start, step, period, period))
                                .astype(dtype) / period)


@functools.lru_cache(maxsize=256)
def _row_inverse(count, start, step, period, dtype) -> np.ndarray:
    """(2 * (period // 2 + 1), count) real: the inverse of the real transform along a row
    from its interleaved half spectrum, at count positions. Each frequency but 0 and
    period / 2 stands for itself and its conjugate mirror, hence the weight 2."""
    half = period // 2 + 1
    weights = np.full(half, 2.0)
    weights[0] = 1
    if period % 2 == 0:
        weights[-1] = 1
    phases = np.conj(_phases(count, start, step, period, half)).T * weights[:, None] / period
    return np.stack([phases.real, -phases.imag], axis=1).reshape(2 * half, count).astype(dtype)


class Fourier:
    """The geometry of a stride-1 2-D convolution of (n, C_in, H, W) inputs by (C_out, C_in,
    kh, kw) weights on the (Hp, Wp) padded plane; spectra are (Hp, Wp // 2 + 1, m) complex,
    frequencies first, so that the channel products are batched over the frequencies."""

    __slots__ = ("in_channels", "out_channels", "spatial", "kernel", "padding", "dilation",
                 "period", "out", "dtype")

    def __init__(self, in_channels, out_channels, spatial, kernel, padding, dilation, dtype):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.spatial, self.kernel = tuple(spatial), tuple(kernel)
        self.padding, self.dilation = tuple(padding), tuple(dilation)
        self.period = tuple(s + 2 * p for s, p in zip(spatial, padding))
        self.out = tuple(p - d * (k - 1) for p, d, k in zip(self.period, dilation, kernel))
        self.dtype = np.dtype(dtype)

    @property
    def frequencies(self) -> int:
        return self.period[0] * (self.period[1] // 2 + 1)

    def _spectrum(self, maps, start, step):
        """The (Hp, Wp // 2 + 1, m) spectrum of m (h, w) maps whose entry (i, j) sits at
        (start + i * step) of the padded plane."""
        m, h, w = maps.shape
        rows = matmul(maps.reshape(m * h, w),
                      _row_transform(w, start[1], step[1], self.period[1], self.dtype))
        half = self.period[1] // 2 + 1
        by_column = np.empty((h, half, m), dtype=_COMPLEX[self.dtype])
        by_column[...] = rows.view(by_column.dtype).reshape(m, h, half).transpose(1, 2, 0)
        columns = _column_transform(h, start[0], step[0], self.period[0], by_column.dtype)
        return matmul(columns, by_column.reshape(h, half * m)).reshape(self.period[0], half, m)

    def _inverse(self, spectrum, m, size, start, step, out=None):
        """The (m, *size) real maps of an (Hp, Wp // 2 + 1, m) spectrum at the positions
        (start + i * step) of the padded plane, written into out when given."""
        half = self.period[1] // 2 + 1
        columns = _column_inverse(size[0], start[0], step[0], self.period[0], spectrum.dtype)
        by_column = matmul(columns, spectrum.reshape(self.period[0], half * m))
        by_row = np.empty((m, size[0], half), dtype=spectrum.dtype)
        by_row[...] = by_column.reshape(size[0], half, m).transpose(2, 0, 1)
        rows = _row_inverse(size[1], start[1], step[1], self.period[1], self.dtype)
        flat = by_row.view(self.dtype).reshape(m * size[0], 2 * half)
        if out is None:
            return matmul(flat, rows).reshape((m,) + tuple(size))
        matmul(flat, rows, out=out.reshape(m * size[0], size[1]))
        return out

    def input_spectrum(self, x):
        """(F, n, C_in): the spectrum of n input samples (n, C_in, H, W)."""
        n = x.shape[0]
        return self._spectrum(x.reshape(n * self.in_channels, *self.spatial), self.padding,
                              (1, 1)).reshape(self.frequencies, n, self.in_channels)

    def output_spectrum(self, grad_output):
        """(F, n, C_out): the spectrum of n output-shaped maps (n, C_out, oh, ow)."""
        n = grad_output.shape[0]
        return self._spectrum(grad_output.reshape(n * self.out_channels, *self.out), (0, 0),
                              (1, 1)).reshape(self.frequencies, n, self.out_channels)

    def weight_spectrum(self, weight):
        """(F, C_out, C_in): the spectrum of the weight's taps."""
        return self._spectrum(weight.reshape(-1, *self.kernel), (0, 0), self.dilation) \
            .reshape(self.frequencies, self.out_channels, self.in_channels)

    def output(self, spectrum, out):
        """Write the outputs of an (F, n, C_out) spectrum into out (n, C_out, oh, ow)."""
        return self._inverse(spectrum, out.shape[0] * self.out_channels, self.out, (0, 0),
                             (1, 1), out=out)

    def input(self, spectrum, out):
        """Write the input-shaped maps of an (F, n, C_in) spectrum into out (n, C_in, H, W)."""
        return self._inverse(spectrum, out.shape[0] * self.in_channels, self.spatial,
                             self.padding, (1, 1), out=out)

    def weight(self, spectrum):
        """The (C_out, C_in, kh, kw) taps of an (F, C_out, C_in) spectrum."""
        taps = self._inverse(spectrum, self.out_channels * self.in_channels, self.kernel,
                             (0, 0), self.dilation)
        return taps.reshape((self.out_channels, self.in_channels) + self.kernel)

    def cost(self, samples: int) -> float:
        """The work per sample of a training step (forward and backward) by this path, in
        multiply-adds: the products (a complex multiply-add as four real ones, the
        transforms' thin products as two), and each chunk of ``samples`` samples passing
        over the weight's spectrum, F * C_in * C_out complex entries, at WEIGHT_PASS
        multiply-adds an entry (memory-bound: that is where many channels lose)."""
        (h, w), (oh, ow), (hp, wp) = self.spatial, self.out, self.period
        half = wp // 2 + 1
        channels = self.in_channels * self.out_channels
        product = 4 * self.frequencies * channels
        forward = self.in_channels * (h * w * 2 * half + 4 * hp * h * half)
        inverse = self.out_channels * (4 * oh * hp * half + oh * 2 * half * ow)
        return product + 2 * (forward + inverse) + WEIGHT_PASS * self.frequencies * \
            channels / samples

    def direct_cost(self) -> float:
        """The same for im2col's flat-shift path: its product over oh * Wp positions (the
        junk columns included), and its column buffers, C_in * kh * kw entries a position,
        each written and read at COLUMN_PASS multiply-adds, against C_out multiply-adds."""
        positions = self.out[0] * self.period[1]
        rows = self.in_channels * math.prod(self.kernel)
        return positions * rows * self.out_channels * (1 + COLUMN_PASS / self.out_channels)


# The weights of the two costs above are fitted to the convolutions of
# benchmarks/conv_paths.py, timed forward and backward on both paths in dark's threads, so
# that the cheaper estimate picks the faster path; that benchmark prints the times and how
# often dark's choice was the faster one (refit the weights where it is often wrong). The
# Fourier path wins with 5x5 and 7x7 kernels on small planes, and loses with 3x3 kernels,
# with one input channel, and with many channels at a small batch. FOURIER_MARGIN asks for a
# clear win.
WEIGHT_PASS = 320
COLUMN_PASS = 32
FOURIER_MARGIN = 0.9


def geometry(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp):
    """The Fourier geometry of a convolution that this path can compute (2-D, stride 1,
    groups 1, float32 or float64, on the CPU), else None."""
    if (xp is not np or len(weight_shape) != 4 or groups != 1 or any(s != 1 for s in stride)
            or np.dtype(dtype) not in _COMPLEX):
        return None
    return Fourier(x_shape[1], weight_shape[0], x_shape[2:], weight_shape[2:], padding,
                   dilation, dtype)
