"""Compiled (numba) kernels of memory passes that numpy makes in several, optional: ReLU's
forward (numpy's maximum of the input and +0.0), its backward (``grad`` where the output is
not <= 0, else 0), the 2x2 max pooling backward whose windows tile the input (each gradient
written at its window's argmax, zeros at the other three entries), and the overlap-add of
Winograd's input-gradient tiles (conv_winograd.Winograd.input_gradient: five numpy passes).

numpy's maximum of an array and zeros runs at about half a copy's speed; it makes ReLU's
backward in two passes (the mask, then the integer product of the
gradient's bits with it, elementwise.positive_or_zero) and the pooling's in eight strided
passes over rows of a few entries (pooling.scatter_to_argmax); each kernel here is one pass,
run by the same callers on the same parts of the arrays in dark's threads (the kernels
release the GIL). The values are the numpy paths' bit for bit: a select copies the gradient's
value or writes +0.0, so a NaN or inf gradient where not selected still gives 0, and a NaN
output passes the gradient ("not <= 0"), as PyTorch's threshold_backward.

numba is imported once these selects have streamed ``LOAD_AFTER_ENTRIES`` entries (a few
training steps of the MNIST CNN): a short program never pays for it. ``set_enabled(False)``
(or ``DARK_NUMBA=0`` in the environment at import) keeps the numpy paths."""
from __future__ import annotations

from .numba_jit import Kernels

# entries selected by the numpy paths before numba is loaded
LOAD_AFTER_ENTRIES = 1 << 24


def _relu(a, out):  # pragma: no cover - compiled
    """out = max(a, 0) as numpy's maximum of a and +0.0 gives it (flat arrays of one float
    dtype): a NaN kept with its bits, -0.0 and the negatives +0.0."""
    for i in range(out.size):
        out[i] = 0 if a[i] <= 0 else a[i]


def _relu_backward(output, grad, out):  # pragma: no cover - compiled
    """out = grad where not output <= 0, else +0.0 (flat arrays of one float dtype)."""
    for i in range(out.size):
        out[i] = 0 if output[i] <= 0 else grad[i]


def _max_pool_2x2_backward(local, grad, out):  # pragma: no cover - compiled
    """out (P, 2 oh, 2 ow) = each grad (P, oh, ow) at its window's entry ``local`` (0..3, row
    by row), +0.0 at the other three."""
    planes, rows, columns = grad.shape
    for p in range(planes):
        for i in range(rows):
            for j in range(columns):
                k = local[p, i, j]
                g = grad[p, i, j]
                out[p, 2 * i, 2 * j] = g if k == 0 else 0
                out[p, 2 * i, 2 * j + 1] = g if k == 1 else 0
                out[p, 2 * i + 1, 2 * j] = g if k == 2 else 0
                out[p, 2 * i + 1, 2 * j + 1] = g if k == 3 else 0


def _add_tiles(blocks, out, m, ph, pw, zero):  # pragma: no cover - compiled
    """Winograd's input gradient from its tiles: out (n, C, H, W) = the (a, a) tiles of blocks
    (a, a, n, th, tw, C), one every m rows and columns, added where they overlap, shifted by
    (-ph, -pw), in conv_winograd.Winograd.input_gradient's order of additions (a tile row's
    own value first, plus the overlap of the tile above; then the same by columns), so the
    same bits; ``zero``: 0 in the arrays' dtype."""
    a, _, samples, rows, columns, channels = blocks.shape
    height, width = out.shape[2], out.shape[3]
    extra = a - m
    for s in range(samples):
        for c in range(channels):
            for y in range(height):
                p, i = divmod(y + ph, m)
                for xx in range(width):
                    q, j = divmod(xx + pw, m)
                    u = zero
                    if q < columns:  # tile q's column j (rows combined as below)
                        u = blocks[i, j, s, p, q, c] if p < rows else zero
                        if i < extra and p >= 1:
                            u = u + blocks[i + m, j, s, p - 1, q, c]
                    if j < extra and q >= 1:  # tile q - 1's column j + m
                        v = blocks[i, j + m, s, p, q - 1, c] if p < rows else zero
                        if i < extra and p >= 1:
                            v = v + blocks[i + m, j + m, s, p - 1, q - 1, c]
                        u = u + v
                    out[s, c, y, xx] = u


_SOURCES = {"relu": _relu, "relu_backward": _relu_backward,
            "max_pool_2x2_backward": _max_pool_2x2_backward, "add_tiles": _add_tiles}
_SIGNATURES = {
    "relu": "void({t}[::1], {t}[::1])",
    "relu_backward": "void({t}[::1], {t}[::1], {t}[::1])",
    "max_pool_2x2_backward": "void(int8[:, :, ::1], {t}[:, :, ::1], {t}[:, :, ::1])",
    "add_tiles": "void({t}[:, :, :, :, :, ::1], {t}[:, :, :, :], int64, int64, int64, {t})",
}


_KERNELS = Kernels(_SOURCES, _SIGNATURES, {"relu": (0,), "relu_backward": (0, 1),
                                             "max_pool_2x2_backward": (0, 1), "add_tiles": (0,)},
                   LOAD_AFTER_ENTRIES, fastmath=False)
set_enabled = _KERNELS.set_enabled
_kernel = _KERNELS.get


def relu(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_relu`` for ``entries`` entries, or None (no numba, turned off, or not
    loaded yet)."""
    return _kernel("relu", entries)


def relu_backward(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_relu_backward`` for a select of ``entries`` entries, or None (no
    numba, turned off, or not loaded yet)."""
    return _kernel("relu_backward", entries)


def add_tiles(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_add_tiles`` for tiles of ``entries`` entries, or None (no numba,
    turned off, or not loaded yet)."""
    return _kernel("add_tiles", entries)


def max_pool_2x2_backward(entries: int = LOAD_AFTER_ENTRIES):
    """The compiled ``_max_pool_2x2_backward`` for a scatter of ``entries`` entries, or None
    (no numba, turned off, or not loaded yet)."""
    return _kernel("max_pool_2x2_backward", entries)
