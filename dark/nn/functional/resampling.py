"""Resampling for dark.nn.functional: interpolate (nearest, nearest-exact, linear, bilinear,
bicubic, trilinear, area, lanczos; bilinear and bicubic antialiased or not) and the
deprecated upsample aliases.

Every interpolation (and every non-constant pad) is separable: one pair of Ops does all of
them, ``AxisResample`` (a plan of gathers or matmuls along the axes, dark._kernels.resample)
and its adjoint ``AxisResampleAdjoint`` (scatter-add, or the transposed matmul); each one's
backward is the other, so they are differentiable any number of times. Mode 'area' is
adaptive average pooling."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..._kernels.resample import axis_terms, gather, linear_terms, nearest_index, scatter
from ..._tensor import Tensor
from ._adjoint import LinearOp, adjoints
from .pooling import adaptive_avg_pool

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

# ----------------------------------------------------------------------------- resampling ops


class AxisResample(LinearOp):
    """Separable resampling along some axes (``plan``: tuple of (axis, input size, terms),
    terms a tuple of (index, weight or None) taps or an (out, in) weight matrix)."""

    compute = staticmethod(gather)


class AxisResampleAdjoint(LinearOp):
    """The adjoint of AxisResample: scatter-add back to the input's shape."""

    compute = staticmethod(scatter)


adjoints(AxisResample, AxisResampleAdjoint)


_NAMED: dict = {}


def resample_op(node_name: str):
    """An AxisResample subclass whose grad_fn carries PyTorch's name for the op."""
    if node_name not in _NAMED:
        _NAMED[node_name] = type(node_name.replace("Backward0", ""), (AxisResample,),
                                 {"node_name": node_name})
    return _NAMED[node_name]


# ----------------------------------------------------------------------------- interpolate

_SPATIAL_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _scale_list(scale_factor, d: int, input: Tensor):
    if isinstance(scale_factor, (tuple, list)):
        if len(scale_factor) != d:
            raise ValueError("Input and scale_factor must have the same number of spatial "
                             "dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and scale_factor of shape "
                             f"{tuple(scale_factor)}. Please provide input tensor in (N, C, "
                             "d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                             "format.")
        return [float(s) for s in scale_factor]
    return [float(scale_factor)] * d


def _is_integer(value) -> bool:
    if isinstance(value, Tensor):
        return not value.dtype.is_floating_point
    return isinstance(value, numbers.Integral)


def _size_list(size, d: int, input: Tensor) -> list:
    if isinstance(size, (tuple, list)):
        if len(size) != d:
            raise ValueError("Input and output must have the same number of spatial "
                             "dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and output size of {size}. "
                             "Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                             "and output size in (o1, o2, ...,oK) format.")
        if not all(_is_integer(s) for s in size):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] "
                            "or Tuple[int, int, int], but got size with types "
                            f"{[type(s) for s in size]}")
        return [int(s) for s in size]
    return [int(size)] * d


def _check_mode(input: Tensor, mode: str) -> None:
    d = input.dim() - 2
    if d in (1, 2, 3) and mode in _SPATIAL_MODES and _SPATIAL_MODES[mode] != d \
            and mode != "bicubic":
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{_SPATIAL_MODES[mode] + 2}D input")
    if d not in (1, 2, 3) or mode not in _MODES or _SPATIAL_MODES.get(mode, d) != d:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.dim()}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input to ``size`` or by ``scale_factor``.
    mode: 'nearest' (torch's floor(dst * scale) rule), 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D), 'bicubic' (4-D, A = -0.75, border taps clamped), 'trilinear' (5-D),
    'area' (adaptive average pooling), 'lanczos' (4-D, Lanczos-3, antialias only).
    ``antialias`` (bilinear, bicubic, lanczos; 4-D): when downsampling, the filter is widened
    by the scale and normalised (torch's _upsample_*2d_aa). Linear, cubic and Lanczos modes
    take floating-point input only."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    d = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    out_size = _size_list(size, d, input) if size is not None else None
    scales = _scale_list(scale_factor, d, input) if scale_factor is not None else None
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if out_size is None:
        out_size = [math.floor(float(input.shape[2 + i]) * scales[i]) for i in range(d)]
    if recompute_scale_factor or scales is None or mode == "area":
        scales = [None] * d
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    else:
        _check_mode(input, mode)
    in_size = list(input.shape[2:])
    if any(s <= 0 for s in in_size + out_size):
        names = ["D", "H", "W"][3 - d:]
        given = ", ".join(f"{n}: {s}" for n, s in zip(names, in_size))
        wanted = ", ".join(f"{n}: {s}" for n, s in zip(names, out_size))
        raise RuntimeError("Input and output sizes should be greater than 0, but got input "
                           f"({given}) output ({wanted})")
    if mode == "area":
        return adaptive_avg_pool(input, tuple(out_size), d)
    if mode not in ("nearest", "nearest-exact") and not input.dtype.is_floating_point:
        # torch rejects other integer types too and resamples uint8 with its own int16
        # fixed-point weights, not reproduced here
        raise NotImplementedError(f"dark's interpolate supports only floating-point input "
                                  f"with mode='{mode}' (got {input.dtype})")
    np_dtype = np.float64 if input.dtype.name == "float64" else np.float32
    name = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
            "bilinear": "Bilinear", "bicubic": "Bicubic", "trilinear": "Trilinear",
            "lanczos": "Lanczos"}[mode]
    if mode == "bicubic" or antialias:
        # the last axis first, as torch's separable kernels; antialiasing leaves an axis
        # whose size does not change untouched (torch skips it)
        plan = tuple((2 + i, in_size[i],
                      axis_terms(mode, antialias, in_size[i], out_size[i], scales[i],
                                  align_corners, np_dtype))
                     for i in reversed(range(d)) if not antialias or in_size[i] != out_size[i])
        suffix = "AaBackward0" if antialias else "Backward0"
        return resample_op(f"Upsample{name}{d}D{suffix}").apply(input, plan=plan)
    plan = []
    for i in range(d):
        if mode in ("nearest", "nearest-exact"):
            terms = ((nearest_index(mode, in_size[i], out_size[i], scales[i]), None),)
        else:
            terms = linear_terms(in_size[i], out_size[i], scales[i], align_corners, np_dtype)
        plan.append((2 + i, in_size[i], terms))
    return resample_op(f"Upsample{name}{d}DBackward0").apply(input, plan=tuple(plan))


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate with mode='nearest'."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: interpolate with mode='bilinear', align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
