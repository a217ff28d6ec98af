"""Pooling for dark.nn.functional: max/avg pooling (1-D, 2-D, 3-D), adaptive average and max
pooling, lp pooling and max unpooling.

The ops treat every leading dim as a batch dim, so batched and unbatched inputs go through
the same code; their arrays are computed by dark._kernels.pooling. Max pooling returns
PyTorch's indices (flat within each plane, ties to the first maximum) and scatters its
gradient to them (``ScatterFlat``, whose adjoint ``GatherFlat`` is its backward, so second
derivatives come out). Average pooling and its adjoint are linear Ops that are each other's
backward."""
from __future__ import annotations

import numbers

from ..._backend import array_module
from ..._kernels.pooling import (
    Geometry,
    adaptive_matrices,
    adaptive_max_gather,
    adaptive_ranges,
    apply_matrices,
    avg_pool,
    avg_pool_adjoint,
    gather_flat,
    max_pool,
    scatter_flat,
    scatter_to_argmax,
    unpool,
)
from ..._tensor import Tensor
from ...autograd.function import Op
from ._adjoint import LinearOp, adjoints
from ._checks import int_tuple

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d",
           "lp_pool2d", "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool2d"]

# ----------------------------------------------------------------------------- max pooling


class MaxPool(Op):
    """Max pooling; the flat indices are made (and returned) only with ``with_indices``,
    the backward scatters by the window-local argmax."""

    @staticmethod
    def forward(ctx, x, geometry=None, with_indices=False):
        xp = array_module(x)
        values, local = max_pool(xp, x, geometry, with_indices or ctx.needs_input_grad[0])
        ctx.geometry, ctx.local, ctx.indices = geometry, local, None
        if not with_indices:
            return values
        ctx.indices = geometry.flat_index(xp, local).reshape(values.shape)
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
        xp = array_module(values)
        ctx.indices, ctx.geometry, ctx.local = indices, geometry, local
        if local is not None:
            return scatter_to_argmax(xp, values, geometry, local)
        return scatter_flat(xp, values, indices, geometry.spatial)

    @staticmethod
    def backward(ctx, grad):
        indices = ctx.indices
        if indices is None:
            geometry = ctx.geometry
            local = ctx.local
            indices = geometry.flat_index(array_module(local), local).reshape(
                tuple(grad.shape[:grad.dim() - len(geometry.spatial)]) + geometry.out)
        return GatherFlat.apply(grad, indices=indices, geometry=ctx.geometry)


class GatherFlat(LinearOp):
    """The entries of x (*lead, *spatial) at flat plane ``indices`` (*lead, *out)."""

    adjoint = ScatterFlat

    @staticmethod
    def compute(xp, x, indices=None, geometry=None):
        return gather_flat(xp, x, indices, geometry.spatial)


class MaxUnpool(LinearOp):
    """Put values (*lead, *out) at their flat plane ``indices`` of a zero (*lead, *spatial)
    array (a repeated index keeps one of its values, as torch)."""

    node_name = "MaxUnpool2DBackward0"
    adjoint = GatherFlat

    @staticmethod
    def compute(xp, values, indices=None, geometry=None):
        return unpool(xp, values, indices, geometry.spatial)


# ----------------------------------------------------------------------------- avg pooling

class AvgPool(LinearOp):
    @staticmethod
    def compute(xp, x, geometry=None, count_include_pad=True, divisor_override=None):
        return avg_pool(xp, x, geometry, count_include_pad, divisor_override)


class AvgPoolAdjoint(LinearOp):
    """Spread each output gradient over its window, divided by the window's divisor."""

    node_name = "AvgPoolBackwardBackward0"

    @staticmethod
    def compute(xp, grad, geometry=None, count_include_pad=True, divisor_override=None):
        return avg_pool_adjoint(xp, grad, geometry, count_include_pad, divisor_override)


adjoints(AvgPool, AvgPoolAdjoint)

_AVG_POOL = {d: type(f"AvgPool{d}D", (AvgPool,), {"node_name": f"AvgPool{d}DBackward0"})
             for d in (1, 2, 3)}
_ADAPTIVE_AVG = {d: type(f"AdaptiveAvgPool{d}D", (AvgPool,),
                         {"node_name": f"AdaptiveAvgPool{d}DBackward0"}) for d in (1, 2, 3)}
_ADAPTIVE_MAX = {d: type(f"AdaptiveMaxPool{d}D", (MaxPool,),
                         {"node_name": f"AdaptiveMaxPool{d}DBackward0"}) for d in (1, 2, 3)}


# ----------------------------------------------------------------------------- adaptive

class AdaptiveAvgPoolMatrix(LinearOp):
    """Adaptive average pooling of uneven windows: one averaging matrix per spatial dim."""

    @staticmethod
    def compute(xp, x, matrices=()):
        return apply_matrices(xp, x, matrices, transpose=False)


class AdaptiveAvgPoolMatrixAdjoint(LinearOp):
    node_name = "AdaptiveAvgPoolBackwardBackward0"

    @staticmethod
    def compute(xp, grad, matrices=()):
        return apply_matrices(xp, grad, matrices, transpose=True)


adjoints(AdaptiveAvgPoolMatrix, AdaptiveAvgPoolMatrixAdjoint)


def adaptive_avg_pool(input: Tensor, output_size: tuple, d: int) -> Tensor:
    """Adaptive average pooling of the last d dims to ``output_size`` (None keeps a size):
    average pooling when the windows tile the input, else one matrix product per dim."""
    spatial = tuple(input.shape[input.dim() - d:])
    output_size = tuple(s if o is None else o for s, o in zip(spatial, output_size))
    if all(o > 0 and s % o == 0 for s, o in zip(spatial, output_size)):
        kernel = tuple(s // o for s, o in zip(spatial, output_size))
        geometry = Geometry(spatial, kernel, kernel, (0,) * d, (1,) * d, False)
        return _ADAPTIVE_AVG[d].apply(input, geometry=geometry)
    return _ADAPTIVE_AVG_MATRIX[d].apply(input, matrices=adaptive_matrices(spatial,
                                                                           output_size))


class AdaptiveMaxPoolGather(MaxPool):
    """Adaptive max pooling of uneven windows: the windows gathered by index."""

    @staticmethod
    def forward(ctx, x, geometry=None, ranges=()):
        values, indices = adaptive_max_gather(array_module(x), x, geometry, ranges)
        ctx.geometry, ctx.local, ctx.indices = geometry, None, indices
        ctx.mark_non_differentiable(indices)
        return values, indices


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
    values = int_tuple(value, d)
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
    geometry = Geometry(spatial, kernel, stride, padding, dilation, bool(ceil_mode))
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
        geometry = Geometry(spatial, kernel, kernel, (0,) * d, (1,) * d, False)
        return _ADAPTIVE_MAX[d].apply(input, geometry=geometry,
                                      with_indices=bool(return_indices))
    geometry = Geometry(spatial, (1,) * d, (1,) * d, (0,) * d, (1,) * d, False)
    geometry.out = sizes
    ranges = tuple(adaptive_ranges(s, o) for s, o in zip(spatial, sizes))
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
    geometry = Geometry(spatial, (1, 1), (1, 1), (0, 0), (1, 1), False)
    return MaxUnpool.apply(input, indices=index, geometry=geometry)
