"""dark.data.io: reading image files into uint8 tensors, as torchvision.io's image functions.

``read_image(path, mode)`` and ``decode_image(data, mode)`` return a ``(C, H, W)`` uint8 tensor
with torchvision's channel rules (decoded here with PIL):

* PNG: ``UNCHANGED`` keeps the file's channels (a palette image gives its palette indices,
  as torchvision's); ``GRAY`` of a colour image is libpng's ``rgb_to_gray`` with torchvision's
  weights (0.2989, 0.587, 0.1140 in 15-bit fixed point, truncated); alpha is dropped, or made
  255 where the file has none.
* JPEG: ``GRAY`` is the decoder's luma channel (as libjpeg's grayscale output), ``RGB`` the
  decoded colour image; the modes with alpha raise torchvision's RuntimeError.
* other formats PIL reads (GIF, WEBP, BMP, ...) follow the same channel rules.

One known difference: for a palette PNG without transparency, torchvision 0.29's
``GRAY_ALPHA`` and ``RGB_ALPHA`` lay the pixels out with the wrong channel count (its output
is not the image); here they are the image with an opaque alpha channel.
"""
from __future__ import annotations

import enum
import io
import os

import numpy as np
from PIL import Image, ImageOps

from .._backend import uint8
from .._tensor import Tensor
from ..ops.creation import as_tensor

__all__ = ["ImageReadMode", "decode_image", "read_file", "read_image"]

# libpng's png_set_rgb_to_gray(png_ptr, 1, 0.2989, 0.587) without gamma: 15-bit weights
_RED = 29890 * 32768 // 100000
_GREEN = 58700 * 32768 // 100000
_BLUE = 32768 - _RED - _GREEN


class ImageReadMode(enum.Enum):
    """The channels to decode an image into: as in the file, 1, 2 (gray and alpha), 3 or 4."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


def read_file(path) -> Tensor:
    """The bytes of the file at ``path`` as a 1-D uint8 tensor."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return as_tensor(np.frombuffer(data, dtype=np.uint8).copy())


def _gray(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * _RED + rgb[..., 1] * _GREEN + rgb[..., 2] * _BLUE) >> 15) \
        .astype(np.uint8)


def _channels(img: Image.Image, mode: ImageReadMode, jpeg: bool) -> np.ndarray:
    """(H, W, C) uint8 pixels of ``img`` in ``mode``."""
    if jpeg and mode in (ImageReadMode.GRAY_ALPHA, ImageReadMode.RGB_ALPHA):
        raise RuntimeError("The provided mode is not supported for JPEG files")
    native = img.mode
    if native in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise ValueError(f"read_image reads 8-bit images; this one has PIL mode {native!r}")
    if mode is ImageReadMode.UNCHANGED:
        if native in ("L", "LA", "RGB", "RGBA", "P"):
            pixels = np.asarray(img)
        elif native == "1":
            pixels = np.asarray(img.convert("L"))
        elif native == "PA":
            pixels = np.asarray(img.convert("LA"))
        else:  # CMYK, YCbCr, ...
            pixels = np.asarray(img.convert("RGB"))
        return pixels if pixels.ndim == 3 else pixels[..., None]
    has_alpha = native in ("LA", "RGBA", "PA") or (native == "P" and "transparency" in img.info)
    gray_source = native in ("L", "LA", "1")
    if mode in (ImageReadMode.GRAY, ImageReadMode.GRAY_ALPHA):
        if gray_source:  # (a JPEG decoded in grayscale by decode_image is one)
            gray = np.asarray(img.convert("L"))
        else:
            gray = _gray(np.asarray(img.convert("RGB")))
        if mode is ImageReadMode.GRAY:
            return gray[..., None]
        alpha = np.asarray(img.convert("RGBA"))[..., 3] if has_alpha else \
            np.full(gray.shape, 255, np.uint8)
        return np.stack([gray, alpha], axis=-1)
    rgba = np.asarray(img.convert("RGBA")) if has_alpha else None
    rgb = rgba[..., :3] if rgba is not None else np.asarray(img.convert("RGB"))
    if mode is ImageReadMode.RGB:
        return rgb
    alpha = rgba[..., 3] if rgba is not None else np.full(rgb.shape[:2], 255, np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def decode_image(input, mode="UNCHANGED", apply_exif_orientation: bool = False) -> Tensor:
    """Decode an image (a 1-D uint8 tensor of the file's bytes, or a path) into a
    ``(C, H, W)`` uint8 tensor; ``mode`` is an ImageReadMode or its name."""
    if isinstance(input, Tensor):
        if input.dtype != uint8 or input.dim() != 1:
            raise RuntimeError("Expected a 1-D uint8 tensor of the image's bytes, got "
                               f"dtype {input.dtype} with {input.dim()} dimensions")
        data = np.asarray(input.detach().cpu().numpy()).tobytes()
    else:
        with open(os.fspath(input), "rb") as f:
            data = f.read()
    if isinstance(mode, str):
        try:
            mode = ImageReadMode[mode.upper()]
        except KeyError:
            raise KeyError(f"Unknown image read mode {mode!r}: expected one of "
                           f"{[m.name for m in ImageReadMode]}") from None
    if not isinstance(mode, ImageReadMode):
        raise TypeError(f"mode must be an ImageReadMode or its name, got {mode!r}")
    try:
        img = Image.open(io.BytesIO(data))
        jpeg = img.format == "JPEG"
        if jpeg and mode is ImageReadMode.GRAY and img.mode != "L":
            img.draft("L", img.size)  # the decoder's luma channel, as libjpeg's grayscale
        img.load()
    except Exception as error:  # PIL's UnidentifiedImageError, truncated files, ...
        raise RuntimeError(f"Could not decode the image: {error}") from error
    if apply_exif_orientation:
        img = ImageOps.exif_transpose(img)
    pixels = _channels(img, mode, jpeg)
    return as_tensor(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False) \
        -> Tensor:
    """The image file at ``path`` as a ``(C, H, W)`` uint8 tensor (see decode_image)."""
    return decode_image(read_file(path), mode, apply_exif_orientation=apply_exif_orientation)
