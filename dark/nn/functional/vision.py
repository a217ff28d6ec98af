"""Spatial functionals of dark.nn.functional: grid_sample and affine_grid (the spatial
transformer's sampler and grid), pixel_shuffle / pixel_unshuffle and channel_shuffle.

grid_sample follows ATen's grid sampler: the grid's coordinates are unnormalised, padded
(border clip or reflection) and floored on raw arrays with ATen's formulas, and enter the
graph through one op (_Coordinate) whose gradient is ATen's (the unnormalising scale times
the clip / reflection factor, 0 on a clipped border as ATen). The interpolation weights and
the gathered input values are ordinary differentiable ops, so input and grid gradients (and
higher ones) come from those ops' formulas, on CPU and GPU alike."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..._backend import array_module
from ..._tensor import Tensor
from ...autograd.function import Op
from ...ops.indexing import gather
from ...ops.linalg import bmm

__all__ = ["affine_grid", "channel_shuffle", "grid_sample", "pixel_shuffle",
           "pixel_unshuffle"]

_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                  "old behavior is desired. See the documentation of grid_sample for details.")


class _Coordinate(Op):
    """The sampling coordinate ``value`` (computed from the grid on arrays) as a function of
    the grid: its gradient is ``mult`` times the incoming one."""

    node_name = "GridSampler2DBackward0"

    @staticmethod
    def forward(ctx, grid, value, mult):
        ctx.mult = mult
        return value

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor._make(ctx.mult)


def _sizes(shape) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be on same device, but "
                           f"input is on {input.device} and grid is on {grid.device}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {_sizes(input.shape)} and grid with "
                           f"sizes {_sizes(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           f"last dimension, but got grid with sizes {_sizes(grid.shape)}")
    for dim in range(2, input.dim()):
        if input.shape[dim] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {_sizes(input.shape)} with "
                               f"dimension {dim} being empty")
    expected = 4 if input.dim() == 4 else 5
    if input.dim() != expected or grid.dim() != expected:
        raise RuntimeError(f"grid_sampler(): expected {expected}D input and grid with same "
                           f"number of dimensions, but got input with sizes "
                           f"{_sizes(input.shape)} and grid with sizes {_sizes(grid.shape)}")
    if expected == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    kinds = (input._data.dtype, grid._data.dtype)
    if any(np.dtype(kind).kind != "f" for kind in kinds):
        bad = input if np.dtype(kinds[0]).kind != "f" else grid
        raise NotImplementedError(f'"grid_sampler_{expected - 2}d_cpu_kernel_impl" not '
                                  f"implemented for '{bad.dtype.scalar_name}'")
    if kinds[0] != kinds[1]:
        raise RuntimeError(f"expected scalar type {input.dtype.scalar_name} but found "
                           f"{grid.dtype.scalar_name}")


def _unnormalize(coord, size: int, align_corners: bool, dims: int = 2):
    """ATen's unnormalisation (value, d value / d coord): for 2-D its vectorised CPU
    kernel's (coord + 1) * scale (- 0.5), for 3-D grid_sampler_unnormalize's formula."""
    if dims == 2:
        if align_corners:
            scale = coord.dtype.type((size - 1) / 2)
            return (coord + 1) * scale, scale
        scale = coord.dtype.type(size / 2)
        return (coord + 1) * scale - coord.dtype.type(0.5), scale
    if align_corners:
        return (coord + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _clip(coord, size: int, xp):
    """ATen's clip_coordinates_set_grad: (value in [0, size - 1], gradient factor 0 / 1)."""
    limit = size - 1
    inside = (coord > 0) & (coord < limit)
    return xp.where(coord <= 0, 0, xp.where(coord >= limit, limit, coord)).astype(
        coord.dtype), inside.astype(coord.dtype)


def _reflect(coord, twice_low: int, twice_high: int, xp):
    """ATen's reflect_coordinates_set_grad: (value, gradient factor +1 / -1)."""
    if twice_low == twice_high:
        return xp.zeros_like(coord), xp.zeros_like(coord)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    shifted = coord - low
    sign = xp.where(shifted < 0, -1, 1).astype(coord.dtype)
    shifted = shifted * sign
    extra = xp.fmod(shifted, span)
    flips = xp.floor(shifted / span)
    even = flips % 2 == 0
    value = xp.where(even, extra + low, span - extra + low).astype(coord.dtype)
    return value, xp.where(even, sign, -sign)


def _pad_coordinates(coord, size: int, padding_mode: str, align_corners: bool, xp):
    """ATen's compute_coordinates: (padded value, gradient factor)."""
    if padding_mode == "border":
        return _clip(coord, size, xp)
    if padding_mode == "reflection":
        if align_corners:
            value, factor = _reflect(coord, 0, 2 * (size - 1), xp)
        else:
            value, factor = _reflect(coord, -1, 2 * size - 1, xp)
        value, clip_factor = _clip(value, size, xp)
        return value, factor * clip_factor
    return coord, xp.ones_like(coord)


def _gather_corner(flat: Tensor, indices: list, sizes: list, xp):
    """flat (N, C, prod(sizes)) read at the integer indices (per axis, (N, L) arrays, in
    the input's dim order): (values (N, C, L), in-bounds mask (N, L) of flat's dtype)."""
    valid = xp.ones(indices[0].shape, dtype=bool)
    linear = xp.zeros(indices[0].shape, dtype=np.int64)
    for index, size in zip(indices, sizes):
        valid &= (index >= 0) & (index < size)
        linear = linear * size + xp.clip(index, 0, size - 1).astype(np.int64)
    n, c = flat.shape[0], flat.shape[1]
    expanded = xp.broadcast_to(linear[:, None, :], (n, c, linear.shape[-1]))
    values = gather(flat, 2, Tensor._make(xp.ascontiguousarray(expanded)))
    return values, valid.astype(flat._data.dtype)


def _cubic_coefficients(t: Tensor) -> list:
    """ATen's get_cubic_upsample_coefficients (A = -0.75) of the fraction t."""
    a = -0.75

    def near(x):  # cubic_convolution1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # cubic_convolution2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far((1.0 - t) + 1.0)]


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo); or (N, C, D, H,
    W) at (N, Do, Ho, Wo, 3) -> (N, C, Do, Ho, Wo). grid[..., 0] is x (the last input dim),
    grid[..., 1] y, grid[..., 2] z, in [-1, 1] (the corner pixels' centres with
    align_corners, their outer edges without). mode 'bilinear' (trilinear for 5-D),
    'nearest' or 'bicubic' (4-D); padding_mode 'zeros', 'border' or 'reflection'."""
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    _check_grid_sample(input, grid, mode)
    xp = array_module(input._data)
    n, c = input.shape[0], input.shape[1]
    in_sizes = [int(s) for s in input.shape[2:]]          # (D,) H, W
    out_shape = tuple(int(s) for s in grid.shape[1:-1])
    length = int(np.prod(out_shape))
    dims = len(in_sizes)
    flat = input.reshape(n, c, int(np.prod(in_sizes)))
    components = grid.reshape(n, length, dims)
    # per input axis (in input's dim order: z, y, x), the grid component and the size
    axes = []
    for axis in range(dims):
        component = components[:, :, dims - 1 - axis]
        axes.append((component, in_sizes[axis]))
    if mode == "bicubic":
        out = _bicubic(flat, axes, padding_mode, align_corners, xp)
    else:
        coords = []
        for component, size in axes:
            raw = component._data
            value, scale = _unnormalize(raw, size, align_corners, dims)
            value, factor = _pad_coordinates(value, size, padding_mode, align_corners, xp)
            coords.append((component, value, factor * value.dtype.type(scale)))
        if mode == "nearest":
            out = _nearest(flat, coords, in_sizes, xp)
        else:
            out = _linear(flat, coords, in_sizes, xp)
    return out.reshape(n, c, *out_shape)


def _nearest(flat, coords, sizes, xp):
    indices = [xp.rint(value).astype(np.int64) for _, value, _ in coords]
    values, valid = _gather_corner(flat, indices, sizes, xp)
    component, value, _ = coords[-1]
    # a weight of 1 with a zero gradient keeps the grid in the graph, as ATen's zero grad
    one = _Coordinate.apply(component, value=xp.ones_like(value), mult=xp.zeros_like(value))
    return values * (one * Tensor._make(valid)).unsqueeze(1)


def _linear(flat, coords, sizes, xp):
    points, lows = [], []
    for component, value, mult in coords:
        points.append(_Coordinate.apply(component, value=value, mult=mult))
        lows.append(xp.floor(value))
    out = None
    for corner in itertools.product((0, 1), repeat=len(coords)):
        weight = None
        for point, low, step in zip(reversed(points), reversed(lows), reversed(corner)):
            # x factor first, then y (then z), as ATen's nw = (ix_se - ix) * (iy_se - iy)
            factor = point - Tensor._make(low) if step else Tensor._make(low + 1) - point
            weight = factor if weight is None else weight * factor
        indices = [(low + step).astype(np.int64) for low, step in zip(lows, corner)]
        values, valid = _gather_corner(flat, indices, sizes, xp)
        term = values * (weight * Tensor._make(valid)).unsqueeze(1)
        out = term if out is None else out + term
    return out


def _bicubic(flat, axes, padding_mode, align_corners, xp):
    (y_component, height), (x_component, width) = axes
    fractions, lows = [], []
    for component, size in ((x_component, width), (y_component, height)):
        value, scale = _unnormalize(component._data, size, align_corners)
        low = xp.floor(value)
        mult = xp.full(value.shape, scale, dtype=value.dtype)
        point = _Coordinate.apply(component, value=value, mult=mult)
        fractions.append(point - Tensor._make(low))
        lows.append(low)
    x_coefficients = _cubic_coefficients(fractions[0])
    y_coefficients = _cubic_coefficients(fractions[1])

    def bounded(low, offset, size):
        position, _ = _pad_coordinates(low + offset, size, padding_mode, align_corners, xp)
        return position.astype(np.int64)  # static_cast<int64_t>: towards zero

    out = None
    for i in range(4):
        y_index = bounded(lows[1], i - 1, height)
        row = None
        for j in range(4):
            x_index = bounded(lows[0], j - 1, width)
            values, valid = _gather_corner(flat, [y_index, x_index], [height, width], xp)
            term = values * (Tensor._make(valid) * x_coefficients[j]).unsqueeze(1)
            row = term if row is None else row + term
        term = row * y_coefficients[i].unsqueeze(1)
        out = term if out is None else out + term
    return out


# ----------------------------------------------------------------------------- affine_grid


def _linspace_from_neg_one(steps: int, align_corners: bool, dtype, xp):
    """ATen's linspace_from_neg_one: linspace(-1, 1, steps) as ATen computes it in
    ``dtype``, scaled by (steps - 1) / steps without align_corners."""
    if steps <= 1:
        return xp.zeros(1, dtype=dtype)
    step = dtype.type((1.0 - -1.0) / (steps - 1))
    index = xp.arange(steps)
    half = steps // 2
    values = xp.where(index < half, dtype.type(-1) + step * index.astype(dtype),
                      dtype.type(1) - step * (steps - index - 1).astype(dtype)).astype(dtype)
    if not align_corners:
        values = (values * dtype.type(steps - 1) / dtype.type(steps)).astype(dtype)
    return values


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of the affine maps theta (N, 2, 3) for an output of size (N, C, H,
    W) -> (N, H, W, 2); theta (N, 3, 4) and size (N, C, D, H, W) -> (N, D, H, W, 3)."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    given, size = size, [int(s) for s in size]
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{given}. Got {theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{given}. Got {theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {given}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {given}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {len(spatial) + 1}] but got: [{theta.shape[0]}, "
                           f"{theta.shape[2]}].")
    xp = array_module(theta._data)
    dtype = theta._data.dtype
    dims = len(spatial)
    base = xp.ones((*spatial, dims + 1), dtype=dtype)
    # channel 0 varies along the last spatial dim (x / W), 1 along H, 2 along D
    for channel in range(dims):
        axis = dims - 1 - channel
        line = _linspace_from_neg_one(spatial[axis], align_corners, dtype, xp)
        shape = [1] * dims
        shape[axis] = spatial[axis]
        base[..., channel] = line.reshape(shape)
    points = int(np.prod(spatial))
    base = xp.broadcast_to(base.reshape(1, points, dims + 1), (size[0], points, dims + 1))
    grid = bmm(Tensor._make(xp.ascontiguousarray(base)), theta.transpose(1, 2))
    return grid.reshape(size[0], *spatial, dims)


# ----------------------------------------------------------------------------- shuffles


def _check_shuffle_input(input: Tensor, name: str) -> None:
    if input.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r)."""
    _check_shuffle_input(input, "pixel_shuffle")
    r = int(upscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    channels, height, width = (int(s) for s in input.shape[-3:])
    if channels % (r * r) != 0:
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)="
                           f"{channels} is not divisible by {r * r}")
    batch = tuple(input.shape[:-3])
    out_channels = channels // (r * r)
    x = input.reshape(*batch, out_channels, r, r, height, width)
    k = len(batch)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*batch, out_channels, height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    _check_shuffle_input(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    channels, height, width = (int(s) for s in input.shape[-3:])
    if height % r != 0:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={height} is not divisible "
                           f"by {r}")
    if width % r != 0:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by "
                           f"downscale_factor, but input.size(-1)={width} is not divisible "
                           f"by {r}")
    batch = tuple(input.shape[:-3])
    k = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = g * k -> channels reordered as (k, g): channel i * g + j of the
    output is channel j * k + i of the input."""
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {_sizes(input.shape)}")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value "
                           f"of groups:{groups}")
    channels = int(input.shape[1])
    if channels % groups != 0:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} "
                           f"channels and {groups} groups.")
    n = input.shape[0]
    rest = tuple(input.shape[2:])
    x = input.reshape(n, groups, channels // groups, *rest).transpose(1, 2)
    return x.reshape(n, channels, *rest)
