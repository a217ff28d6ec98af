"""dark.data.transforms.v2.functional (torchvision.transforms.v2.functional): the functions
of :mod:`dark.data.transforms.functional` under their v1 names, plus v2's ``to_image``,
``to_dtype`` (``scale``), ``grayscale_to_rgb``, ``horizontal_flip`` / ``vertical_flip``,
``gaussian_noise``, ``get_size`` and ``get_num_channels``. Images are PIL images or plain
tensors (dark has no ``tv_tensors``); bounding boxes, masks and videos are not handled."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .... import _backend
from ...._backend import array_module
from ...._tensor import Tensor
from ....ops.creation import from_numpy
from ....ops.random import randn_like
from .. import functional as _v1_functional
from ..functional import *  # noqa: F403
from ..functional import (
    InterpolationMode,
    _compute_resized_output_size,
    _to_mode,
    crop,
    get_dimensions,
    hflip,
    pil_to_tensor,
    vflip,
)

horizontal_flip = hflip
vertical_flip = vflip

# bits holding the value of each integer dtype (the sign bit excluded)
_VALUE_BITS = {"uint8": 8, "int8": 7, "int16": 15, "uint16": 16, "int32": 31, "int64": 63}


def _max_value(dtype) -> int | float:
    if dtype.is_floating_point:
        return 1.0
    return 2 ** _VALUE_BITS[dtype.name] - 1


def to_image(inpt) -> Tensor:
    """A (C, H, W) tensor of a PIL image (``pil_to_tensor``), a numpy array ((H, W) or
    (H, W, C), permuted, values unscaled) or a tensor (returned as it is)."""
    if isinstance(inpt, np.ndarray):
        return from_numpy(np.ascontiguousarray(np.atleast_3d(inpt).transpose(2, 0, 1)))
    if isinstance(inpt, Image.Image):
        return pil_to_tensor(inpt)
    if isinstance(inpt, Tensor):
        return inpt
    raise TypeError("Input can either be a pure Tensor, a numpy array, or a PIL image, but got "
                    f"{type(inpt)} instead.")


def to_dtype(inpt: Tensor, dtype=_backend.float32, scale: bool = False) -> Tensor:
    """``inpt`` as ``dtype``; with ``scale``, values are mapped between the ranges of the
    dtypes (floats [0, 1], integers [0, max]) as torchvision's ``to_dtype`` maps them:
    float -> int multiplies by (max + 1 - 1e-3) and truncates, int -> float multiplies by
    1 / max, int -> int shifts bits."""
    if not isinstance(inpt, Tensor):
        raise TypeError(f"to_dtype expects a tensor, got {type(inpt)}")
    if inpt.dtype == dtype:
        return inpt
    if not scale:
        return inpt.to(dtype)
    data = inpt.detach()._data
    xp = array_module(data)
    target = np.dtype(dtype.name)
    if inpt.is_floating_point():
        if dtype.is_floating_point:
            return inpt.to(dtype)
        if (inpt.dtype == _backend.float32 and dtype in (_backend.int32, _backend.int64)) or (
                inpt.dtype == _backend.float64 and dtype == _backend.int64):
            raise RuntimeError(f"The conversion from {inpt.dtype} to {dtype} cannot be "
                               "performed safely.")
        compute = data.dtype if data.dtype.itemsize >= 4 else np.dtype(np.float32)
        scaled = data.astype(compute) * compute.type(float(_max_value(dtype)) + 1.0 - 1e-3)
        with np.errstate(invalid="ignore"):
            out = scaled.astype(np.int64).astype(target)   # truncation, wrapping as torch's
        return Tensor._make(out)
    if dtype.is_floating_point:
        compute = target if target.itemsize >= 4 else np.dtype(np.float32)
        out = data.astype(compute) * compute.type(1.0 / _max_value(inpt.dtype))
        return Tensor._make(out.astype(target, copy=False))
    bits_in, bits_out = _VALUE_BITS[inpt.dtype.name], _VALUE_BITS[dtype.name]
    shift = abs(bits_in - bits_out)
    if bits_in > bits_out:
        if inpt.dtype.name == "uint16":
            return Tensor._make(xp.floor_divide(data, 2 ** shift).astype(target))
        return Tensor._make(xp.right_shift(data, shift).astype(target))
    return Tensor._make(xp.left_shift(data.astype(target), target.type(shift)))


to_dtype_image = to_dtype


def grayscale_to_rgb(inpt):
    """A PIL image converted to RGB, or a (..., 1, H, W) tensor repeated to 3 channels
    (tensors with 3 or more channels are returned as they are)."""
    if isinstance(inpt, Image.Image):
        return inpt.convert(mode="RGB")
    if inpt.shape[-3] >= 3:
        return inpt
    repeats = [1] * inpt.ndim
    repeats[-3] = 3
    return inpt.repeat(*repeats)


def gaussian_noise(inpt: Tensor, mean: float = 0.0, sigma: float = 0.1,
                   clip: bool = True) -> Tensor:
    """``inpt + mean + N(0, 1) * sigma`` (uint8 images: in units of 1/255, through int16),
    clipped to the dtype's range when ``clip``; draws from the default generator as
    torchvision does."""
    if isinstance(inpt, Image.Image):
        raise ValueError("Gaussian Noise is not implemented for PIL images.")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    if inpt.is_floating_point():
        out = inpt + (mean + randn_like(inpt) * sigma)
        return out.clamp(0, 1) if clip else out
    if inpt.dtype == _backend.uint8:
        noise = ((mean * 255) + randn_like(inpt, dtype=_backend.float32) * (sigma * 255)).to(
            _backend.int16)
        out = inpt + noise
        if clip:
            out = out.clamp(0, 255)
        return out.to(_backend.uint8)
    raise ValueError(f"Input tensor is expected to be in uint8 or float dtype, got "
                     f"dtype={inpt.dtype}")


def _aa_bilinear_int16_weights(in_size: int, out_size: int):
    """torch's weights of an antialiased bilinear resize of uint8 data along one axis: for
    each output index the first input index, and the weights (computed in double,
    normalized, scaled by 2**precision and rounded half away from zero to integers, the
    precision the largest below 22 that keeps the largest weight under 2**15)."""
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0       # (interp_size / 2) * scale, interp_size 2
    width = int(math.ceil(support)) * 2 + 1
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    starts = np.zeros(out_size, np.int64)
    weights = np.zeros((out_size, width))
    wt_max = 0.0
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xsize = min(max(min(int(center + support + 0.5), in_size) - xmin, 0), width)
        ws = [max(0.0, 1.0 - abs((j + xmin - center + 0.5) * invscale)) for j in range(xsize)]
        total = 0.0
        for w in ws:
            total += w
        if total != 0.0:
            ws = [w / total for w in ws]
            wt_max = max([wt_max, *ws])
        starts[i] = xmin
        weights[i, :xsize] = ws
    precision = 0
    while precision < 22 and int(0.5 + wt_max * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = weights * (1 << precision)
    ints = np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5)).astype(np.int64)
    return starts, ints, precision


def _resample_uint8_axis(data: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    """One pass of torch's uint8 antialiased bilinear resize along ``axis`` (the integer
    sums of pixel times weight, plus half, shifted right by the precision, clipped)."""
    in_size = data.shape[axis]
    starts, ints, precision = _aa_bilinear_int16_weights(in_size, out_size)
    index = np.minimum(starts[:, None] + np.arange(ints.shape[1]), in_size - 1)
    moved = np.moveaxis(data, axis, -1).astype(np.int64)
    sums = (moved[..., index] * ints).sum(axis=-1) + (1 << (precision - 1))
    out = np.clip(sums >> precision, 0, 255).astype(np.uint8)
    return np.moveaxis(out, -1, axis)


def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """v1's :func:`~dark.data.transforms.functional.resize`, except for uint8 CPU tensors
    resized bilinearly with antialiasing: those are resized in integers as torchvision v2
    does (torch's native uint8 kernel: width then height, each pass rounded to uint8)."""
    mode = _to_mode(interpolation)
    if not (isinstance(inpt, Tensor) and inpt.dtype == _backend.uint8 and antialias
            and mode == InterpolationMode.BILINEAR and inpt.device.type == "cpu"
            and inpt.ndim >= 3):
        return _v1_functional.resize(inpt, size, interpolation, max_size, antialias)
    _, height, width = get_dimensions(inpt)
    output_size = _compute_resized_output_size(
        (height, width), [size] if isinstance(size, int) else list(size), max_size)
    if [height, width] == output_size:
        return inpt
    data = inpt.detach().numpy()
    if output_size[1] != width:
        data = _resample_uint8_axis(data, -1, output_size[1])
    if output_size[0] != height:
        data = _resample_uint8_axis(data, -2, output_size[0])
    return Tensor._make(np.ascontiguousarray(data))


def resized_crop(inpt, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """crop then :func:`resize` (v2's uint8 path)."""
    return resize(crop(inpt, top, left, height, width), size, interpolation,
                  antialias=antialias)


def get_size(inpt) -> list[int]:
    """``[height, width]`` of a PIL image or tensor image."""
    _, height, width = get_dimensions(inpt)
    return [height, width]


def get_num_channels(inpt) -> int:
    """The number of channels of a PIL image or tensor image."""
    return get_dimensions(inpt)[0]


__all__ = [*_v1_functional.__all__, "gaussian_noise", "get_num_channels", "get_size",
           "grayscale_to_rgb", "horizontal_flip", "to_dtype", "to_dtype_image", "to_image",
           "vertical_flip"]
