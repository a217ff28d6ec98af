"""dark.data.transforms.functional: torchvision.transforms.functional (v1) on PIL images and
dark Tensors of shape (..., C, H, W).

PIL images go through Pillow exactly as torchvision does (resize, crop, transpose, rotate,
transform, ImageEnhance, ImageOps.expand). Tensors are transformed with torchvision's
formulas: crops, flips, pads, normalize and resizing use dark ops (so they are
differentiable; tensor resizing calls dark's ``interpolate`` exactly as torchvision calls
torch's, on (C, H, W) or (N, C, H, W) tensors, see tests/test_torchvision_parity.py);
rotate / affine (torchvision's affine grid plus ``grid_sample``, with the fused multiply-adds
of torch's CPU kernels, bit-identical in float32) and the colour ops work on the raw arrays
of the tensor's array module (numpy or CuPy) and are not differentiable.
"""
from __future__ import annotations

import math
import numbers
import sys
import warnings
from enum import Enum

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from ... import _backend
from ..._kernels.resample import fma
from ..._tensor import Tensor
from ...autograd.grad_mode import state as _grad_state
from ...nn.functional.padding import pad as torch_pad
from ...nn.functional.resampling import interpolate
from ...ops.creation import as_tensor, from_numpy, linspace
from ...ops.indexing import index_select


class InterpolationMode(Enum):
    """Interpolation modes: nearest, nearest-exact, bilinear, bicubic, box, hamming, lanczos."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    # For PIL compatibility
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_INT_TO_MODE = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
                3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
                5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}

pil_modes_mapping = {InterpolationMode.NEAREST: 0, InterpolationMode.BILINEAR: 2,
                     InterpolationMode.BICUBIC: 3, InterpolationMode.NEAREST_EXACT: 0,
                     InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5,
                     InterpolationMode.LANCZOS: 1}

_MAX_VALUES = {"uint8": 255, "int8": 127, "int16": 32767, "int32": 2147483647,
               "int64": 9223372036854775807}


def _interpolation_modes_from_int(i: int) -> InterpolationMode:
    return _INT_TO_MODE[i]


def _to_mode(interpolation) -> InterpolationMode:
    if isinstance(interpolation, int):
        return _interpolation_modes_from_int(interpolation)
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding "
                        "Pillow integer constant")
    return interpolation


def _is_pil_image(img) -> bool:
    return isinstance(img, Image.Image)


def _max_value(dtype) -> int:
    return _MAX_VALUES.get(dtype.name, 1)


def _wrap(array) -> Tensor:
    return Tensor._make(array)


def _work_np_dtype(dtype):
    """The float dtype torch computes in for an image of ``dtype`` (ints promote to float32)."""
    return dtype.np if dtype.is_floating_point else np.dtype(np.float32)


# ----------------------------------------------------------------------------- sizes

def get_dimensions(img) -> list[int]:
    """[channels, height, width] of a PIL image or a (..., C, H, W) / (H, W) tensor."""
    if isinstance(img, Tensor):
        _assert_image_tensor(img)
        channels = 1 if img.ndim == 2 else img.shape[-3]
        return [channels, img.shape[-2], img.shape[-1]]
    if _is_pil_image(img):
        width, height = img.size
        return [get_image_num_channels(img), height, width]
    raise TypeError(f"Unexpected type {type(img)}")


def get_image_size(img) -> list[int]:
    """[width, height] of an image."""
    _, height, width = get_dimensions(img)
    return [width, height]


def get_image_num_channels(img) -> int:
    """The number of channels (bands) of an image."""
    if _is_pil_image(img):
        return len(img.getbands())
    return get_dimensions(img)[0]


def _assert_image_tensor(img: Tensor) -> None:
    if img.ndim < 2:
        raise TypeError("Tensor is not a torch image.")


def _assert_three_dims(img: Tensor) -> None:
    if img.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found "
                        f"{img.ndim}")


def _assert_channels(img: Tensor, permitted: list[int]) -> None:
    channels = get_dimensions(img)[0]
    if channels not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {permitted}, but "
                        f"found {channels}")


# ----------------------------------------------------------------------------- conversions

def to_tensor(pic) -> Tensor:
    """A PIL image or an (H, W[, C]) numpy array as a (C, H, W) tensor; uint8 data becomes
    the default float dtype scaled to [0, 1], other dtypes are kept as they are."""
    if not (_is_pil_image(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if isinstance(pic, np.ndarray) and pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    float_dtype = _backend.get_default_dtype().np
    if isinstance(pic, np.ndarray):
        if pic.ndim == 2:
            pic = pic[:, :, None]
        array = np.ascontiguousarray(pic.transpose((2, 0, 1)))
    else:
        mode_to_nptype = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B":
                          np.int16, "F": np.float32}
        array = np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            array = 255 * array
        array = array.reshape(pic.size[1], pic.size[0], get_image_num_channels(pic))
        array = np.ascontiguousarray(array.transpose((2, 0, 1)))
    if array.dtype == np.uint8:
        return _wrap(array.astype(float_dtype) / 255)
    return from_numpy(array)


def pil_to_tensor(pic) -> Tensor:
    """A PIL image as a (C, H, W) tensor of its own dtype (uint8 for 'L' / 'RGB'), unscaled."""
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    array = np.array(pic, copy=True)
    array = array.reshape(pic.size[1], pic.size[0], get_image_num_channels(pic))
    return from_numpy(array).permute(2, 0, 1)


def _convert_array(array, dtype, in_dtype):
    """convert_image_dtype on a raw array (``dtype``, ``in_dtype``: dark dtypes)."""
    if in_dtype.is_floating_point:
        if dtype.is_floating_point:
            return array.astype(dtype.np)
        if (in_dtype.name == "float32" and dtype.name in ("int32", "int64")) or (
                in_dtype.name == "float64" and dtype.name == "int64"):
            raise RuntimeError(f"The cast from {in_dtype} to {dtype} cannot be performed "
                               "safely.")
        # max + 1 - eps spreads [0, 1] evenly over the integers (1.0 alone maps to max)
        scale = array.dtype.type(float(_max_value(dtype)) + 1.0 - 1e-3)
        return (array * scale).astype(dtype.np)
    input_max = _max_value(in_dtype)
    if dtype.is_floating_point:
        return array.astype(dtype.np) / dtype.np.type(input_max)
    output_max = _max_value(dtype)
    if input_max > output_max:
        return (array // ((input_max + 1) // (output_max + 1))).astype(dtype.np)
    return array.astype(dtype.np) * dtype.np.type((output_max + 1) // (input_max + 1))


def convert_image_dtype(image: Tensor, dtype=_backend.float32) -> Tensor:
    """Convert a tensor image to ``dtype``, rescaling values: floats live in [0, 1], integers
    in [0, max of the dtype]."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    if image.dtype is dtype:
        return image
    if image.is_floating_point() and dtype.is_floating_point:
        return image.to(dtype)
    return _wrap(_convert_array(image._data, dtype, image.dtype))


def to_pil_image(pic, mode: str | None = None) -> Image.Image:
    """A (C, H, W) tensor or (H, W, C) array as a PIL image; float data is multiplied by 255
    and truncated to uint8 unless ``mode='F'``. The mode is inferred as torchvision does."""
    if isinstance(pic, Tensor):
        if pic.ndim == 3:
            pic = pic.permute(1, 2, 0)
        pic = pic.numpy(force=True)
    elif not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim == 2:
        pic = np.expand_dims(pic, 2)
    if pic.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if pic.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {pic.shape[-1]} channels.")
    npimg = pic
    if np.issubdtype(npimg.dtype, np.floating) and mode != "F":
        npimg = (npimg * 255).astype(np.uint8)
    channels = npimg.shape[2]
    if channels == 1:
        npimg = npimg[:, :, 0]
        expected_mode = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16" if
                         sys.byteorder == "little" else "I;16B", np.dtype(np.int32): "I",
                         np.dtype(np.float32): "F"}.get(npimg.dtype)
        if mode is not None and mode != expected_mode:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {npimg.dtype}. "
                             f"Should be {expected_mode}")
        mode = expected_mode
    else:
        permitted, default = {2: (["LA"], "LA"), 4: (["RGBA", "CMYK", "RGBX"], "RGBA")}.get(
            channels, (["RGB", "YCbCr", "HSV"], "RGB"))
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {channels}D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = default
    if mode is None:
        raise TypeError(f"Input type {npimg.dtype} is not supported")
    return Image.fromarray(npimg, mode=mode)


def normalize(tensor: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """(tensor - mean[c]) / std[c] per channel of a float (..., C, H, W) tensor (dark ops, so
    differentiable); a copy unless ``inplace``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    _assert_image_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}.")
    if not (tensor.requires_grad and _grad_state.enabled):
        return _normalize_raw(tensor, mean, std, inplace)
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean = as_tensor(mean, dtype=dtype, device=tensor.device)
    std = as_tensor(std, dtype=dtype, device=tensor.device)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to "
                         "division by zero.")
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def _normalize_raw(tensor: Tensor, mean, std, inplace: bool) -> Tensor:
    """normalize without a graph to record (the data pipeline's case): the same float
    arithmetic, (x - mean) / std in the tensor's dtype, on the raw array in two passes."""
    data = tensor._data
    xp = _backend.array_module(data)

    def channel_values(values):
        values = values._data if isinstance(values, Tensor) else values
        array = xp.asarray(values, dtype=data.dtype)
        return array.reshape(-1, 1, 1) if array.ndim == 1 else array

    mean, std = channel_values(mean), channel_values(std)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                         "to division by zero.")
    if not inplace:
        return Tensor._make(xp.divide(xp.subtract(data, mean), std))
    xp.subtract(data, mean, out=data)
    xp.divide(data, std, out=data)
    tensor._bump_version()
    return tensor


# ----------------------------------------------------------------------------- resize

def _compute_resized_output_size(image_size, size, max_size=None) -> list[int]:
    height, width = image_size
    short, long = (width, height) if width <= height else (height, width)
    if len(size) == 1:  # only the smaller edge is given
        requested_new_short = size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None:
            if max_size <= requested_new_short:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    else:
        new_w, new_h = size[1], size[0]
    return [new_h, new_w]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size`` = (h, w), or match the smaller edge to ``size`` (int or [int])
    keeping the aspect ratio (the longer edge capped at ``max_size``). PIL images use Pillow's
    filter of the same name (always antialiased); tensors support nearest, nearest-exact,
    bilinear and bicubic, antialiased when ``antialias`` (bilinear / bicubic only)."""
    interpolation = _to_mode(interpolation)
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a "
                             f"{len(size)} element tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge, i.e. size should be an int or a sequence of "
                             "length 1 in torchscript mode.")
    _, image_height, image_width = get_dimensions(img)
    if isinstance(size, int):
        size = [size]
    output_size = _compute_resized_output_size((image_height, image_width), list(size),
                                               max_size)
    if [image_height, image_width] == output_size:
        return img
    if not isinstance(img, Tensor):
        if antialias is False:
            warnings.warn("Anti-alias option is always applied for PIL Image input. Argument "
                          "antialias is ignored.", stacklevel=2)
        return img.resize(tuple(output_size[::-1]), pil_modes_mapping[interpolation])
    return _resize_tensor(img, output_size, interpolation.value, antialias)


def _resize_tensor(img: Tensor, size: list[int], mode: str, antialias) -> Tensor:
    """torchvision's _functional_tensor.resize: the image made NCHW and floating point
    (float32 unless float32 / float64), resized by ``interpolate`` (so 2-D and 5-D tensors are
    rejected by it, as torch's), bicubic uint8 clamped to [0, 255], then squeezed and cast back
    (integer types rounded first)."""
    _assert_image_tensor(img)
    if antialias is None:
        antialias = False
    if antialias and mode not in ("bilinear", "bicubic"):
        antialias = False  # documented: irrelevant for the other modes
    need_squeeze = img.ndim < 4
    x = img.unsqueeze(0) if need_squeeze else img
    out_dtype = img.dtype
    need_cast = out_dtype.name not in ("float32", "float64")
    if need_cast:
        x = x.to(_backend.float32)
    align_corners = False if mode in ("bilinear", "bicubic") else None
    x = interpolate(x, size=size, mode=mode, align_corners=align_corners, antialias=antialias)
    if mode == "bicubic" and out_dtype.name == "uint8":
        x = x.clamp(min=0, max=255)
    if need_squeeze:
        x = x.squeeze(0)
    if need_cast:
        if out_dtype.name in ("uint8", "int8", "int16", "int32", "int64"):
            x = x.round()  # it is better to round before cast
        x = x.to(out_dtype)
    return x


# ----------------------------------------------------------------------------- crop, pad, flip

def _parse_pad_padding(padding) -> list[int]:
    """[left, right, top, bottom] from an int or a 1-, 2- or 4-sequence."""
    if isinstance(padding, int):
        return [padding] * 4
    if len(padding) == 1:
        return [padding[0]] * 4
    if len(padding) == 2:
        return [padding[0], padding[0], padding[1], padding[1]]
    return [padding[0], padding[2], padding[1], padding[3]]


def _check_pad_args(padding, padding_mode) -> None:
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is an int (all sides), (left/right, top/bottom) or (left,
    top, right, bottom); mode constant (with ``fill``), edge, reflect or symmetric."""
    if not isinstance(img, Tensor):
        return _pad_pil(img, padding, fill, padding_mode)
    _assert_image_tensor(img)
    if fill is None:
        fill = 0
    if not isinstance(fill, (int, float)):
        raise TypeError("Got inappropriate fill arg")
    _check_pad_args(padding, padding_mode)
    widths = _parse_pad_padding(padding)
    if padding_mode == "symmetric":
        return _pad_symmetric(img, widths)
    squeeze = img.ndim < 4
    x = img.unsqueeze(0) if squeeze else img
    if padding_mode == "constant":
        x = torch_pad(x, widths, mode="constant", value=float(fill))
    else:
        out_dtype = x.dtype
        if out_dtype.name not in ("float32", "float64"):
            x = x.to(_backend.float32)
        mode = "replicate" if padding_mode == "edge" else padding_mode
        x = torch_pad(x, widths, mode=mode).to(out_dtype)
    return x.squeeze(0) if squeeze else x


def _pad_symmetric(img: Tensor, widths: list[int]) -> Tensor:
    """Reflection that repeats the edge value, by gathering indices (negative widths crop)."""
    left, right, top, bottom = (-min(w, 0) for w in widths)
    img = img[..., top:img.shape[-2] - bottom, left:img.shape[-1] - right]
    left, right, top, bottom = (max(w, 0) for w in widths)
    for dim, before, after in ((-1, left, right), (-2, top, bottom)):
        size = img.shape[dim]
        index = (list(range(before - 1, -1, -1)) + list(range(size))
                 + [size - 1 - i for i in range(after)])
        if before or after:
            img = index_select(img, dim, as_tensor(np.array(index, dtype=np.int64),
                                                   device=img.device))
    return img


def _parse_fill(fill, img, name: str = "fillcolor") -> dict:
    """Pillow's fill colour for an image: one value per band, ints unless mode 'F'."""
    num_channels = get_image_num_channels(img)
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and num_channels > 1:
        fill = tuple([fill] * num_channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * num_channels
        elif len(fill) != num_channels:
            raise ValueError("The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {num_channels})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def _pad_pil(img, padding, fill, padding_mode):
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")
    if fill is not None and not isinstance(fill, (numbers.Number, str, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    _check_pad_args(padding, padding_mode)
    if isinstance(padding, (list, tuple)) and len(padding) == 1:
        padding = padding[0]
    if padding_mode == "constant":
        border = tuple(padding) if isinstance(padding, list) else padding
        expanded = ImageOps.expand(img, border=border, **_parse_fill(fill, img, name="fill"))
        if img.mode == "P":
            expanded.putpalette(img.getpalette())
        return expanded
    left, right, top, bottom = _parse_pad_padding(padding)
    crop_left, crop_right, crop_top, crop_bottom = (-min(w, 0) for w in (left, right, top,
                                                                          bottom))
    if crop_left or crop_right or crop_top or crop_bottom:
        img = img.crop((crop_left, crop_top, img.width - crop_right, img.height - crop_bottom))
    left, right, top, bottom = (max(w, 0) for w in (left, right, top, bottom))
    palette = img.getpalette() if img.mode == "P" else None
    array = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if array.ndim == 3 else ())
    result = Image.fromarray(np.pad(array, widths, padding_mode))
    if palette is not None:
        result.putpalette(palette)
    return result


def crop(img, top: int, left: int, height: int, width: int):
    """The (height, width) box at (top, left); parts outside the image are zero-padded."""
    if not isinstance(img, Tensor):
        if not _is_pil_image(img):
            raise TypeError(f"img should be PIL Image. Got {type(img)}")
        return img.crop((left, top, left + width, top + height))
    _assert_image_tensor(img)
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding_ltrb = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                        max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(img[..., max(top, 0):bottom, max(left, 0):right], padding_ltrb, fill=0)
    return img[..., top:bottom, left:right]


def center_crop(img, output_size):
    """The central (h, w) crop (an int for a square), zero-padding an image that is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """crop then resize."""
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


def _flip(img, dim: int, method: Image.Transpose):
    """``img`` mirrored along tensor dim ``dim``, or by Pillow's transpose ``method``."""
    if isinstance(img, Tensor):
        _assert_image_tensor(img)
        return img.flip(dim)
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")
    return img.transpose(method)


def hflip(img):
    """Mirror left-right."""
    return _flip(img, -1, Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(img):
    """Mirror top-bottom."""
    return _flip(img, -2, Image.Transpose.FLIP_TOP_BOTTOM)


# ----------------------------------------------------------------------------- affine

def _get_inverse_affine_matrix(center, angle: float, translate, scale: float, shear,
                               inverted: bool = True) -> list[float]:
    """The 2x3 matrix (row-major, 6 floats) of M = T * C * R(angle) S(scale) SHy SHx * C^-1
    or, when ``inverted``, of its inverse (output -> input coordinates, as Pillow and the
    sampling grid need). Angles in degrees."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    if inverted:
        # the rotation-shear part has determinant 1, so its inverse is its adjugate
        matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
        matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
        matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
        matrix[2] += cx
        matrix[5] += cy
    else:
        matrix = [x * scale for x in (a, b, 0.0, c, d, 0.0)]
        matrix[2] += matrix[0] * (-cx) + matrix[1] * (-cy)
        matrix[5] += matrix[3] * (-cx) + matrix[4] * (-cy)
        matrix[2] += cx + tx
        matrix[5] += cy + ty
    return matrix


def _compute_affine_output_size(matrix: list[float], w: int, h: int) -> tuple[int, int]:
    """(width, height) that holds the whole transformed image, as Pillow's rotate(expand)."""
    points = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                       [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    theta = np.array(matrix, dtype=np.float32).reshape(2, 3)
    new_points = points @ theta.T
    half = np.array([w * 0.5, h * 0.5], dtype=np.float32)
    min_vals, max_vals = new_points.min(axis=0) + half, new_points.max(axis=0) + half
    # truncate to 1e-4 so that a rounding error of 1e-15 does not add a pixel
    tol = np.float32(1e-4)
    size = np.ceil(np.trunc(max_vals / tol) * tol) - np.floor(np.trunc(min_vals / tol) * tol)
    return int(size[0]), int(size[1])


def _check_grid_inputs(img: Tensor, interpolation: str, fill) -> None:
    _assert_image_tensor(img)
    if fill is not None and not isinstance(fill, (int, float, tuple, list)):
        warnings.warn("Argument fill should be either int, float, tuple or list", stacklevel=3)
    channels = get_dimensions(img)[0]
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != channels:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({len(fill)} != {channels})")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{interpolation}' is unsupported with Tensor "
                         "input")


def _grid_transform(img: Tensor, matrix: list[float], out_width: int, out_height: int,
                    mode: str, fill) -> Tensor:
    """Sample ``img`` (..., C, H, W) on torchvision's affine grid: output pixel centres
    (relative to the output centre) mapped by ``matrix``, read as ``grid_sample`` does with
    align_corners=False and zero padding; ``fill`` (number or per-channel list) paints the
    outside through a sampled mask of ones, as torchvision does."""
    height, width = img.shape[-2], img.shape[-1]
    np_dtype = _work_np_dtype(img.dtype)
    theta = np.array(matrix, dtype=np_dtype).reshape(2, 3)
    theta = theta / np.array([[0.5 * width], [0.5 * height]], dtype=np_dtype)
    base_x = (np.arange(out_width) - out_width * 0.5 + 0.5).astype(np_dtype)[None, :]
    base_y = (np.arange(out_height) - out_height * 0.5 + 0.5).astype(np_dtype)[:, None]
    # torch's bmm of the base grid (x, y, 1) with theta: round(x a) + y b fused, then + c
    grid_x = fma(base_y, theta[0, 1], (base_x * theta[0, 0]).astype(np_dtype), np_dtype) \
        + theta[0, 2]
    grid_y = fma(base_y, theta[1, 1], (base_x * theta[1, 0]).astype(np_dtype), np_dtype) \
        + theta[1, 2]
    return _sample_grid(img, grid_x, grid_y, out_width, out_height, mode, fill)


def _sample_grid(img: Tensor, grid_x, grid_y, out_width: int, out_height: int, mode: str,
                 fill) -> Tensor:
    """``grid_sample`` of ``img`` (..., C, H, W) at the normalised (numpy) grid, as
    torchvision's _apply_grid_transform: align_corners=False, zero padding, ``fill``
    (number or per-channel list) painted through a sampled mask of ones."""
    data = img._data
    xp = _backend.array_module(data)
    height, width = img.shape[-2], img.shape[-1]
    channels = get_dimensions(img)[0]
    lead = tuple(img.shape[:-2])
    np_dtype = _work_np_dtype(img.dtype)
    source = data.reshape(-1, channels, height, width).astype(np_dtype, copy=False)
    # grid_sample's unnormalisation (align_corners=False), fused as torch's CPU kernel does
    ix = xp.asarray(fma((grid_x + 1).astype(np_dtype), np_dtype.type(width / 2), -0.5,
                         np_dtype))
    iy = xp.asarray(fma((grid_y + 1).astype(np_dtype), np_dtype.type(height / 2), -0.5,
                         np_dtype))
    if mode == "nearest":
        taps = ((xp.rint(ix), xp.rint(iy), None),)
    else:
        x0, y0 = xp.floor(ix), xp.floor(iy)
        wx, wy = ix - x0, iy - y0
        ex, sy = 1 - wx, 1 - wy
        taps = ((x0, y0, sy * ex), (x0 + 1, y0, sy * wx), (x0, y0 + 1, wy * ex),
                (x0 + 1, y0 + 1, wy * wx))
    out = xp.zeros(source.shape[:2] + (out_height, out_width), dtype=np_dtype)
    mask = xp.zeros((out_height, out_width), dtype=np_dtype)
    for tap_x, tap_y, weight in taps:
        inside = (tap_x >= 0) & (tap_x <= width - 1) & (tap_y >= 0) & (tap_y <= height - 1)
        weight = inside.astype(np_dtype) if weight is None else weight * inside
        columns = xp.clip(tap_x, 0, width - 1).astype(np.int64)
        rows = xp.clip(tap_y, 0, height - 1).astype(np.int64)
        # out = fma(value, weight, out), in float32 through float64 as torch's kernel fuses
        if np_dtype == np.float32:
            out = (source[:, :, rows, columns].astype(np.float64) * weight.astype(np.float64)
                   + out).astype(np_dtype)
        else:
            out = out + source[:, :, rows, columns] * weight
        mask += weight
    if fill is not None:
        values = fill if isinstance(fill, (tuple, list)) else [float(fill)]
        values = xp.asarray(np.array(values, dtype=np_dtype).reshape(-1, 1, 1))
        if mode == "nearest":
            out = xp.where(mask < 0.5, values, out)
        else:
            out = out * mask + (1.0 - mask) * values
    if not img.dtype.is_floating_point:
        out = xp.rint(out)
    out = out.astype(img.dtype.np, copy=False)
    return _wrap(out.reshape(lead[:-1] + (channels, out_height, out_width) if img.ndim > 2
                             else (out_height, out_width)))


def elastic_transform(img, displacement: Tensor, interpolation=InterpolationMode.BILINEAR,
                      fill=None):
    """Sample ``img`` at torchvision's identity grid (``linspace((1 - s) / s, (s - 1) / s, s)``
    per axis, float32) plus ``displacement`` (1, H, W, 2: x then y, normalised), as
    ``grid_sample`` does (align_corners=False, zero padding, ``fill`` through a sampled mask);
    PIL images go through a tensor and back, as torchvision's."""
    if isinstance(interpolation, int):
        warnings.warn("Argument interpolation should be of type InterpolationMode instead of "
                      "int. Please, use InterpolationMode enum.", stacklevel=2)
    interpolation = _to_mode(interpolation)
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    t_img = img
    if not isinstance(img, Tensor):
        if not _is_pil_image(img):
            raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
        t_img = pil_to_tensor(img)
    height, width = t_img.shape[-2], t_img.shape[-1]
    shape = (1, height, width, 2)
    if tuple(displacement.shape) != shape:
        raise ValueError(f"Argument displacement shape should be {shape}, but given "
                         f"{displacement.shape}")
    np_dtype = _work_np_dtype(t_img.dtype)
    moved = displacement.detach().cpu().numpy()
    xs, ys = (linspace((-n + 1) / n, (n - 1) / n, n).numpy() for n in (width, height))
    grid_x = (xs[None, :] + moved[0, :, :, 0]).astype(np_dtype, copy=False)
    grid_y = (ys[:, None] + moved[0, :, :, 1]).astype(np_dtype, copy=False)
    out = _sample_grid(t_img, grid_x, grid_y, width, height, interpolation.value, fill)
    if not isinstance(img, Tensor):
        return to_pil_image(out, mode=img.mode)
    return out


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image
    centre); ``expand`` enlarges the output to hold the whole rotated image; ``fill`` paints
    the area outside the source."""
    interpolation = _to_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    if not isinstance(img, Tensor):
        if not _is_pil_image(img):
            raise TypeError(f"img should be PIL Image. Got {type(img)}")
        return img.rotate(angle, pil_modes_mapping[interpolation], expand, center,
                          **_parse_fill(fill, img))
    center_f = [0.0, 0.0]
    if center is not None:
        _, height, width = get_dimensions(img)
        # the grid's origin is the image centre
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    # the grid rotates the other way round from Pillow's angle
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    _check_grid_inputs(img, interpolation.value, fill)
    width, height = img.shape[-1], img.shape[-2]
    out_width, out_height = _compute_affine_output_size(matrix, width, height) if expand \
        else (width, height)
    return _grid_transform(img, matrix, out_width, out_height, interpolation.value, fill)


def affine(img, angle: float, translate, scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle`` degrees (clockwise), scale, shear (degrees; a number shears along
    x, a pair along x and y) about ``center`` (default: the image centre), then translate by
    ``translate`` = (dx, dy) pixels; the image size is kept."""
    interpolation = _to_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    angle = float(angle)
    _, height, width = get_dimensions(img)
    if not isinstance(img, Tensor):
        # the centre without the half-pixel offset keeps a 90 degree turn aligned with rot90
        if center is None:
            center = [width * 0.5, height * 0.5]
        matrix = _get_inverse_affine_matrix(center, angle, list(translate), scale, shear)
        return img.transform(img.size, Image.Transform.AFFINE, matrix,
                             pil_modes_mapping[interpolation], **_parse_fill(fill, img))
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale,
                                        shear)
    _check_grid_inputs(img, interpolation.value, fill)
    return _grid_transform(img, matrix, width, height, interpolation.value, fill)


def _get_perspective_coeffs(startpoints, endpoints) -> list[float]:
    """(a, b, c, d, e, f, g, h) of the map from the transformed image's corners
    ``endpoints`` to the original's ``startpoints``: least squares in float64, rounded to
    float32, as torchvision."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} "
                         f"startpoints and {len(endpoints)} endpoints.")
    a_matrix = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a_matrix[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a_matrix[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b_matrix = np.array(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a_matrix, b_matrix, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None):
    """The perspective transform that takes the corners ``startpoints`` ([top-left,
    top-right, bottom-right, bottom-left], (x, y) each) to ``endpoints``; the size is kept."""
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    interpolation = _to_mode(interpolation)
    if not isinstance(img, Tensor):
        return _pil(img).transform(img.size, Image.Transform.PERSPECTIVE, coeffs,
                                   pil_modes_mapping[interpolation], **_parse_fill(fill, img))
    _assert_image_tensor(img)
    _check_grid_inputs(img, interpolation.value, fill)
    out_width, out_height = img.shape[-1], img.shape[-2]
    np_dtype = _work_np_dtype(img.dtype)
    theta1 = np.array(coeffs[:6], dtype=np_dtype).reshape(2, 3)
    theta1 = theta1 / np.array([[0.5 * out_width], [0.5 * out_height]], dtype=np_dtype)
    base_x = (np.arange(out_width) + 0.5).astype(np_dtype)[None, :]
    base_y = (np.arange(out_height) + 0.5).astype(np_dtype)[:, None]
    c6, c7 = np_dtype.type(coeffs[6]), np_dtype.type(coeffs[7])
    # torch's bmm of the base grid (x, y, 1) with the thetas: here x a + y b + c, each step
    # rounded to float32 (checked against torchvision's grids)
    grid1_x = base_x * theta1[0, 0] + base_y * theta1[0, 1] + theta1[0, 2]
    grid1_y = base_x * theta1[1, 0] + base_y * theta1[1, 1] + theta1[1, 2]
    grid2 = base_x * c6 + base_y * c7 + np_dtype.type(1.0)
    grid_x = (grid1_x / grid2 - np_dtype.type(1.0)).astype(np_dtype)
    grid_y = (grid1_y / grid2 - np_dtype.type(1.0)).astype(np_dtype)
    return _sample_grid(img, grid_x, grid_y, out_width, out_height, interpolation.value, fill)


# ----------------------------------------------------------------------------- colour

def _rgb_to_gray_array(data, dtype):
    """0.2989 R + 0.587 G + 0.114 B (torchvision's weights), cast back to ``dtype`` (integer
    images truncate), keeping a channel dim of 1."""
    np_dtype = _work_np_dtype(dtype)
    r, g, b = (data[..., i, :, :].astype(np_dtype, copy=False) for i in range(3))
    gray = np_dtype.type(0.2989) * r + np_dtype.type(0.587) * g + np_dtype.type(0.114) * b
    return gray.astype(dtype.np)[..., None, :, :]


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Grayscale of an RGB image: (..., 1 or num_output_channels, H, W). PIL images use
    Pillow's convert('L') (ITU-R 601-2 luma with integer rounding)."""
    if not isinstance(img, Tensor):
        return to_grayscale(img, num_output_channels)
    _assert_three_dims(img)
    _assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        gray = _wrap(_rgb_to_gray_array(img._data, img.dtype))
    else:
        gray = img.clone()
    if num_output_channels == 3:
        return gray.expand(img.shape)
    return gray


def to_grayscale(img, num_output_channels: int = 1):
    """Grayscale of a PIL image of any mode ('L', or 'RGB' with r = g = b for 3 channels)."""
    if not _is_pil_image(img):
        raise TypeError("Input should be PIL Image")
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        gray = np.array(img.convert("L"), dtype=np.uint8)
        return Image.fromarray(np.dstack([gray, gray, gray]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def _blend_array(data1, data2, ratio: float, dtype):
    """ratio * img1 + (1 - ratio) * img2, clamped to [0, max of dtype] and cast to dtype."""
    np_dtype = _work_np_dtype(dtype)
    xp = _backend.array_module(data1)
    ratio = float(ratio)
    mixed = np_dtype.type(ratio) * data1.astype(np_dtype, copy=False) \
        + np_dtype.type(1.0 - ratio) * data2
    return xp.clip(mixed, 0, _max_value(dtype)).astype(dtype.np)


def _check_color_tensor(img: Tensor, name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])


def adjust_brightness(img, brightness_factor: float):
    """Multiply by ``brightness_factor`` (0: black, 1: unchanged), clamped to the range."""
    if not isinstance(img, Tensor):
        return ImageEnhance.Brightness(_pil(img)).enhance(brightness_factor)
    _check_color_tensor(img, "brightness_factor", brightness_factor)
    data = img._data
    return _wrap(_blend_array(data, 0, brightness_factor, img.dtype))


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean of the grayscale image (0: solid gray, 1: unchanged)."""
    if not isinstance(img, Tensor):
        return ImageEnhance.Contrast(_pil(img)).enhance(contrast_factor)
    _check_color_tensor(img, "contrast_factor", contrast_factor)
    data = img._data
    np_dtype = _work_np_dtype(img.dtype)
    gray = _rgb_to_gray_array(data, img.dtype) if img.shape[-3] == 3 else data
    mean = gray.astype(np_dtype).mean(axis=(-3, -2, -1), keepdims=True, dtype=np_dtype)
    return _wrap(_blend_array(data, mean, contrast_factor, img.dtype))


def adjust_saturation(img, saturation_factor: float):
    """Blend with the grayscale image (0: gray, 1: unchanged, 2: twice as saturated)."""
    if not isinstance(img, Tensor):
        return ImageEnhance.Color(_pil(img)).enhance(saturation_factor)
    _check_color_tensor(img, "saturation_factor", saturation_factor)
    if img.shape[-3] == 1:  # as Pillow: nothing to saturate
        return img
    data = img._data
    gray = _rgb_to_gray_array(data, img.dtype).astype(_work_np_dtype(img.dtype))
    return _wrap(_blend_array(data, gray, saturation_factor, img.dtype))


def adjust_hue(img, hue_factor: float):
    """Shift the hue (HSV) by ``hue_factor`` turns, in [-0.5, 0.5]."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if not isinstance(img, Tensor):
        img = _pil(img)
        if img.mode in {"L", "1", "I", "F"}:
            return img
        h, s, v = img.convert("HSV").split()
        # uint8 arithmetic wraps the hue around the circle
        shifted = (np.array(h, dtype=np.int64) + int(hue_factor * 255)) % 256
        h = Image.fromarray(shifted.astype(np.uint8), "L")
        return Image.merge("HSV", (h, s, v)).convert(img.mode)
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if img.shape[-3] == 1:  # as Pillow
        return img
    data = _convert_array(img._data, _backend.float32, img.dtype) \
        if img.dtype is not _backend.float32 else img._data
    hsv = _rgb2hsv(data)
    xp = _backend.array_module(data)
    hue = xp.mod(hsv[..., 0, :, :] + np.float32(hue_factor), np.float32(1.0))
    rgb = _hsv2rgb(xp.stack((hue, hsv[..., 1, :, :], hsv[..., 2, :, :]), axis=-3))
    if img.dtype is _backend.float32:
        return _wrap(rgb)
    return _wrap(_convert_array(rgb, img.dtype, _backend.float32))


def _rgb2hsv(data):
    """torchvision's RGB -> HSV (Pillow's algorithm) on a (..., 3, H, W) float array."""
    xp = _backend.array_module(data)
    r, g, b = data[..., 0, :, :], data[..., 1, :, :], data[..., 2, :, :]
    maxc, minc = data.max(axis=-3), data.min(axis=-3)
    # where maxc == minc, S and H are 0: a divisor of 1 avoids a NaN there
    eqc = maxc == minc
    cr = maxc - minc
    one = data.dtype.type(1.0)
    s = cr / xp.where(eqc, one, maxc)
    cr_divisor = xp.where(eqc, one, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod((hr + hg + hb) / data.dtype.type(6.0) + one, one)
    return xp.stack((h, s, maxc), axis=-3).astype(data.dtype, copy=False)


def _hsv2rgb(data):
    """torchvision's HSV -> RGB on a (..., 3, H, W) float array."""
    xp = _backend.array_module(data)
    h, s, v = data[..., 0, :, :], data[..., 1, :, :], data[..., 2, :, :]
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = (i.astype(np.int32) % 6)[..., None, :, :]
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    channels = [xp.take_along_axis(xp.stack(choices, axis=-3), i, axis=-3)
                for choices in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))]
    return xp.concatenate(channels, axis=-3).astype(data.dtype, copy=False)


def adjust_gamma(img, gamma: float, gain: float = 1):
    """gain * img ** gamma on [0, 1] values (integer images are rescaled and back)."""
    if not isinstance(img, Tensor):
        img = _pil(img)
        if gamma < 0:
            raise ValueError("Gamma should be a non-negative real number")
        mode = img.mode
        table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)]
        return img.convert("RGB").point(table * 3).convert(mode)
    _assert_channels(img, [1, 3])
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    xp = _backend.array_module(img._data)
    data = img._data if img.is_floating_point() else _convert_array(
        img._data, _backend.float32, img.dtype)
    result = xp.clip(data.dtype.type(gain) * data ** data.dtype.type(gamma), 0, 1)
    if img.is_floating_point():
        return _wrap(result.astype(img.dtype.np, copy=False))
    return _wrap(_convert_array(result, img.dtype, _backend.float32))


# ----------------------------------------------------------------------------- erase, invert, ...

def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """``img[..., i:i + h, j:j + w] = v`` on a tensor image (a copy unless ``inplace``)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    if not inplace:
        img = img.clone()
    if isinstance(v, Tensor) and v.device != img.device:
        v = v.to(img.device)  # RandomErasing's values are drawn on the CPU, as torchvision's
    img[..., i:i + h, j:j + w] = v
    return img


def invert(img):
    """The colours inverted: max - img (1 - img for floats); Pillow's ImageOps.invert."""
    if not isinstance(img, Tensor):
        return ImageOps.invert(_pil(img))
    _assert_image_tensor(img)
    _assert_three_dims(img)
    _assert_channels(img, [1, 3])
    data = img._data
    return _wrap((data.dtype.type(_max_value(img.dtype)) - data).astype(data.dtype,
                                                                      copy=False))


def posterize(img, bits: int):
    """Keep the ``bits`` high bits of each channel (uint8 images); Pillow's
    ImageOps.posterize."""
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    if not isinstance(img, Tensor):
        return ImageOps.posterize(_pil(img), bits)
    _assert_image_tensor(img)
    _assert_three_dims(img)
    if img.dtype is not _backend.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(img, [1, 3])
    mask = np.uint8((-int(2 ** (8 - bits))) & 0xFF)
    return _wrap(img._data & mask)


def solarize(img, threshold: float):
    """Invert the pixels at or above ``threshold``; Pillow's ImageOps.solarize."""
    if not isinstance(img, Tensor):
        return ImageOps.solarize(_pil(img), threshold)
    _assert_image_tensor(img)
    _assert_three_dims(img)
    _assert_channels(img, [1, 3])
    if threshold > _max_value(img.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    xp = _backend.array_module(img._data)
    return _wrap(xp.where(img._data >= threshold, invert(img)._data, img._data))


def _depthwise_conv(work, kernel, np_dtype):
    """Each (H, W) plane of the float array ``work`` (..., H, W) correlated with the 2-d
    ``kernel`` (valid positions only), summed as torch's CPU conv2d does: the taps row by row,
    in a chain of fused multiply-adds (float32: exact products in float64, one rounding per
    step; float64 is not fused here), except for a single (1, 1, H, W) image under a 3x3
    kernel, which torch sums unfused. Checked against torch 2.14 on several shapes and
    kernel sizes (3, 5, 7)."""
    xp = _backend.array_module(work)
    kh, kw = kernel.shape
    height, width = work.shape[-2], work.shape[-1]
    fused = math.prod(work.shape[:-2]) != 1 or (kh, kw) != (3, 3)
    acc_dtype = np.dtype(np.float64) if np_dtype == np.float32 and fused else np_dtype
    work = work.astype(acc_dtype, copy=False)
    acc = xp.zeros(work.shape[:-2] + (height - kh + 1, width - kw + 1), dtype=np_dtype)
    for di in range(kh):
        for dj in range(kw):
            term = work[..., di:di + height - kh + 1, dj:dj + width - kw + 1] \
                * acc_dtype.type(kernel[di, dj])
            acc = (term.astype(np_dtype, copy=False) if not fused else term) + acc
            acc = acc.astype(np_dtype, copy=False)
    return acc


def _blurred_degenerate_array(data, dtype):
    """torchvision's smoothed image for adjust_sharpness: the interior through the 3x3
    kernel [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13 (float32 for integer images, then rounded),
    the border rows and columns kept."""
    xp = _backend.array_module(data)
    np_dtype = _work_np_dtype(dtype)
    kernel = np.ones((3, 3), dtype=np_dtype)
    kernel[1, 1] = 5.0
    kernel /= kernel.sum()
    acc = _depthwise_conv(data.astype(np_dtype, copy=False), kernel, np_dtype)
    if not dtype.is_floating_point:
        acc = xp.rint(acc)
    result = data.copy()
    result[..., 1:-1, 1:-1] = acc.astype(dtype.np)
    return result


def _gaussian_kernel1d(kernel_size: int, sigma: float, np_dtype):
    half = (kernel_size - 1) * 0.5
    x = np.linspace(-half, half, kernel_size).astype(np_dtype)
    pdf = np.exp(np_dtype.type(-0.5) * (x / np_dtype.type(sigma)) ** 2)
    return (pdf / np_dtype.type(math.fsum(pdf.astype(np.float64)))).astype(np_dtype)


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel of ``kernel_size`` (odd; (kx, ky) or one int) and
    ``sigma`` (one or (sx, sy); default 0.3 ((k - 1) 0.5 - 1) + 0.8), reflect-padded;
    PIL images go through a tensor and back, as torchvision's. The kernel's exp is numpy's,
    torch's is Sleef's: an entry can differ by an ulp, so outputs can differ by a few ulps."""
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got "
                        f"{type(kernel_size)}")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got "
                         f"{len(kernel_size)}")
    for ksize in kernel_size:
        if ksize % 2 == 0 or ksize < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got "
                             f"{kernel_size}")
    if sigma is None:
        sigma = [ksize * 0.15 + 0.35 for ksize in kernel_size]
    if not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError(f"sigma should be either float or sequence of floats. Got "
                        f"{type(sigma)}")
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    if len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    for s in sigma:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    if not isinstance(img, Tensor):
        pil = _pil(img)
        return to_pil_image(gaussian_blur(pil_to_tensor(pil), kernel_size, sigma),
                            mode=pil.mode)
    _assert_image_tensor(img)
    data = img._data
    xp = _backend.array_module(data)
    np_dtype = _work_np_dtype(img.dtype)
    kernel = np.outer(_gaussian_kernel1d(kernel_size[1], sigma[1], np_dtype),
                      _gaussian_kernel1d(kernel_size[0], sigma[0], np_dtype)).astype(np_dtype)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    height, width = data.shape[-2], data.shape[-1]
    if px >= width or py >= height:
        raise RuntimeError(f"Padding size should be less than the corresponding input "
                           f"dimension, but got: padding ({px}, {py}) at dimension of input "
                           f"{list(img.shape)}")
    work = data.astype(np_dtype, copy=False)
    pad_width = [(0, 0)] * (data.ndim - 2) + [(py, py), (px, px)]
    work = xp.pad(work, pad_width, mode="reflect")
    out = _depthwise_conv(work, kernel, np_dtype)
    if not img.dtype.is_floating_point:
        out = xp.rint(out)
    return _wrap(out.astype(img.dtype.np, copy=False))


def adjust_sharpness(img, sharpness_factor: float):
    """Blend with a smoothed image (0: smoothed, 1: unchanged, 2: twice as sharp);
    Pillow's ImageEnhance.Sharpness for PIL images."""
    if not isinstance(img, Tensor):
        return ImageEnhance.Sharpness(_pil(img)).enhance(sharpness_factor)
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if img.shape[-1] <= 2 or img.shape[-2] <= 2:
        return img
    blurred = _blurred_degenerate_array(img._data, img.dtype)
    return _wrap(_blend_array(img._data, blurred, sharpness_factor, img.dtype))


def autocontrast(img):
    """Stretch each channel so that its lowest value becomes 0 and its highest the maximum;
    Pillow's ImageOps.autocontrast for PIL images."""
    if not isinstance(img, Tensor):
        return ImageOps.autocontrast(_pil(img))
    _assert_image_tensor(img)
    _assert_three_dims(img)
    _assert_channels(img, [1, 3])
    data = img._data
    xp = _backend.array_module(data)
    np_dtype = _work_np_dtype(img.dtype)
    bound = np_dtype.type(_max_value(img.dtype))
    minimum = data.min(axis=(-2, -1), keepdims=True).astype(np_dtype)
    maximum = data.max(axis=(-2, -1), keepdims=True).astype(np_dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        # torchvision's ``bound / (maximum - minimum)`` is torch's __rtruediv__: the
        # reciprocal, rounded, times bound
        scale = (np_dtype.type(1) / (maximum - minimum)) * bound
    flat = ~xp.isfinite(scale)
    minimum = xp.where(flat, np_dtype.type(0), minimum)
    scale = xp.where(flat, np_dtype.type(1), scale)
    result = xp.clip((data.astype(np_dtype, copy=False) - minimum) * scale, 0, bound)
    return _wrap(result.astype(img.dtype.np))


def _equalize_channel(channel):
    xp = _backend.array_module(channel)
    hist = xp.bincount(channel.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return channel
    lut = (xp.cumsum(hist) + step // 2) // step
    lut = xp.clip(xp.concatenate([xp.zeros(1, dtype=lut.dtype), lut[:-1]]), 0, 255)
    return lut[channel.astype(np.int64)].astype(np.uint8)


def equalize(img):
    """Equalize the histogram of each channel (uint8 images); Pillow's ImageOps.equalize for
    PIL images."""
    if not isinstance(img, Tensor):
        return ImageOps.equalize(_pil(img))
    _assert_image_tensor(img)
    if not 3 <= img.ndim <= 4:
        raise TypeError(f"Input image tensor should have 3 or 4 dimensions, but found "
                        f"{img.ndim}")
    if img.dtype is not _backend.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(img, [1, 3])
    xp = _backend.array_module(img._data)
    data = img._data.reshape((-1,) + tuple(img.shape[-3:]))
    out = xp.stack([xp.stack([_equalize_channel(image[c]) for c in range(image.shape[0])])
                    for image in data])
    return _wrap(out.reshape(img.shape))


def _pil(img):
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")
    return img


__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_gamma",
           "adjust_hue", "adjust_saturation", "adjust_sharpness", "affine", "autocontrast",
           "center_crop", "convert_image_dtype", "crop", "elastic_transform", "equalize",
           "erase",
           "gaussian_blur", "get_dimensions", "get_image_num_channels", "get_image_size",
           "hflip", "invert", "normalize", "pad", "perspective", "pil_to_tensor", "posterize",
           "resize", "resized_crop", "rgb_to_grayscale", "rotate", "solarize", "to_grayscale",
           "to_pil_image", "to_tensor", "vflip"]
