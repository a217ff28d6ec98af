"""3x3 stride-1 2-D convolutions by Winograd's minimal filtering F(m x m, 3 x 3), every step
a BLAS product.

The padded input is cut into overlapping (a, a) tiles, a = m + 2, one per (m, m) block of
outputs. With the transform matrices B (a, a), G (a, 3) and A (a, m), each tile d and each
filter g give V = B^T d B and U = G g G^T, and the tile's outputs are A^T (sum over the input
channels of U * V) A: per tile position xi (a * a of them) ONE channel product
M[xi] = V[xi] (tiles, C_in) @ U[xi]^T (C_in, C_out), all of them one batched matmul. The
transforms are small matrices applied along one axis at a time of arrays laid out
(a, a, tiles, channels), so that each is a product of an (a, a) or (m, a) matrix by a long
(a, rest) block; channels last, because gathering the tiles from the planes that way runs
2-2.5x faster than channels first, and the products as fast or faster.

Against im2col, the channel product has a * a / (m * m) multiply-adds per output where
im2col has 9: 4 for F(2x2, 3x3), 2.25 for F(4x4, 3x3). The transforms cost about
(C_in + C_out) * a * a / (m * m) entries per output, written and read in memory-bound passes
(the tiles overlap: an input is copied (a / m)^2 times).

Accuracy in float32 (measured against float64 on unit-normal inputs with nn.Conv2d's
initial weights; tests/test_conv_winograd.py checks it): F(2x2, 3x3)'s matrices hold 0, +-1
and 1/2, and its outputs are within ~4e-7 (64 channels) to ~8e-7 (1024) of the largest
output, as torch's own float32 convolution (~3-5e-7). F(4x4, 3x3) amplifies the rounding of
its channel products through A (entries up to 8): with the usual points 0, +-1, +-2 its error
is ~7e-6 of the largest output at 64 channels; with the points 0, +-1, 1/2, -2 used here
(Barabasz et al., "Error analysis and improving the accuracy of Winograd convolution for
deep neural networks", 2020) it is ~2.5e-6 at 64 channels, growing as the square root of the
channels summed: ~5e-6 at 256, ~9e-6 at 1024, where it passes torch's float32 tolerance
(rtol 1.3e-6, atol 1e-5, torch.testing's) against float64. So F(4x4) serves convolutions of
at most F4_MAX_CHANNELS channels on either side (the forward sums C_in, the input's gradient
C_out), F(2x2) wider ones. The weight's gradient (a sum over all tiles) is within ~3e-6 of
its largest entry on both, as torch's (~1-4e-6).

The backward is the adjoint of the same steps: the output's gradient goes through A
(A gY A^T per tile, the junk outputs of partial tiles with zero gradient), laid out channels
last, (a * a, tiles, C_out), where the backward's products run faster; the weight's
gradient is G^T (sum over tiles of (A gY A^T)[xi]^T @ V[xi]^T) G, from the forward's V when
it kept them. The input's gradient goes one of two ways, the one estimated cheaper
(``Winograd.adjoint_input_gradient``): the adjoint, (A gY A^T)[xi] @ U[xi] (channels last)
then B dV B^T per tile with the overlapping rows and columns of neighbouring tiles added (it
shares A gY A^T with the weight's gradient), or a forward convolution of the output's
gradient by the flipped, transposed weight (a 3x3 conv_transpose with stride 1 is one) on
this path."""
from __future__ import annotations

import functools

import numpy as np

from . import matmul, passes_numba
from .numba_jit import FLOATS

_MATRICES = {
    2: ([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]]),
    # the points 0, 1, -1, 1/2, -2 and infinity: B^T = inv(Vandermonde)^T with its rows
    # scaled to integers (exact in the input's transform), the scales divided out of G
    4: ([[2, -3, -4, 3, 2, 0], [0, -2, 1, 5, 2, 0], [0, -2, 5, -1, -2, 0],
         [0, 2, 1, -2, -1, 0], [0, 1, -2, -1, 2, 0], [0, 2, -3, -4, 3, 2]],
        [[1 / 2, 0, 0], [1 / 6, 1 / 6, 1 / 6], [1 / 6, -1 / 6, 1 / 6],
         [16 / 15, 8 / 15, 4 / 15], [1 / 30, -1 / 15, 2 / 15], [0, 0, 1 / 2]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 1 / 2, -2, 0], [0, 1, 1, 1 / 4, 4, 0],
         [0, 1, -1, 1 / 8, -8, 1]]),
}


@functools.lru_cache(maxsize=16)
def matrices(m: int, dtype) -> tuple:
    """(B^T (a, a), G (a, 3), A^T (m, a)) of F(m x m, 3 x 3) in dtype."""
    return tuple(np.array(matrix, dtype=np.float64).astype(dtype) for matrix in _MATRICES[m])


def _along_both(matrix, blocks):
    """matrix (p, q) applied along both leading axes of blocks (q, q, rest): (p, p, rest),
    entry (i, j) = sum_kl matrix[i, k] blocks[k, l] matrix[j, l]; two products."""
    q, rest = blocks.shape[0], blocks.shape[2:]
    flat = blocks.reshape(q, q, -1)
    first = matmul(matrix, flat)  # (q, p, R): along the second axis, for each first index
    p = matrix.shape[0]
    second = matmul(matrix, first.reshape(q, -1))  # (p, p * R): along the first axis
    return second.reshape((p, p) + rest)


class Winograd:
    """The geometry of a 3x3 stride-1 2-D convolution of (n, C_in, H, W) inputs with symmetric
    ``padding`` by F(m x m, 3 x 3): tiles (th, tw) of each plane."""

    __slots__ = ("in_channels", "out_channels", "spatial", "padding", "m", "out", "tiles",
                 "dtype")

    def __init__(self, in_channels, out_channels, spatial, padding, m, dtype):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.spatial, self.padding, self.m = tuple(spatial), tuple(padding), m
        self.out = tuple(s + 2 * p - 2 for s, p in zip(spatial, padding))
        self.tiles = tuple(-(-o // m) for o in self.out)
        self.dtype = np.dtype(dtype)

    @property
    def a(self) -> int:
        return self.m + 2

    @property
    def tiles_per_sample(self) -> int:
        return self.tiles[0] * self.tiles[1]

    def input_tiles(self, x):
        """V (a * a, n * th * tw, C_in): the transformed tiles of n input samples, channels
        last (the gather from the planes runs 2.5x faster so than channels first: 1.6
        against 3.9 ms for the MNIST Net's conv2 input at one thread, and the products take
        it as fast)."""
        n, channels = x.shape[:2]
        m, a = self.m, self.a
        (th, tw), (ph, pw), (h, w) = self.tiles, self.padding, self.spatial
        # th * m >= h + 2 ph - 2: the padded planes hold the whole input, and the partial
        # tiles past its edge read zeros
        planes = np.zeros((n, channels, th * m + 2, tw * m + 2), dtype=x.dtype)
        planes[:, :, ph:ph + h, pw:pw + w] = x
        s = planes.strides
        view = np.lib.stride_tricks.as_strided(
            planes, (a, a, n, th, tw, channels), (s[2], s[3], s[0], m * s[2], m * s[3], s[1]))
        blocks = np.empty(view.shape, dtype=x.dtype)
        np.copyto(blocks, view)
        transform = matrices(m, self.dtype)[0]
        return _along_both(transform, blocks).reshape(a * a, n * th * tw, channels)

    def weight_tiles(self, weight):
        """U (a * a, C_out, C_in) of the (C_out, C_in, 3, 3) weight (its transpose,
        contiguous, for the forward's products: V (tiles, C_in) @ U^T (C_in, C_out))."""
        g = matrices(self.m, self.dtype)[1]
        taps = np.ascontiguousarray(weight.transpose(2, 3, 0, 1))
        return _along_both(g, taps).reshape(self.a * self.a, *weight.shape[:2])

    def output_tiles(self, grad_output):
        """A gY A^T (a * a, n * th * tw, C_out) of n output-shaped maps (the outputs of the
        partial tiles past the edge at zero), channels last: the adjoint of ``outputs``,
        laid out for the backward's products (the weight's, (C_out, tiles) @ (tiles, C_in),
        and the input's, (tiles, C_out) @ (C_out, C_in), run about 1.7x faster so than
        channels first, and the gather itself 2x: 1.0 against 2.0 ms for the MNIST Net's
        conv2 gradient at one thread)."""
        n, channels = grad_output.shape[:2]
        m, a = self.m, self.a
        (th, tw), (oh, ow) = self.tiles, self.out
        blocks = np.empty((m, m, n, th, tw, channels), dtype=grad_output.dtype)
        if (oh, ow) != (th * m, tw * m):
            padded = np.zeros((n, channels, th * m, tw * m), dtype=grad_output.dtype)
            padded[:, :, :oh, :ow] = grad_output
            grad_output = padded
        np.copyto(blocks, grad_output.reshape(n, channels, th, m, tw, m)
                  .transpose(3, 5, 0, 2, 4, 1))
        transform = np.ascontiguousarray(matrices(m, self.dtype)[2].T)  # A (a, m)
        return _along_both(transform, blocks).reshape(a * a, n * th * tw, channels)

    def outputs(self, product, out, bias=None):
        """Write A^T M A of the (a * a, n * th * tw, C_out) products (channels last) into out
        (n, C_out, oh, ow), plus the bias per channel (added into ``product``)."""
        n, channels = out.shape[:2]
        m, a = self.m, self.a
        (th, tw), (oh, ow) = self.tiles, self.out
        product = product.reshape(a * a, -1, channels)
        if bias is not None:
            # column 1 of A^T (the point 1) is all ones: a bias added to the products at
            # tile position (1, 1) reaches each output of the tile once; a pass over 1 / a^2
            # of the products, where adding it in the scatter below doubles that pass's time
            product[a + 1] += bias
        blocks = _along_both(matrices(m, self.dtype)[2], product.reshape(a, a, -1))
        tiles = blocks.reshape(m, m, n, th, tw, channels).transpose(2, 5, 3, 0, 4, 1)
        if (oh, ow) == (th * m, tw * m):
            np.copyto(out.reshape(n, channels, th, m, tw, m), tiles)
        else:
            np.copyto(out, tiles.reshape(n, channels, th * m, tw * m)[:, :, :oh, :ow])

    def input_gradient(self, products, grad_input):
        """Write the adjoint of ``input_tiles`` of the (a * a, n * th * tw, C_in) products
        (channels last, as ``output_tiles``'s) into grad_input (n, C_in, H, W): B dV B^T per
        tile, the tiles' overlapping rows and columns (their last two, the next tile's first
        two) added together, the padding cropped; where numba is installed, those additions
        and the crop in one compiled pass (passes_numba.add_tiles: the same additions, the
        same bits) instead of numpy's five passes over the tiles."""
        n, channels = grad_input.shape[:2]
        m, a = self.m, self.a
        (th, tw), (ph, pw), (h, w) = self.tiles, self.padding, self.spatial
        transform = np.ascontiguousarray(matrices(m, self.dtype)[0].T)  # B (a, a)
        blocks = _along_both(transform, products.reshape(a, a, -1)) \
            .reshape(a, a, n, th, tw, channels)
        if blocks.dtype in FLOATS:
            kernel = passes_numba.add_tiles(blocks.size)
            if kernel is not None:  # the same additions and crop in one compiled pass
                kernel(blocks, grad_input, m, ph, pw, grad_input.dtype.type(0))
                return
        # tile row k of tile t is plane row m t + k: rows m..a-1 of tile t are rows
        # 0..a-m-1 of tile t + 1 (th + 1 of them then, the last one past the input)
        rows = np.empty((m, a, n, th + 1, tw, channels), dtype=grad_input.dtype)
        rows[:, :, :, :th] = blocks[:m]
        rows[:, :, :, th] = 0
        rows[:a - m, :, :, 1:] += blocks[m:]
        grid = np.empty((m, m, n, th + 1, tw + 1, channels), dtype=grad_input.dtype)
        grid[:, :, :, :, :tw] = rows[:, :m]
        grid[:, :, :, :, tw] = 0
        grid[:, :a - m, :, :, 1:] += rows[:, m:]
        planes = np.empty((n, channels, th + 1, m, tw + 1, m), dtype=grad_input.dtype)
        np.copyto(planes, grid.transpose(2, 5, 3, 0, 4, 1))
        planes = planes.reshape(n, channels, (th + 1) * m, (tw + 1) * m)
        np.copyto(grad_input, planes[:, :, ph:ph + h, pw:pw + w])

    def weight(self, products):
        """The (C_out, C_in, 3, 3) weight gradient of the (a * a, C_out, C_in) sums over the
        tiles: G^T dU G."""
        g_t = np.ascontiguousarray(matrices(self.m, self.dtype)[1].T)  # (3, a)
        taps = _along_both(g_t, products.reshape(self.a, self.a, -1))
        return np.ascontiguousarray(
            taps.reshape(3, 3, self.out_channels, self.in_channels).transpose(2, 3, 0, 1))

    def _input_gradient_costs(self, shared: bool) -> tuple:
        """The estimated work per sample of the input's gradient (as ``cost``) by the
        transposed convolution (the output's gradient through B, the products over the
        tiles of its own geometry, through A) and by the adjoint (the products over this
        geometry's tiles, B dV B^T and the overlap's combine at COMBINE_PASS transforms, and
        the output's gradient through A unless the weight's gradient shares it)."""
        squares, channels = self.a * self.a, self.in_channels * self.out_channels
        back, tiles = transposed(self).tiles_per_sample, self.tiles_per_sample
        by_transposed = squares * back * (channels + TRANSFORM_PASS * (self.in_channels
                                                                      + self.out_channels))
        grid = (self.tiles[0] + 1) * (self.tiles[1] + 1)  # the combine's, a row and column more
        entries = squares * (tiles * (self.in_channels + (0 if shared else self.out_channels))
                             + COMBINE_PASS * grid * self.in_channels)
        by_adjoint = squares * tiles * channels + TRANSFORM_PASS * entries
        return by_transposed, by_adjoint

    def adjoint_input_gradient(self, shared: bool) -> bool:
        """Whether the input's gradient goes through the adjoint (else the transposed
        convolution): the lower estimate, or INPUT_GRADIENT where set. ``shared``: the
        weight's gradient is computed beside it (and makes the output's gradient through A
        anyway)."""
        if INPUT_GRADIENT is not None:
            return INPUT_GRADIENT == "adjoint"
        by_transposed, by_adjoint = self._input_gradient_costs(shared)
        return by_adjoint < by_transposed

    def cost(self) -> float:
        """The work per sample of a training step by this path, in multiply-adds: the
        channel products of its three passes (forward, the input's and the weight's
        gradients), and the transformed arrays, a * a entries a tile and channel, each made
        in memory-bound passes (the gather of the tiles, two thin products, the scatter
        back) counted at TRANSFORM_PASS multiply-adds an entry: the input through B and the
        output through A in the forward, the output's gradient through A for the weight,
        and the input's gradient by the cheaper of its two ways."""
        tiles, squares = self.tiles_per_sample, self.a * self.a
        forward_and_weight = squares * tiles * (
            2 * self.in_channels * self.out_channels
            + TRANSFORM_PASS * (self.in_channels + 2 * self.out_channels))
        return forward_and_weight + min(self._input_gradient_costs(shared=True))

    def direct_cost(self) -> float:
        """The same for im2col's flat-shift path, as conv_fourier.Fourier.direct_cost for
        each of its three passes (one product each, of the same size): oh * Wp positions
        (the junk columns included) of C_in * 9 rows by C_out, and its column buffers
        written and read at COLUMN_PASS multiply-adds an entry."""
        positions = self.out[0] * (self.spatial[1] + 2 * self.padding[1])
        rows = self.in_channels * 9
        return 3 * positions * rows * self.out_channels * (1 + COLUMN_PASS / self.out_channels)


# The weights are fitted to the 3x3 convolutions of benchmarks/conv_paths.py (forward and
# backward timed on both paths in dark's threads, --fit prints the fit); WINOGRAD_MARGIN
# asks for a clear win.
TRANSFORM_PASS = 24
COLUMN_PASS = 32
WINOGRAD_MARGIN = 0.9
# The adjoint input gradient's combine of the tiles' overlaps (two adds and a scatter with
# short inner loops, over a grid of one tile row and column more), in transforms of its
# entries: fitted to the two ways' times on the 3x3 convolutions of benchmarks/conv_paths.py
# (13 of 15 choices right at one thread, the two others within 3% of each other).
COMBINE_PASS = 1.5
# "adjoint" or "transposed": the input gradient's way for every convolution, else the
# lower estimate (Winograd.adjoint_input_gradient).
INPUT_GRADIENT = None
# F(4x4, 3x3) up to this many channels on either side of the convolution, F(2x2, 3x3) above
# (the module's docstring: F(4x4)'s float32 error grows with the channels summed).
F4_MAX_CHANNELS = 128
# m of F(m x m, 3 x 3) for every convolution when set (2 or 4), else the choice above.
TILE = None


def tile(in_channels: int, out_channels: int) -> int:
    """m of F(m x m, 3 x 3) for a convolution of these channels."""
    if TILE is not None:
        return TILE
    return 4 if max(in_channels, out_channels) <= F4_MAX_CHANNELS else 2


def geometry(x_shape, weight_shape, stride, padding, dilation, groups, dtype, xp):
    """The Winograd geometry of a convolution this path computes (2-D, 3x3, stride 1,
    dilation 1, groups 1, padding at most 2, float32 or float64, on the CPU), else None."""
    if (xp is not np or len(weight_shape) != 4 or tuple(weight_shape[2:]) != (3, 3)
            or groups != 1 or any(s != 1 for s in stride) or any(d != 1 for d in dilation)
            or any(p > 2 for p in padding)
            or np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64))):
        return None
    in_channels, out_channels = x_shape[1], weight_shape[0]
    plan = Winograd(in_channels, out_channels, x_shape[2:], padding,
                    tile(in_channels, out_channels), dtype)
    if min(plan.out) < 1:
        return None
    return plan


def transposed(plan: Winograd) -> Winograd:
    """The geometry of the input's gradient as a forward convolution: the output's gradient
    (n, C_out, oh, ow) padded by 2 - p, by the flipped weight transposed (C_in, C_out)."""
    return Winograd(plan.out_channels, plan.in_channels, plan.out,
                    tuple(2 - p for p in plan.padding), plan.m, plan.dtype)


def flipped(weight):
    """The (C_in, C_out, 3, 3) weight of the transposed convolution."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def tiles_entries(plan: Winograd) -> int:
    """The largest transformed array per sample, in entries (for the chunks)."""
    return plan.a * plan.a * plan.tiles_per_sample * max(plan.in_channels, plan.out_channels)


__all__ = ["F4_MAX_CHANNELS", "TILE", "Winograd", "flipped", "geometry", "matrices", "tile",
           "tiles_entries", "transposed"]
